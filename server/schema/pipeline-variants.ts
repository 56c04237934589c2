/**
 * Pipeline configs and named pipelines over GraphQL: `type PipelineConfig` (also `PipelineResolution.config`),
 * `input PipelineConfigInput`, and diffusers' `from_pipe` as `fromPipe`, with `pipelineVariants` and
 * `removePipelineVariant`.
 */
import type { Services } from "../context.ts";
import {
  InvalidInputError,
  InvalidModelIndexError,
  ModelNotFoundError,
  UnsupportedPipelineError,
} from "../errors.ts";
import { effectiveConfig, type PipelineConfig } from "../service/pipeline-config.ts";
import {
  fromPipe,
  type PipelineVariant,
  type ResolvedPipeline,
  removeVariant,
} from "../service/pipeline-variants.ts";
import { type CheckpointResolution, resolveCheckpoint } from "../service/resolve-checkpoint.ts";
import { builder } from "./builder.ts";
import {
  InvalidInputErrorType,
  InvalidModelIndexErrorType,
  ModelNotFoundErrorType,
  UnsupportedPipelineErrorType,
} from "./errors.ts";
import { expected } from "./expected.ts";
import { SchedulerNameEnum } from "./generate.ts";
import { LoraInput, LoraSettingType } from "./loras.ts";
import { PipelineResolutionType, TaskEnum } from "./pipeline.ts";

export const PipelineConfigType = builder.objectRef<PipelineConfig>("PipelineConfig").implement({
  description:
    "A pipeline's effective config: the checkpoint's (model_index.json, scheduler, UNet and VAE configs) over " +
    "diffusers' defaults, with a named pipeline's overrides on top. Request fields override it in turn.",
  fields: (t) => ({
    requiresSafetyChecker: t.exposeBoolean("requiresSafetyChecker", {
      description:
        "Whether the safety checker runs after decoding (AUTOPIPE_SAFETY_CHECKER may overrule it).",
    }),
    scheduler: t.exposeString("scheduler", { description: "diffusers' class name, e.g. `PNDMScheduler`." }),
    numInferenceSteps: t.exposeInt("numInferenceSteps"),
    guidanceScale: t.exposeFloat("guidanceScale"),
    strength: t.exposeFloat("strength", { nullable: true, description: "Null for text-to-image." }),
    negativePrompt: t.exposeString("negativePrompt", { nullable: true }),
    width: t.exposeInt("width", {
      nullable: true,
      description: "Null when it follows the input image, or is known only once the graphs load.",
    }),
    height: t.exposeInt("height", { nullable: true }),
    variant: t.exposeString("variant", {
      nullable: true,
      description:
        "The weights variant loaded from a diffusers-layout checkpoint (`fp16` → `*.fp16.safetensors`); null: the plain files.",
    }),
    loras: t.field({
      type: [LoraSettingType],
      description: "LoRA adapters a request applies unless it names its own (`loras` of the input).",
      resolve: (c) => [...c.loras],
    }),
    configFrom: t.exposeString("configFrom", {
      nullable: true,
      description:
        "For a single-file checkpoint: the diffusers-layout checkpoint its configs, scheduler and tokenizers come from (diffusers' `from_single_file(config=…)`; without one, the reference repo of the file's type when it is on disk); null otherwise.",
    }),
  }),
});

export const PipelineConfigInput = builder.inputType("PipelineConfigInput", {
  description: "Overrides of a pipeline's config; fields left out keep the value they had.",
  fields: (t) => ({
    requiresSafetyChecker: t.boolean(),
    scheduler: t.field({ type: SchedulerNameEnum }),
    numInferenceSteps: t.int(),
    guidanceScale: t.float(),
    strength: t.float(),
    negativePrompt: t.string(),
    width: t.int(),
    height: t.int(),
    variant: t.string({
      description:
        "Load the checkpoint's `*.<variant>.safetensors` files (diffusers' `variant=`, e.g. `fp16`); every component must have them.",
    }),
    loras: t.field({
      type: [LoraInput],
      description: "LoRA adapters with their scales (replaces the list).",
    }),
    configFrom: t.string({
      description:
        "For a single-file checkpoint (`name.safetensors`): the id of a diffusers-layout checkpoint to take the component configs, scheduler and tokenizers from, as diffusers' `from_single_file(…, config=…)`.",
    }),
  }),
});

