/**
 * Euler ancestral (k-diffusion's `sample_euler_ancestral`), a port of diffusers 0.27's
 * `EulerAncestralDiscreteScheduler`: each step goes deterministically from σ_from down to σ_down along the ODE
 * derivative, then adds fresh noise of standard deviation σ_up, with σ_down² + σ_up² = σ_to² so the sample lands at
 * noise level σ_to. One noise tensor is drawn every step (also the last, where σ_up = 0).
 */
import type { BaseSchedulerParams } from "./config.ts";
import { f32 } from "./numerics.ts";
import { sigmaOriginalSample } from "./prediction.ts";
import { spacedTimesteps } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";
import { eulerStep, interpolateSigmas, KDiffusionScheduler } from "./sigmas.ts";

/** `EulerAncestralDiscreteScheduler` parameters. */
export interface EulerAncestralDiscreteParams extends BaseSchedulerParams {
  /** Rescale betas to zero terminal SNR (default false). */
  readonly rescale_betas_zero_snr: boolean;
}

/** diffusers' `EulerAncestralDiscreteScheduler.__init__` defaults. */
export const EULER_ANCESTRAL_DISCRETE_DEFAULTS: EulerAncestralDiscreteParams = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: "linear",
  trained_betas: null,
  prediction_type: "epsilon",
  timestep_spacing: "linspace",
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

/**
 * diffusers' `EulerAncestralDiscreteScheduler`; the constructor takes any scheduler config (from_config semantics,
 * default `{}`).
 */
export class EulerAncestralDiscreteScheduler extends KDiffusionScheduler<EulerAncestralDiscreteParams> {
  static readonly className = "EulerAncestralDiscreteScheduler";

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(
      {
        className: EulerAncestralDiscreteScheduler.className,
        defaults: EULER_ANCESTRAL_DISCRETE_DEFAULTS,
        // diffusers raises NotImplementedError for "sample".
        predictionTypes: ["epsilon", "v_prediction"],
      },
      config,
    );
  }

  setTimesteps(numInferenceSteps: number): void {
    this.beginSetTimesteps(numInferenceSteps);
    // Float32 timesteps (diffusers casts them before reading the sigmas there).
    this.timestepList = spacedTimesteps(this.config, numInferenceSteps).map(f32);
    const sigmas = interpolateSigmas(this.timestepList, this.trainSigmas);
    this.sigmaTable = Float32Array.from([...sigmas, 0]);
    this.resetIndex();
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    shape: readonly number[],
    noise: NoiseSource,
  ): Float32Array {
    this.checkStep(modelOutput, sample, shape);
    const index = this.currentIndex(timestep);
    const sigma = this.sigmas[index]!;
    const x0 = sigmaOriginalSample(this.config.prediction_type, modelOutput, sample, sigma);
    // σ_up = √(σ_to²(σ_from² − σ_to²)/σ_from²), σ_down = √(σ_to² − σ_up²).
    const sigmaFrom = sigma;
    const sigmaTo = this.sigmas[index + 1]!;
    const from2 = f32(sigmaFrom * sigmaFrom);
    const to2 = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    // The deterministic part: an Euler step down to σ_down.
    const prev = eulerStep(sample, x0, sigma, sigmaDown);
    // The ancestral part: fresh noise at σ_up.
    const z = noise.randn(shape);
    for (let i = 0; i < prev.length; i++) prev[i] = prev[i]! + f32(z[i]! * sigmaUp);
    this.stepIndex = index + 1;
    return prev;
  }
}
