/**
 * Checkpoint discovery and AutoPipeline resolution: `enum Task`, `resolvePipeline` (which pipeline class a
 * checkpoint maps to for a task, exactly as diffusers' AutoPipeline) and `models` (the checkpoints found locally).
 */

import type { ModelIndex } from "../checkpoints/model-index.ts";
import {
  InvalidInputError,
  InvalidModelIndexError,
  ModelNotFoundError,
  UnsupportedPipelineError,
} from "../errors.ts";
import { type ResolvedPipeline, targetOf } from "../service/pipeline-variants.ts";
import { resolveCheckpoint } from "../service/resolve-checkpoint.ts";
import { builder } from "./builder.ts";
import {
  InvalidInputErrorType,
  InvalidModelIndexErrorType,
  ModelNotFoundErrorType,
  UnsupportedPipelineErrorType,
} from "./errors.ts";
import { expected } from "./expected.ts";

export const TaskEnum = builder.enumType("Task", {
  description: "What a pipeline does, as diffusers' AutoPipelineFor* classes split it.",
  values: {
    TEXT_TO_IMAGE: { description: "AutoPipelineForText2Image" },
    IMAGE_TO_IMAGE: { description: "AutoPipelineForImage2Image" },
    INPAINTING: { description: "AutoPipelineForInpainting" },
  } as const,
});

export const CheckpointSourceEnum = builder.enumType("CheckpointSource", {
  description: "Where a checkpoint was found.",
  values: {
    MODELS_DIR: { description: "The models directory (AUTOPIPE_MODELS_DIR)." },
    HF_CACHE: { description: "The Hugging Face cache (HF_HOME / HF_HUB_CACHE)." },
    HUB: { description: "Downloaded from the Hub into the Hugging Face cache." },
  } as const,
});

export const CheckpointFormatEnum = builder.enumType("CheckpointFormat", {
  description: "How a checkpoint's graphs are stored.",
  values: {
    ONNX: {
      description: "ONNX exports (diffusers' ONNX layout or optimum's): the graphs are loaded as they are.",
    },
    DIFFUSERS: {
      description:
        "diffusers' own layout (component folders with config.json + safetensors weights): the graphs are built from the configs.",
    },
    SINGLE_FILE: {
      description:
        "One `.safetensors` file in the original (LDM / sgm) layout, as diffusers' `from_single_file` loads it: the graphs are built from the configs of a diffusers-layout checkpoint (`configFrom`) with the file's weights.",
    },
  } as const,
});

export const InpaintingModeEnum = builder.enumType("InpaintingMode", {
  values: {
    NINE_CHANNEL: { description: "An inpainting UNet: [latents, mask, masked image latents] at every step." },
    BLEND: {
      description: "A 4-channel UNet: the kept region is re-noised and blended back after every step.",
    },
  } as const,
});

type Component = ModelIndex["components"][number];

const ComponentType = builder.objectRef<Component>("Component").implement({
  description: "One entry of model_index.json: a named component and the class that loads it.",
  fields: (t) => ({
    name: t.exposeString("name"),
    library: t.exposeString("library", { nullable: true }),
    className: t.exposeString("className", { nullable: true }),
  }),
});

