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
import type { SdComponents } from "../pipelines/components.ts";
import { type ImageInputValue, type InputImages, readInputImages } from "../pipelines/input-images.ts";
import type { RunContext } from "../pipelines/run-context.ts";
import type { PipelineOutput } from "../pipelines/setup.ts";
import { runTask } from "../pipelines/tasks.ts";
import { type GenerationRequest, validateCommon, validateSize } from "../pipelines/validate.ts";
import { RunTimer } from "../runtime/onnx.ts";
import { TorchGenerator } from "../runtime/rng.ts";
import { createScheduler, SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";
import { planGeneration } from "./cost.ts";
import { resolveCheckpoint } from "./resolve-checkpoint.ts";
import { TASK_GRAPHS } from "./runnability.ts";

export interface TaskRequest extends GenerationRequest {
  readonly model: string;
  readonly scheduler?: SchedulerName | null;
  readonly image?: ImageInputValue | null;
  readonly maskImage?: ImageInputValue | null;
  readonly strength?: number | null;
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
  readonly notes: readonly string[];
  readonly timings: Timings;
}

export const TASK_FIELD: Record<Task, string> = {
  TEXT_TO_IMAGE: "textToImage",
  IMAGE_TO_IMAGE: "imageToImage",
  INPAINTING: "inpainting",
};

/** Runs one task for a request, or throws one of the expected errors. */
export async function generate(
  services: Pick<Services, "config" | "locator" | "pipelines" | "admission">,
  task: Task,
  input: TaskRequest,
  signal?: AbortSignal,
): Promise<GenerationResult> {
  const started = performance.now();
  const prefix = TASK_FIELD[task];
  const common = validateCommon(input, services.config, prefix);
  const strength = validateStrength(task, input.strength, common.numInferenceSteps, prefix);
  const resolution = await resolveCheckpoint(services, input.model, task);
  if (!resolution.runnable) {
    throw new UnsupportedPipelineError(
      `${resolution.pipelineClass} (${task}) cannot run on this server: ${resolution.reason ?? "unsupported"}`,
      resolution.sourceClass,
      resolution.family,
    );
  }
  const decodeStarted = performance.now();
  const images = await readInputImages(task, input, services.config, prefix);
  const imageDecodeMs = performance.now() - decodeStarted;
  // Peak memory is estimated before a slot is taken: what cannot fit is refused (ResourceLimitError).
  const memory = await planGeneration(
    services,
    resolution.checkpoint,
    { ...input, ...common },
    images,
    prefix,
  );
  // What needs no checkpoint is validated: from here the request takes (or waits for) a generation slot, then a
  // lease on the checkpoint's shared components.
  return services.admission.run(async () => {
    const lease = await services.pipelines.acquire(resolution.checkpoint, resolution.modelIndex, task);
    try {
      const job = {
        task,
        input,
        common,
        strength,
        images,
        imageDecodeMs,
        pipelineClass: resolution.pipelineClass,
        started,
        signal,
        memory,
      };
      return await runLeased(lease.components, job, services.config);
    } finally {
      lease.release();
    }
  }, signal);
}

/** A validated request on its way through the pipeline. */
interface Job {
  readonly task: Task;
  readonly input: TaskRequest;
  readonly common: ReturnType<typeof validateCommon>;
  readonly strength: number;
  readonly images: InputImages | undefined;
  readonly imageDecodeMs: number;
  readonly pipelineClass: string;
  /** performance.now() when the request arrived. */
  readonly started: number;
  readonly signal: AbortSignal | undefined;
  readonly memory: RunContext["memory"];
}

async function runLeased(
  components: SdComponents,
  { task, input, common, strength, images, imageDecodeMs, pipelineClass, started, signal, memory }: Job,
  config: Services["config"],
): Promise<GenerationResult> {
  const prefix = TASK_FIELD[task];
  const facts = await components.facts();

  const size = validateSize(input, facts, config, prefix, images?.defaultSize(facts));

  checkSchedule(components, input.scheduler ?? undefined, common.numInferenceSteps, prefix);
  const loadMs = await timed(() => Promise.all(TASK_GRAPHS[task].map((g) => components.graph(g))));

  const timer = new RunTimer();
  const run: RunContext = { generator: new TorchGenerator(common.seed), timer, signal, memory };
  const inferenceStarted = performance.now();
  const params = { ...common, ...size, scheduler: input.scheduler ?? undefined };
  const output = await runTask(components, task, params, strength, images?.prepare(size, facts), run);
  const inferenceMs = performance.now() - inferenceStarted;

  const encodeStarted = performance.now();
  const pngs = await encodePngs(output.images);
  const encodeMs = performance.now() - encodeStarted;
  return {
    model: input.model,
    task,
    pipelineClass,
    scheduler: schedulerClass(components, input.scheduler),
    seed: common.seed,
    seedReproducible: output.seedReproducible,
    images: pngs.map((png) => ({ width: size.width, height: size.height, mimeType: "image/png", png })),
    notes: [...(images?.notes ?? []), ...notesOf(output)],
    timings: {
      totalMs: performance.now() - started,
      loadMs,
      imageDecodeMs,
      inferenceMs,
      sessionRunMs: timer.runMs,
      sessionRuns: timer.runs,
      encodeMs,
    },
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
  steps: number,
  prefix: string,
): void {
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
