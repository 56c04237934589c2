/**
 * DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models"), a port of diffusers 0.27's `DDIMScheduler`:
 * predict x₀ from the model output, optionally clip or dynamically threshold it, then step to the previous timestep
 * along formula (12) of the paper with σ_t(η) from formula (16). η = 0 (the default) is deterministic; η > 0 adds
 * σ_t·z with fresh noise z drawn every step. All arithmetic is float32 in PyTorch's evaluation order.
 */
import type { BaseSchedulerParams } from "./config.ts";
import { f32, roundHalfEven } from "./numerics.ts";
import { vpEpsilon, vpOriginalSample } from "./prediction.ts";
import { BaseScheduler, spacedTimesteps } from "./schedule.ts";
import type { NoiseSource, StepOptions } from "./scheduler.ts";
import { clampInPlace, thresholdSample } from "./tensor-ops.ts";

/** `DDIMScheduler` parameters. */
export interface DDIMParams extends BaseSchedulerParams {
  /** Clip predicted x₀ to ±`clip_sample_range` (default true). */
  readonly clip_sample: boolean;
  /** ᾱ after the last step: 1 when true, else ᾱ_0 (default true). */
  readonly set_alpha_to_one: boolean;
  /** Dynamic thresholding of predicted x₀ (default false). */
  readonly thresholding: boolean;
  /** Quantile of |x₀| used by dynamic thresholding (default 0.995). */
  readonly dynamic_thresholding_ratio: number;
  /** Clip range of `clip_sample` (default 1). */
  readonly clip_sample_range: number;
  /** Upper bound of the dynamic threshold (default 1). */
  readonly sample_max_value: number;
  /** Rescale betas to zero terminal SNR (default false). */
  readonly rescale_betas_zero_snr: boolean;
}

/** diffusers' `DDIMScheduler.__init__` defaults. */
export const DDIM_DEFAULTS: DDIMParams = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: "linear",
  trained_betas: null,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: "epsilon",
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: "leading",
  rescale_betas_zero_snr: false,
};

/**
 * diffusers' `DDIMScheduler`; `new DDIMScheduler(config)` takes any scheduler config (from_config semantics, default
 * `{}`). Input scaling, initial noise and `addNoise` are the DDPM family's, from `BaseScheduler`.
 */
export class DDIMScheduler extends BaseScheduler<DDIMParams> {
  static readonly className = "DDIMScheduler";

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super({ className: DDIMScheduler.className, defaults: DDIM_DEFAULTS }, config);
  }

  setTimesteps(numInferenceSteps: number): void {
    this.beginSetTimesteps(numInferenceSteps);
    // Integer timesteps: "linspace" ones are rounded half to even.
    this.timestepList = spacedTimesteps(this.config, numInferenceSteps).map(roundHalfEven);
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    shape: readonly number[],
    noise: NoiseSource,
    options: StepOptions = {},
  ): Float32Array {
    this.checkStep(modelOutput, sample, shape);
    const eta = options.eta ?? 0;
    const c = this.config;
    // 1. previous timestep t − δ.
    const prevTimestep = timestep - Math.floor(c.num_train_timesteps / this.numInferenceSteps!);
    // 2. ᾱ_t, ᾱ_{t−δ}.
    const alphaT = this.alphaProd(timestep);
    const alphaPrev = this.alphaProdPrev(prevTimestep, c.set_alpha_to_one);
    const betaT = f32(1 - alphaT);
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(betaT));
    // 3. predicted x₀ and ε.
    let x0 = vpOriginalSample(c.prediction_type, modelOutput, sample, sqrtAlphaT, sqrtBetaT);
    const eps = vpEpsilon(c.prediction_type, modelOutput, sample, sqrtAlphaT, sqrtBetaT);
    // 4. clip or threshold x₀.
    if (c.thresholding) x0 = thresholdSample(x0, shape, c.dynamic_thresholding_ratio, c.sample_max_value);
    else if (c.clip_sample) clampInPlace(x0, -c.clip_sample_range, c.clip_sample_range);
    // 5. σ_t(η) = η·√((1−ᾱ_{t−δ})/(1−ᾱ_t) · (1 − ᾱ_t/ᾱ_{t−δ})).
    const variance = f32(f32(f32(1 - alphaPrev) / betaT) * f32(1 - f32(alphaT / alphaPrev)));
    const stdDev = f32(f32(eta) * f32(Math.sqrt(variance)));
    // 6. direction pointing to x_t: √(1 − ᾱ_{t−δ} − σ²)·ε.
    const dirCoeff = f32(Math.sqrt(f32(f32(1 - alphaPrev) - f32(stdDev * stdDev))));
    // 7. x_{t−δ} = √ᾱ_{t−δ}·x₀ + direction (+ σ·z).
    const sqrtAlphaPrev = f32(Math.sqrt(alphaPrev));
    const n = sample.length;
    const prev = new Float32Array(n);
    for (let i = 0; i < n; i++) prev[i] = f32(sqrtAlphaPrev * x0[i]!) + f32(dirCoeff * eps[i]!);
    if (eta > 0) {
      const z = noise.randn(shape);
      for (let i = 0; i < n; i++) prev[i] = prev[i]! + f32(stdDev * z[i]!);
    }
    return prev;
  }
}
