/**
 * Which resolved pipelines this server executes. The Stable Diffusion family (1.x, 2.x and XL) runs here, from ONNX
 * exports (diffusers' ONNX layout or optimum's) or from diffusers' own safetensors folders (graphs built from the
 * component configs); everything else resolves but reports why it cannot run. The check
 * is cheap: it reads file presence, model_index.json and the UNet and scheduler configs (facts the control plane
 * keeps, see CheckpointFactsCache), never loads a graph.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Task } from "../auto-pipeline/resolve.ts";
import {
  type CheckpointFormat,
  COMPONENT_FOLDER,
  checkpointVariants,
  graphSource,
} from "../checkpoints/component-weights.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { ModelIndex } from "../checkpoints/model-index.ts";
import { checkpointFile } from "../checkpoints/paths.ts";
import { parsePythonJson } from "../checkpoints/python-json.ts";
import { AutopipeError } from "../errors.ts";
import { checkComponentConfig } from "../models/registry.ts";
import { type GraphName, isXl, taskGraphs, textEncoderSlots } from "../pipelines/components.ts";
import { schedulerNameOf } from "../schedulers/registry.ts";

export interface Runnability {
  readonly runnable: boolean;
  readonly reason: string | null;
  /** Inpainting: whether the UNet takes the mask as input (9 channels) or latents are blended (4); null if unknown. */
  readonly inpaintingMode: InpaintingMode | null;
}

/** Pipeline classes this server executes, per task. */
export const RUNNABLE_PIPELINES: ReadonlyMap<string, Task> = new Map<string, Task>([
  ["StableDiffusionPipeline", "TEXT_TO_IMAGE"],
  ["OnnxStableDiffusionPipeline", "TEXT_TO_IMAGE"],
  ["StableDiffusionImg2ImgPipeline", "IMAGE_TO_IMAGE"],
  ["OnnxStableDiffusionImg2ImgPipeline", "IMAGE_TO_IMAGE"],
  ["StableDiffusionInpaintPipeline", "INPAINTING"],
  ["OnnxStableDiffusionInpaintPipeline", "INPAINTING"],
  ["StableDiffusionXLPipeline", "TEXT_TO_IMAGE"],
  ["StableDiffusionXLImg2ImgPipeline", "IMAGE_TO_IMAGE"],
  ["StableDiffusionXLInpaintPipeline", "INPAINTING"],
]);

export type InpaintingMode = "NINE_CHANNEL" | "BLEND";

/** What runnability is judged from: read from the checkpoint's files, cheap to keep (see CheckpointFactsCache). */
export interface RunnabilityFacts {
  /** `in_channels` of unet/config.json, or null when unknown. */
  readonly unetInChannels: number | null;
  /** `_class_name` of scheduler/scheduler_config.json, or null when unknown. */
  readonly schedulerClass: string | null;
  /** The graphs that can load: an ONNX export, or a diffusers component folder this server builds. */
  readonly graphs: readonly GraphName[];
  /** Why each other graph cannot (missing files, pickle weights, a config key the builder does not support). */
  readonly graphReasons: Readonly<Partial<Record<GraphName, string>>>;
  /** DIFFUSERS when the UNet is built from a diffusers component folder, ONNX otherwise. */
  readonly format: CheckpointFormat;
  /** Weight variants present on disk (`fp16` for `*.fp16.safetensors`). */
  readonly variants: readonly string[];
  /** The tokenizer folders that exist. */
  readonly tokenizers: readonly string[];
}

const ALL_GRAPHS: readonly GraphName[] = [
  "text_encoder",
  "text_encoder_2",
  "unet",
  "vae_decoder",
  "vae_encoder",
];
const COMPONENT_FOLDERS = [...new Set(Object.values(COMPONENT_FOLDER))];
const TOKENIZERS = ["tokenizer", "tokenizer_2"] as const;

/** The files `readRunnabilityFacts` reads or checks, relative to the checkpoint: their identity revalidates it. */
export const RUNNABILITY_FILES: readonly string[] = [
  "unet/config.json",
  "scheduler/scheduler_config.json",
  ...ALL_GRAPHS.map((graph) => `${graph}/model.onnx`),
  ...TOKENIZERS,
  // diffusers component folders: a folder's identity changes when a file is added or removed in it.
  ...COMPONENT_FOLDERS,
  ...COMPONENT_FOLDERS.map((folder) => `${folder}/config.json`),
];

/** Reads the facts runnability is judged from; never loads a graph. */
export async function readRunnabilityFacts(checkpoint: LocatedCheckpoint): Promise<RunnabilityFacts> {
  const variant = checkpoint.variant ?? null;
  const [inChannels, schedulerClass, reasons, folders, variants] = await Promise.all([
    unetInChannels(checkpoint),
    readSchedulerClass(checkpoint),
    Promise.all(ALL_GRAPHS.map((graph) => graphUnavailable(checkpoint, graph, variant))),
    Promise.all(TOKENIZERS.map((folder) => folderExists(checkpoint, folder))),
    checkpointVariants(checkpoint),
  ]);
  const graphReasons: Partial<Record<GraphName, string>> = {};
  ALL_GRAPHS.forEach((graph, i) => {
    const why = reasons[i];
    if (why) graphReasons[graph] = why;
  });
  const unetOnnx = await exists(checkpoint, "unet/model.onnx");
  const diffusersUnet = !unetOnnx && (await exists(checkpoint, "unet/config.json"));
  return {
    unetInChannels: inChannels,
    schedulerClass,
    graphs: ALL_GRAPHS.filter((_, i) => !reasons[i]),
    graphReasons,
    format: diffusersUnet ? "DIFFUSERS" : "ONNX",
    variants,
    tokenizers: TOKENIZERS.filter((_, i) => folders[i]),
  };
}

