/**
 * The safetensors reader trusts nothing in a header: every lie a file can tell is refused with a
 * `SafetensorsError` saying what is wrong, before a tensor byte is read. Files are written here byte by byte.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SafetensorsError } from "../../server/errors.ts";
import { MAX_HEADER_BYTES, SafetensorsFile, toFloat32 } from "../../server/safetensors/safetensors-file.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-st-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A safetensors file with `header` (JSON text or object) and `data` bytes; `length` overrides the size field. */
async function write(
  name: string,
  header: unknown,
  data = new Uint8Array(),
  length?: bigint,
): Promise<string> {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(length ?? BigInt(json.length));
  const file = path.join(dir, name);
  await writeFile(file, Buffer.concat([size, json, data]));
  return file;
}

async function refusal(file: string): Promise<string> {
  const error = await SafetensorsFile.open(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SafetensorsError);
  return (error as Error).message;
}

const f32 = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

describe("safetensors reader", () => {
  it("reads every fixture file and its tensors as float32 (fp16 widened exactly)", async () => {
    const base = `${SAFETENSORS_FIXTURES}models/mini-sd/unet/`;
    const full = await SafetensorsFile.open(`${base}diffusion_pytorch_model.safetensors`);
    const half = await SafetensorsFile.open(`${base}diffusion_pytorch_model.fp16.safetensors`);
    expect(full.metadata).toEqual({ format: "pt" });
    expect(half.names().sort()).toEqual(full.names().sort());
    const name = "conv_in.weight";
    expect(full.tensor(name)).toMatchObject({ dtype: "F32", shape: [32, 4, 3, 3] });
    expect(half.tensor(name)).toMatchObject({ dtype: "F16", shape: [32, 4, 3, 3] });
    const a = await full.readFloat32(name);
    const b = await half.readFloat32(name);
    // fp16 files hold the fp32 values rounded to nearest: within half a unit in the last place of fp16.
    for (let i = 0; i < a.length; i++)
      expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(Math.abs(a[i]!) * 2 ** -11 + 2 ** -25);
  });

  it("widens BF16 by placing its bits in the top half of a float32", () => {
    const bits = new Uint16Array([0x3f80, 0xc000, 0x0000]); // 1, −2, 0
    expect(Array.from(toFloat32(new Uint8Array(bits.buffer), "BF16"))).toEqual([1, -2, 0]);
  });

  it("reads a well-formed file it wrote itself", async () => {
    const file = await write(
      "ok.safetensors",
      { w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } },
      f32(1.5, -2),
    );
    const st = await SafetensorsFile.open(file);
    expect(Array.from(await st.readFloat32("w"))).toEqual([1.5, -2]);
  });

  it("refuses a truncated file", async () => {
    const good = await readFile(
      `${SAFETENSORS_FIXTURES}models/mini-sd2-v/vae/diffusion_pytorch_model.safetensors`,
    );
    const cut = path.join(dir, "cut.safetensors");
    await writeFile(cut, good.subarray(0, good.length - 1000));
    expect(await refusal(cut)).toMatch(/ends at byte \d+ of a \d+-byte data section/);
    await writeFile(cut, good.subarray(0, 100));
    expect(await refusal(cut)).toMatch(/runs past the end/);
    await writeFile(cut, good.subarray(0, 5));
    expect(await refusal(cut)).toMatch(/too short/);
  });

  it("refuses a header length of 2 GB without reading it", async () => {
    const file = await write("huge.safetensors", "{}", new Uint8Array(), 2n ** 31n);
    expect(await refusal(file)).toContain(`exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  });

  it("refuses headers that lie", async () => {
    const data = f32(1, 2, 3, 4);
    const cases: [string, unknown, RegExp][] = [
      [
        "past-end",
        { w: { dtype: "F32", shape: [8], data_offsets: [0, 32] } },
        /ends at byte 32 of a 16-byte data section/,
      ],
      [
        "overlap",
        {
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        },
        /'a' and 'b' overlap/,
      ],
      [
        "bytes",
        { w: { dtype: "F32", shape: [3], data_offsets: [0, 16] } },
        /\(12 bytes\) but its offsets span 16 bytes/,
      ],
      [
        "dtype",
        { w: { dtype: "I64", shape: [2], data_offsets: [0, 16] } },
        /dtype I64; weights must be F32, F16 or BF16/,
      ],
      ["unknown", { w: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, /unknown dtype "Q4"/],
      ["shape", { w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, /invalid shape/],
      ["offsets", { w: { dtype: "F32", shape: [1], data_offsets: [8, 4] } }, /invalid data_offsets/],
      ["json", "{not json", /not valid JSON/],
      ["array", "[1, 2]", /not a JSON object/],
    ];
    for (const [name, header, message] of cases) {
      expect(await refusal(await write(`${name}.safetensors`, header, data)), name).toMatch(message);
    }
  });
});

describe("safetensors reader under fuzzing", () => {
  it("answers any mutation of a real header or any random bytes with a file or a SafetensorsError, nothing else", async () => {
    const { default: fc } = await import("fast-check");
    const good = await readFile(
      `${SAFETENSORS_FIXTURES}models/tiny-sdxl/unet/diffusion_pytorch_model.safetensors`,
    );
    const headerEnd = 8 + Number(good.readBigUInt64LE(0));
    const file = path.join(dir, "fuzz.safetensors");
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          // Flip bytes inside the header (lengths, offsets, dtypes, shapes, JSON syntax).
          fc
            .array(fc.tuple(fc.nat(headerEnd - 1), fc.integer({ min: 0, max: 255 })), {
              minLength: 1,
              maxLength: 8,
            })
            .map((edits) => {
              const copy = Buffer.from(good);
              for (const [at, value] of edits) copy[at] = value;
              return copy;
            }),
          // Cut the file anywhere.
          fc.nat(good.length - 1).map((n) => good.subarray(0, n)),
          // Random bytes.
          fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
        ),
        async (bytes) => {
          await writeFile(file, bytes);
          try {
            const st = await SafetensorsFile.open(file);
            // Whatever it accepted lies inside the file, as it promised.
            for (const name of st.names()) {
              const t = st.tensor(name)!;
              expect(t.byteOffset + t.byteLength).toBeLessThanOrEqual(bytes.length);
            }
          } catch (error) {
            expect(error).toBeInstanceOf(SafetensorsError);
          }
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
