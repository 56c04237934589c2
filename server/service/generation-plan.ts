/**
 * Planning a generation (diffusers' `check_inputs`, done once up front): validate the request, resolve the
 * checkpoint with AutoPipeline semantics for its task and refuse what this server cannot run, read input images,
 * decide the size, the schedule, the adapters, and the memory and time the run may take. A plan needs no graph;
 * generation.ts runs it.
 */

import type { Task } from "../auto-pipeline/resolve.ts";
import type { Services } from "../context.ts";
import { InvalidInputError, ModelLoadError, UnsupportedPipelineError } from "../errors.ts";
import { type LoraInputValue, type PlannedLora, planLoras } from "../loras/lora-request.ts";
import type { SdComponents } from "../pipelines/components.ts";
import { type ImageInputValue, type InputImages, readInputImages } from "../pipelines/input-images.ts";
import { validateXlConditioning, type XlConditioningRequest } from "../pipelines/micro-conditioning.ts";
import { type GenerationRequest, validateCommon, validateSize } from "../pipelines/validate.ts";
import { createScheduler, type SchedulerName } from "../schedulers/registry.ts";
import { type AttentionKernels, type MemoryPlan, planMemory } from "./cost.ts";
import { effectiveConfig, type PipelineConfig, type PipelineConfigOverrides } from "./pipeline-config.ts";
import { targetOf } from "./pipeline-variants.ts";
import { type CheckpointResolution, resolveCheckpoint } from "./resolve-checkpoint.ts";
import { planTime, type TimeEstimate } from "./time-cost.ts";

export interface TaskRequest extends GenerationRequest, XlConditioningRequest {
  readonly model: string;
  readonly scheduler?: SchedulerName | null;
  readonly image?: ImageInputValue | null;
  readonly maskImage?: ImageInputValue | null;
  readonly strength?: number | null;
  /** LoRA adapters and their scales (default: the pipeline config's, none). */
  readonly loras?: LoraInputValue[] | null;
}

export const TASK_FIELD: Record<Task, string> = {
  TEXT_TO_IMAGE: "textToImage",
  IMAGE_TO_IMAGE: "imageToImage",
  INPAINTING: "inpainting",
};

/**
 * A request checked once, up front (diffusers' `check_inputs`): every argument validated, the checkpoint resolved
 * and found runnable, input images decoded, the size decided against the checkpoint's facts and the schedule
 * built once to count the steps that will run. What is left can only fail by loading or running the graphs.
 */
export interface GenerationPlan {
  readonly task: Task;
  readonly input: TaskRequest;
  readonly common: ReturnType<typeof validateCommon>;
  readonly strength: number;
  /** SDXL's micro-conditioning fields as given (validated). */
  readonly xl: ReturnType<typeof validateXlConditioning>;
  readonly size: { readonly width: number; readonly height: number };
  readonly images: InputImages | undefined;
  readonly imageDecodeMs: number;
  readonly resolution: CheckpointResolution;
  /**
   * The checkpoint the request's `model` named and the named pipeline's config (empty for a checkpoint id): what a
   * job carries so that another process (a worker, this one after a restart) plans it the same way.
   */
  readonly target: PlanTarget;
  /** How the run stays inside the memory budget (guidance halves in turn, tiled VAE decode). */
  readonly memory: MemoryPlan;
  /** The effective config's: whether to run the safety checker (AUTOPIPE_SAFETY_CHECKER may overrule it). */
  readonly requiresSafetyChecker: boolean;
  /** The request's LoRA adapters, matched to the checkpoint (empty: none), and what they add to notes. */
  readonly loras: {
    readonly adapters: readonly PlannedLora[];
    readonly notes: readonly string[];
    /** Bytes of their factors (as float32). */
    readonly bytes: number;
  };
  /** Denoising steps this request runs: every timestep, or the tail that strength leaves (diffusers' get_timesteps). */
  readonly totalSteps: number;
  /** How long the run should hold its slot (refused past AUTOPIPE_MAX_REQUEST_SECONDS; see time-cost.ts). */
  readonly time: TimeEstimate;
  /** performance.now() when the request arrived. */
  readonly started: number;
  /** Planned for `generate`: a caller holds its HTTP response open for the result. */
  readonly synchronous: boolean;
}

/** A checkpoint id and the named pipeline's config overrides applied on it. */
export interface PlanTarget {
  readonly model: string;
  readonly overrides: PipelineConfigOverrides;
}