/** Why `graph` cannot load (null: it can), judged from files and, for built graphs, the component's config. */
async function graphUnavailable(
  checkpoint: LocatedCheckpoint,
  graph: GraphName,
  variant: string | null,
): Promise<string | null> {
  try {
    const source = await graphSource(checkpoint, graph, variant);
    if (source.kind === "missing") return source.reason;
    if (source.kind === "onnx") return null;
    let config: unknown;
    try {
      config = JSON.parse(await readFile(source.configFile, "utf8"));
    } catch {
      return `${source.folder}/config.json is not valid JSON`;
    }
    if (typeof config !== "object" || config === null) return `${source.folder}/config.json is not an object`;
    checkComponentConfig(graph, source.folder, config as Record<string, unknown>);
    return null;
  } catch (error) {
    if (error instanceof AutopipeError) return error.message;
    throw error;
  }
}

/** Whether this server runs `pipelineClass` for `task` on a checkpoint with these facts, and why not. */
export function judgeRunnability(
  facts: RunnabilityFacts,
  pipelineClass: string,
  task: Task,
  modelIndex: ModelIndex,
): Runnability {
  const inChannels = facts.unetInChannels;
  const inpaintingMode: InpaintingMode | null =
    task !== "INPAINTING" || inChannels === null ? null : inChannels === 9 ? "NINE_CHANNEL" : "BLEND";
  const no = (reason: string): Runnability => ({ runnable: false, reason, inpaintingMode });
  if (RUNNABLE_PIPELINES.get(pipelineClass) !== task) {
    return no(`${pipelineClass} is not executed by this server (only Stable Diffusion ONNX pipelines are)`);
  }
  if (isXl(modelIndex)) {
    const why = xlRefusal(modelIndex, task);
    if (why) return no(why);
  }
  // The graphs come from the checkpoint's model_index.json (its text encoders), as the loader takes them.
  for (const graph of taskGraphs(task, modelIndex)) {
    if (!facts.graphs.includes(graph)) {
      return no(
        facts.graphReasons[graph] ?? `the checkpoint has no ONNX export of '${graph}' (${graph}/model.onnx)`,
      );
    }
  }
  for (const slot of textEncoderSlots(modelIndex)) {
    // Presence only: whether its files stay inside the checkpoint is the loader's check (a ModelLoadError).
    if (!facts.tokenizers.includes(slot.tokenizer)) {
      return no(`the checkpoint has no '${slot.tokenizer}' folder (the tokenizer of ${slot.graph})`);
    }
  }
  const schedulerClass = facts.schedulerClass;
  if (schedulerClass !== null && !schedulerNameOf(schedulerClass)) {
    return no(`its scheduler ${schedulerClass} is not one this server implements`);
  }
  if (task !== "INPAINTING" && inChannels !== null && inChannels !== 4) {
    return no(`its UNet takes ${inChannels} input channels (an inpainting UNet); use the INPAINTING task`);
  }
  if (task === "INPAINTING" && inChannels !== null && inChannels !== 4 && inChannels !== 9) {
    return no(`its UNet takes ${inChannels} input channels; inpainting needs 4 (blend) or 9 (mask input)`);
  }
  return { runnable: true, reason: null, inpaintingMode };
}

/** SDXL checkpoints this server cannot serve for `task`, and why (null: no objection). */
function xlRefusal(modelIndex: ModelIndex, task: Task): string | null {
  if (!textEncoderSlots(modelIndex).some((slot) => slot.graph === "text_encoder_2")) {
    return "an SDXL checkpoint needs text_encoder_2 (its pooled embeddings condition the UNet), and model_index.json lists none";
  }
  if (task === "TEXT_TO_IMAGE" && modelIndex.raw.requires_aesthetics_score === true) {
    // diffusers' StableDiffusionXLPipeline passes 6 time ids; such a UNet expects 5 and diffusers raises.
    return "its UNet is conditioned on an aesthetic score (requires_aesthetics_score: a refiner), which StableDiffusionXLPipeline does not pass; use IMAGE_TO_IMAGE or INPAINTING";
  }
  return null;
}

async function folderExists(checkpoint: LocatedCheckpoint, folder: string): Promise<boolean> {
  try {
    return (await stat(path.join(checkpoint.dir, folder))).isDirectory();
  } catch {
    return false;
  }
}

async function exists(checkpoint: LocatedCheckpoint, relative: string): Promise<boolean> {
  try {
    return (await stat(await checkpointFile(checkpoint, relative))).isFile();
  } catch {
    return false;
  }
}

async function readSchedulerClass(checkpoint: LocatedCheckpoint): Promise<string | null> {
  try {
    const file = await checkpointFile(checkpoint, "scheduler/scheduler_config.json");
    const config = parsePythonJson(await readFile(file, "utf8")) as { _class_name?: unknown } | null;
    return typeof config?._class_name === "string" ? config._class_name : null;
  } catch {
    return null;
  }
}

async function unetInChannels(checkpoint: LocatedCheckpoint): Promise<number | null> {
  try {
    const config = JSON.parse(await readFile(await checkpointFile(checkpoint, "unet/config.json"), "utf8"));
    return typeof config?.in_channels === "number" ? config.in_channels : null;
  } catch {
    return null;
  }
}
