/**
 * The scheduler contract: one interface over diffusers' noise schedulers so a denoising loop can run any of them.
 * Tensors are flat float32 arrays in C order with their shape passed alongside; noise comes from a `NoiseSource`
 * with `torch.randn` semantics, so a scheduler draws exactly the tensors, in the order and shape, that diffusers
 * draws from the pipeline's generator, and a run can be reproduced draw for draw.
 */
import type { SchedulerConfig } from "./config.ts";

/** Source of Gaussian noise: torch.randn semantics with one shared generator. */
export interface NoiseSource {
  randn(shape: readonly number[]): Float32Array;
}

/** Per-call options of {@link Scheduler.step}, as diffusers pipelines pass them to schedulers that accept them. */
export interface StepOptions {
  /**
   * DDIM's η (default 0): the weight of fresh noise in each step (0 = deterministic DDIM, 1 = DDPM-like). Ignored
   * by the other schedulers, as diffusers only passes `eta` to a `step` that takes it.
   */
  readonly eta?: number;
}

/**
 * A diffusers noise scheduler: the timestep schedule of a denoising loop and the update from one timestep to the
 * next. Instances hold the state of one run (create one per request); `setTimesteps` starts a new run.
 */
export interface Scheduler {
  /** Inference timesteps, in the order the denoising loop visits them; valid after `setTimesteps`. */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial noise: multiply fresh latents by it (1 for DDPM-style schedulers). */
  readonly initNoiseSigma: number;
  /** Model evaluations per timestep (1 for every scheduler here); img2img starts at `t_start * order`. */
  readonly order: number;
  /** The resolved configuration (diffusers' `scheduler.config`). */
  readonly config: Readonly<SchedulerConfig>;
  /** Computes `timesteps` (and sigmas) for `numInferenceSteps` and resets every running state. */
  setTimesteps(numInferenceSteps: number): void;
  /** Where the loop starts in `timesteps` (img2img/inpaint with strength < 1); only where diffusers has it. */
  setBeginIndex?(index: number): void;
  /** The model input for `sample` at `timestep` (a new array; Euler-type schedulers divide by √(σ²+1)). */
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  /** One denoising step; draws noise from `noise` exactly where and with the shape diffusers does (Euler draws unused noise every step; LCM every step but the last; Euler ancestral every step). */
  step(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
    shape: readonly number[],
    noise: NoiseSource,
    options?: StepOptions,
  ): Float32Array;
  /** Forward diffusion of clean `original` to `timestep` with the given `noise` (img2img's starting latents). */
  addNoise(original: Float32Array, noise: Float32Array, timestep: number): Float32Array;
}
