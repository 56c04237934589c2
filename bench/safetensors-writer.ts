/** A small safetensors writer for the benchmarks: F32 tensors of uniform random values in ±scale. */
import { mkdir, open } from "node:fs/promises";
import path from "node:path";

export async function writeTensors(
  file: string,
  tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly scale: number }>,
  metadata: Record<string, string>,
  seed: number,
): Promise<number> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, { shape }] of tensors) {
    const size = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  await mkdir(path.dirname(file), { recursive: true });
  const handle = await open(file, "w");
  let state = seed >>> 0 || 1;
  try {
    await handle.write(Buffer.concat([length, Buffer.from(json)]));
    for (const { shape, scale } of tensors.values()) {
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < values.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        values[i] = ((state >>> 0) / 4294967296 - 0.5) * 2 * scale;
      }
      await handle.write(Buffer.from(values.buffer));
    }
  } finally {
    await handle.close();
  }
  return 8 + json.length + offset;
}
