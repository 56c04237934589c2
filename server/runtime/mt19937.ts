/**
 * The 32-bit Mersenne Twister exactly as PyTorch's `at::mt19937` implements it (MT19937RNGEngine.h): Matsumoto
 * and Nishimura's `init_genrand` seeding from a 32-bit value, and Cokus's in-place state regeneration that runs
 * lazily on the first draw after seeding and then every 624 draws. Output is identical to `std::mt19937` for the
 * same 32-bit seed; the lazy-regeneration detail only matters for matching the call pattern, not the values.
 */

const STATE_N = 624;
const STATE_M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/** A Mersenne Twister (MT19937) stream of uint32 values, seeded like `at::mt19937(seed)`. */
export class Mt19937 {
  readonly #state = new Uint32Array(STATE_N);
  // `left` counts down to the next regeneration; starting at 1 regenerates on the first draw, as torch does.
  #left = 1;
  #next = 0;

  /** @param seed32 the low 32 bits of the seed (torch masks its 64-bit seed with `& 0xffffffff`). */
  constructor(seed32: number) {
    const s = this.#state;
    s[0] = seed32 >>> 0;
    for (let j = 1; j < STATE_N; j++) {
      const prev = s[j - 1]!;
      // Math.imul keeps the 32-bit wrap-around multiply of the C code; a plain `*` would lose low bits.
      s[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
  }

  /** The next uint32 of the stream (as a non-negative JS number). */
  nextUint32(): number {
    if (--this.#left === 0) this.#regenerate();
    let y = this.#state[this.#next++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  #regenerate(): void {
    const s = this.#state;
    this.#left = STATE_N;
    this.#next = 0;
    let k = 0;
    for (; k < STATE_N - STATE_M; k++) s[k] = s[k + STATE_M]! ^ twist(s[k]!, s[k + 1]!);
    for (; k < STATE_N - 1; k++) s[k] = s[k + STATE_M - STATE_N]! ^ twist(s[k]!, s[k + 1]!);
    s[STATE_N - 1] = s[STATE_M - 1]! ^ twist(s[STATE_N - 1]!, s[0]!);
  }
}

function twist(u: number, v: number): number {
  return (((u & UPPER_MASK) | (v & LOWER_MASK)) >>> 1) ^ (v & 1 ? MATRIX_A : 0);
}
