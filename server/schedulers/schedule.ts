/**
 * What the schedulers have in common: building the resolved config and the ᾱ table from a checkpoint config,
 * input checks, the DDPM-family defaults (no input scaling, unit initial noise, `add_noise` from ᾱ), the
 * `timestep_spacing` schedules, and diffusers' step-index bookkeeping for the schedulers that walk their timesteps
 * by index (the index of the current timestep, found on first use or set by `set_begin_index`, then advanced by
 * one per step). Subclasses hold the scheduler-specific math.
 */
import {
  alphasCumprodOf,
  type BaseSchedulerParams,
  betasFromConfig,
  checkChoice,
  checkInteger,
  fromConfig,
  type PredictionType,
  rescaleZeroTerminalSnr,
  type SchedulerConfig,
} from "./config.ts";
import { npArange, npLinspace, roundHalfEven } from "./numerics.ts";
import type { Scheduler } from "./scheduler.ts";
import { checkSize } from "./tensor-ops.ts";

/** Timestep spacings every scheduler here supports. */
export const SPACINGS = ["linspace", "leading", "trailing"] as const;

/** Every prediction type; most diffusers schedulers accept all three. */
const ALL_PREDICTION_TYPES: readonly PredictionType[] = ["epsilon", "sample", "v_prediction"];

/**
 * How a scheduler's constructor treats the config: class name, defaults and allowed prediction types (default:
 * all). Zero-terminal-SNR rescaling applies to the classes whose defaults have `rescale_betas_zero_snr`.
 */
export interface SchedulerSpec<P extends BaseSchedulerParams> {
  readonly className: string;
  readonly defaults: P;
  readonly predictionTypes?: readonly PredictionType[];
}

/**
 * Base of every scheduler here: the resolved config (from_config semantics), betas and ᾱ, the timestep list, and
 * input checks. Subclasses implement the scheduler-specific schedule and step. `initNoiseSigma`, `scaleModelInput`
 * and `addNoise` default to the variance-preserving DDPM family's (unit initial noise, no input scaling,
 * `add_noise` from ᾱ): DDIM, PNDM and LCM use all three, DPM-Solver the first two, and the k-diffusion-style
 * schedulers override them.
 */
export abstract class BaseScheduler<P extends BaseSchedulerParams> implements Scheduler {
  readonly order = 1;
  readonly config: SchedulerConfig<P>;
  /** β per training timestep (float32). */
  readonly betas: Float32Array;
  /** ᾱ_t = ∏ (1 − β) per training timestep (float32). */
  readonly alphasCumprod: Float32Array;
  protected readonly className: string;
  /** Whether the betas were rescaled to zero terminal SNR (`rescale_betas_zero_snr`, where the class has it). */
  protected readonly zeroSnr: boolean;
  protected timestepList: number[] = [];
  protected numInferenceSteps: number | null = null;

  constructor(spec: SchedulerSpec<P>, source: Readonly<Record<string, unknown>>) {
    this.className = spec.className;
    this.config = fromConfig(spec.className, spec.defaults, source);
    const c = this.config;
    const predictionTypes = spec.predictionTypes ?? ALL_PREDICTION_TYPES;
    checkChoice(spec.className, "prediction_type", c.prediction_type, predictionTypes);
    checkChoice(spec.className, "timestep_spacing", c.timestep_spacing, SPACINGS);
    checkInteger(spec.className, "num_train_timesteps", c.num_train_timesteps, 1);
    checkInteger(spec.className, "steps_offset", c.steps_offset, 0);
    let betas = betasFromConfig(spec.className, c);
    const hasZeroSnr = Object.hasOwn(spec.defaults, "rescale_betas_zero_snr");
    this.zeroSnr = hasZeroSnr && c["rescale_betas_zero_snr"] === true;
    if (this.zeroSnr) betas = rescaleZeroTerminalSnr(betas);
    this.betas = betas;
    this.alphasCumprod = alphasCumprodOf(betas);
  }

  get timesteps(): readonly number[] {
    return this.timestepList;
  }

  /** 1: latents of a variance-preserving process start as unit Gaussian noise. */
  get initNoiseSigma(): number {
    return 1;
  }

  abstract setTimesteps(numInferenceSteps: number): void;
  abstract step(...args: Parameters<Scheduler["step"]>): Float32Array;

  /** The sample as is (a copy): variance-preserving models take the noisy sample unscaled. */
  scaleModelInput(sample: Float32Array, _timestep: number): Float32Array {
    return Float32Array.from(sample);
  }

