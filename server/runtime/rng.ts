/**
 * A port of PyTorch's CPU random generator (`torch.Generator("cpu")`, CPUGeneratorImpl) and of the `randn` /
 * `rand` float32 kernels that consume it, so that a seed gives the same noise as diffusers on PyTorch CPU.
 * Seeding keeps the low 32 bits of the 64-bit seed for an MT19937 stream. `rand` turns each 32-bit draw into
 * (x & 0xFFFFFF) * 2^-24. `randn` with 16 or more elements is the vectorised Box-Muller kernel that torch runs on
 * x86-64 with AVX2 (uniforms for the whole tensor first, then chunks of 16, with the last partial chunk redone on
 * 16 fresh uniforms), with its float32 log/sin/cos emulated bit for bit. Smaller `randn` draws use torch's scalar
 * `normal_distribution<double>` (53-bit uniforms from two draws, Box-Muller in double, the second value cached
 * on the generator for the next small draw).
 */
import { log256Ps, sincos256Ps } from "./avx-mathfun.ts";
import { Mt19937 } from "./mt19937.ts";

const MAX_SEED = 2n ** 64n - 1n;
const TWO_POW_32 = 2 ** 32;
const UNIFORM24_SCALE = 2 ** -24;
const UNIFORM53_SCALE = 2 ** -53;
// `_mm256_set1_ps(2.0f * c10::pi<double>)`: 2*pi computed in double, then rounded to float32.
const TWO_PI_F32 = Math.fround(2 * Math.PI);
// Below this element count (or for non-contiguous tensors) torch uses the scalar double-precision path.
const VECTOR_MIN_NUMEL = 16;

/** `torch.Generator("cpu").manual_seed(seed)` equivalent. */
export class TorchGenerator {
  readonly #mt: Mt19937;
  // CPUGeneratorImpl::next_double_normal_sample_: the sin half of the last scalar Box-Muller pair.
  #nextDoubleNormal: number | undefined;
  readonly #sincos = new Float64Array(2);

  /**
   * @param seed 0 … 2^64−1, as a bigint or a non-negative safe integer (like `manual_seed`, which also accepts
   *   the full unsigned 64-bit range). Only the low 32 bits reach the MT19937 state, exactly as in torch.
   * @throws RangeError when the seed is negative, not an integer, or above 2^64−1.
   */
  constructor(seed: bigint | number) {
    this.#mt = new Mt19937(lowSeedBits(seed));
  }

  /**
   * `torch.randn(shape, generator=this, dtype=torch.float32)`: standard normal samples in C order. Consumes the
   * generator exactly like torch, so consecutive calls reproduce consecutive torch calls.
   * @throws RangeError when a dimension is not a non-negative safe integer.
   */
  randn(shape: readonly number[]): Float32Array {
    const n = numelOf(shape);
    const out = new Float32Array(n);
    if (n >= VECTOR_MIN_NUMEL) {
      this.#normalFillAvx2(out);
    } else {
      for (let i = 0; i < n; i++) out[i] = this.#nextDoubleNormalSample();
    }
    return out;
  }

  /**
   * `torch.rand(shape, generator=this)` in float32: uniform samples in [0, 1), C order.
   * @throws RangeError when a dimension is not a non-negative safe integer.
   */
  rand(shape: readonly number[]): Float32Array {
    const out = new Float32Array(numelOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = this.#uniformFloat();
    return out;
  }

  /** `uniform_real_distribution<float>(0, 1)`: 24 random bits from one 32-bit draw. */
  #uniformFloat(): number {
    return (this.#mt.nextUint32() & 0xffffff) * UNIFORM24_SCALE;
  }

  /** `uniform_real_distribution<double>(0, 1)`: the low 53 bits of random64() = (draw1 << 32) | draw2. */
  #uniformDouble(): number {
    const hi = this.#mt.nextUint32();
    const lo = this.#mt.nextUint32();
    // (hi & 0x1fffff) * 2^32 + lo < 2^53, so the sum and the power-of-two scaling are both exact.
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * UNIFORM53_SCALE;
  }

  /** `normal_distribution<double>(0, 1)` followed by the cast to float (the scalar kernel's element op). */
  #nextDoubleNormalSample(): number {
    const cached = this.#nextDoubleNormal;
    if (cached !== undefined) {
      this.#nextDoubleNormal = undefined;
      return cached;
    }
    // The first uniform feeds the angle and the second the radius, in that draw order.
    const u1 = this.#uniformDouble();
    const u2 = this.#uniformDouble();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.#nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `normal_fill_AVX2` with mean 0 and std 1 on a contiguous buffer of at least 16 elements. */
  #normalFillAvx2(data: Float32Array): void {
    const n = data.length;
    for (let i = 0; i < n; i++) data[i] = this.#uniformFloat();
    for (let i = 0; i + VECTOR_MIN_NUMEL <= n; i += VECTOR_MIN_NUMEL) this.#normalFill16(data, i);
    if (n % VECTOR_MIN_NUMEL !== 0) {
      // Torch redraws the last 16 slots (overlapping the final full chunk) rather than handling a short tail.
      const start = n - VECTOR_MIN_NUMEL;
      for (let i = start; i < n; i++) data[i] = this.#uniformFloat();
      this.#normalFill16(data, start);
    }
  }

  /** `normal_fill_16_AVX2`: Box-Muller on 8 pairs (u[j], u[j+8]) in float32, avx_mathfun log/sincos. */
  #normalFill16(data: Float32Array, offset: number): void {
    const sc = this.#sincos;
    for (let j = offset; j < offset + 8; j++) {
      const u1 = Math.fround(1 - data[j]!); // [0, 1) -> (0, 1] for the log
      const radius = Math.fround(Math.sqrt(Math.fround(-2 * log256Ps(u1))));
      const theta = Math.fround(TWO_PI_F32 * data[j + 8]!);
      sincos256Ps(theta, sc);
      // `fmadd(radius*cos, std, mean)` with std 1 and mean 0 is exactly the rounded product.
      data[j] = Math.fround(radius * sc[1]!);
      data[j + 8] = Math.fround(radius * sc[0]!);
    }
  }
}

/** Validates a seed and returns the low 32 bits that torch's mt19937 keeps (`seed & 0xffffffff`). */
function lowSeedBits(seed: bigint | number): number {
  if (typeof seed === "bigint") {
    if (seed < 0n || seed > MAX_SEED) throw new RangeError(`seed must be in [0, 2^64-1], got ${seed}`);
    return Number(seed & 0xffffffffn);
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`seed must be a non-negative safe integer or a bigint up to 2^64-1, got ${seed}`);
  }
  return seed % TWO_POW_32;
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`invalid dimension ${dim} in shape`);
    n *= dim;
  }
  if (!Number.isSafeInteger(n)) throw new RangeError(`shape [${shape.join(", ")}] has too many elements`);
  return n;
}
