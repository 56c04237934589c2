/**
 * Euler (Karras et al. 2022, Algorithm 2, without churn), a port of diffusers 0.27's `EulerDiscreteScheduler`:
 * the sample lives at noise level σ (x = x₀ + σ·ε), the model sees x/√(σ²+1), and each step follows the ODE
 * derivative d = (x − x̂₀)/σ to the next sigma. Sigmas are the training sigmas interpolated at the (possibly
 * fractional) timesteps in float64, then stored in float32; optional Karras or log-linear sigmas. Like diffusers,
 * every step draws one noise tensor even though it is only used with churn, which keeps the generator in step.
 */
import { type BaseSchedulerParams, checkChoice } from "./config.ts";
import { f32, karrasSigmas, logF32, torchLinspaceF32 } from "./numerics.ts";
import { sigmaOriginalSample } from "./prediction.ts";
import { spacedTimesteps } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";
import { eulerStep, interpolateSigmas, KDiffusionScheduler } from "./sigmas.ts";

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

/** "continuous" v-prediction timesteps: the model sees 0.25·ln σ (float32) instead of a training timestep. */
function continuousTimesteps(sigmas: ArrayLike<number>): number[] {
  return Array.from(sigmas, (s) => f32(0.25 * f32(Math.log(s))));
}

/** diffusers' `EulerDiscreteScheduler`; the constructor takes any scheduler config (from_config semantics, default `{}`). */
export class EulerDiscreteScheduler extends KDiffusionScheduler<EulerDiscreteParams> {
  static readonly className = "EulerDiscreteScheduler";
  private readonly continuous: boolean;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super({ className: EulerDiscreteScheduler.className, defaults: EULER_DISCRETE_DEFAULTS }, config);
    const c = this.config;
    checkChoice(this.className, "interpolation_type", c.interpolation_type, ["linear", "log_linear"]);
    checkChoice(this.className, "timestep_type", c.timestep_type, ["discrete", "continuous"]);
    this.continuous = c.timestep_type === "continuous" && c.prediction_type === "v_prediction";
    if (this.continuous) {
      this.timestepList = continuousTimesteps(this.sigmas.subarray(0, c.num_train_timesteps));
    }
  }

  setTimesteps(numInferenceSteps: number): void {
    this.beginSetTimesteps(numInferenceSteps);
    const c = this.config;
    // Float32 timesteps (diffusers casts them before reading the sigmas there).
    let timesteps = spacedTimesteps(c, numInferenceSteps).map(f32);
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
      timesteps = this.timestepsOfSigmas(sigmas);
    }
    const sigmas32 = Float32Array.from(sigmas);
    this.timestepList = this.continuous ? continuousTimesteps(sigmas32) : timesteps.map(f32);
    this.sigmaTable = Float32Array.from([...sigmas32, 0]);
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
    // Churn γ is 0 (diffusers' defaults s_churn = 0), so σ̂ = σ(γ + 1) = σ and the noise below goes unused; it is
    // drawn anyway because diffusers draws it.
    noise.randn(shape);
    const sigmaHat = sigma;
    const x0 = sigmaOriginalSample(this.config.prediction_type, modelOutput, sample, sigmaHat);
    // Euler step along d = (x − x̂₀)/σ̂ to the next sigma.
    const prev = eulerStep(sample, x0, sigmaHat, this.sigmas[index + 1]!);
    this.stepIndex = index + 1;
    return prev;
  }
}