/**
 * Validates a request and decides everything that needs no graph; throws one of the expected errors.
 * `synchronous`: the caller holds an HTTP response open for it (`generate`), so it must also fit
 * AUTOPIPE_SYNC_MAX_SECONDS. `target`: the checkpoint and named pipeline config it resolved to when first planned
 * (a job planned again elsewhere); without it, the request's `model` is looked up among the named pipelines.
 */
export async function planGeneration(
  services: Pick<Services, "config" | "locator" | "pipelines" | "variants">,
  task: Task,
  request: TaskRequest,
  options: { synchronous?: boolean; target?: PlanTarget | null } = {},
): Promise<GenerationPlan> {
  const started = performance.now();
  const prefix = TASK_FIELD[task];
  // `model` may name a pipeline made with fromPipe: its checkpoint, and its config under the request's fields.
  const target = options.target ?? targetOf(services, request.model, task, `${prefix}.model`);
  const resolution = await resolveCheckpoint(
    services,
    target.model,
    task,
    {},
    target.overrides.variant ?? null,
    target.overrides.configFrom ?? null,
  );
  if (!resolution.runnable) {
    throw new UnsupportedPipelineError(
      `${resolution.pipelineClass} (${task}) cannot run on this server: ${resolution.reason ?? "unsupported"}`,
      resolution.sourceClass,
      resolution.family,
    );
  }
  const { checkpoint, modelIndex, pipelineClass } = resolution;
  const pipelineConfig = await effectiveConfig(checkpoint, modelIndex, pipelineClass, task, target.overrides);
  const input = withConfig(request, pipelineConfig, target.overrides.scheduler);
  const common = validateCommon(input, services.config, prefix);
  const strength = validateStrength(task, input.strength, common.numInferenceSteps, prefix);
  const xl = validateXlConditioning(input, prefix);
  const decodeStarted = performance.now();
  const images = await readInputImages(task, input, services.config, prefix);
  const imageDecodeMs = performance.now() - decodeStarted;
  // The checkpoint's facts (sizes it accepts, its scheduler) come from its configs: opening it loads no graph.
  const lease = await services.pipelines.acquire(resolution.checkpoint, resolution.modelIndex, task);
  try {
    const facts = await lease.components.facts();
    const size = validateSize(input, facts, services.config, prefix, images?.defaultSize(facts));
    const timesteps = checkSchedule(lease.components, input.scheduler ?? undefined, common, prefix);
    // Adapters are checked against the checkpoint's layers from the files' headers: no graph loads for it.
    const loras = await planLoras(services.config, lease.components, input.loras, prefix);
    const totalSteps = task === "TEXT_TO_IMAGE" ? timesteps : stepsForStrength(timesteps, common, strength);
    // Peak memory is estimated before a slot is taken: what cannot fit is refused (ResourceLimitError).
    const fused = await attentionKernels(lease.components, task);
    // Adapter factors count twice: loaded once per file, and combined for the run.
    const adapterBytes = 2 * loras.bytes;
    const request = { ...common, ...size };
    const memory = await planMemory(services, checkpoint, request, images, prefix, fused, adapterBytes);
    // So is its time: what would hold the slot longer than this server allows is refused too.
    const run = {
      steps: totalSteps,
      encodesImage: images !== undefined,
      memory,
      synchronous: !!options.synchronous,
    };
    const time = await planTime(services, checkpoint, { ...common, ...size }, run, prefix, fused);
    return {
      task,
      input,
      common,
      strength,
      xl,
      size,
      images,
      imageDecodeMs,
      resolution,
      target: { model: target.model, overrides: target.overrides },
      requiresSafetyChecker: pipelineConfig.requiresSafetyChecker,
      memory,
      loras,
      totalSteps,
      time,
      started,
      synchronous: !!options.synchronous,
    };
  } finally {
    lease.release();
  }
}

/** Which of the task's stages run fused attention (see SdComponents.attentionFused); stages it skips: false. */
async function attentionKernels(components: SdComponents, task: Task): Promise<AttentionKernels> {
  const graphs = components.taskGraphs(task);
  const fused = (name: "unet" | "vae_decoder" | "vae_encoder") =>
    graphs.includes(name) ? components.attentionFused(name) : Promise.resolve(false);
  const [unet, vaeDecoder, vaeEncoder] = await Promise.all([
    fused("unet"),
    fused("vae_decoder"),
    fused("vae_encoder"),
  ]);
  return { unet, vaeDecoder, vaeEncoder };
}