builder.objectField(PipelineResolutionType, "config", (t) =>
  t.field({
    type: PipelineConfigType,
    description: "The effective config of the resolved pipeline (with a named pipeline's overrides).",
    resolve: (r) => configOf(r),
  }),
);

function configOf(r: ResolvedPipeline): Promise<PipelineConfig> {
  return effectiveConfig(r.checkpoint, r.modelIndex, r.pipelineClass, r.task, r.overrides);
}

/** A named pipeline on its way to GraphQL; its checkpoint is resolved once, when a field needs it. */
class VariantView {
  private resolution: Promise<CheckpointResolution> | undefined;
  constructor(
    readonly variant: PipelineVariant,
    resolution?: CheckpointResolution,
  ) {
    if (resolution) this.resolution = Promise.resolve(resolution);
  }

  resolved(services: Services): Promise<CheckpointResolution> {
    this.resolution ??= resolveCheckpoint(
      services,
      this.variant.model,
      this.variant.task,
      {},
      this.variant.config.variant ?? null,
      this.variant.config.configFrom ?? null,
    );
    return this.resolution;
  }
}

const PipelineVariantType = builder.objectRef<VariantView>("PipelineVariant").implement({
  description:
    "A named pipeline (diffusers' `from_pipe`): a checkpoint, a task and config overrides. It holds no weights " +
    "of its own; requests naming it run on the checkpoint's cached components.",
  isTypeOf: (value) => value instanceof VariantView,
  fields: (t) => ({
    name: t.string({ resolve: (v) => v.variant.name }),
    from: t.string({
      description: "What it was made from: a checkpoint id or another named pipeline.",
      resolve: (v) => v.variant.from,
    }),
    model: t.string({ description: "The checkpoint id it runs on.", resolve: (v) => v.variant.model }),
    task: t.field({ type: TaskEnum, resolve: (v) => v.variant.task }),
    pipelineClass: t.string({
      resolve: async (v, _args, { services }) => (await v.resolved(services)).pipelineClass,
    }),
    config: t.field({
      type: PipelineConfigType,
      resolve: async (v, _args, { services }) =>
        configOf({ ...(await v.resolved(services)), overrides: v.variant.config }),
    }),
  }),
});

const FromPipeResult = builder.unionType("FromPipeResult", {
  types: [
    PipelineVariantType,
    InvalidInputErrorType,
    ModelNotFoundErrorType,
    UnsupportedPipelineErrorType,
    InvalidModelIndexErrorType,
  ],
});

builder.mutationField("fromPipe", (t) =>
  t.field({
    type: FromPipeResult,
    description:
      "Makes a named pipeline from a checkpoint or from another named pipeline, for any task the checkpoint's " +
      "family maps to (`AutoPipelineFor<Task>.from_pipe(pipe, **config)`): configs merge, the newer one wins.",
    args: {
      name: t.arg.string({ required: true, description: "Not a checkpoint id, not in use." }),
      from: t.arg.string({ required: true, description: "A checkpoint id or a named pipeline." }),
      task: t.arg({ type: TaskEnum, required: true }),
      config: t.arg({ type: PipelineConfigInput }),
    },
    resolve: (_root, args, { services }) =>
      expected(async () => {
        const { variant, resolution } = await fromPipe(services, args);
        return new VariantView(variant, resolution);
      }, [InvalidInputError, ModelNotFoundError, UnsupportedPipelineError, InvalidModelIndexError]),
  }),
);

builder.queryField("pipelineVariants", (t) =>
  t.field({
    type: [PipelineVariantType],
    description: "Named pipelines, in the order they were made.",
    resolve: (_root, _args, { services }) => services.variants.list().map((v) => new VariantView(v)),
  }),
);

const RemovePipelineVariantResult = builder.unionType("RemovePipelineVariantResult", {
  types: [PipelineVariantType, InvalidInputErrorType],
});

builder.mutationField("removePipelineVariant", (t) =>
  t.field({
    type: RemovePipelineVariantResult,
    description: "Forgets a named pipeline. Its checkpoint stays loaded.",
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, { services }) =>
      expected(async () => new VariantView(removeVariant(services, name)), [InvalidInputError]),
  }),
);
