/**
 * The `generate` mutation: one task-tagged input (`@oneOf`) for text-to-image, image-to-image or inpainting, one
 * result union; images arrive as multipart uploads or base64. Also `schedulers`, the scheduler names a request
 * may pick.
 */
import {
  BusyError,
  CancelledError,
  InvalidInputError,
  InvalidModelIndexError,
  ModelLoadError,
  ModelNotFoundError,
  RateLimitedError,
  ResourceLimitError,
  UnsupportedPipelineError,
} from "../errors.ts";
import { SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";
import { type GeneratedPng, type GenerationResult, generate, type Timings } from "../service/generation.ts";
import { builder } from "./builder.ts";
import {
  BusyErrorType,
  CancelledErrorType,
  InvalidInputErrorType,
  InvalidModelIndexErrorType,
  ModelLoadErrorType,
  ModelNotFoundErrorType,
  RateLimitedErrorType,
  ResourceLimitErrorType,
  UnsupportedPipelineErrorType,
} from "./errors.ts";
import { expected } from "./expected.ts";
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

const commonFields = (t: Parameters<Parameters<typeof builder.inputType>[1]["fields"]>[0]) => ({
  model: t.string({ required: true, description: "`name`, `org/name` or `org/name@revision`." }),
  prompt: t.string({ required: true }),
  negativePrompt: t.string({ description: 'Default "" (unconditional).' }),
  width: t.int({ description: "Default: the UNet's sample_size × the VAE factor (or the input image's)." }),
  height: t.int(),
  numInferenceSteps: t.int({ defaultValue: 50 }),
  guidanceScale: t.float({ defaultValue: 7.5, description: "Classifier-free guidance applies when > 1." }),
  numImagesPerPrompt: t.int({ defaultValue: 1 }),
  seed: t.field({ type: SeedScalar, description: "Default: a random seed, returned in the result." }),
  scheduler: t.field({ type: SchedulerNameEnum, description: "Default: the checkpoint's scheduler." }),
});

export const TextToImageInput = builder.inputType("TextToImageInput", {
  fields: (t) => commonFields(t),
});

export const ImageToImageInput = builder.inputType("ImageToImageInput", {
  fields: (t) => ({
    ...commonFields(t),
    image: t.field({ type: ImageInput, required: true }),
    strength: t.float({ defaultValue: 0.8, description: "How much to change the image, in (0, 1]." }),
  }),
});

export const InpaintingInput = builder.inputType("InpaintingInput", {
  fields: (t) => ({
    ...commonFields(t),
    image: t.field({ type: ImageInput, required: true }),
    maskImage: t.field({ type: ImageInput, required: true, description: "White = repaint, black = keep." }),
    strength: t.float({ defaultValue: 1.0 }),
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

const GeneratedImageType = builder.objectRef<GeneratedPng>("GeneratedImage").implement({
  fields: (t) => ({
    width: t.exposeInt("width"),
    height: t.exposeInt("height"),
    mimeType: t.exposeString("mimeType"),
    base64: t.string({ resolve: (image) => image.png.toString("base64") }),
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
    RateLimitedErrorType,
    ResourceLimitErrorType,
  ],
});

const EXPECTED = [
  CancelledError,
  ModelNotFoundError,
  UnsupportedPipelineError,
  InvalidInputError,
  InvalidModelIndexError,
  ModelLoadError,
  BusyError,
  RateLimitedError,
  ResourceLimitError,
];

builder.mutationField("generate", (t) =>
  t.field({
    type: GenerateResult,
    args: { input: t.arg({ type: GenerateInput, required: true }) },
    resolve: (_root, { input }, context) =>
      expected(async () => {
        const { services, signal } = context;
        await context.rateLimit.consume(context);
        if (input.textToImage) return generate(services, "TEXT_TO_IMAGE", input.textToImage, signal);
        if (input.imageToImage) return generate(services, "IMAGE_TO_IMAGE", input.imageToImage, signal);
        if (input.inpainting) return generate(services, "INPAINTING", input.inpainting, signal);
        throw new InvalidInputError(
          "input",
          "no task",
          "exactly one of textToImage, imageToImage, inpainting",
        );
      }, EXPECTED),
  }),
);
