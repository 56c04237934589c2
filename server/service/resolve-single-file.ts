/**
 * Resolution of a single-file checkpoint (`name.safetensors`, `org/repo/file.safetensors`), as diffusers'
 * `from_single_file` would load it: the class its keys make (model-type.ts) is the source class, mapped to the task's
 * class through the AutoPipeline tables; its configs, scheduler and tokenizers come from `configFrom` (a
 * diffusers-layout checkpoint id, like `from_single_file(…, config=…)`) or, without one, from the reference repo
 * diffusers would fetch for the type when that repo is already on disk (nothing is downloaded for it). Then every
 * graph the file holds is dry-built against it, so missing weights, wrong shapes and unused keys are known before
 * anything loads.
 *
 * What is never runnable, with the reason saying why: pickle files (`.ckpt`, `.pt`, …: unpickling runs code), files
 * that are not valid safetensors (the header check of the reader), layouts of no known family (naming the keys
 * found), files without a config checkpoint, and files whose weights do not fit the configs. A file whose family is
 * not known (pickle, unreadable, unknown keys) resolves with source and pipeline class `DiffusionPipeline` and
 * family `unknown`, the generic class nothing maps from.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { type ResolveOptions, resolvePipelineClass, type Task } from "../auto-pipeline/resolve.ts";
import type { CheckpointFactsCache } from "../checkpoints/facts-cache.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import { type ModelIndex, readModelIndex } from "../checkpoints/model-index.ts";
import type { LocatedSingleFile } from "../checkpoints/single-file/locate-single-file.ts";
import {
  inferSingleFileType,
  openSingleFile,
  SINGLE_FILE_LAYOUTS,
} from "../checkpoints/single-file/model-type.ts";
import {
  checkSingleFile,
  type SingleFileCheckpoint,
} from "../checkpoints/single-file/single-file-checkpoint.ts";
import { shapesOf } from "../checkpoints/single-file/single-file-weights.ts";
import type { Services } from "../context.ts";
import { AutopipeError, InvalidInputError, showValue } from "../errors.ts";
import type { SafetensorsFile } from "../safetensors/safetensors-file.ts";
import type { CheckpointResolution } from "./resolve-checkpoint.ts";
import {
  judgeRunnability,
  RUNNABILITY_FILES,
  type RunnabilityFacts,
  readRunnabilityFacts,
} from "./runnability.ts";

/** The class of a file whose family is not known (never runnable). */
const UNKNOWN_CLASS = "DiffusionPipeline";

export async function resolveSingleFile(
  services: Pick<Services, "locator"> & { readonly facts?: CheckpointFactsCache },
  model: string,
  taskOrChoice: Task | ((sourceClass: string) => Task),
  options: ResolveOptions,
  variant: string | null,
  configFrom: string | null,
): Promise<CheckpointResolution> {
  if (variant !== null) {
    throw new InvalidInputError(
      "variant",
      showValue(variant),
      "none for a single-file checkpoint (its file is the one set of weights)",
    );
  }
  const found = await services.locator.locateSingleFile(model);
  const taskFor = (sourceClass: string) =>
    typeof taskOrChoice === "function" ? taskOrChoice(sourceClass) : taskOrChoice;
  if (found.pickle) {
    return refused(model, taskFor(UNKNOWN_CLASS), found, UNKNOWN_CLASS, null, pickleReason(model));
  }
  let file: SafetensorsFile;
  try {
    file = await openSingleFile(found.file);
  } catch (error) {
    if (!(error instanceof AutopipeError)) throw error;
    return refused(model, taskFor(UNKNOWN_CLASS), found, UNKNOWN_CLASS, null, error.message);
  }
  const inferred = inferSingleFileType(shapesOf(file));
  if (inferred.kind === "unknown") {
    const reason = `not a single-file layout this server knows: ${inferred.reason}`;
    return refused(model, taskFor(UNKNOWN_CLASS), found, UNKNOWN_CLASS, null, reason);
  }
  const layout = SINGLE_FILE_LAYOUTS[inferred.type];
  const sourceClass = layout.pipelineClass;
  const task = taskFor(sourceClass);
  const resolution = resolvePipelineClass(sourceClass, task, options);
  const configId = configFrom ?? layout.defaultRepo;
  const configCheckpoint = configFrom
    ? await services.locator.locate(configFrom)
    : await services.locator.locateLocal(layout.defaultRepo);
  if (!configCheckpoint) {
    const reason = `a ${inferred.type} single file takes its component configs, scheduler and tokenizers from ${layout.defaultRepo} (the repo diffusers' from_single_file fetches them from), which is neither in the models directory nor in the Hugging Face cache; name a diffusers-layout checkpoint with configFrom`;
    return refused(model, task, found, sourceClass, resolution, reason);
  }
  const index = await readModelIndex(configCheckpoint);
  const singleFile: SingleFileCheckpoint = { file: found.file, type: inferred.type, configFrom: configId };
  const checkpoint: LocatedCheckpoint = {
    ...configCheckpoint,
    id: model,
    source: found.source,
    revision: found.revision,
    variant: null,
    singleFile,
  };
  // The pipeline is the file's class, with the config checkpoint's components and pipeline flags.
  const modelIndex: ModelIndex = { ...index, className: sourceClass };
  const info = await stat(found.file);
  const kind = `single-file\u0000${found.file}\u0000${info.size}\u0000${info.mtimeMs}\u0000${info.ino}`;
  const { facts, notes } = services.facts
    ? await services.facts.get(checkpoint, kind, RUNNABILITY_FILES, () =>
        readSingleFileFacts(checkpoint, singleFile),
      )
    : await readSingleFileFacts(checkpoint, singleFile);
  const judged = judgeRunnability(facts, resolution.pipelineClass, task, modelIndex);
  return {
    model,
    task,
    ...resolution,
    checkpoint,
    modelIndex,
    ...judged,
    format: "SINGLE_FILE",
    variants: [],
    notes,
  };
}

