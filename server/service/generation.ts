/**
 * The generation service behind the `generate` mutation: validate the request, resolve the checkpoint with
 * AutoPipeline semantics for its task, refuse what this server cannot run, take the shared components from the
 * cache, read and preprocess input images, run the task's pipeline with a generator seeded like torch's, and
 * encode PNGs. Returns timings (for the benchmark) and notes (what the caller should know).
 */

import type { Task } from "../auto-pipeline/resolve.ts";
import type { Services } from "../context.ts";
import { InvalidInputError, ModelLoadError, UnsupportedPipelineError } from "../errors.ts";
import { encodePngs } from "../image/encode.ts";
import { bindLoras, type LoraInputValue, type PlannedLora, planLoras } from "../loras/lora-request.ts";
import type { SdComponents } from "../pipelines/components.ts";
import { type ImageInputValue, type InputImages, readInputImages } from "../pipelines/input-images.ts";
import {
  validateXlConditioning,
  type XlConditioningRequest,
  xlConditioningNotes,
} from "../pipelines/micro-conditioning.ts";
import { type RunContext, throwIfAborted } from "../pipelines/run-context.ts";
import { runSafetyChecker, type SafetyPlan, safetyPlan } from "../pipelines/safety-checker.ts";
import type { PipelineOutput } from "../pipelines/setup.ts";
import { runTask } from "../pipelines/tasks.ts";
import { type GenerationRequest, validateCommon, validateSize } from "../pipelines/validate.ts";
import { RunTimer } from "../runtime/onnx.ts";
import { TorchGenerator } from "../runtime/rng.ts";
import { createScheduler, SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";
import { type AttentionKernels, type MemoryPlan, planMemory } from "./cost.ts";
import { effectiveConfig, type PipelineConfig, type PipelineConfigOverrides } from "./pipeline-config.ts";
import { targetOf } from "./pipeline-variants.ts";
import { type CheckpointResolution, resolveCheckpoint } from "./resolve-checkpoint.ts";
import { calibrationFor, planTime, type TimeEstimate, unetChunk } from "./time-cost.ts";

export interface TaskRequest extends GenerationRequest, XlConditioningRequest {
  readonly model: string;
  readonly scheduler?: SchedulerName | null;
  readonly image?: ImageInputValue | null;
  readonly maskImage?: ImageInputValue | null;
  readonly strength?: number | null;
  /** LoRA adapters and their scales (default: the pipeline config's, none). */
  readonly loras?: LoraInputValue[] | null;
}

export interface GeneratedPng {
  readonly width: number;
  readonly height: number;
  readonly mimeType: "image/png";
  readonly png: Buffer;
}

export interface Timings {
  /** Whole request, validation to PNG bytes. */
  readonly totalMs: number;
  /** Waiting for the checkpoint's graphs (0 when already loaded). */
  readonly loadMs: number;
  /** Reading and decoding input images (their resizing counts as inference). */
  readonly imageDecodeMs: number;
  /** Prompt encoding, denoising and decoding. */
  readonly inferenceMs: number;
  /** Time inside onnxruntime's `session.run`, summed. */
  readonly sessionRunMs: number;
  readonly sessionRuns: number;
  /** PNG encoding. */
  readonly encodeMs: number;
}

export interface GenerationResult {
  readonly model: string;
  readonly task: Task;
  readonly pipelineClass: string;
  readonly scheduler: string;
  readonly seed: bigint;
  /** False when a VAE encoder drew its noise inside its graph: the seed does not fix the result. */
  readonly seedReproducible: boolean;
  readonly images: readonly GeneratedPng[];
  /** One flag per image when the safety checker ran (flagged images are black); null when it did not. */
  readonly nsfwContentDetected: readonly boolean[] | null;
  readonly notes: readonly string[];
  readonly timings: Timings;
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
async function confirmMemoryPlan(
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

/** Runs one task for a request, or throws one of the expected errors: plan, wait for a slot, run. */
export async function generate(
  services: Pick<Services, "config" | "locator" | "pipelines" | "admission" | "variants">,
  task: Task,
  input: TaskRequest,
  signal?: AbortSignal,
): Promise<GenerationResult> {
  const plan = await planGeneration(services, task, input, { synchronous: true });
  return services.admission.run(() => runPlan(services, plan, { signal }), signal);
}

/** What a running generation reports to whoever waits for it. */
export interface RunHooks {
  /** Aborted → CancelledError at the next step. */
  readonly signal?: AbortSignal;
  /** Called after every denoising step (see RunContext.onStep). */
  readonly onStep?: RunContext["onStep"];
}

/** Runs a planned request on the checkpoint's shared components (the caller holds a generation slot). */
export async function runPlan(
  services: Pick<Services, "config" | "pipelines">,
  plan: GenerationPlan,
  hooks: RunHooks = {},
): Promise<GenerationResult> {
  const { task, input, common, size, resolution } = plan;
  throwIfAborted(hooks.signal);
  const lease = await services.pipelines.acquire(resolution.checkpoint, resolution.modelIndex, task);
  try {
    const components = lease.components;
    const facts = await components.facts();
    // The safety checker loads with the first request that runs it.
    const safety = await safetyPlan(components, plan.requiresSafetyChecker, services.config.safetyChecker);
    const graphs = components.taskGraphs(task);
    if (safety === "run") graphs.push("safety_checker");
    const loadMs = await timed(() => Promise.all(graphs.map((g) => components.graph(g))));
    const memory = await confirmMemoryPlan(services, plan, components);
    // The adapters' factors, combined and bound on the inference thread for this request (no graph reloads).
    const loras = await bindLoras(services.config, components, plan.loras.adapters);
    try {
      const timer = new RunTimer();
      // Step times, for the time estimate's calibration (the first step also pays for warming the session up).
      const stepEnds: number[] = [];
      const run: RunContext = {
        generator: new TorchGenerator(common.seed),
        timer,
        signal: hooks.signal,
        onStep: (progress) => {
          stepEnds.push(performance.now());
          hooks.onStep?.(progress);
        },
        memory,
        ...(loras.feeds.size > 0 ? { loras: loras.feeds } : {}),
        // A long step runs in parts, so that a cancelled request stops within it.
        unetChunk: unetChunk(plan.time, common.numImagesPerPrompt * (common.guidanceScale > 1 ? 2 : 1)),
      };
      const inferenceStarted = performance.now();
      const params = { ...common, ...size, scheduler: input.scheduler ?? undefined, xl: plan.xl };
      const prepared = plan.images?.prepare(size, facts);
      const output = await runTask(components, task, params, plan.strength, prepared, run);
      const checked = safety === "run" ? await runSafetyChecker(components, output.images, run) : null;
      const inferenceMs = performance.now() - inferenceStarted;
      observeSteps(services.pipelines, plan, stepEnds);

      const encodeStarted = performance.now();
      const pngs = await encodePngs(checked?.images ?? output.images);
      const encodeMs = performance.now() - encodeStarted;
      return {
        model: input.model,
        task,
        pipelineClass: resolution.pipelineClass,
        scheduler: schedulerClass(components, input.scheduler),
        seed: common.seed,
        seedReproducible: output.seedReproducible,
        images: pngs.map((png) => ({ width: size.width, height: size.height, mimeType: "image/png", png })),
        nsfwContentDetected: checked?.nsfwContentDetected ?? null,
        notes: [
          ...(plan.images?.notes ?? []),
          ...plan.loras.notes,
          ...xlConditioningNotes(task, facts.xl, plan.xl),
          ...notesOf(output),
          ...safetyNotes(safety, components.id, checked?.nsfwContentDetected),
        ],
        timings: {
          totalMs: performance.now() - plan.started,
          loadMs,
          imageDecodeMs: plan.imageDecodeMs,
          inferenceMs,
          sessionRunMs: timer.runMs,
          sessionRuns: timer.runs,
          encodeMs,
        },
      };
    } finally {
      await loras.release();
    }
  } finally {
    lease.release();
  }
}

/**
 * Tells the checkpoint's time calibration how long its steps took against the estimate: the median of the steps
 * after the first (which also warms the session up), when the estimate is long enough (≥ 20 ms) for the model
 * rather than fixed per-call costs to decide it.
 */
function observeSteps(pipelines: object, plan: GenerationPlan, stepEnds: readonly number[]): void {
  const estimated = plan.time.stepSeconds / plan.time.factor;
  if (stepEnds.length < 2 || estimated < 0.02) return;
  const steps = stepEnds.slice(1).map((end, i) => end - (stepEnds[i] as number));
  steps.sort((a, b) => a - b);
  const median = steps[Math.floor(steps.length / 2)] as number;
  calibrationFor(pipelines).observe(plan.resolution.checkpoint.id, estimated, median / 1000);
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

function safetyNotes(plan: SafetyPlan, model: string, flags: readonly boolean[] | undefined): string[] {
  if (plan === "missing") {
    return [
      `The pipeline's config asks for a safety checker (requires_safety_checker), but '${model}' has none ` +
        "(safety_checker/model.onnx and feature_extractor/preprocessor_config.json): the images were not checked.",
    ];
  }
  if (!flags) return [];
  const flagged = flags.filter(Boolean).length;
  return [
    `The safety checker ran: ${flagged} of ${flags.length} image(s) flagged (nsfwContentDetected)` +
      (flagged ? "; flagged images are returned black." : "."),
  ];
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

function schedulerClass(components: SdComponents, override: SchedulerName | null | undefined): string {
  if (override) return SCHEDULERS.get(override)?.className ?? override;
  return String(components.schedulerConfig._class_name ?? "unknown");
}

function notesOf(output: PipelineOutput & { seedReproducible?: boolean }): string[] {
  return output.seedReproducible === false
    ? [
        "The checkpoint's VAE encoder samples inside its graph: this result is not reproducible from the seed.",
      ]
    : [];
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
