/**
 * Checks `TorchGenerator` against recorded PyTorch output: every `torch.randn` / `torch.rand` array in the rng
 * reference manifest (AVX2 variant, the kernel torch runs on x86-64) is regenerated from its seed by drawing the
 * manifest's `draw_shapes` in order from one generator. Small draws (< 16 elements, torch's scalar double path)
 * must match exactly, larger ones within 2e-6, and in practice every element matches bit for bit. Also covers
 * seed validation and the 64-bit seed range.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fma32 } from "../../server/runtime/avx-mathfun.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";

interface RngArray {
  file: string;
  dtype: string;
  shape: number[];
  op: string;
  seed: number;
  draw_shapes: number[][];
}

const RNG_DIR = new URL("../fixtures/diffusers-reference/reference/rng/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("manifest.json", RNG_DIR), "utf8")) as {
  arrays: RngArray[];
};

function readReference(file: string): Float32Array {
  const buf = readFileSync(new URL(`avx2/${file}`, RNG_DIR));
  // Copy into a fresh buffer: Node's Buffer pool does not guarantee 4-byte alignment of byteOffset.
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Replays an entry's draws on one generator and concatenates the outputs, like the recorded file. */
function regenerate(entry: RngArray): Float32Array {
  const gen = new TorchGenerator(entry.seed);
  const uniform = entry.op.startsWith("rand ");
  const parts = entry.draw_shapes.map((shape) => (uniform ? gen.rand(shape) : gen.randn(shape)));
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function compare(actual: Float32Array, expected: Float32Array): { maxAbsDiff: number; notBitExact: number } {
  const bitsA = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const bitsE = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let maxAbsDiff = 0;
  let notBitExact = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    // `!(d <= max)` also catches NaN.
    if (!(d <= maxAbsDiff)) maxAbsDiff = d;
    if (bitsA[i] !== bitsE[i]) notBitExact++;
  }
  return { maxAbsDiff, notBitExact };
}

describe("TorchGenerator vs torch 1.13 CPU (AVX2)", () => {
  it("lists the reference arrays", () => {
    expect(manifest.arrays.length).toBeGreaterThan(0);
    expect(manifest.arrays.some((a) => a.op.startsWith("rand "))).toBe(true);
  });

  for (const entry of manifest.arrays) {
    it(`${entry.file} (seed ${entry.seed}, ${entry.op.split(" ")[0]})`, () => {
      expect(entry.dtype).toBe("float32");
      const expected = readReference(entry.file);
      const actual = regenerate(entry);
      expect(actual.length).toBe(expected.length);
      const { maxAbsDiff, notBitExact } = compare(actual, expected);
      const smallDraw = entry.draw_shapes.every((s) => s.reduce((a, b) => a * b, 1) < 16);
      if (smallDraw) {
        expect(notBitExact).toBe(0);
      } else {
        expect(maxAbsDiff).toBeLessThanOrEqual(2e-6);
      }
      // The emulation is bit-faithful on all reference data; keep it that way.
      expect(notBitExact).toBe(0);
    });
  }
});

describe("TorchGenerator seeds", () => {
  it("accepts the full unsigned 64-bit range, as bigint or number", () => {
    expect(new TorchGenerator(2n ** 64n - 1n).randn([4, 4]).length).toBe(16);
    expect(new TorchGenerator(Number.MAX_SAFE_INTEGER).rand([2]).length).toBe(2);
    expect(new TorchGenerator(42n).randn([1, 4, 8, 8])).toEqual(new TorchGenerator(42).randn([1, 4, 8, 8]));
  });

  it("keeps only the low 32 bits of the seed, like at::mt19937", () => {
    const low = new TorchGenerator(7).randn([33]);
    expect(new TorchGenerator(2n ** 32n + 7n).randn([33])).toEqual(low);
    expect(new TorchGenerator(2 ** 40 + 7).randn([33])).toEqual(low);
    expect(new TorchGenerator(2n ** 64n - 1n).rand([5])).toEqual(new TorchGenerator(2 ** 32 - 1).rand([5]));
  });

  it("rejects seeds outside 0 … 2^64-1 with a RangeError", () => {
    expect(() => new TorchGenerator(-1)).toThrow(RangeError);
    expect(() => new TorchGenerator(-1n)).toThrow(RangeError);
    expect(() => new TorchGenerator(2n ** 64n)).toThrow(RangeError);
    expect(() => new TorchGenerator(1.5)).toThrow(RangeError);
    expect(() => new TorchGenerator(Number.NaN)).toThrow(RangeError);
    expect(() => new TorchGenerator(2 ** 64)).toThrow(RangeError);
  });
});

describe("TorchGenerator draws", () => {
  it("carries the cached second Box-Muller sample across small draws", () => {
    const gen = new TorchGenerator(3);
    const split = [...gen.randn([3]), ...gen.randn([1])];
    expect(split).toEqual([...new TorchGenerator(3).randn([4])]);
  });

  it("handles empty shapes and scalars, and rejects bad dimensions", () => {
    expect(new TorchGenerator(0).randn([0, 4]).length).toBe(0);
    expect(new TorchGenerator(0).randn([]).length).toBe(1);
    expect(() => new TorchGenerator(0).randn([2, -1])).toThrow(RangeError);
    expect(() => new TorchGenerator(0).rand([1.5])).toThrow(RangeError);
  });
});

describe("fma32", () => {
  it("rounds a*b + c once, even where the double sum lands on a float32 midpoint", () => {
    const a = (1 + 2 ** -23) * 2 ** -12;
    const b = (1 - 2 ** -23) * 2 ** -12;
    const c = 1 + 2 ** -23;
    // Exact: 1 + 2^-23 + 2^-24 - 2^-70, just below the midpoint. Rounding via double makes it a tie that
    // ties-to-even sends up to 1 + 2^-22.
    expect(Math.fround(a * b + c)).toBe(1 + 2 ** -22);
    expect(fma32(a, b, c)).toBe(1 + 2 ** -23);
    expect(fma32(-a, b, -c)).toBe(-(1 + 2 ** -23));
    expect(fma32(3, 5, 0.5)).toBe(15.5);
  });
});
