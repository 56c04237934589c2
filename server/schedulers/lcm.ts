/**
 * Latent Consistency Models (Luo et al. 2023), a port of diffusers 0.27's `LCMScheduler`: timesteps are picked
 * evenly from the distillation schedule (every k-th of `original_inference_steps` training steps), each step maps
 * the sample straight to a denoised estimate through the consistency boundary condition
 * c_skip·x + c_out·x̂₀, and, except on the last step, re-noises it to the next timestep with fresh noise.
 */
import { type BaseSchedulerParams, checkInteger } from "./config.ts";
import { f32, npLinspace } from "./numerics.ts";
import { vpOriginalSample } from "./prediction.ts";
import { IndexedScheduler } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";
import { clampInPlace, thresholdSample } from "./tensor-ops.ts";

/** `LCMScheduler` parameters. */
export interface LCMParams extends BaseSchedulerParams {
  /** Length of the distillation schedule timesteps are drawn from (default 50). */
  readonly original_inference_steps: number;
  /** Clip x̂₀ to ±`clip_sample_range` (default false). */
  readonly clip_sample: boolean;
  /** Clip range (default 1). */
  readonly clip_sample_range: number;
  /** ᾱ below timestep 0: 1 when true, else ᾱ_0 (default true). */
  readonly set_alpha_to_one: boolean;
  /** Dynamic thresholding of x̂₀ (default false). */
  readonly thresholding: boolean;
  /** Quantile for dynamic thresholding (default 0.995). */
  readonly dynamic_thresholding_ratio: number;
  /** Upper bound of the dynamic threshold (default 1). */
  readonly sample_max_value: number;
  /** Multiplier of the timestep in the boundary condition (default 10). */
  readonly timestep_scaling: number;
  /** Rescale betas to zero terminal SNR (default false). */
  readonly rescale_betas_zero_snr: boolean;
}

/** diffusers' `LCMScheduler.__init__` defaults. */
export const LCM_DEFAULTS: LCMParams = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  trained_betas: null,
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: "epsilon",
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  timestep_spacing: "leading",
  timestep_scaling: 10.0,
  rescale_betas_zero_snr: false,
};

/** σ_data of the consistency-model boundary condition. */
const SIGMA_DATA = 0.5;

/**
 * diffusers' `LCMScheduler`; `new LCMScheduler(config)` takes any scheduler config (from_config semantics, default
 * `{}`). Input scaling, initial noise and `addNoise` are the DDPM family's, from `BaseScheduler`.
 */
export class LCMScheduler extends IndexedScheduler<LCMParams> {
  static readonly className = "LCMScheduler";

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super({ className: LCMScheduler.className, defaults: LCM_DEFAULTS }, config);
    checkInteger(this.className, "original_inference_steps", this.config.original_inference_steps, 1);
    const n = this.config.num_train_timesteps;
    this.timestepList = Array.from({ length: n }, (_, i) => n - 1 - i);
  }

  setTimesteps(numInferenceSteps: number): void {
    const c = this.config;
    const originalSteps = c.original_inference_steps;
    if (originalSteps > c.num_train_timesteps) {
      throw new RangeError(`${this.className}: original_inference_steps exceeds num_train_timesteps`);
    }
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > originalSteps) {
      throw new RangeError(
        `${this.className}: numInferenceSteps must be an integer in 1..${originalSteps} (original_inference_steps), got ${numInferenceSteps}`,
      );
    }
    this.beginSetTimesteps(numInferenceSteps);
    // The distillation schedule: k − 1, 2k − 1, …, with k = N // original_steps, newest first.
    const k = Math.floor(c.num_train_timesteps / originalSteps);
    const origin = Array.from({ length: originalSteps }, (_, i) => (i + 1) * k - 1).reverse();
    // Evenly spaced picks from it (floor of an endpoint-free linspace).
    const picks = npLinspace(0, origin.length, numInferenceSteps, false).map(Math.floor);
    this.timestepList = picks.map((i) => origin[i]!);
    this.resetIndex();
  }

  /** c_skip = σ_d²/((t·s)² + σ_d²), c_out = t·s/√((t·s)² + σ_d²), float32 as in diffusers. */
  boundaryScalings(timestep: number): { cSkip: number; cOut: number } {
    const scaled = f32(f32(timestep) * f32(this.config.timestep_scaling));
    const denom = f32(f32(scaled * scaled) + f32(SIGMA_DATA ** 2));
    // `0.25 / tensor` is reciprocal-then-multiply in PyTorch.
    const cSkip = f32(f32(1 / denom) * f32(SIGMA_DATA ** 2));
    const cOut = f32(scaled / f32(Math.sqrt(denom)));
    return { cSkip, cOut };
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    shape: readonly number[],
    noise: NoiseSource,
  ): Float32Array {
    this.checkStep(modelOutput, sample, shape);
    const c = this.config;
    const index = this.currentIndex(timestep);
    // 1. previous timestep: the next in the schedule (the same one at the end).
    const prevTimestep = index + 1 < this.timestepList.length ? this.timestepList[index + 1]! : timestep;
    // 2. ᾱ_t, ᾱ_prev.
    const alphaT = this.alphaProd(timestep);
    const alphaPrev = this.alphaProdPrev(prevTimestep, c.set_alpha_to_one);
    const betaT = f32(1 - alphaT);
    const betaPrev = f32(1 - alphaPrev);
    // 3. boundary-condition scalings.
    const { cSkip, cOut } = this.boundaryScalings(timestep);
    // 4. x̂₀ from the model parameterization.
    const n = sample.length;
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(betaT));
    let x0 = vpOriginalSample(c.prediction_type, modelOutput, sample, sqrtAlphaT, sqrtBetaT);
    // 5. clip or threshold.
    if (c.thresholding) x0 = thresholdSample(x0, shape, c.dynamic_thresholding_ratio, c.sample_max_value);
    else if (c.clip_sample) clampInPlace(x0, -c.clip_sample_range, c.clip_sample_range);
    // 6. consistency boundary condition.
    const denoised = new Float32Array(n);
    for (let i = 0; i < n; i++) denoised[i] = f32(cOut * x0[i]!) + f32(cSkip * sample[i]!);
    // 7. re-noise to the next timestep, except after the last step.
    let prev: Float32Array = denoised;
    if (index !== this.numInferenceSteps! - 1) {
      const z = noise.randn(shape);
      const a = f32(Math.sqrt(alphaPrev));
      const b = f32(Math.sqrt(betaPrev));
      prev = new Float32Array(n);
      for (let i = 0; i < n; i++) prev[i] = f32(a * denoised[i]!) + f32(b * z[i]!);
    }
    this.stepIndex = index + 1;
    return prev;
  }
}