  /** DDPM-family `add_noise`: √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε at an integer timestep, in float32. */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array {
    if (original.length !== noise.length) throw new RangeError("addNoise: original and noise differ in size");
    const a = this.alphaProd(timestep);
    const sqrtAlpha = Math.fround(Math.sqrt(a));
    const sqrtOneMinus = Math.fround(Math.sqrt(Math.fround(1 - a)));
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.fround(sqrtAlpha * original[i]!) + Math.fround(sqrtOneMinus * noise[i]!);
    }
    return out;
  }

  /** Validates `numInferenceSteps` (1 … num_train_timesteps) and records it. */
  protected beginSetTimesteps(numInferenceSteps: number): void {
    if (
      !Number.isInteger(numInferenceSteps) ||
      numInferenceSteps < 1 ||
      numInferenceSteps > this.config.num_train_timesteps
    ) {
      throw new RangeError(
        `${this.className}: numInferenceSteps must be an integer in 1..${this.config.num_train_timesteps}, got ${numInferenceSteps}`,
      );
    }
    this.numInferenceSteps = numInferenceSteps;
  }

  /** Throws unless `setTimesteps` ran and the tensors match `shape`. */
  protected checkStep(modelOutput: Float32Array, sample: Float32Array, shape: readonly number[]): void {
    if (this.numInferenceSteps === null) {
      throw new Error(`${this.className}: call setTimesteps before step`);
    }
    checkSize("modelOutput", modelOutput, shape);
    checkSize("sample", sample, shape);
  }

  /** ᾱ at an integer training timestep. */
  protected alphaProd(timestep: number): number {
    const a = this.alphasCumprod[timestep];
    if (a === undefined || !Number.isInteger(timestep)) {
      throw new RangeError(`${this.className}: timestep ${timestep} is not a training timestep`);
    }
    return a;
  }

  /**
   * ᾱ at the previous timestep, diffusers' `alphas_cumprod[prev_t] if prev_t >= 0 else final_alpha_cumprod`:
   * below timestep 0 it is 1 with `set_alpha_to_one`, else ᾱ_0.
   */
  protected alphaProdPrev(prevTimestep: number, setAlphaToOne: boolean): number {
    if (prevTimestep >= 0) return this.alphaProd(prevTimestep);
    return setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }
}

/**
 * Base of the schedulers that walk their timesteps by step index (Euler, Euler ancestral, LMS, DPM-Solver, LCM):
 * the index is found from the first timestep seen (the second match when a timestep repeats, so an img2img run
 * that starts mid-schedule does not skip a sigma) or taken from `setBeginIndex`, then advanced by `step`.
 */
export abstract class IndexedScheduler<P extends BaseSchedulerParams> extends BaseScheduler<P> {
  protected stepIndex: number | null = null;
  protected beginIndex: number | null = null;

  /** diffusers' `set_begin_index`: the pipeline's first step is `timesteps[index]` (img2img: t_start · order). */
  setBeginIndex(index = 0): void {
    if (!Number.isInteger(index) || index < 0) throw new RangeError(`begin index must be >= 0, got ${index}`);
    this.beginIndex = index;
  }

  /** Clears the step index and begin index (diffusers does this in `set_timesteps`). */
  protected resetIndex(): void {
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** diffusers' `index_for_timestep`; `fallbackLast` gives DPM-Solver's "last index when absent". */
  protected indexForTimestep(timestep: number, fallbackLast = false): number {
    const hits: number[] = [];
    this.timestepList.forEach((t, i) => {
      if (t === timestep) hits.push(i);
    });
    if (hits.length === 0) {
      if (fallbackLast) return this.timestepList.length - 1;
      throw new RangeError(`${this.className}: timestep ${timestep} is not one of the scheduler's timesteps`);
    }
    return hits.length > 1 ? hits[1]! : hits[0]!;
  }

  /** The current step index, initialising it from `timestep` or the begin index on first use. */
  protected currentIndex(timestep: number, fallbackLast = false): number {
    if (this.stepIndex === null) {
      this.stepIndex = this.beginIndex ?? this.indexForTimestep(timestep, fallbackLast);
    }
    return this.stepIndex;
  }

  /** The index `add_noise` uses: by timestep without a begin index, else the current or the begin index. */
  protected addNoiseIndex(timestep: number, fallbackLast = false): number {
    if (this.beginIndex === null) return this.indexForTimestep(timestep, fallbackLast);
    return this.stepIndex ?? this.beginIndex;
  }
}

/**
 * diffusers' `timestep_spacing` schedules of DDIM, PNDM, Euler, Euler ancestral and LMS, descending and in float64,
 * before the dtype cast: "linspace" is `np.linspace(0, N−1, n)` (fractional values possible), "leading" is
 * `arange(n)·(N // n) + steps_offset`, "trailing" is `round(arange(N, 0, −N/n)) − 1`. The DDPM-family
 * schedulers round the result to integers (`.round().astype(np.int64)`); the sigma schedulers cast it to float32.
 */
export function spacedTimesteps(config: Readonly<BaseSchedulerParams>, numInferenceSteps: number): number[] {
  const { num_train_timesteps: n, timestep_spacing: spacing, steps_offset: offset } = config;
  if (spacing === "linspace") return npLinspace(0, n - 1, numInferenceSteps).reverse();
  if (spacing === "leading") {
    const ratio = Math.floor(n / numInferenceSteps);
    return Array.from({ length: numInferenceSteps }, (_, i) => i * ratio + offset).reverse();
  }
  return npArange(n, 0, -(n / numInferenceSteps)).map((t) => roundHalfEven(t) - 1);
}
