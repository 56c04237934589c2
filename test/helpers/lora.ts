/** Test helpers for LoRA adapters: the fixture folder (adapters, reference cases, per-component outputs). */
import { fileURLToPath } from "node:url";

/** test/fixtures/diffusers-lora/ (its README describes adapters, cases and verify/). */
export const LORA_FIXTURES = fileURLToPath(new URL("../fixtures/diffusers-lora/", import.meta.url));

/** Writes F32 tensors (with their data) as a safetensors file, header metadata included. */
export function safetensorsBytes(
  tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const parts = [...tensors.values()].map((t) =>
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  );
  return Buffer.concat([length, Buffer.from(json), ...parts]);
}