export const PipelineResolutionType = builder.objectRef<ResolvedPipeline>("PipelineResolution").implement({
  description:
    "The pipeline class diffusers' AutoPipeline picks for a checkpoint and task, and whether we run it.",
  isTypeOf: (value) => typeof value === "object" && value !== null && "pipelineClass" in value,
  fields: (t) => ({
    model: t.exposeString("model"),
    task: t.field({ type: TaskEnum, resolve: (r) => r.task }),
    sourceClass: t.exposeString("sourceClass", {
      description:
        "model_index.json's `_class_name`; for a single file, the class `from_single_file` builds from its keys (`DiffusionPipeline` when they are of no known family).",
    }),
    family: t.exposeString("family", { description: "diffusers' mapping key, e.g. `stable-diffusion`." }),
    pipelineClass: t.exposeString("pipelineClass"),
    components: t.field({ type: [ComponentType], resolve: (r) => r.modelIndex.components }),
    source: t.field({ type: CheckpointSourceEnum, resolve: (r) => r.checkpoint.source }),
    revision: t.string({ nullable: true, resolve: (r) => r.checkpoint.revision }),
    format: t.field({ type: CheckpointFormatEnum, resolve: (r) => r.format }),
    variants: t.stringList({
      description: "Weight variants present on disk (`fp16` for `*.fp16.safetensors` files).",
      resolve: (r) => [...r.variants],
    }),
    runnable: t.exposeBoolean("runnable", { description: "Whether this server can execute the pipeline." }),
    loaded: t.boolean({
      description: "Whether the checkpoint is loaded in this server's pipeline cache.",
      resolve: (r, _args, { services }) => services.pipelines.has(r.checkpoint),
    }),
    reason: t.exposeString("reason", { nullable: true, description: "Why not, when `runnable` is false." }),
    notes: t.stringList({
      description:
        "What to know about the weights: a single file's keys that no graph reads, training state ignored.",
      resolve: (r) => [...(r.notes ?? [])],
    }),
    inpaintingMode: t.field({
      type: InpaintingModeEnum,
      nullable: true,
      description: "For INPAINTING: which path the checkpoint takes (null for other tasks, or when unknown).",
      resolve: (r) => r.inpaintingMode,
    }),
  }),
});

export const ResolvePipelineResult = builder.unionType("ResolvePipelineResult", {
  types: [
    PipelineResolutionType,
    ModelNotFoundErrorType,
    UnsupportedPipelineErrorType,
    InvalidModelIndexErrorType,
    InvalidInputErrorType,
  ],
});

builder.queryField("resolvePipeline", (t) =>
  t.field({
    type: ResolvePipelineResult,
    description: "Which pipeline class diffusers' AutoPipeline maps this checkpoint to for the task.",
    args: {
      model: t.arg.string({
        required: true,
        description:
          "`name`, `org/name` or `org/name@revision`; a single file `name.safetensors` or `org/repo/file.safetensors`; or a named pipeline (fromPipe).",
      }),
      task: t.arg({ type: TaskEnum, required: true }),
      controlnet: t.arg.boolean({ defaultValue: false }),
      enablePag: t.arg.boolean({ defaultValue: false }),
    },
    resolve: (_root, args, { services }) =>
      expected(async () => {
        // A named pipeline resolves as its checkpoint, for its own task, with its config overrides.
        const target = targetOf(services, args.model, args.task, "model");
        const resolution = await resolveCheckpoint(
          services,
          target.model,
          args.task,
          { controlnet: args.controlnet ?? false, enablePag: args.enablePag ?? false },
          target.overrides.variant ?? null,
          target.overrides.configFrom ?? null,
        );
        return { ...resolution, model: args.model, overrides: target.overrides };
      }, [ModelNotFoundError, UnsupportedPipelineError, InvalidModelIndexError, InvalidInputError]),
  }),
);

interface ModelInfo {
  id: string;
  source: "MODELS_DIR" | "HF_CACHE" | "HUB";
  sourceClass: string | null;
}

const ModelInfoType = builder.objectRef<ModelInfo>("ModelInfo").implement({
  description: "A checkpoint found locally.",
  fields: (t) => ({
    id: t.exposeString("id"),
    sourceClass: t.exposeString("sourceClass", {
      nullable: true,
      description: "model_index.json's `_class_name`; null when it cannot be read.",
    }),
    source: t.field({ type: CheckpointSourceEnum, resolve: (m) => m.source }),
  }),
});

builder.queryField("models", (t) =>
  t.field({
    type: [ModelInfoType],
    description: "Checkpoints in the models directory and the Hugging Face cache, sorted by id.",
    resolve: (_root, _args, { services }) => services.locator.list(),
  }),
);
