/**
 * Euler (Karras et al. 2022, Algorithm 2, without churn), a port of diffusers 0.27's `EulerDiscreteScheduler`:
 * the sample lives at noise level σ (x = x₀ + σ·ε), the model sees x/√(σ²+1), and each step follows the ODE
 * derivative d = (x − x̂₀)/σ to the next sigma. Sigmas are the training sigmas interpolated at the (possibly
 * fractional) timesteps in float64, then stored in float32; optional Karras or log-linear sigmas. Like diffusers,
 * every step draws one noise tensor even though it is only used with churn, which keeps the generator in step.
 */
import { type BaseSchedulerParams, checkChoice } from "./config.ts";
import { f32, karrasSigmas, logF32, sigmaToT, torchLinspaceF32 } from "./numerics.ts";
import { IndexedScheduler, interpolateSigmas, sigmaSchedulerTimesteps, trainingSigmas } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";

/** `EulerDiscreteScheduler` parameters. */
export interface EulerDiscreteParams extends BaseSchedulerParams {
  /** How sigmas are read at the timesteps: "linear" interpolation or a "log_linear" ramp (default "linear"). */
  readonly interpolation_type: "linear" | "log_linear";
  /** Use the Karras et al. sigma ramp (default false). */
  readonly use_karras_sigmas: boolean;
  /** Lowest sigma of the Karras ramp (default null: the schedule's). */
  readonly sigma_min: number | null;
  /** Highest sigma of the Karras ramp (default null: the schedule's). */
  readonly sigma_max: number | null;
  /** "continuous" with v_prediction uses 0.25·ln σ as the model timestep (default "discrete"). */
  readonly timestep_type: "discrete" | "continuous";
  /** Rescale betas to zero terminal SNR (default false). */
  readonly rescale_betas_zero_snr: boolean;
}

/** diffusers' `EulerDiscreteScheduler.__init__` defaults. */
export const EULER_DISCRETE_DEFAULTS: EulerDiscreteParams = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: "linear",
  trained_betas: null,
  prediction_type: "epsilon",
  interpolation_type: "linear",
  use_karras_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  timestep_spacing: "linspace",
  timestep_type: "discrete",
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

/** diffusers' `EulerDiscreteScheduler`; the constructor takes any scheduler config (from_config semantics, default `{}`). */
export class EulerDiscreteScheduler extends IndexedScheduler<EulerDiscreteParams> {
  static readonly className = "EulerDiscreteScheduler";
  private sigmaTable: Float32Array;
  private readonly trainSigmas: Float32Array;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(
      {
        className: EulerDiscreteScheduler.className,
        defaults: EULER_DISCRETE_DEFAULTS,
        predictionTypes: ["epsilon", "v_prediction", "sample"],
        zeroSnr: true,
      },
      config,
    );
    const c = this.config;
    checkChoice(this.className, "interpolation_type", c.interpolation_type, ["linear", "log_linear"]);
    checkChoice(this.className, "timestep_type", c.timestep_type, ["discrete", "continuous"]);
    // Zero terminal SNR would make the first sigma infinite; diffusers uses fp16's smallest subnormal instead.
    if (c.rescale_betas_zero_snr) this.alphasCumprod[this.alphasCumprod.length - 1] = 2 ** -24;
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
    // Before setTimesteps: every training sigma, largest first, then 0.
    this.sigmaTable = Float32Array.from([...this.trainSigmas].reverse().concat([0]));
    const n = c.num_train_timesteps;
    this.timestepList =
      c.timestep_type === "continuous" && c.prediction_type === "v_prediction"
        ? [...this.sigmas.subarray(0, n)].map((s) => f32(0.25 * f32(Math.log(s))))
        : Array.from({ length: n }, (_, i) => n - 1 - i);
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
    const c = this.config;
    let timesteps = sigmaSchedulerTimesteps(c, numInferenceSteps);
    let sigmas: number[];
    if (c.interpolation_type === "linear") {
      sigmas = interpolateSigmas(timesteps, this.trainSigmas);
    } else {
      // A float32 ramp in log sigma from the largest to the smallest training sigma (n + 1 points, as diffusers).
      const logs = logF32(this.trainSigmas);
      const ramp = torchLinspaceF32(logs[logs.length - 1]!, logs[0]!, numInferenceSteps + 1);
      sigmas = [...ramp].map((l) => f32(Math.exp(l)));
    }
    if (c.use_karras_sigmas) {
      const sigmaMin = typeof c.sigma_min === "number" ? c.sigma_min : sigmas[sigmas.length - 1]!;
      const sigmaMax = typeof c.sigma_max === "number" ? c.sigma_max : sigmas[0]!;
      sigmas = karrasSigmas(sigmaMin, sigmaMax, numInferenceSteps);
      const logSigmas = logF32(this.trainSigmas);
      timesteps = sigmas.map((s) => sigmaToT(s, logSigmas));
    }
    const sigmas32 = Float32Array.from(sigmas);
    this.timestepList =
      c.timestep_type === "continuous" && c.prediction_type === "v_prediction"
        ? [...sigmas32].map((s) => f32(0.25 * f32(Math.log(s))))
        : timesteps.map(f32);
    this.sigmaTable = Float32Array.from([...sigmas32, 0]);
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
    // Churn γ is 0 (diffusers' defaults s_churn = 0), so σ̂ = σ(γ + 1) = σ and the noise below goes unused; it is
    // drawn anyway because diffusers draws it.
    noise.randn(shape);
    const sigmaHat = sigma;
    const n = sample.length;
    const x0 = new Float32Array(n);
    if (this.config.prediction_type === "epsilon") {
      for (let i = 0; i < n; i++) x0[i] = sample[i]! - f32(sigmaHat * modelOutput[i]!);
    } else if (this.config.prediction_type === "v_prediction") {
      // x̂₀ = v·(−σ/√(σ²+1)) + x/(σ²+1).
      const s2p1 = f32(f32(sigma * sigma) + 1);
      const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
      for (let i = 0; i < n; i++) x0[i] = f32(modelOutput[i]! * cOut) + f32(sample[i]! / s2p1);
    } else {
      x0.set(modelOutput);
    }
    // Euler step along d = (x − x̂₀)/σ̂ to the next sigma.
    const dt = f32(this.sigmas[index + 1]! - sigmaHat);
    const prev = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const derivative = f32(f32(sample[i]! - x0[i]!) / sigmaHat);
      prev[i] = sample[i]! + f32(derivative * dt);
    }
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
