/**
 * Loading a graph autopipe builds itself from a diffusers component folder (server/models/): the model module
 * writes the graph with its weights as external data pointing into the safetensors files (no copy), onnxruntime
 * optimizes it — folding the fp16→fp32 casts and layout fixes of the weights into plain float32 constants — and,
 * with the optimized-graph cache on, saves the result into a cache entry keyed by the identity of the config and
 * weight files (name, size, modification time, inode), the builder's version, onnxruntime's version and the CPU.
 * The second load opens that entry directly: no build, no optimization. A changed file changes the key, so a
 * stale graph is never served. With the cache off, the built graph is optimized in memory on every load.
 *
 * Attention is born fused (MultiHeadAttention), so there is no fusion to verify: `fusedAttention` reports the
 * attention nodes the graph has.
 */
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import type { SingleFileType } from "../checkpoints/single-file/model-type.ts";
import { buildComponentGraph } from "../models/build-component.ts";
import { modelModule } from "../models/registry.ts";
import {
  CACHED_DATA,
  CACHED_MODEL,
  cacheKey,
  commitEntry,
  entryDir,
  type FileIdentity,
  readEntry,
  stagingDir,
} from "./graph-cache.ts";
import type { GraphLoadOptions, GraphLoadReport } from "./load-graph.ts";
import { effectiveProvider, OnnxModel, runtimeVersion } from "./onnx.ts";

/** Bumped whenever the model modules change what they build: older cache entries are then never read. */
export const BUILDER_VERSION = 3;

/**
 * The graphs built with LoRA side branches on their Linear and Conv layers (GraphBuilder `lora`): the ones
 * diffusers' `load_lora_weights` patches. Their factors are graph inputs that default to rank 0, so one graph (one
 * copy of the base weights) serves requests with and without adapters.
 */
export const LORA_GRAPHS: ReadonlySet<string> = new Set(["unet", "text_encoder", "text_encoder_2"]);

/** What to build: a graph of a component folder, from these files. */
export interface BuiltGraphSpec {
  /** The graph ("unet", "vae_encoder", …): picks the model module. */
  readonly graph: string;
  /** The component folder (messages), e.g. "vae". */
  readonly folder: string;
  /** Cache entries of one folder are kept apart by this (graph and variant, e.g. "unet.fp16"). */
  readonly tag: string;
  readonly configFile: string;
  readonly weightFiles: readonly string[];
  /** A single file's weights (one file holding every component), read through the key map of its type. */
  readonly singleFile?: { readonly type: SingleFileType };
}

/** Builds (or finds in the cache) and loads `spec`'s graph. */
export async function loadBuiltGraph(
  spec: BuiltGraphSpec,
  options: GraphLoadOptions,
): Promise<{ model: OnnxModel; report: GraphLoadReport }> {
  const { cacheDir } = options;
  if (!cacheDir || effectiveProvider(options.provider) !== "cpu") {
    const built = await build(spec);
    const model = await OnnxModel.load(built.bytes, { ...options, externalDataFolder: built.dataFolder });
    return { model, report: { fromCache: false, fusedAttention: built.attention, verifiedDiff: null } };
  }
  const source = await builtIdentity(spec);
  const key = cacheKey(source, runtimeVersion);
  let manifest = await readEntry(cacheDir, key, source);
  const fromCache = manifest !== undefined;
  if (!manifest) {
    const built = await build(spec);
    const staging = await stagingDir(cacheDir, key);
    try {
      const saveOptimized = { file: path.join(staging, CACHED_MODEL), dataFile: CACHED_DATA };
      await (
        await OnnxModel.load(built.bytes, { ...options, externalDataFolder: built.dataFolder, saveOptimized })
      ).release();
      await commitEntry(cacheDir, staging, {
        key,
        sourceDir: path.dirname(spec.configFile),
        graph: spec.tag,
        source,
        fusedAttention: built.attention,
        verifiedDiff: null,
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    manifest = await readEntry(cacheDir, key, source);
    if (!manifest) throw new Error("the graph cache entry vanished after it was written");
  }
  const model = await OnnxModel.load(path.join(entryDir(cacheDir, key), CACHED_MODEL), {
    ...options,
    optimization: "disabled",
  });
  return { model, report: { fromCache, fusedAttention: manifest.fusedAttention, verifiedDiff: null } };
}

/** What loading `spec` would report, without loading it (undefined: not in the cache yet). */
export async function peekBuiltGraph(
  spec: BuiltGraphSpec,
  options: GraphLoadOptions,
): Promise<GraphLoadReport | undefined> {
  // Built graphs are always fused; only whether the cache holds them is unknown.
  if (!options.cacheDir || effectiveProvider(options.provider) !== "cpu") {
    return { fromCache: false, fusedAttention: 1, verifiedDiff: null };
  }
  const source = await builtIdentity(spec).catch(() => undefined);
  if (!source) return undefined;
  const manifest = await readEntry(options.cacheDir, cacheKey(source, runtimeVersion), source);
  return manifest
    ? { fromCache: true, fusedAttention: manifest.fusedAttention, verifiedDiff: null }
    : undefined;
}

async function build(spec: BuiltGraphSpec) {
  const built = await buildComponentGraph(
    {
      component: spec.folder,
      configFile: spec.configFile,
      weightFiles: spec.weightFiles,
      ...(spec.singleFile ? { singleFile: spec.singleFile } : {}),
      lora: LORA_GRAPHS.has(spec.graph),
    },
    modelModule(spec.graph).build,
  );
  return { ...built, attention: built.attentionNodes };
}

/** The identity of the files a built graph comes from, plus what built it. */
async function builtIdentity(spec: BuiltGraphSpec): Promise<FileIdentity[]> {
  const out: FileIdentity[] = [
    {
      name: `builder:${spec.graph}:${BUILDER_VERSION}${spec.singleFile ? `:single-file:${spec.singleFile.type}` : ""}`,
      size: 0,
      mtimeMs: 0,
      ino: 0,
    },
  ];
  for (const file of [spec.configFile, ...spec.weightFiles]) {
    const info = await stat(file);
    out.push({ name: path.basename(file), size: info.size, mtimeMs: info.mtimeMs, ino: info.ino });
  }
  return out;
}