/** The runnability facts of the config checkpoint, with the file's own graphs checked by a dry build. */
async function readSingleFileFacts(
  checkpoint: LocatedCheckpoint,
  singleFile: SingleFileCheckpoint,
): Promise<{ facts: RunnabilityFacts; notes: string[] }> {
  const base = await readRunnabilityFacts(checkpoint);
  const check = await checkSingleFile({ ...checkpoint, singleFile });
  const graphReasons = { ...base.graphReasons, ...check.graphReasons };
  const facts: RunnabilityFacts = {
    ...base,
    graphs: base.graphs.filter((g) => !check.graphReasons[g]),
    graphReasons,
    format: "SINGLE_FILE",
    variants: [],
  };
  const notes: string[] = [];
  if (check.unused.length > 0) {
    const shown = check.unused.slice(0, 8).map((k) => `'${k}'`);
    const more = check.unused.length > 8 ? ` and ${check.unused.length - 8} more` : "";
    notes.push(
      `${check.unused.length} key(s) of the single file are read by no graph: ${shown.join(", ")}${more}`,
    );
  }
  if (check.ignored > 0) {
    notes.push(`${check.ignored} training-state key(s) ignored (EMA copies, schedule buffers, position_ids)`);
  }
  return { facts, notes };
}

/** A resolution that is never runnable (the file cannot be used), with `reason`. */
function refused(
  model: string,
  task: Task,
  found: LocatedSingleFile,
  sourceClass: string,
  resolution: { family: string; pipelineClass: string } | null,
  reason: string,
): CheckpointResolution {
  const modelIndex: ModelIndex = { className: sourceClass, diffusersVersion: null, components: [], raw: {} };
  return {
    model,
    task,
    sourceClass,
    family: resolution?.family ?? "unknown",
    pipelineClass: resolution?.pipelineClass ?? sourceClass,
    checkpoint: {
      id: model,
      dir: path.dirname(found.file),
      source: found.source,
      revision: found.revision,
      root: found.root,
    },
    modelIndex,
    runnable: false,
    reason,
    inpaintingMode: null,
    format: "SINGLE_FILE",
    variants: [],
    notes: [],
  };
}

function pickleReason(model: string): string {
  const safetensors = model.replace(/\.[^./]+$/, ".safetensors");
  return `'${model}' is a pickle file, which is never loaded because unpickling runs code; convert it to safetensors once, in a Python you trust (torch.load, then safetensors.torch.save_file of its state_dict), and name '${safetensors}'`;
}
