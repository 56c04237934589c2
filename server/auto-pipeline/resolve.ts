/**
 * Picks the pipeline class for a checkpoint and a task the way diffusers' `AutoPipelineForText2Image`,
 * `AutoPipelineForImage2Image` and `AutoPipelineForInpainting` `from_pretrained` do: rewrite the checkpoint's
 * `_class_name` for the requested ControlNet / PAG options, find the family key of the rewritten name across all
 * tables (`_get_model`), and take the task table's class for that family (`_get_task_class`), failing with
 * diffusers' own message. The ONNX Stable Diffusion classes, which diffusers does not list, resolve through a
 * separate extension table.
 */
import { InvalidInputError, showValue, UnsupportedPipelineError } from "../errors.ts";
import {
  type RewriteOptions,
  rewriteForImage2Image,
  rewriteForInpainting,
  rewriteForText2Image,
} from "./rewrite.ts";
import {
  AUTO_IMAGE2IMAGE_DECODER_PIPELINES_MAPPING,
  AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
  AUTO_INPAINT_DECODER_PIPELINES_MAPPING,
  AUTO_INPAINT_PIPELINES_MAPPING,
  AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING,
  AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
  ONNX_EXTENSION_MAPPINGS,
  ONNX_IMAGE2IMAGE_PIPELINES_MAPPING,
  ONNX_INPAINT_PIPELINES_MAPPING,
  ONNX_TEXT2IMAGE_PIPELINES_MAPPING,
  type PipelineMapping,
  SUPPORTED_TASKS_MAPPINGS,
} from "./tables.ts";

/** The three AutoPipeline tasks: `AutoPipelineForText2Image`, `...ForImage2Image`, `...ForInpainting`. */
export type Task = "TEXT_TO_IMAGE" | "IMAGE_TO_IMAGE" | "INPAINTING";

/** Every task, in a stable order. */
export const TASKS: readonly Task[] = Object.freeze(["TEXT_TO_IMAGE", "IMAGE_TO_IMAGE", "INPAINTING"]);

/** The `from_pretrained` keyword arguments that change which class is picked. */
export interface ResolveOptions {
  /** As if a (non-union) ControlNet model were passed as `controlnet=`. */
  controlnet?: boolean;
  /** `enable_pag=True`. */
  enablePag?: boolean;
}

/** Which class `from_pretrained` would instantiate, and why. */
export interface Resolution {
  /** The checkpoint's `_class_name`, as given. */
  sourceClass: string;
  /**
   * The family key the class was found under. It belongs to the name after the ControlNet / PAG rewrite, so it
   * can differ from `familyOf(sourceClass)` (e.g. `stable-diffusion-xl-controlnet-pag` for an SDXL checkpoint).
   */
  family: string;
  /** The pipeline class to instantiate. */
  pipelineClass: string;
}

/** Where a class name was found: its family key, and whether only our ONNX extension lists it. */
interface FamilyMatch {
  readonly family: string;
  readonly extension: boolean;
}

/** The tables that serve each task: diffusers' own, and the ONNX extension. */
const TASK_TABLES: Readonly<
  Record<Task, { readonly diffusers: PipelineMapping; readonly onnx: PipelineMapping }>
> = Object.freeze({
  TEXT_TO_IMAGE: { diffusers: AUTO_TEXT2IMAGE_PIPELINES_MAPPING, onnx: ONNX_TEXT2IMAGE_PIPELINES_MAPPING },
  IMAGE_TO_IMAGE: { diffusers: AUTO_IMAGE2IMAGE_PIPELINES_MAPPING, onnx: ONNX_IMAGE2IMAGE_PIPELINES_MAPPING },
  INPAINTING: { diffusers: AUTO_INPAINT_PIPELINES_MAPPING, onnx: ONNX_INPAINT_PIPELINES_MAPPING },
});

/**
 * Class name → first family key listing it. diffusers scans the tables in order and returns the first hit, so
 * only the first sighting is kept; the extension tables come after all of diffusers' tables, so a class that
 * diffusers knows is never claimed by the extension.
 */
const FAMILY_INDEX: ReadonlyMap<string, FamilyMatch> = (() => {
  const index = new Map<string, FamilyMatch>();
  const add = (tables: readonly PipelineMapping[], extension: boolean) => {
    for (const table of tables) {
      for (const [family, pipelineClass] of table) {
        if (!index.has(pipelineClass)) index.set(pipelineClass, { family, extension });
      }
    }
  };
  add(SUPPORTED_TASKS_MAPPINGS, false);
  add(ONNX_EXTENSION_MAPPINGS, true);
  return index;
})();

