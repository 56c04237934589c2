/**
 * What the schedulers that walk a table of noise levels have in common (Euler, Euler ancestral, LMS, DPM-Solver):
 * the training sigmas σ_t = √((1 − ᾱ_t)/ᾱ_t), their interpolation at fractional timesteps and the inverse map from
 * sigmas to timesteps, and, for the k-diffusion-style ones whose sample is x₀ + σ·ε, the initial noise level, the
 * input scaling, `add_noise` and the Euler step along the ODE derivative.
 */
import type { BaseSchedulerParams } from "./config.ts";
import { f32, logF32, npInterp, sigmaToT } from "./numerics.ts";
import { IndexedScheduler, type SchedulerSpec } from "./schedule.ts";

/** σ_t = √((1 − ᾱ_t)/ᾱ_t) per training timestep, in float32 as `((1 - ac) / ac) ** 0.5`. */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => Math.sqrt(Math.fround(Math.fround(1 - a) / a)));
}

/** σ at each (possibly fractional) timestep, interpolated linearly in the training sigmas (`np.interp`). */
export function interpolateSigmas(timesteps: readonly number[], sigmas: Float32Array): number[] {
  const xp = Array.from({ length: sigmas.length }, (_, i) => i);
  return timesteps.map((t) => npInterp(t, xp, sigmas));
}

/** The ODE derivative d = (x − x̂₀)/σ (k-diffusion's `to_d`), in float32. */
export function toDerivative(sample: Float32Array, denoised: Float32Array, sigma: number): Float32Array {
  const d = new Float32Array(sample.length);
  for (let i = 0; i < d.length; i++) d[i] = f32(sample[i]! - denoised[i]!) / sigma;
  return d;
}

/** One Euler step along d = (x − x̂₀)/σ from σ to `sigmaNext`: x + d·(σ_next − σ), in float32. */
export function eulerStep(
  sample: Float32Array,
  denoised: Float32Array,
  sigma: number,
  sigmaNext: number,
): Float32Array {
  const d = toDerivative(sample, denoised, sigma);
  const dt = f32(sigmaNext - sigma);
  const prev = new Float32Array(sample.length);
  for (let i = 0; i < prev.length; i++) prev[i] = sample[i]! + f32(d[i]! * dt);
  return prev;
}

/**
 * Base of the schedulers that keep a sigma table (`sigmas`) indexed like their timesteps: the training sigmas,
 * computed after diffusers' zero-terminal-SNR fix-up of ᾱ, and the sigma → timestep inversion.
 */
export abstract class SigmaScheduler<P extends BaseSchedulerParams> extends IndexedScheduler<P> {
  /** σ per training timestep (float32, ascending). */
  protected readonly trainSigmas: Float32Array;
  protected sigmaTable = new Float32Array(0);

  constructor(spec: SchedulerSpec<P>, source: Readonly<Record<string, unknown>>) {
    super(spec, source);
    // Zero terminal SNR would make the first sigma infinite; diffusers uses fp16's smallest subnormal instead.
    if (this.zeroSnr) this.alphasCumprod[this.alphasCumprod.length - 1] = 2 ** -24;
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
  }

  /** σ per inference step, then the final sigma (float32; before `setTimesteps`, diffusers' initial table). */
  get sigmas(): Float32Array {
    return this.sigmaTable;
  }

  /** diffusers' `_sigma_to_t` for each sigma: fractional training timesteps, in float64. */
  protected timestepsOfSigmas(sigmas: readonly number[]): number[] {
    const logSigmas = logF32(this.trainSigmas);
    return sigmas.map((s) => sigmaToT(s, logSigmas));
  }
}

/**
 * Base of the k-diffusion-style schedulers (Euler, Euler ancestral, LMS): the sample lives at noise level σ
 * (x = x₀ + σ·ε), so fresh latents start at the largest noise level, the model sees x/√(σ²+1), and `add_noise` is
 * x₀ + σ·ε. Before `setTimesteps`, the table is every training sigma, largest first, then 0, at timesteps N−1 … 0.
 */
export abstract class KDiffusionScheduler<P extends BaseSchedulerParams> extends SigmaScheduler<P> {
  constructor(spec: SchedulerSpec<P>, source: Readonly<Record<string, unknown>>) {
    super(spec, source);
    this.sigmaTable = Float32Array.from([...this.trainSigmas].reverse().concat([0]));
    const n = this.config.num_train_timesteps;
    this.timestepList = Array.from({ length: n }, (_, i) => n - 1 - i);
  }

  /** σ_max for "linspace"/"trailing" spacing, else √(σ_max² + 1). */
  override get initNoiseSigma(): number {
    const max = this.sigmas.reduce((m, s) => Math.max(m, s), Number.NEGATIVE_INFINITY);
    const spacing = this.config.timestep_spacing;
    return spacing === "linspace" || spacing === "trailing" ? max : f32(Math.sqrt(f32(f32(max * max) + 1)));
  }

  /** x / √(σ² + 1). */
  override scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    const sigma = this.sigmas[this.currentIndex(timestep)]!;
    const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return sample.map((x) => x / scale);
  }

  /** x₀ + σ·ε at the timestep's sigma (img2img: the begin index's). */
  override addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    if (original.length !== noise.length) throw new RangeError("addNoise: original and noise differ in size");
    const sigma = this.sigmas[this.addNoiseIndex(timestep)]!;
    return original.map((x, i) => x + f32(noise[i]! * sigma));
  }
}