/**
 * The plan's memory plan once the graphs are loaded: unchanged when they run the attention kernels it assumed,
 * else planned again with the kernels they have (a fusion whose verification failed keeps the exported
 * attention, which needs more memory): what no longer fits is refused here, by type, before anything runs.
 */
export async function confirmMemoryPlan(
  services: Pick<Services, "config" | "pipelines">,
  plan: GenerationPlan,
  components: SdComponents,
): Promise<MemoryPlan> {
  const actual = await attentionKernels(components, plan.task);
  const assumed = plan.memory.fused;
  const same =
    assumed !== undefined &&
    assumed.unet === actual.unet &&
    assumed.vaeDecoder === actual.vaeDecoder &&
    assumed.vaeEncoder === actual.vaeEncoder;
  if (same) return plan.memory;
  const request = { ...plan.common, ...plan.size };
  const prefix = TASK_FIELD[plan.task];
  const adapterBytes = 2 * plan.loras.bytes;
  return planMemory(services, plan.resolution.checkpoint, request, plan.images, prefix, actual, adapterBytes);
}

/** Loop iterations left by img2img/inpaint strength: diffusers' get_timesteps, `timesteps[t_start * order:]`. */
function stepsForStrength(
  timesteps: number,
  common: { numInferenceSteps: number },
  strength: number,
): number {
  const n = common.numInferenceSteps;
  const init = Math.min(Math.trunc(n * strength), n);
  return timesteps - Math.max(n - init, 0);
}

/**
 * The request with what it leaves out taken from the pipeline's effective config (request field > named
 * pipeline's config > checkpoint config > diffusers' default).
 */
function withConfig(
  request: TaskRequest,
  config: PipelineConfig,
  scheduler: SchedulerName | null | undefined,
): TaskRequest {
  return {
    ...request,
    numInferenceSteps: request.numInferenceSteps ?? config.numInferenceSteps,
    guidanceScale: request.guidanceScale ?? config.guidanceScale,
    strength: request.strength ?? config.strength,
    negativePrompt: request.negativePrompt ?? config.negativePrompt,
    width: request.width ?? config.width,
    height: request.height ?? config.height,
    scheduler: request.scheduler ?? scheduler ?? null,
    loras: request.loras ?? [...config.loras],
  };
}

/** strength in (0, 1], and large enough that at least one denoising step remains (diffusers raises there too). */
function validateStrength(task: Task, strength: number | null | undefined, steps: number, prefix: string) {
  if (task === "TEXT_TO_IMAGE") return 1;
  const value = strength ?? (task === "IMAGE_TO_IMAGE" ? 0.8 : 1);
  if (!Number.isFinite(value) || value <= 0 || value > 1) {
    throw new InvalidInputError(`${prefix}.strength`, String(value), "a number in (0, 1]");
  }
  if (Math.trunc(steps * value) < 1) {
    throw new InvalidInputError(
      `${prefix}.strength`,
      String(value),
      `at least ${(1 / steps).toPrecision(3)} with ${steps} steps (int(numInferenceSteps × strength) must be ≥ 1)`,
    );
  }
  return value;
}

/**
 * Builds the request's scheduler once before any graph loads, so that a step count the scheduler cannot serve
 * (LCM past its original_inference_steps, more steps than training timesteps) is a typed error, not a failure
 * halfway through the run.
 */
function checkSchedule(
  components: SdComponents,
  override: SchedulerName | undefined,
  { numInferenceSteps: steps }: { numInferenceSteps: number },
  prefix: string,
): number {
  let scheduler: ReturnType<typeof createScheduler>;
  try {
    scheduler = createScheduler({ ...components.schedulerConfig }, override);
  } catch (error) {
    if (!override) throw new ModelLoadError(components.id, "scheduler", (error as Error).message);
    throw new InvalidInputError(
      `${prefix}.scheduler`,
      override,
      `a scheduler this checkpoint's config supports`,
    );
  }
  try {
    scheduler.setTimesteps(steps);
  } catch (error) {
    throw new InvalidInputError(`${prefix}.numInferenceSteps`, String(steps), (error as Error).message);
  }
  return scheduler.timesteps.length;
}
