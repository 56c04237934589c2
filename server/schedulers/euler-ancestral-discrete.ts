/**
 * Euler ancestral (k-diffusion's `sample_euler_ancestral`), a port of diffusers 0.27's
 * `EulerAncestralDiscreteScheduler`: each step goes deterministically from σ_from down to σ_down along the ODE
 * derivative, then adds fresh noise of standard deviation σ_up, with σ_down² + σ_up² = σ_to² so the sample lands at
 * noise level σ_to. One noise tensor is drawn every step (also the last, where σ_up = 0).
 */
import type { BaseSchedulerParams } from "./config.ts";
import { f32 } from "./numerics.ts";
import { IndexedScheduler, interpolateSigmas, sigmaSchedulerTimesteps, trainingSigmas } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";

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
export class EulerAncestralDiscreteScheduler extends IndexedScheduler<EulerAncestralDiscreteParams> {
  static readonly className = "EulerAncestralDiscreteScheduler";
  private sigmaTable: Float32Array;
  private readonly trainSigmas: Float32Array;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(
      {
        className: EulerAncestralDiscreteScheduler.className,
        defaults: EULER_ANCESTRAL_DISCRETE_DEFAULTS,
        // diffusers raises NotImplementedError for "sample".
        predictionTypes: ["epsilon", "v_prediction"],
        zeroSnr: true,
      },
      config,
    );
    if (this.config.rescale_betas_zero_snr) this.alphasCumprod[this.alphasCumprod.length - 1] = 2 ** -24;
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
    this.sigmaTable = Float32Array.from([...this.trainSigmas].reverse().concat([0]));
    const n = this.config.num_train_timesteps;
    this.timestepList = Array.from({ length: n }, (_, i) => n - 1 - i);
  }

  /** σ per inference step, then a final 0 (float32; before `setTimesteps`, diffusers' initial table). */
  get sigmas(): Float32Array {
    return this.sigmaTable;
  }

  /** σ_max for "linspace"/"trailing" spacing, else √(σ_max² + 1). */
  get initNoiseSigma(): number {
    const max = this.sigmas.reduce((m, s) => Math.max(m, s), Number.NEGATIVE_INFINITY);
    const spacing = this.config.timestep_spacing;
    return spacing === "linspace" || spacing === "trailing" ? max : f32(Math.sqrt(f32(f32(max * max) + 1)));
  }

  setTimesteps(numInferenceSteps: number): void {
    this.beginSetTimesteps(numInferenceSteps);
    this.timestepList = sigmaSchedulerTimesteps(this.config, numInferenceSteps);
    const sigmas = interpolateSigmas(this.timestepList, this.trainSigmas);
    this.sigmaTable = Float32Array.from([...sigmas, 0]);
    this.resetIndex();
  }

  /** x / √(σ² + 1). */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    const sigma = this.sigmas[this.currentIndex(timestep)]!;
    const scale = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    return sample.map((x) => x / scale);
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
    const n = sample.length;
    const x0 = new Float32Array(n);
    if (this.config.prediction_type === "epsilon") {
      for (let i = 0; i < n; i++) x0[i] = sample[i]! - f32(sigma * modelOutput[i]!);
    } else {
      // x̂₀ = v·(−σ/√(σ²+1)) + x/(σ²+1).
      const s2p1 = f32(f32(sigma * sigma) + 1);
      const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
      for (let i = 0; i < n; i++) x0[i] = f32(modelOutput[i]! * cOut) + f32(sample[i]! / s2p1);
    }
    // σ_up = √(σ_to²(σ_from² − σ_to²)/σ_from²), σ_down = √(σ_to² − σ_up²).
    const sigmaFrom = sigma;
    const sigmaTo = this.sigmas[index + 1]!;
    const from2 = f32(sigmaFrom * sigmaFrom);
    const to2 = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigma);
    const prev = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const derivative = f32(f32(sample[i]! - x0[i]!) / sigma);
      prev[i] = sample[i]! + f32(derivative * dt);
    }
    // The ancestral part: fresh noise at σ_up.
    const z = noise.randn(shape);
    for (let i = 0; i < n; i++) prev[i] = prev[i]! + f32(z[i]! * sigmaUp);
    this.stepIndex = index + 1;
    return prev;
  }

  /** x₀ + σ·ε at the timestep's sigma (img2img: the begin index's). */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    if (original.length !== noise.length) throw new RangeError("addNoise: original and noise differ in size");
    const sigma = this.sigmas[this.addNoiseIndex(timestep)]!;
    return original.map((x, i) => x + f32(noise[i]! * sigma));
  }
}
