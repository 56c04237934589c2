/**
 * The pipeline cache over GraphQL: `pipelines` (what is loaded, with its weight bytes and load count), and the
 * `loadPipeline` (warm-up) and `unloadPipeline` mutations.
 */
import {
  InvalidInputError,
  InvalidModelIndexError,
  ModelLoadError,
  ModelNotFoundError,
  UnsupportedPipelineError,
} from "../errors.ts";
import type { CacheEntryInfo } from "../service/pipeline-cache.ts";
import { validateVariantArg } from "../service/pipeline-variants.ts";
import { loadPipeline, unloadPipeline } from "../service/warm-up.ts";
import { builder } from "./builder.ts";
import {
  InvalidInputErrorType,
  InvalidModelIndexErrorType,
  ModelLoadErrorType,
  ModelNotFoundErrorType,
  UnsupportedPipelineErrorType,
} from "./errors.ts";
import { expected } from "./expected.ts";
import { TaskEnum } from "./pipeline.ts";

export const LoadedPipelineType = builder.objectRef<CacheEntryInfo>("LoadedPipeline").implement({
  description: "A checkpoint held in memory, shared by every task.",
  isTypeOf: (value) => typeof value === "object" && value !== null && "loads" in value && "bytes" in value,
  fields: (t) => ({
    model: t.exposeString("model"),
    tasks: t.field({ type: [TaskEnum], description: "Tasks served so far.", resolve: (p) => [...p.tasks] }),
    components: t.stringList({ description: "ONNX graphs loaded.", resolve: (p) => [...p.components] }),
    bytes: t.exposeFloat("bytes", { description: "Weight bytes held (graphs and external data)." }),
    residentBytesAfterLoad: t.exposeFloat("residentBytesAfterLoad", {
      nullable: true,
      description:
        "How much the server's resident memory grew while this checkpoint's graphs loaded; null before any loaded.",
    }),
    residentBytes: t.exposeFloat("residentBytes", {
      nullable: true,
      description:
        "residentBytesAfterLoad plus the resident memory kept after its last generation (measured when that generation ran alone; null until then).",
    }),
    loads: t.exposeInt("loads", { description: "How many times this checkpoint was loaded since start." }),
    lastUsedAt: t.string({ description: "ISO 8601.", resolve: (p) => p.lastUsedAt.toISOString() }),
    inUse: t.exposeInt("inUse", { description: "Requests using it right now." }),
  }),
});

builder.queryField("pipelines", (t) =>
  t.field({
    type: [LoadedPipelineType],
    description: "Loaded checkpoints, most recently used first.",
    resolve: (_root, _args, { services }) => services.pipelines.info(),
  }),
);

const LoadPipelineResult = builder.unionType("LoadPipelineResult", {
  types: [
    LoadedPipelineType,
    ModelNotFoundErrorType,
    UnsupportedPipelineErrorType,
    InvalidModelIndexErrorType,
    InvalidInputErrorType,
    ModelLoadErrorType,
  ],
});

builder.mutationField("loadPipeline", (t) =>
  t.field({
    type: LoadPipelineResult,
    description: "Loads a checkpoint ahead of its first generation (warm-up).",
    args: {
      model: t.arg.string({ required: true }),
      variant: t.arg.string({
        description: "Load `*.<variant>.safetensors` weights (diffusers' `variant=`, e.g. `fp16`).",
      }),
    },
    resolve: (_root, { model, variant }, { services }) =>
      expected(
        () => loadPipeline(services, model, validateVariantArg(variant)),
        [
          ModelNotFoundError,
          UnsupportedPipelineError,
          InvalidModelIndexError,
          InvalidInputError,
          ModelLoadError,
        ],
      ),
  }),
);

const UnloadedPipelineType = builder
  .objectRef<{ model: string; unloaded: boolean }>("UnloadedPipeline")
  .implement({
    isTypeOf: (value) => typeof value === "object" && value !== null && "unloaded" in value,
    fields: (t) => ({
      model: t.exposeString("model"),
      unloaded: t.exposeBoolean("unloaded", {
        description:
          "False when it was not loaded. Running requests finish first; then its sessions are released.",
      }),
    }),
  });

const UnloadPipelineResult = builder.unionType("UnloadPipelineResult", {
  types: [UnloadedPipelineType, ModelNotFoundErrorType, InvalidInputErrorType],
});

builder.mutationField("unloadPipeline", (t) =>
  t.field({
    type: UnloadPipelineResult,
    description: "Releases a loaded checkpoint's sessions.",
    args: { model: t.arg.string({ required: true }) },
    resolve: (_root, { model }, { services }) =>
      expected(
        async () => ({ model, unloaded: await unloadPipeline(services, model) }),
        [ModelNotFoundError, InvalidInputError],
      ),
  }),
);
