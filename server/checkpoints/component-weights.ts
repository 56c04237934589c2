/**
 * Where each graph of a checkpoint comes from: an ONNX export (`<graph>/model.onnx`, diffusers' or optimum's
 * layout), or a diffusers component folder (`config.json` + safetensors weights) that autopipe builds the graph
 * of itself (server/models/). The VAE's encoder and decoder both come from `vae/`.
 *
 * Weight files follow diffusers' naming (`src/diffusers/utils/hub_utils.py` `_add_variant` and `_get_model_file`,
 * read at commit 03a704a508739a47d87a47e34f6608824284a417): diffusers models store
 * `diffusion_pytorch_model.safetensors`, transformers models `model.safetensors`; a variant inserts its name before
 * the extension (`diffusion_pytorch_model.fp16.safetensors`); sharded weights have an index
 * (`….safetensors.index.json`, variant `….safetensors.index.fp16.json`) whose `weight_map` names the shards. In a
 * local folder diffusers takes exactly that file name and raises "no file named …" when it is absent — with a
 * variant asked for, the plain files are not used instead; so do we, naming the missing file. Pickle weights
 * (`.bin`, `.ckpt`, `.pt`) are never loaded: unpickling runs code.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { GraphName } from "../pipelines/components.ts";
import type { LocatedCheckpoint } from "./locate.ts";
import { checkpointFile, checkpointRoot, PathEscapeError, resolveInside } from "./paths.ts";
import type { SingleFileType } from "./single-file/model-type.ts";
import { singleFileGraphSource } from "./single-file/single-file-checkpoint.ts";

export type CheckpointFormat = "ONNX" | "DIFFUSERS" | "SINGLE_FILE";

/** The diffusers component folder each graph is built from. */
export const COMPONENT_FOLDER: Readonly<Record<GraphName, string>> = {
  unet: "unet",
  vae_decoder: "vae",
  vae_encoder: "vae",
  text_encoder: "text_encoder",
  text_encoder_2: "text_encoder_2",
  safety_checker: "safety_checker",
};

export type GraphSource =
  | { readonly kind: "onnx"; readonly relative: string }
  | {
      readonly kind: "built";
      /** The component folder, e.g. "vae". */
      readonly folder: string;
      /** Real paths (inside the checkpoint's root). */
      readonly configFile: string;
      readonly weightFiles: readonly string[];
      /** Set when the weights are a single file's, read through the key map of a file of this type. */
      readonly singleFile?: { readonly type: SingleFileType };
      /** fp32 bytes of this component's tensors when the weight file holds more (a single file). */
      readonly weightBytes?: number;
    }
  | { readonly kind: "missing"; readonly reason: string };

/** diffusers' weight file stem of a component folder: models vs transformers' classes. */
function weightStem(folder: string): string {
  return folder === "unet" || folder === "vae" ? "diffusion_pytorch_model" : "model";
}

/** `name` with `variant` before its last extension (diffusers' `_add_variant`). */
export function addVariant(name: string, variant: string | null | undefined): string {
  if (!variant) return name;
  const parts = name.split(".");
  return [...parts.slice(0, -1), variant, ...parts.slice(-1)].join(".");
}

/** Where `graph` of `checkpoint` comes from under `variant` (null: the plain weights). */
export async function graphSource(
  checkpoint: LocatedCheckpoint,
  graph: GraphName,
  variant: string | null,
): Promise<GraphSource> {
  if (checkpoint.singleFile) {
    const single = await singleFileGraphSource({ ...checkpoint, singleFile: checkpoint.singleFile }, graph);
    if (single) return single;
  }
  const onnx = `${graph}/model.onnx`;
  if (await isFile(checkpoint, onnx)) return { kind: "onnx", relative: onnx };
  const folder = COMPONENT_FOLDER[graph];
  // A folder or graph that is a link out of the checkpoint's root is refused, and said so (never where it leads).
  for (const relative of new Set([`${graph}/`, onnx, `${folder}/`])) {
    if (await leavesRoot(checkpoint, relative)) {
      return {
        kind: "missing",
        reason: `'${relative}' was refused: it is a link that leaves ${rootName(checkpoint)}`,
      };
    }
  }
  const files = await listFolder(checkpoint, folder);
  if (files === null || !files.includes("config.json")) {
    return {
      kind: "missing",
      reason: `the checkpoint has neither an ONNX export of '${graph}' (${onnx}) nor a diffusers '${folder}/' folder with config.json`,
    };
  }
  const stem = weightStem(folder);
  const single = addVariant(`${stem}.safetensors`, variant);
  const index = addVariant(`${stem}.safetensors.index.json`, variant);
  const configFile = await checkpointFile(checkpoint, `${folder}/config.json`);
  if (files.includes(single)) {
    return {
      kind: "built",
      folder,
      configFile,
      weightFiles: [await checkpointFile(checkpoint, `${folder}/${single}`)],
    };
  }
  if (files.includes(index)) {
    const shards = await shardsOf(checkpoint, folder, index);
    if (typeof shards === "string") return { kind: "missing", reason: shards };
    return { kind: "built", folder, configFile, weightFiles: shards };
  }
  const pickle = files.filter((f) => PICKLE.test(f));
  if (pickle.length > 0 && !files.some((f) => f.endsWith(".safetensors"))) {
    return {
      kind: "missing",
      reason: `'${folder}/' has only pickle weights (${pickle.slice(0, 2).join(", ")}), which are never loaded because unpickling runs code; provide ${folder}/${single} (safetensors)`,
    };
  }
  const present = variantsIn(files);
  if (!variant && present.length === 0 && !files.some((f) => f.endsWith(".safetensors"))) {
    // A folder with a config and no weights at all: an ONNX-layout checkpoint whose graph is missing.
    return {
      kind: "missing",
      reason: `the checkpoint has no ONNX export of '${graph}' (${onnx}) and no safetensors weights (${folder}/${single})`,
    };
  }
  return {
    kind: "missing",
    reason: variant
      ? `no file named ${folder}/${single} (variant '${variant}'; variants present: ${present.length ? present.join(", ") : "none"})`
      : `no file named ${folder}/${single}${present.length ? ` (variants present: ${present.join(", ")}; name one with variant)` : ""}`,
  };
}

