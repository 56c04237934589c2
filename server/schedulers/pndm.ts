/**
 * PNDM (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models"), a port of diffusers 0.27's
 * `PNDMScheduler`: four Runge–Kutta (PRK) warm-up steps, then the linear multistep (PLMS) method that reuses the
 * last four noise predictions. With `skip_prk_steps` (Stable Diffusion's setting) it is crowsonkb's PLMS sampler:
 * the first step is an Euler step that the second repeats with the averaged prediction (so for 10 steps the loop
 * runs 11 times, the second timestep twice). Each step moves x_t to x_{t−δ} with formula (9) of the paper. All
 * arithmetic is float32 in PyTorch's evaluation order.
 */
import type { BaseSchedulerParams } from "./config.ts";
import { f32, roundHalfEven } from "./numerics.ts";
import { vpEpsilon } from "./prediction.ts";
import { BaseScheduler, spacedTimesteps } from "./schedule.ts";
import type { NoiseSource } from "./scheduler.ts";

/** `PNDMScheduler` parameters. */
export interface PNDMParams extends BaseSchedulerParams {
  /** Use PLMS from the start, without the Runge–Kutta warm-up (default false; true for Stable Diffusion). */
  readonly skip_prk_steps: boolean;
  /** ᾱ before the first training step: 1 when true, else ᾱ_0 (default false). */
  readonly set_alpha_to_one: boolean;
}

/** diffusers' `PNDMScheduler.__init__` defaults. */
export const PNDM_DEFAULTS: PNDMParams = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: "linear",
  trained_betas: null,
  skip_prk_steps: false,
  set_alpha_to_one: false,
  prediction_type: "epsilon",
  timestep_spacing: "leading",
  steps_offset: 0,
};

/**
 * diffusers' `PNDMScheduler`; `new PNDMScheduler(config)` takes any scheduler config (from_config semantics, default
 * `{}`). Input scaling, initial noise and `addNoise` are the DDPM family's, from `BaseScheduler`.
 */