/**
 * The family key ("model_name") of a pipeline class, as diffusers' `_get_model` finds it across all tables, or
 * null when no table lists the class. The ONNX Stable Diffusion classes belong to `stable-diffusion`.
 */
export function familyOf(sourceClass: string): string | null {
  return FAMILY_INDEX.get(sourceClass)?.family ?? null;
}

/**
 * `_get_task_class(mapping, name, throw_error_if_not_exist=False)`: the class that `table` (or, for an ONNX
 * class, `onnxTable`) has for the family of `className`, or null.
 */
function taskClassOf(
  className: string,
  table: PipelineMapping,
  onnxTable: PipelineMapping | null,
): { family: string | null; pipelineClass: string | null } {
  const match = FAMILY_INDEX.get(className);
  if (match === undefined) return { family: null, pipelineClass: null };
  const source = match.extension ? onnxTable : table;
  return { family: match.family, pipelineClass: source?.get(match.family) ?? null };
}

/**
 * diffusers' `_get_connected_pipeline`: for a decoder-only class of a prior + decoder family (e.g.
 * `KandinskyV22Pipeline`), the combined pipeline that also loads the prior; null for any other class.
 * `DiffusionPipeline.from_pretrained(..., load_connected_pipeline=True)` uses it; AutoPipeline gets the same
 * result through the family lookup of `resolvePipelineClass`.
 */
export function connectedPipelineOf(pipelineClass: string): string | null {
  const decoderTables: ReadonlyArray<readonly [PipelineMapping, PipelineMapping]> = [
    [AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING, AUTO_TEXT2IMAGE_PIPELINES_MAPPING],
    [AUTO_IMAGE2IMAGE_DECODER_PIPELINES_MAPPING, AUTO_IMAGE2IMAGE_PIPELINES_MAPPING],
    [AUTO_INPAINT_DECODER_PIPELINES_MAPPING, AUTO_INPAINT_PIPELINES_MAPPING],
  ];
  for (const [decoders, target] of decoderTables) {
    // The first decoder table that lists the class decides, even when its target table has no row.
    if ([...decoders.values()].includes(pipelineClass)) {
      return taskClassOf(pipelineClass, target, null).pipelineClass;
    }
  }
  return null;
}

/** The class name `from_pretrained` for `task` looks up, after its ControlNet / PAG rewrite. */
export function rewriteClassName(sourceClass: string, task: Task, options: ResolveOptions = {}): string {
  const rewrite: RewriteOptions = {
    controlnet: options.controlnet === true ? "controlnet" : undefined,
    enablePag: options.enablePag === true,
  };
  switch (task) {
    case "TEXT_TO_IMAGE":
      return rewriteForText2Image(sourceClass, rewrite);
    case "IMAGE_TO_IMAGE":
      return rewriteForImage2Image(sourceClass, rewrite);
    case "INPAINTING":
      return rewriteForInpainting(sourceClass, rewrite);
  }
}

/**
 * The pipeline class `AutoPipelineFor<task>.from_pretrained` picks for a checkpoint whose model_index.json has
 * `_class_name` = `sourceClass`, given the ControlNet / PAG options.
 *
 * @throws UnsupportedPipelineError with diffusers' message, `AutoPipeline can't find a pipeline linked to
 *   <rewritten class> for <family key or None>`, when no table lists the rewritten class (family null) or its
 *   family has no class for the task.
 */
export function resolvePipelineClass(
  sourceClass: string,
  task: Task,
  options: ResolveOptions = {},
): Resolution {
  // The type admits only the three tasks; untyped callers get a clear error rather than a TypeError.
  if (!TASKS.includes(task)) throw new InvalidInputError("task", showValue(task), TASKS.join(", "));
  const tables = TASK_TABLES[task];
  const className = rewriteClassName(sourceClass, task, options);
  const { family, pipelineClass } = taskClassOf(className, tables.diffusers, tables.onnx);
  if (family === null || pipelineClass === null) {
    // diffusers formats a missing family as Python's `None`, and names the rewritten class, not the source one.
    throw new UnsupportedPipelineError(
      `AutoPipeline can't find a pipeline linked to ${className} for ${family ?? "None"}`,
      sourceClass,
      family,
    );
  }
  return { sourceClass, family, pipelineClass };
}