const PICKLE = /\.(bin|ckpt|pt|pth|pkl)$/;

/** Variant names of safetensors files in a folder listing (`x.fp16.safetensors` → fp16). */
export function variantsIn(files: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of files) {
    const m =
      /^(?:diffusion_pytorch_model|model)\.([^.]+)\.safetensors$/.exec(f) ??
      /^(?:diffusion_pytorch_model|model)\.safetensors\.index\.([^.]+)\.json$/.exec(f);
    if (m?.[1] && !/^\d+-of-\d+$/.test(m[1])) out.add(m[1]);
  }
  return [...out].sort();
}

/** Variant names present in any diffusers component folder of the checkpoint. */
export async function checkpointVariants(checkpoint: LocatedCheckpoint): Promise<string[]> {
  const out = new Set<string>();
  for (const folder of new Set(Object.values(COMPONENT_FOLDER))) {
    for (const v of variantsIn((await listFolder(checkpoint, folder)) ?? [])) out.add(v);
  }
  return [...out].sort();
}

async function shardsOf(
  checkpoint: LocatedCheckpoint,
  folder: string,
  index: string,
): Promise<string[] | string> {
  let map: unknown;
  try {
    map = JSON.parse(
      await readFile(await checkpointFile(checkpoint, `${folder}/${index}`), "utf8"),
    )?.weight_map;
  } catch {
    return `${folder}/${index} is not a valid weights index`;
  }
  if (typeof map !== "object" || map === null) return `${folder}/${index} has no weight_map`;
  const names = [...new Set(Object.values(map as Record<string, unknown>))];
  if (
    !names.every((n): n is string => typeof n === "string" && n.endsWith(".safetensors") && !n.includes("/"))
  ) {
    return `${folder}/${index} names a shard that is not a safetensors file in ${folder}/`;
  }
  const out: string[] = [];
  for (const name of names) {
    if (!(await isFile(checkpoint, `${folder}/${name}`)))
      return `no file named ${folder}/${name} (a shard ${index} names)`;
    out.push(await checkpointFile(checkpoint, `${folder}/${name}`));
  }
  return out;
}

/** The files of a checkpoint folder; null when it is missing or leads outside the checkpoint's root. */
async function listFolder(checkpoint: LocatedCheckpoint, folder: string): Promise<string[] | null> {
  try {
    const real = await resolveInside(checkpointRoot(checkpoint), path.join(checkpoint.dir, folder));
    return real === null ? null : await readdir(real);
  } catch {
    return null;
  }
}

/** Whether `relative` (a folder or file of the checkpoint) is a link whose real location is outside its root. */
async function leavesRoot(checkpoint: LocatedCheckpoint, relative: string): Promise<boolean> {
  try {
    await resolveInside(checkpointRoot(checkpoint), path.join(checkpoint.dir, relative));
    return false;
  } catch (error) {
    return error instanceof PathEscapeError;
  }
}

/** The root a checkpoint's files must stay in, in words (never its path). */
function rootName(checkpoint: LocatedCheckpoint): string {
  return checkpoint.source === "MODELS_DIR"
    ? "the models root"
    : "the checkpoint's folder in the Hugging Face cache";
}

async function isFile(checkpoint: LocatedCheckpoint, relative: string): Promise<boolean> {
  try {
    await checkpointFile(checkpoint, relative);
    return true;
  } catch {
    return false;
  }
}
