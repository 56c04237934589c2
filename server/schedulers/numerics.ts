/**
 * Scalar numerics shared by the schedulers, written to reproduce the exact numbers PyTorch 1.13 (CPU) and NumPy
 * produce in diffusers: `torch.linspace` and `torch.cumprod` in float32, NumPy's `linspace`, `arange`, `round`
 * (half to even) and `interp` in float64, the Karras et al. sigma ramp and the sigma→timestep inversion. Every
 * float32 tensor operation is emulated by rounding each intermediate with `Math.fround`, in the order PyTorch
 * evaluates it, so scalar coefficients come out bit-identical and element-wise results within an ulp or so.
 */

/** Round to float32: one PyTorch float32 operation is `f32(a op b)` on float32 operands. */
export const f32 = Math.fround;

/**
 * `a·b + c` rounded once to float32, like a fused multiply-add on float32 operands. The product of a float32
 * and a small integer is exact in float64; the sum is then exact or off by less than half a float64 ulp, which
 * only matters when it lands exactly between two float32 values, and TwoSum's error term settles that case.
 */
export function fmaF32(a: number, b: number, c: number): number {
  const x = a * b;
  const s = x + c;
  // TwoSum: the exact rounding error of s = x + c.
  const bb = s - x;
  const err = x - (s - bb) + (c - bb);
  const r = f32(s);
  if (err === 0 || r === s) return r;
  const other = r < s ? nextF32Up(r) : nextF32Down(r);
  if ((r + other) / 2 !== s) return r;
  // A tie in float64 that is not a tie in exact arithmetic: round towards the exact value.
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

const F32_BUF = new Float32Array(1);
const U32_VIEW = new Uint32Array(F32_BUF.buffer);
function nextF32Up(x: number): number {
  F32_BUF[0] = x;
  if (x === 0) return 1.401298464324817e-45;
  U32_VIEW[0] = x > 0 ? U32_VIEW[0]! + 1 : U32_VIEW[0]! - 1;
  return F32_BUF[0]!;
}
function nextF32Down(x: number): number {
  return -nextF32Up(-x);
}

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` as PyTorch 1.13's CPU kernel computes it with AVX2:
 * start, end and step are float32; values come in 8-wide vectors, two per loop iteration, each vector from a
 * base `start + step·i` (or `end − step·(steps − i − 1)` from the halfway point on, so both ends are exact)
 * plus `j·step`, and the leftover tail element by element. The compiler fuses those multiply-adds, so each
 * value is rounded once. This reproduces diffusers' betas bit for bit (checked through the reference sigmas).
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const base = (i: number): number => (i < halfway ? fmaF32(step, i, s) : fmaF32(-step, steps - i - 1, e));
  const lanes = 8;
  let i = 0;
  for (; i <= steps - 2 * lanes; i += 2 * lanes) {
    for (const v of [i, i + lanes]) {
      const b = base(v);
      for (let j = 0; j < lanes; j++) out[v + j] = j === 0 ? b : fmaF32(j, step, b);
    }
  }
  for (; i < steps; i++) out[i] = base(i);
  return out;
}

/** `torch.cumprod(x, 0)` for float32 on CPU: the running product is kept in float64 and each output rounded. */
export function cumprodF32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i]!;
    out[i] = acc;
  }
  return out;
}

/** `np.round` / `np.rint`: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends .5 up; NumPy sends it to the even neighbour.
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** `np.linspace(start, stop, num, endpoint)` in float64: `i * step + start`, with the last point set to `stop`. */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const delta = stop - start;
  const out: number[] = [];
  const step = div > 0 ? delta / div : Number.NaN;
  for (let i = 0; i < num; i++) {
    if (div > 0) out.push(step === 0 ? (i / div) * delta + start : i * step + start);
    else out.push(i * delta + start);
  }
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for float steps: NumPy computes the first two values and then fills
 * `start + i * (second - first)`.
 */
export function npArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out: number[] = [];
  if (length === 0) return out;
  const delta = start + step - start;
  for (let i = 0; i < length; i++) out.push(i === 0 ? start : start + i * delta);
  return out;
}

/** `np.interp(x, xp, fp)` in float64 for increasing `xp`: clamped at both ends, exact at the nodes. */
export function npInterp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const n = xp.length;
  if (n === 0) throw new Error("npInterp: empty table");
  if (!(x >= xp[0]!)) return Number.isNaN(x) ? x : fp[0]!;
  if (x >= xp[n - 1]!) return fp[n - 1]!;
  // Largest j with xp[j] <= x.
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid]! <= x) lo = mid;
    else hi = mid;
  }
  if (xp[lo] === x) return fp[lo]!;
  const slope = (fp[lo + 1]! - fp[lo]!) / (xp[lo + 1]! - xp[lo]!);
  let y = slope * (x - xp[lo]!) + fp[lo]!;
  // NumPy retries from the right node when the left-based form overflows to NaN.
  if (Number.isNaN(y)) {
    y = slope * (x - xp[lo + 1]!) + fp[lo + 1]!;
    if (Number.isNaN(y) && fp[lo] === fp[lo + 1]) y = fp[lo]!;
  }
  return y;
}

/**
 * Karras et al. (2022) sigma ramp, diffusers' `_convert_to_karras`: `n` sigmas from `sigmaMax` down to
 * `sigmaMin`, evenly spaced in `sigma^(1/rho)` with rho = 7, in float64.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7.0;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return npLinspace(0, 1, n).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/**
 * diffusers' `_sigma_to_t`: the fractional training timestep whose sigma is `sigma`, by linear interpolation of
 * log sigma between the two bracketing training steps. `logSigmas` is NumPy's float32 `np.log(sigmas)`; the
 * bracket difference is float32 arithmetic, the rest float64, as NumPy's type promotion has it.
 */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  // low_idx = cumsum(dists >= 0).argmax() clipped to n - 2: the last index whose log sigma is <= log_sigma.
  let count = 0;
  let best = 0;
  let bestCount = -1;
  for (let i = 0; i < n; i++) {
    if (logSigma - logSigmas[i]! >= 0) count++;
    if (count > bestCount) {
      bestCount = count;
      best = i;
    }
  }
  const lowIdx = Math.min(best, n - 2);
  const highIdx = lowIdx + 1;
  const low = logSigmas[lowIdx]!;
  const high = logSigmas[highIdx]!;
  let w = (low - logSigma) / f32(low - high);
  w = Math.min(Math.max(w, 0), 1);
  return (1 - w) * lowIdx + w * highIdx;
}

/** `np.log` of a float32 array, element-wise, kept in float32. */
export function logF32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.log(values[i]!);
  return out;
}

const R_LN2F = f32(Math.LOG2E);
const L2UF = f32(0.693145751953125);
const L2LF = f32(0.000001428606765330187);
const EXP_POLY = [
  0.00019852761761285365, 0.0013930435525253415, 0.008333360776305199, 0.041666485369205475,
  0.1666666716337204, 0.5,
].map(f32);

/**
 * `torch.exp` of a float32 tensor on CPU: PyTorch 1.13 maps it through SLEEF's `expf` (1-ulp variant, AVX2 with
 * fused multiply-adds), which is not always the correctly rounded value; DPM-Solver's step coefficients depend
 * on the difference. Range reduction by ln 2 in two parts, a degree-6 polynomial, then scaling by 2^q.
 */
export function sleefExpF32(d: number): number {
  const x = f32(d);
  if (Number.isNaN(x)) return x;
  if (x > 100) return Number.POSITIVE_INFINITY;
  if (x < -104) return 0;
  const q = roundHalfEven(f32(x * R_LN2F));
  let s = fmaF32(q, -L2UF, x);
  s = fmaF32(q, -L2LF, s);
  let u = EXP_POLY[0]!;
  for (let i = 1; i < EXP_POLY.length; i++) u = fmaF32(u, s, EXP_POLY[i]!);
  u = f32(1 + fmaF32(f32(s * s), u, s));
  // ldexp in two halves so neither power of two overflows.
  const half = q >> 1;
  return f32(f32(u * 2 ** half) * 2 ** (q - half));
}
