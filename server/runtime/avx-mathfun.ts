/**
 * Scalar, bit-faithful float32 emulation of the two avx_mathfun routines that PyTorch's AVX2 `normal_` kernel
 * calls: `log256_ps` and `sincos256_ps` (Cephes-style float32 polynomials by Pommier / Garberoglio, as vendored
 * in ATen/native/cpu/avx_mathfun.h). Every float32 operation is reproduced with `Math.fround`, and every
 * multiply whose only consumer is an add or subtract is evaluated as a single-rounding fused multiply-add,
 * because GCC contracts those intrinsic pairs into `vfmadd*` when it compiles the AVX2 kernels with FMA enabled.
 * With exactly these contractions the output matches torch's AVX2 `randn` bit for bit on the reference data;
 * leaving the polynomial steps unfused, or fusing e*q1 instead of y*z in `y*z + e*q1`, breaks that.
 */

const fround = Math.fround;

/**
 * float32 fused multiply-add: `a*b + c` rounded once to float32. Arguments must be float32 values.
 *
 * `a*b` is exact in double (24 + 24 significant bits fit in 53), but the double sum `p + c` is rounded, and
 * rounding that again to float32 can be wrong when the double result lands exactly halfway between two floats
 * while the exact sum did not (double rounding). That case is detected and resolved with the exact TwoSum error.
 */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const f = fround(s);
  const d = s - f; // exact: f is the float nearest to s
  if (d === 0) return f;
  // s is a float32 midpoint iff the float on the far side of s is exactly f + 2d.
  const g = f + 2 * d;
  if (fround(g) !== g) return f;
  // Knuth's TwoSum: the exact rounding error of p + c (both doubles).
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  // A true tie keeps fround's ties-to-even; otherwise the sign of the error picks the side.
  if (err === 0) return f;
  return err > 0 === d > 0 ? g : f;
}

// Constants are float arrays initialised from double literals in C, i.e. rounded to float32 once.
const MIN_NORM_POS = 2 ** -126;
const SQRTHF = fround(Math.SQRT1_2); // 0.707106781186547524 in C
const LOG_P0 = fround(7.0376836292e-2);
const LOG_P1 = fround(-1.151461031e-1);
const LOG_P2 = fround(1.167699874e-1);
const LOG_P3 = fround(-1.2420140846e-1);
const LOG_P4 = fround(1.4249322787e-1);
const LOG_P5 = fround(-1.6668057665e-1);
const LOG_P6 = fround(2.0000714765e-1);
const LOG_P7 = fround(-2.4999993993e-1);
const LOG_P8 = fround(3.3333331174e-1);
const LOG_Q1 = fround(-2.1219444e-4);
const LOG_Q2 = fround(0.693359375);

const MINUS_DP1 = fround(-0.78515625);
const MINUS_DP2 = fround(-2.4187564849853516e-4); // exactly -2.4187564849853515625e-4
const MINUS_DP3 = fround(-3.774894977445941e-8); // -3.77489497744594108e-8 in C, same double
const SINCOF_P0 = fround(-1.9515295891e-4);
const SINCOF_P1 = fround(8.3321608736e-3);
const SINCOF_P2 = fround(-1.6666654611e-1);
const COSCOF_P0 = fround(2.443315711809948e-5);
const COSCOF_P1 = fround(-1.388731625493765e-3);
const COSCOF_P2 = fround(4.166664568298827e-2);
const FOPI = fround(1.27323954473516); // 4 / pi

// Shared scratch for reinterpreting float32 bits (the C code works on the raw IEEE-754 representation).
const bitsF32 = new Float32Array(1);
const bitsI32 = new Int32Array(bitsF32.buffer);

/**
 * `log256_ps` for one lane: natural log of a positive float32 `x`. (The vector code returns NaN for x <= 0;
 * the Box-Muller caller only passes values in (0, 1].)
 */
export function log256Ps(x: number): number {
  // Denormals are clamped to the smallest normal, as `_mm256_max_ps(x, min_norm_pos)` does.
  bitsF32[0] = Math.max(x, MIN_NORM_POS);
  const bits = bitsI32[0]!;
  // Replace the exponent with that of 0.5, so the mantissa part m lies in [0.5, 1).
  bitsI32[0] = (bits & ~0x7f800000) | 0x3f000000;
  let m = bitsF32[0]!;
  let e = (bits >>> 23) - 127 + 1; // small integers: exact in float32
  if (m < SQRTHF) {
    e -= 1;
    m = fround(fround(m - 1) + m);
  } else {
    m = fround(m - 1);
  }
  const z = fround(m * m);
  let y = fma32(LOG_P0, m, LOG_P1);
  y = fma32(y, m, LOG_P2);
  y = fma32(y, m, LOG_P3);
  y = fma32(y, m, LOG_P4);
  y = fma32(y, m, LOG_P5);
  y = fma32(y, m, LOG_P6);
  y = fma32(y, m, LOG_P7);
  y = fma32(y, m, LOG_P8);
  y = fround(y * m);
  // `y*z + e*q1`: the compiler fuses the first product (y*z) and rounds e*q1 on its own.
  y = fma32(y, z, fround(e * LOG_Q1));
  // z*0.5 is exact, so fusing `y - z*0.5` is the same as a plain float subtraction.
  y = fround(y - z * 0.5);
  m = fround(m + y);
  // e*q2 is exact (q2 has 9 significant bits and |e| < 2^8), so fusing changes nothing here either.
  return fround(m + e * LOG_Q2);
}

/**
 * `sincos256_ps` for one lane: writes float32 sin(x) to `out[0]` and cos(x) to `out[1]`. Accurate for
 * |x| < 8192, like the original.
 */
export function sincos256Ps(x: number, out: Float64Array): void {
  let signSin = x < 0;
  let ax = Math.abs(x);
  // Octant j = (trunc(|x| * 4/pi) + 1) & ~1, as the integer AVX2 ops compute it.
  let j = Math.trunc(fround(ax * FOPI));
  j = (j + 1) & ~1;
  const y = j;
  if (j & 4) signSin = !signSin;
  const signCos = (~(j - 2) & 4) !== 0;
  const sinFirst = (j & 2) === 0;
  // Cody-Waite range reduction x - j*pi/4 in three parts; each mul+add pair is fused.
  ax = fma32(y, MINUS_DP1, ax);
  ax = fma32(y, MINUS_DP2, ax);
  ax = fma32(y, MINUS_DP3, ax);

  const z = fround(ax * ax);
  // Cosine polynomial: 1 - z/2 + z^2 (c0 z^2 + c1 z + c2).
  let yc = fma32(COSCOF_P0, z, COSCOF_P1);
  yc = fma32(yc, z, COSCOF_P2);
  yc = fround(yc * z);
  yc = fma32(yc, z, -fround(z * 0.5));
  yc = fround(yc + 1);
  // Sine polynomial: x + x z (s0 z^2 + s1 z + s2).
  let ys = fma32(SINCOF_P0, z, SINCOF_P1);
  ys = fma32(ys, z, SINCOF_P2);
  ys = fround(ys * z);
  ys = fma32(ys, ax, ax);

  const s = sinFirst ? ys : yc;
  const c = sinFirst ? yc : ys;
  out[0] = signSin ? -s : s;
  out[1] = signCos ? -c : c;
}
