/**
 * Linear multistep (k-diffusion's `sample_lms`), a port of diffusers 0.27's `LMSDiscreteScheduler`: the ODE
 * derivatives d_i = (x − x̂₀)/σ of the last (up to) four steps are combined with coefficients ∫ ℓ_j(σ) dσ over
 * [σ_i, σ_{i+1}], ℓ_j the Lagrange basis polynomials through the past sigmas. As in diffusers, each ℓ_j is
 * evaluated in float32 (the sigmas are float32 tensors there) and integrated with QUADPACK's adaptive
 * Gauss–Kronrod rule (`scipy.integrate.quad`, epsrel 1e-4), which `quad` reproduces bit for bit.
 */
import type { BaseSchedulerParams } from "./config.ts";
import { f32, karrasSigmas } from "./numerics.ts";
import { sigmaOriginalSample } from "./prediction.ts";
import { quad } from "./quadrature.ts";
import { spacedTimesteps } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";
import { interpolateSigmas, KDiffusionScheduler, toDerivative } from "./sigmas.ts";

/** `LMSDiscreteScheduler` parameters. */
export interface LMSDiscreteParams extends BaseSchedulerParams {
  /** Use the Karras et al. sigma ramp (default false). */
  readonly use_karras_sigmas: boolean;
}

/** diffusers' `LMSDiscreteScheduler.__init__` defaults. */
export const LMS_DISCRETE_DEFAULTS: LMSDiscreteParams = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: "linear",
  trained_betas: null,
  use_karras_sigmas: false,
  prediction_type: "epsilon",
  timestep_spacing: "linspace",
  steps_offset: 0,
};

/** diffusers' default (and the pipelines') LMS order. */
const LMS_ORDER = 4;

/** diffusers' `LMSDiscreteScheduler`; the constructor takes any scheduler config (from_config semantics, default `{}`). */
export class LMSDiscreteScheduler extends KDiffusionScheduler<LMSDiscreteParams> {
  static readonly className = "LMSDiscreteScheduler";
  /** Past ODE derivatives, oldest first (at most `LMS_ORDER`). */
  private derivatives: Float32Array[] = [];

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super({ className: LMSDiscreteScheduler.className, defaults: LMS_DISCRETE_DEFAULTS }, config);
    // diffusers' constructor runs set_timesteps(num_train_timesteps).
    this.setTimesteps(this.config.num_train_timesteps);
    this.numInferenceSteps = null;
  }

  setTimesteps(numInferenceSteps: number): void {
    this.beginSetTimesteps(numInferenceSteps);
    // Float32 timesteps (diffusers casts them before reading the sigmas there).
    let timesteps = spacedTimesteps(this.config, numInferenceSteps).map(f32);
    let sigmas = interpolateSigmas(timesteps, this.trainSigmas);
    if (this.config.use_karras_sigmas) {
      sigmas = karrasSigmas(sigmas[sigmas.length - 1]!, sigmas[0]!, numInferenceSteps);
      // diffusers keeps these float64 (no float32 cast on this path).
      timesteps = this.timestepsOfSigmas(sigmas);
    }
    this.timestepList = timesteps;
    this.sigmaTable = Float32Array.from([...sigmas, 0]);
    this.derivatives = [];
    this.resetIndex();
  }

  /**
   * ∫_{σ_t}^{σ_{t+1}} ∏_{k≠j} (τ − σ_{t−k})/(σ_{t−j} − σ_{t−k}) dτ: the weight of the derivative from `j` steps
   * back. The integrand is evaluated like diffusers' (τ rounded to float32, float32 products).
   */
  lmsCoefficient(order: number, t: number, currentOrder: number): number {
    const s = this.sigmas;
    const integrand = (tau: number): number => {
      const tau32 = f32(tau);
      let prod = 1;
      for (let k = 0; k < order; k++) {
        if (k === currentOrder) continue;
        prod = f32(prod * f32(f32(tau32 - s[t - k]!) / f32(s[t - currentOrder]! - s[t - k]!)));
      }
      return prod;
    };
    return quad(integrand, s[t]!, s[t + 1]!, { epsrel: 1e-4 });
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    shape: readonly number[],
    _noise: NoiseSource,
  ): Float32Array {
    this.checkStep(modelOutput, sample, shape);
    const index = this.currentIndex(timestep);
    const sigma = this.sigmas[index]!;
    const n = sample.length;
    const x0 = sigmaOriginalSample(this.config.prediction_type, modelOutput, sample, sigma);
    const derivative = toDerivative(sample, x0, sigma);
    this.derivatives.push(derivative);
    if (this.derivatives.length > LMS_ORDER) this.derivatives.shift();
    // Multistep combination, newest derivative first, summed left to right in float32.
    const order = Math.min(index + 1, LMS_ORDER);
    const coeffs = Array.from({ length: order }, (_, j) => f32(this.lmsCoefficient(order, index, j)));
    // Like Python's zip, only as many terms as there are derivatives (fewer after a mid-schedule start).
    const newestFirst = [...this.derivatives].reverse();
    const terms = Math.min(coeffs.length, newestFirst.length);
    const sum = new Float32Array(n);
    for (let j = 0; j < terms; j++) {
      const coeff = coeffs[j]!;
      const d = newestFirst[j]!;
      for (let i = 0; i < n; i++) sum[i] = j === 0 ? f32(coeff * d[i]!) : sum[i]! + f32(coeff * d[i]!);
    }
    const prev = new Float32Array(n);
    for (let i = 0; i < n; i++) prev[i] = sample[i]! + sum[i]!;
    this.stepIndex = index + 1;
    return prev;
  }
}
