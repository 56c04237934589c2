/**
 * Small element-wise helpers over flat float32 tensors (C order, shape alongside), for the schedulers: size checks,
 * clamping, and diffusers' dynamic thresholding. Arithmetic follows PyTorch float32 semantics: every intermediate
 * is rounded to float32 in the order PyTorch evaluates it.
 */
import { f32 } from "./numerics.ts";

/** Number of elements of a tensor of `shape`. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid tensor shape [${shape.join(", ")}]`);
    n *= d;
  }
  return n;
}

/** Throws unless `array` holds exactly a tensor of `shape`. */
export function checkSize(what: string, array: ArrayLike<number>, shape: readonly number[]): void {
  const n = numel(shape);
  if (array.length !== n) {
    throw new RangeError(`${what} has ${array.length} values, expected ${n} for shape [${shape.join(", ")}]`);
  }
}

/** `x.clamp(lo, hi)` in place. */
export function clampInPlace(x: Float32Array, lo: number, hi: number): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(Math.max(x[i]!, lo), hi);
  return x;
}

/** `torch.lerp(a, b, w)` for float32 scalars: PyTorch's two-sided formula, exact at both ends. */
export function lerpF32(a: number, b: number, w: number): number {
  return Math.abs(w) < 0.5 ? f32(a + f32(w * f32(b - a))) : f32(b - f32(f32(b - a) * f32(1 - w)));
}

/**
 * diffusers' `_threshold_sample` (dynamic thresholding, Imagen): per batch item, s = the `ratio` quantile of
 * |x| (linear interpolation, as `torch.quantile`), clamped to [1, maxValue]; then x ← clamp(x, −s, s) / s.
 */
export function thresholdSample(
  x: Float32Array,
  shape: readonly number[],
  ratio: number,
  maxValue: number,
): Float32Array {
  const batch = shape[0] ?? 1;
  const per = x.length / batch;
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    const row = x.subarray(b * per, (b + 1) * per);
    const sorted = Float32Array.from(row, Math.abs).sort();
    // torch.quantile: rank q·(n−1) in the input dtype, then lerp between the neighbouring order statistics.
    const rank = f32(f32(ratio) * (per - 1));
    const below = Math.floor(rank);
    const above = Math.ceil(rank);
    const q = lerpF32(sorted[below]!, sorted[above]!, f32(rank - below));
    const s = Math.min(Math.max(q, 1), maxValue);
    for (let i = 0; i < per; i++) out[b * per + i] = f32(Math.min(Math.max(row[i]!, -s), s) / s);
  }
  return out;
}
