/**
 * From a model id and a task to a pipeline resolution: find the checkpoint, read its model_index.json, map its
 * `_class_name` through diffusers' AutoPipeline tables, and say whether this server can run the result. With the
 * services' facts cache, model_index.json and the runnability facts are read once and revalidated by file
 * identity, so a resolution of a known checkpoint costs no read.
 */

import { type ResolveOptions, resolvePipelineClass, type Task } from "../auto-pipeline/resolve.ts";
import type { CheckpointFormat } from "../checkpoints/component-weights.ts";
import type { CheckpointFactsCache } from "../checkpoints/facts-cache.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import { type ModelIndex, readModelIndex } from "../checkpoints/model-index.ts";
import { isSingleFileId } from "../checkpoints/single-file/locate-single-file.ts";
import type { Services } from "../context.ts";
import { InvalidInputError, showValue } from "../errors.ts";
import { resolveSingleFile } from "./resolve-single-file.ts";
import {
  type InpaintingMode,
  judgeRunnability,
  RUNNABILITY_FILES,
  readRunnabilityFacts,
} from "./runnability.ts";

export interface CheckpointResolution {
  readonly model: string;
  readonly task: Task;
  readonly sourceClass: string;
  readonly family: string;
  readonly pipelineClass: string;
  readonly checkpoint: LocatedCheckpoint;
  readonly modelIndex: ModelIndex;
  readonly runnable: boolean;
  readonly reason: string | null;
  readonly inpaintingMode: InpaintingMode | null;
  /** Where the UNet comes from: an ONNX export, or a diffusers folder whose graphs this server builds. */
  readonly format: CheckpointFormat;
  /** Weight variants present on disk. */
  readonly variants: readonly string[];
  /** What the caller should know about the weights (a single file's unused keys); absent: nothing. */
  readonly notes?: readonly string[];
}

/**
 * Resolves `model` for `task` as `AutoPipelineFor<Task>.from_pretrained(model, **options)` would pick its class.
 * Throws ModelNotFoundError, InvalidModelIndexError, UnsupportedPipelineError or InvalidInputError (bad id).
 */
export async function resolveCheckpoint(
  services: Pick<Services, "locator"> & { readonly facts?: CheckpointFactsCache },
  model: string,
  taskOrChoice: Task | ((sourceClass: string) => Task),
  options: ResolveOptions = {},
  /** The weights variant (diffusers' `variant=`), null for the plain files. */
  variant: string | null = null,
  /** For a single file: the diffusers-layout checkpoint its configs, scheduler and tokenizers come from. */
  configFrom: string | null = null,
): Promise<CheckpointResolution> {
  if (isSingleFileId(model)) {
    return resolveSingleFile(services, model, taskOrChoice, options, variant, configFrom);
  }
  if (configFrom !== null) {
    throw new InvalidInputError(
      "configFrom",
      showValue(configFrom),
      `null: configFrom is for single-file checkpoints (name.safetensors), and '${model}' is a checkpoint folder`,
    );
  }
  const located = await services.locator.locate(model, { variant });
  const checkpoint: LocatedCheckpoint = variant ? { ...located, variant } : located;
  const { facts } = services;
  const modelIndex = facts
    ? await facts.get(checkpoint, "model-index", ["model_index.json"], () => readModelIndex(checkpoint))
    : await readModelIndex(checkpoint);
  // A caller may pick the task from the checkpoint's own class (warm-up loads what the checkpoint is made for).
  const task = typeof taskOrChoice === "function" ? taskOrChoice(modelIndex.className) : taskOrChoice;
  const resolution = resolvePipelineClass(modelIndex.className, task, options);
  const files = facts
    ? await facts.get(checkpoint, `runnability:${variant ?? ""}`, RUNNABILITY_FILES, () =>
        readRunnabilityFacts(checkpoint),
      )
    : await readRunnabilityFacts(checkpoint);
  const { runnable, reason, inpaintingMode } = judgeRunnability(
    files,
    resolution.pipelineClass,
    task,
    modelIndex,
  );
  return {
    model,
    task,
    ...resolution,
    checkpoint,
    modelIndex,
    runnable,
    reason,
    inpaintingMode,
    format: files.format,
    variants: files.variants,
  };
}
