/**
 * One component's ONNX graph from its folder: `config.json` read, its safetensors weights opened (one file or
 * the shards an index names), the model module's builder run over a `GraphBuilder` whose weights point into those
 * files, and the model encoded. The bytes load with `externalDataFolder` = the weight files' folder (links
 * followed: a Hugging Face snapshot's files live in `blobs/`).
 *
 * @example
 * const built = await buildComponentGraph(
 *   { component: "unet", configFile: "ckpt/unet/config.json", weightFiles: ["ckpt/unet/diffusion_pytorch_model.safetensors"] },
 *   buildUNet2DConditionModel,
 * );
 * const model = await OnnxModel.load(built.bytes, { provider: "cpu", threads: 2, externalDataFolder: built.dataFolder });
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { SingleFileType } from "../checkpoints/single-file/model-type.ts";
import { openSingleFileWeights } from "../checkpoints/single-file/single-file-weights.ts";
import { UnsupportedComponentError } from "../errors.ts";
import {
  GraphBuilder,
  type LoraLayer,
  type WeightRef,
  type WeightSource,
} from "../graph-builder/graph-builder.ts";
import { encodeModel } from "../runtime/graph/onnx-model.ts";
import { SafetensorsFile } from "../safetensors/safetensors-file.ts";

/** A model module's graph function: declares inputs and outputs and builds the graph from the config. */
export type ComponentBuilder = (g: GraphBuilder, config: Readonly<Record<string, unknown>>) => void;

export interface ComponentFiles {
  /** Used in messages: "unet", "vae", "text_encoder_2", … */
  readonly component: string;
  readonly configFile: string;
  /** The safetensors files holding the weights (shards in any order). */
  readonly weightFiles: readonly string[];
  /** The one weight file is a single file of this type: its original names are read through the key map. */
  readonly singleFile?: { readonly type: SingleFileType };
  /** Build LoRA side branches on the layers that take them (GraphBuilder `lora`). */
  readonly lora?: boolean;
}

export interface BuiltComponent {
  readonly bytes: Uint8Array;
  /** Where the graph's external-data locations resolve. */
  readonly dataFolder: string;
  /** Weights of the files the graph does not read (reported, never an error). */
  readonly unusedWeights: readonly string[];
  readonly nodes: number;
  /** Fused attention nodes (com.microsoft.MultiHeadAttention) in the graph. */
  readonly attentionNodes: number;
  /** Layers with a LoRA side branch. */
  readonly loraLayers: number;
}

/** Opens every weight file (headers validated) as one `WeightSource`. */
export async function openWeights(
  component: string,
  files: readonly string[],
): Promise<{ source: WeightSource; names: string[]; folder: string }> {
  const opened = await Promise.all(files.map((f) => SafetensorsFile.open(f)));
  const byName = new Map<string, WeightRef>();
  const folders = new Set<string>();
  for (const file of opened) {
    folders.add(path.dirname(file.realPath));
    for (const name of file.names()) {
      const t = file.tensor(name)!;
      if (byName.has(name))
        throw new UnsupportedComponentError(
          component,
          `weight '${name}'`,
          "stored twice",
          "in more than one shard",
        );
      byName.set(name, {
        file: file.realPath,
        dtype: t.dtype,
        shape: t.shape,
        byteOffset: t.byteOffset,
        byteLength: t.byteLength,
      });
    }
  }
  if (folders.size !== 1) {
    throw new UnsupportedComponentError(
      component,
      "weight files",
      `${folders.size} folders`,
      "spread over several folders",
    );
  }
  return { source: { get: (name) => byName.get(name) }, names: [...byName.keys()], folder: [...folders][0]! };
}

export async function readConfig(component: string, configFile: string): Promise<Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configFile, "utf8"));
  } catch {
    throw new UnsupportedComponentError(component, "config.json", "unreadable", "missing or not JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new UnsupportedComponentError(component, "config.json", "not an object");
  }
  return raw as Record<string, unknown>;
}

/** Builds `files`' component with `builder`; throws `UnsupportedComponentError` / `SafetensorsError`. */
export async function buildComponentGraph(
  files: ComponentFiles,
  builder: ComponentBuilder,
): Promise<BuiltComponent> {
  const { g, weights } = await builtGraph(files, builder, files.lora ?? false);
  return {
    bytes: encodeModel(g.toModel()),
    dataFolder: weights.folder,
    unusedWeights: weights.names.filter((n) => !g.usedWeights.has(n)),
    nodes: g.nodeCount,
    attentionNodes: g.countOps("MultiHeadAttention"),
    loraLayers: g.loraLayers.size,
  };
}

/**
 * The layers `files`' graph gives a LoRA side branch (GraphBuilder `lora`), by module name, with their shapes:
 * the builder run over the weight files' headers, nothing encoded and no weight read.
 */
export async function componentLoraLayers(
  files: ComponentFiles,
  builder: ComponentBuilder,
): Promise<ReadonlyMap<string, LoraLayer>> {
  return (await builtGraph(files, builder, true)).g.loraLayers;
}

/** `files`' component built by `builder` into a GraphBuilder over its weights (side branches when `lora`). */
async function builtGraph(files: ComponentFiles, builder: ComponentBuilder, lora: boolean) {
  const config = await readConfig(files.component, files.configFile);
  const weights = files.singleFile
    ? await openSingleFileWeights(files.weightFiles[0]!, files.singleFile.type, files.component, config)
    : await openWeights(files.component, files.weightFiles);
  const g = new GraphBuilder(weights.source, {
    component: files.component,
    dataFolder: weights.folder,
    lora,
  });
  builder(g, config);
  return { g, weights };
}
