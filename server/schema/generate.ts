/**
 * The `generate` mutation: one task-tagged input (`@oneOf`) for text-to-image, image-to-image or inpainting, one
 * result union; images arrive as multipart uploads or base64. Also `schedulers`, the scheduler names a request
 * may pick.
 */

import type { Task } from "../auto-pipeline/resolve.ts";
import type { Context } from "../context.ts";
import {
  BusyError,
  CancelledError,
  InvalidInputError,
  InvalidModelIndexError,
  ModelLoadError,
  ModelNotFoundError,
  RateLimitedError,
  ResourceLimitError,
  ShuttingDownError,
  UnsupportedPipelineError,
} from "../errors.ts";
import { observeGeneration, observersOf } from "../observability/generation-log.ts";
import { SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";
import { ownerOf } from "../security/auth.ts";
import type { GeneratedPng, GenerationResult, Timings } from "../service/generation.ts";
import { planGeneration, type TaskRequest } from "../service/generation-plan.ts";
import type { JobSnapshot } from "../service/job.ts";
import { pngBytes } from "../service/job-store/disk-job-store.ts";
import { builder } from "./builder.ts";
import {
  BusyErrorType,
  CancelledErrorType,
  InterruptedErrorType,
  InvalidInputErrorType,
  InvalidModelIndexErrorType,
  ModelLoadErrorType,
  ModelNotFoundErrorType,
  RateLimitedErrorType,
  ResourceLimitErrorType,
  ShuttingDownErrorType,
  UnsupportedPipelineErrorType,
} from "./errors.ts";
import { expected } from "./expected.ts";
import { LoraInput } from "./loras.ts";
import { TaskEnum } from "./pipeline.ts";
import { FileScalar, SeedScalar } from "./scalars.ts";

export const SchedulerNameEnum = builder.enumType("SchedulerName", {
  description: "A scheduler to swap in (diffusers' `from_config`: the checkpoint's config keys carry over).",
  values: Object.fromEntries(
    [...SCHEDULERS].map(([name, s]) => [name, { description: s.className }]),
  ) as Record<SchedulerName, { description: string }>,
});

const SchedulerInfoType = builder
  .objectRef<{ name: SchedulerName; className: string }>("SchedulerInfo")
  .implement({
    fields: (t) => ({
      name: t.field({ type: SchedulerNameEnum, resolve: (s) => s.name }),
      className: t.string({ description: "diffusers' class name.", resolve: (s) => s.className }),
    }),
  });

builder.queryField("schedulers", (t) =>
  t.field({
    type: [SchedulerInfoType],
    description: "The schedulers a generation may use instead of the checkpoint's own.",
    resolve: () => [...SCHEDULERS].map(([name, s]) => ({ name, className: s.className })),
  }),
);

export const ImageInput = builder.inputType("ImageInput", {
  description:
    "An input image: a multipart upload, or base64 (optionally a `data:` URL). URLs are never fetched.",
  isOneOf: true,
  fields: (t) => ({
    upload: t.field({ type: FileScalar }),
    base64: t.string(),
  }),
});

export const SizeInput = builder.inputType("SizeInput", {
  description: "A size in pixels (diffusers' `(height, width)` tuples, named).",
  fields: (t) => ({
    width: t.int({ required: true }),
    height: t.int({ required: true }),
  }),
});

export const PointInput = builder.inputType("PointInput", {
  description:
    "A point in pixels from the top left (diffusers' `(top, left)` tuples, named: y = top, x = left).",
  fields: (t) => ({
    x: t.int({ required: true }),
    y: t.int({ required: true }),
  }),
});

const commonFields = (t: Parameters<Parameters<typeof builder.inputType>[1]["fields"]>[0]) => ({
  model: t.string({
    required: true,
    description: "`name`, `org/name` or `org/name@revision`, or a named pipeline (fromPipe) for this task.",
  }),
  prompt: t.string({ required: true }),
  negativePrompt: t.string({ description: "Default: the pipeline config's (none: unconditional)." }),
  width: t.int({ description: "Default: the UNet's sample_size × the VAE factor (or the input image's)." }),
  height: t.int(),
  numInferenceSteps: t.int({ description: "Default: the pipeline config's (diffusers: 50)." }),
  guidanceScale: t.float({
    description:
      "Classifier-free guidance applies when > 1. Default: the pipeline config's (diffusers: 7.5).",
  }),
  numImagesPerPrompt: t.int({ defaultValue: 1 }),
  seed: t.field({ type: SeedScalar, description: "Default: a random seed, returned in the result." }),
  scheduler: t.field({ type: SchedulerNameEnum, description: "Default: the checkpoint's scheduler." }),
  // SDXL micro-conditioning: applied where the checkpoint uses it, otherwise ignored with a note.
  originalSize: t.field({
    type: SizeInput,
    description: "SDXL: diffusers' `original_size` (default: the output size).",
  }),
  targetSize: t.field({
    type: SizeInput,
    description:
      "SDXL: diffusers' `target_size` (default: the output size; not used by refiners' image tasks).",
  }),
  cropsCoordsTopLeft: t.field({
    type: PointInput,
    description: "SDXL: diffusers' `crops_coords_top_left` (default { x: 0, y: 0 }).",
  }),
  aestheticScore: t.float({
    description: "SDXL refiners (`requires_aesthetics_score`), image tasks only (default 6.0).",
  }),
  negativeAestheticScore: t.float({
    description: "SDXL refiners (`requires_aesthetics_score`), image tasks only (default 2.5).",
  }),
  loras: t.field({
    type: [LoraInput],
    description:
      "LoRA adapters with their scales (default: the pipeline config's, none). Checkpoints whose graphs are built here (diffusers layout, single files) take them; the base weights are shared, never copied.",
  }),
});

export const TextToImageInput = builder.inputType("TextToImageInput", {
  fields: (t) => commonFields(t),
});

export const ImageToImageInput = builder.inputType("ImageToImageInput", {
  fields: (t) => ({
    ...commonFields(t),
    image: t.field({ type: ImageInput, required: true }),
    strength: t.float({
      description:
        "How much to change the image, in (0, 1]. Default: the pipeline config's (diffusers: 0.8).",
    }),
  }),
});

export const InpaintingInput = builder.inputType("InpaintingInput", {
  fields: (t) => ({
    ...commonFields(t),
    image: t.field({ type: ImageInput, required: true }),
    maskImage: t.field({ type: ImageInput, required: true, description: "White = repaint, black = keep." }),
    strength: t.float({ description: "Default: the pipeline config's (diffusers: 1.0)." }),
  }),
});

export const GenerateInput = builder.inputType("GenerateInput", {
  description: "Exactly one task.",
  isOneOf: true,
  fields: (t) => ({
    textToImage: t.field({ type: TextToImageInput }),
    imageToImage: t.field({ type: ImageToImageInput }),
    inpainting: t.field({ type: InpaintingInput }),
  }),
});

export const GeneratedImageType = builder.objectRef<GeneratedPng>("GeneratedImage").implement({
  fields: (t) => ({
    width: t.exposeInt("width"),
    height: t.exposeInt("height"),
    mimeType: t.exposeString("mimeType"),
    // A finished job's images are read from the job store here, asynchronously.
    base64: t.string({ resolve: async (image) => (await pngBytes(image)).toString("base64") }),
  }),
});

const TimingsType = builder.objectRef<Timings>("Timings").implement({
  description: "Where the request's time went, in milliseconds.",
  fields: (t) => ({
    totalMs: t.exposeFloat("totalMs"),
    loadMs: t.exposeFloat("loadMs", { description: "Waiting for the checkpoint's graphs to load." }),
    imageDecodeMs: t.exposeFloat("imageDecodeMs", { description: "Reading and decoding input images." }),
    inferenceMs: t.exposeFloat("inferenceMs"),
    sessionRunMs: t.exposeFloat("sessionRunMs", { description: "Inside onnxruntime's session.run, summed." }),
    sessionRuns: t.exposeInt("sessionRuns"),
    encodeMs: t.exposeFloat("encodeMs", { description: "PNG encoding." }),
  }),
});

const GenerationType = builder.objectRef<GenerationResult>("Generation").implement({
  isTypeOf: (value) => typeof value === "object" && value !== null && "images" in value && "timings" in value,
  fields: (t) => ({
    model: t.exposeString("model"),
    task: t.field({ type: TaskEnum, resolve: (g) => g.task }),
    pipelineClass: t.exposeString("pipelineClass"),
    seedReproducible: t.exposeBoolean("seedReproducible", {
      description:
        "False when the checkpoint's VAE encoder samples inside its graph: the seed does not fix the result.",
    }),
    notes: t.exposeStringList("notes", {
      description: "What the caller should know (e.g. a stretched mask).",
    }),
    scheduler: t.exposeString("scheduler", { description: "diffusers' class name of the scheduler used." }),
    seed: t.field({ type: SeedScalar, resolve: (g) => g.seed }),
    images: t.field({ type: [GeneratedImageType], resolve: (g) => g.images }),
    nsfwContentDetected: t.booleanList({
      nullable: true,
      description:
        "The safety checker's flag per image (flagged images are black); null when no checker ran.",
      resolve: (g) => (g.nsfwContentDetected ? [...g.nsfwContentDetected] : null),
    }),
    timings: t.field({ type: TimingsType, resolve: (g) => g.timings }),
  }),
});

export const GenerateResult = builder.unionType("GenerateResult", {
  types: [
    GenerationType,
    ModelNotFoundErrorType,
    UnsupportedPipelineErrorType,
    InvalidInputErrorType,
    InvalidModelIndexErrorType,
    ModelLoadErrorType,
    BusyErrorType,
    CancelledErrorType,
    ShuttingDownErrorType,
    RateLimitedErrorType,
    ResourceLimitErrorType,
    InterruptedErrorType,
  ],
});

/** The expected failures of a generation, as GenerateResult members. */
export const GENERATE_ERRORS = [
  CancelledError,
  ModelNotFoundError,
  UnsupportedPipelineError,
  InvalidInputError,
  InvalidModelIndexError,
  ModelLoadError,
  BusyError,
  ShuttingDownError,
  RateLimitedError,
  ResourceLimitError,
];

type GenerateInputValue = typeof GenerateInput.$inferInput;

/** The one task a `GenerateInput` names, with its request. */
function taskOf(input: GenerateInputValue): [Task, TaskRequest] {
  if (input.textToImage) return ["TEXT_TO_IMAGE", input.textToImage];
  if (input.imageToImage) return ["IMAGE_TO_IMAGE", input.imageToImage];
  if (input.inpainting) return ["INPAINTING", input.inpainting];
  throw new InvalidInputError("input", "no task", "exactly one of textToImage, imageToImage, inpainting");
}

/**
 * Validates and plans a `GenerateInput`, then queues it as a job (throws the expected errors). A request refused
 * here (bad input, unknown model, busy, too long, draining) gets its generation log line and metrics all the same.
 * `synchronous`: `generate`, which holds the HTTP response open, so the request must fit AUTOPIPE_SYNC_MAX_SECONDS.
 */
export async function submitJob(
  context: Context,
  input: GenerateInputValue,
  options: { synchronous?: boolean } = {},
): Promise<JobSnapshot> {
  const { services } = context;
  const [task, request] = taskOf(input);
  try {
    // One allowance per generation and caller (AUTOPIPE_RATE_LIMIT), taken before any work.
    await context.rateLimit.consume(context);
    // The job belongs to the key that submitted it.
    return await services.jobs.submit(
      await planGeneration(services, task, request, options),
      ownerOf(context),
    );
  } catch (error) {
    return observeGeneration(
      observersOf(services),
      task,
      request,
      (): Promise<never> => Promise.reject(error),
    );
  }
}

builder.mutationField("generate", (t) =>
  t.field({
    type: GenerateResult,
    description:
      "Runs one generation and answers when it ends. It is a job like any other (listed by `jobs`); the client " +
      "going away cancels it. For long generations prefer `submitGeneration` + `jobUpdates`.",
    args: { input: t.arg({ type: GenerateInput, required: true }) },
    resolve: (_root, { input }, context) =>
      expected(async () => {
        const { services, signal } = context;
        const job = await submitJob(context, input, { synchronous: true });
        const cancel = () => void services.jobs.cancel(job.id);
        signal.addEventListener("abort", cancel, { once: true });
        if (signal.aborted) cancel();
        try {
          const ended = await services.jobs.wait(job.id);
          if (ended.result) return ended.result;
          throw ended.error;
        } finally {
          signal.removeEventListener("abort", cancel);
        }
      }, GENERATE_ERRORS),
  }),
);