export class PNDMScheduler extends BaseScheduler<PNDMParams> {
  static readonly className = "PNDMScheduler";
  /** PLMS order: the number of past predictions combined. */
  private readonly pndmOrder = 4;
  private prkTimesteps: number[] = [];
  private counter = 0;
  /** Past noise predictions (newest last); PRK and PLMS history. */
  private ets: Float32Array[] = [];
  /** PRK: the running weighted sum of the four RK stage predictions (null = 0). */
  private curModelOutput: Float32Array | null = null;
  /** The sample at the start of the current RK step / the first PLMS step. */
  private curSample: Float32Array | null = null;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    super(
      {
        className: PNDMScheduler.className,
        defaults: PNDM_DEFAULTS,
        // diffusers raises ValueError for "sample".
        predictionTypes: ["epsilon", "v_prediction"],
      },
      config,
    );
  }

  setTimesteps(numInferenceSteps: number): void {
    this.beginSetTimesteps(numInferenceSteps);
    const n = this.config.num_train_timesteps;
    // Ascending integer timesteps ("linspace" ones rounded half to even); the schedule is read from the end.
    const ascending = spacedTimesteps(this.config, numInferenceSteps).map(roundHalfEven).reverse();
    let plms: number[];
    if (this.config.skip_prk_steps) {
      // PLMS only: the second-to-last ascending timestep (the first one visited after the start) appears twice.
      this.prkTimesteps = [];
      plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
    } else {
      // Each of the last `pndmOrder` timesteps with its half-step neighbour: t, t + δ/2, paired up RK-style.
      const half = Math.floor(Math.floor(n / numInferenceSteps) / 2);
      const prk = ascending.slice(-this.pndmOrder).flatMap((t) => [t, t + half]);
      const doubled = prk.slice(0, -1).flatMap((t) => [t, t]);
      this.prkTimesteps = doubled.slice(1, -1).reverse();
      plms = ascending.slice(0, -3).reverse();
    }
    this.timestepList = [...this.prkTimesteps, ...plms];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    shape: readonly number[],
    _noise: NoiseSource,
  ): Float32Array {
    this.checkStep(modelOutput, sample, shape);
    if (this.counter < this.prkTimesteps.length && !this.config.skip_prk_steps) {
      return this.stepPrk(modelOutput, timestep, sample);
    }
    return this.stepPlms(modelOutput, timestep, sample);
  }

  /** One Runge–Kutta stage: stages 1–4 evaluate at t, t−δ/2, t−δ/2, t−δ with weights 1/6, 1/3, 1/3, 1/6. */
  private stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array {
    const stepRatio = Math.floor(this.config.num_train_timesteps / this.numInferenceSteps!);
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(stepRatio / 2);
    const prevTimestep = timestep - diffToPrev;
    const start = this.prkTimesteps[Math.floor(this.counter / 4) * 4]!;
    const stage = this.counter % 4;
    const weight = f32(stage === 0 || stage === 3 ? 1 / 6 : 1 / 3);
    let output = modelOutput;
    if (stage === 3) {
      // The combined RK slope: the accumulated stages plus the last one.
      output = new Float32Array(modelOutput.length);
      for (let i = 0; i < output.length; i++) {
        const acc = this.curModelOutput?.[i] ?? 0;
        output[i] = acc + f32(weight * modelOutput[i]!);
      }
      this.curModelOutput = null;
    } else {
      const acc = new Float32Array(modelOutput.length);
      for (let i = 0; i < acc.length; i++)
        acc[i] = (this.curModelOutput?.[i] ?? 0) + f32(weight * modelOutput[i]!);
      this.curModelOutput = acc;
      if (stage === 0) {
        // Copies: the caller may reuse its buffers, the history must not change.
        this.ets.push(Float32Array.from(modelOutput));
        this.curSample = Float32Array.from(sample);
      }
    }
    const prev = this.prevSample(this.curSample ?? sample, start, prevTimestep, output);
    this.counter++;
    return prev;
  }

  /** One PLMS step: an Adams–Bashforth combination of the last (up to) four predictions. */
  private stepPlms(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array {
    if (!this.config.skip_prk_steps && this.ets.length < 3) {
      throw new Error(`${this.className}: PLMS needs three Runge–Kutta steps first`);
    }
    const stepRatio = Math.floor(this.config.num_train_timesteps / this.numInferenceSteps!);
    let prevTimestep = timestep - stepRatio;
    let from = timestep;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(Float32Array.from(modelOutput));
    } else {
      // The repeated timestep: redo the first step from its start with the averaged prediction.
      prevTimestep = timestep;
      from = timestep + stepRatio;
    }
    const n = modelOutput.length;
    const e = this.ets;
    let output: Float32Array;
    let x = sample;
    if (e.length === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = Float32Array.from(sample);
    } else if (e.length === 1 && this.counter === 1) {
      const e1 = e[0]!;
      output = new Float32Array(n);
      for (let i = 0; i < n; i++) output[i] = f32(modelOutput[i]! + e1[i]!) / 2;
      x = this.curSample ?? sample;
      this.curSample = null;
    } else if (e.length === 2) {
      const [e2, e1] = [e[0]!, e[1]!];
      output = new Float32Array(n);
      for (let i = 0; i < n; i++) output[i] = f32(f32(3 * e1[i]!) - e2[i]!) / 2;
    } else if (e.length === 3) {
      const [e3, e2, e1] = [e[0]!, e[1]!, e[2]!];
      output = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        output[i] = f32(f32(f32(23 * e1[i]!) - f32(16 * e2[i]!)) + f32(5 * e3[i]!)) / 12;
      }
    } else {
      const [e4, e3, e2, e1] = [e[0]!, e[1]!, e[2]!, e[3]!];
      const w = f32(1 / 24);
      output = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const s = f32(f32(f32(f32(55 * e1[i]!) - f32(59 * e2[i]!)) + f32(37 * e3[i]!)) - f32(9 * e4[i]!));
        output[i] = w * s;
      }
    }
    const prev = this.prevSample(x, from, prevTimestep, output);
    this.counter++;
    return prev;
  }

  /**
   * Formula (9) of the PNDM paper, x_t → x_{t−δ}:
   * x_{t−δ} = √(ᾱ_{t−δ}/ᾱ_t)·x_t − (ᾱ_{t−δ} − ᾱ_t)·ε / (ᾱ_t·√(1−ᾱ_{t−δ}) + √(ᾱ_t·(1−ᾱ_t)·ᾱ_{t−δ})).
   */
  private prevSample(
    sample: Float32Array,
    timestep: number,
    prevTimestep: number,
    output: Float32Array,
  ): Float32Array {
    const alphaT = this.alphaProd(timestep);
    const alphaPrev = this.alphaProdPrev(prevTimestep, this.config.set_alpha_to_one);
    const betaT = f32(1 - alphaT);
    const betaPrev = f32(1 - alphaPrev);
    // The noise prediction (from v-prediction: ε = √ᾱ·v + √(1−ᾱ)·x_t).
    const sqrtAlphaT = f32(Math.sqrt(alphaT));
    const sqrtBetaT = f32(Math.sqrt(betaT));
    const eps = vpEpsilon(this.config.prediction_type, output, sample, sqrtAlphaT, sqrtBetaT);
    const sampleCoeff = f32(Math.sqrt(f32(alphaPrev / alphaT)));
    const denom = f32(
      f32(alphaT * f32(Math.sqrt(betaPrev))) + f32(Math.sqrt(f32(f32(alphaT * betaT) * alphaPrev))),
    );
    const diff = f32(alphaPrev - alphaT);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = f32(sampleCoeff * sample[i]!) - f32(f32(diff * eps[i]!) / denom);
    }
    return out;
  }
}
