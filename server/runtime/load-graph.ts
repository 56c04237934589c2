/**
 * How a component's graph gets loaded: through the optimized-graph cache (graph-cache.ts) when one is configured
 * and the graph runs on CPU, otherwise straight from its file.
 *
 * The first load of a graph decodes its `.onnx` file (small even when weights are external), fuses attention
 * into `MultiHeadAttention` (graph/fuse-attention.ts), and checks the fused graph against the original on a
 * small input: every output within 1e-4 of the original (relative to max(1, max |original|)) or the fused graph
 * is dropped and the original is used. onnxruntime then optimizes the chosen graph and saves it, weights
 * included, into the cache; the session that serves is opened from that copy. Later loads (a restart, after
 * eviction) open the copy directly, skipping decoding, fusion, verification and onnxruntime's optimizations.
 */
import { readFile, realpath, rm } from "node:fs/promises";
import path from "node:path";
import { fuseAttention, importContribDomain } from "./graph/fuse-attention.ts";
import { decodeModel, encodeModel, type ModelProto, onnx } from "./graph/onnx-model.ts";
import {
  CACHED_DATA,
  CACHED_MODEL,
  cacheKey,
  commitEntry,
  entryDir,
  type Manifest,
  readEntry,
  sourceIdentity,
  stagingDir,
} from "./graph-cache.ts";
import { effectiveProvider, OnnxModel, runtimeVersion, type SessionOptions } from "./onnx.ts";
import type { HostTensor } from "./tensor.ts";

export interface GraphLoadOptions extends SessionOptions {
  /** The optimized-graph cache folder; absent: load the file as it is. */
  readonly cacheDir?: string;
}

/** What a load did, for logs and benchmarks. */
export interface GraphLoadReport {
  readonly fromCache: boolean;
  readonly fusedAttention: number;
  readonly verifiedDiff: number | null;
}

/** The largest relative difference a fused graph may show on the verification input. */
export const FUSION_TOLERANCE = 1e-4;

/** Loads `file` as described above. */
export async function loadGraph(
  file: string,
  options: GraphLoadOptions,
): Promise<{ model: OnnxModel; report: GraphLoadReport }> {
  const { cacheDir } = options;
  if (!cacheDir || effectiveProvider(options.provider) !== "cpu") {
    return { model: await OnnxModel.load(file, options), report: NOT_CACHED };
  }
  const source = await sourceIdentity(file);
  const key = cacheKey(source, runtimeVersion);
  let manifest = await readEntry(cacheDir, key, source);
  const fromCache = manifest !== undefined;
  if (!manifest) {
    manifest = await buildEntry(file, cacheDir, key, source, options).catch((error) => {
      warnOnce(`autopipe: could not write the graph cache (${firstLine(error)}); loading graphs uncached`);
      return undefined;
    });
  }
  if (!manifest) return { model: await OnnxModel.load(file, options), report: NOT_CACHED };
  const model = await OnnxModel.load(path.join(entryDir(cacheDir, key), CACHED_MODEL), {
    ...options,
    optimization: "disabled",
  });
  return {
    model,
    report: { fromCache, fusedAttention: manifest.fusedAttention, verifiedDiff: manifest.verifiedDiff },
  };
}

const NOT_CACHED: GraphLoadReport = { fromCache: false, fusedAttention: 0, verifiedDiff: null };

/**
 * What loading `file` under `options` would report, known without loading it: the report of a graph that loads
 * as it is (no cache, or not on CPU: nothing is fused), or of the cache entry the load would use; undefined when no
 * entry exists yet (the first load will try the fusion, whose verification decides).
 */
export async function peekGraphLoad(
  file: string,
  options: GraphLoadOptions,
): Promise<GraphLoadReport | undefined> {
  const { cacheDir } = options;
  if (!cacheDir || effectiveProvider(options.provider) !== "cpu") return NOT_CACHED;
  const source = await sourceIdentity(file).catch(() => undefined);
  if (!source) return undefined;
  const manifest = await readEntry(cacheDir, cacheKey(source, runtimeVersion), source);
  if (!manifest) return undefined;
  return { fromCache: true, fusedAttention: manifest.fusedAttention, verifiedDiff: manifest.verifiedDiff };
}

async function buildEntry(
  file: string,
  cacheDir: string,
  key: string,
  source: Manifest["source"],
  options: SessionOptions,
): Promise<Manifest> {
  const staging = await stagingDir(cacheDir, key);
  const saveOptimized = { file: path.join(staging, CACHED_MODEL), dataFile: CACHED_DATA };
  try {
    const fused = await fusedGraph(file);
    let verifiedDiff: number | null = null;
    let fusedAttention = 0;
    if (fused) {
      try {
        verifiedDiff = await verifyFused(file, fused, options, saveOptimized);
        if (verifiedDiff <= FUSION_TOLERANCE) fusedAttention = fused.count;
        else console.warn(`autopipe: fused attention differs by ${verifiedDiff}; keeping the original graph`);
      } catch (error) {
        console.warn(
          `autopipe: fused attention did not run (${firstLine(error)}); keeping the original graph`,
        );
      }
    }
    if (fusedAttention === 0) {
      verifiedDiff = null;
      await rm(saveOptimized.file, { force: true });
      await rm(path.join(staging, CACHED_DATA), { force: true });
      await (await OnnxModel.load(file, { ...options, saveOptimized })).release();
    }
    const manifest = { key, sourceDir: path.dirname(file), source, fusedAttention, verifiedDiff };
    await commitEntry(cacheDir, staging, manifest);
    return (await readEntry(cacheDir, key, source)) ?? Promise.reject(new Error("cache entry vanished"));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

interface FusedGraph {
  readonly bytes: Uint8Array;
  readonly count: number;
  /** Where its external data resolves (see `pointAtRealFiles`). */
  readonly dataFolder: string;
}

/** The graph with attention fused, or undefined when nothing matched (or the file is not one we can decode). */
async function fusedGraph(file: string): Promise<FusedGraph | undefined> {
  try {
    const model = decodeModel(await readFile(file));
    const report = fuseAttention(model.graph ?? {});
    if (report.fused === 0) return undefined;
    importContribDomain(model);
    const dataFolder = await pointAtRealFiles(model, path.dirname(file));
    return { bytes: encodeModel(model), count: report.fused, dataFolder };
  } catch {
    return undefined;
  }
}

/**
 * Points the external-data locations of a graph loaded from bytes at the real files. In a Hugging Face cache
 * snapshot `weights.pb` is a link into `blobs/`, and onnxruntime refuses external data whose real path leaves the
 * folder it was given ("escapes model directory"), which used to make every cached checkpoint keep its unfused
 * graph. When every data file resolves into one folder, the locations become those files' names there and that
 * folder is returned; otherwise the graph's own folder is.
 */
async function pointAtRealFiles(model: ModelProto, dir: string): Promise<string> {
  const external = (model.graph?.initializer ?? []).filter(
    (t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL,
  );
  const real = new Map<string, string>();
  for (const init of external) {
    const location = init.externalData?.find((e) => e.key === "location")?.value;
    if (!location || real.has(location)) continue;
    real.set(location, await realpath(path.join(dir, location)));
  }
  const folders = new Set([...real.values()].map((p) => path.dirname(p)));
  if (folders.size !== 1) return dir;
  const [folder] = folders as Set<string>;
  if (folder === dir) return dir;
  for (const init of external) {
    const entry = init.externalData?.find((e) => e.key === "location");
    if (entry?.value) entry.value = path.basename(real.get(entry.value) ?? entry.value);
  }
  return folder!;
}

/**
 * Runs the original and the fused graph (saving the fused one's optimized form) on one small deterministic input,
 * one session at a time, and returns the largest |fused − original| / max(1, max |original|) over all outputs.
 */
async function verifyFused(
  file: string,
  fused: FusedGraph,
  options: SessionOptions,
  saveOptimized: SessionOptions["saveOptimized"],
): Promise<number> {
  // Quiet: a probe the graph refuses is expected (the next channel count is tried).
  const original = await OnnxModel.load(file, { ...options, quiet: true });
  let probe: { feeds: Record<string, HostTensor>; expected: Record<string, HostTensor> } | undefined;
  let refusal: unknown;
  try {
    // An image-like input whose channel count is symbolic (diffusers' ONNX export names it) takes what its
    // first convolution expects: SD's 8 (inpainting: 9), 4 latent or 3 image channels.
    for (const channels of PROBE_CHANNELS) {
      const feeds = probeFeeds(original, channels);
      try {
        probe = { feeds, expected: await original.run(feeds) };
        break;
      } catch (error) {
        refusal = error;
      }
    }
  } finally {
    await original.release();
  }
  if (!probe) throw refusal;
  const { feeds, expected } = probe;
  const candidate = await OnnxModel.load(fused.bytes, {
    ...options,
    quiet: true,
    saveOptimized,
    externalDataFolder: fused.dataFolder,
  });
  try {
    const actual = await candidate.run(feeds);
    let worst = 0;
    for (const [name, want] of Object.entries(expected)) {
      const got = actual[name];
      if (!got || got.data.length !== want.data.length) return Number.POSITIVE_INFINITY;
      let diff = 0;
      let scale = 1;
      for (let i = 0; i < want.data.length; i++) {
        const a = Number(want.data[i]);
        diff = Math.max(diff, Math.abs(a - Number(got.data[i])));
        scale = Math.max(scale, Math.abs(a));
      }
      // NaN anywhere makes the comparison fail.
      worst = Math.max(worst, Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / scale);
    }
    return worst;
  } finally {
    await candidate.release();
  }
}

/**
 * A small input for every graph input: symbolic sizes become 1 for the batch (first) dimension, `channels` for the
 * second of a 4-D input, and 8 elsewhere (an 8×8 latent passes all three of SD's UNet downsamplings); floats are
 * deterministic values in [−1, 1), integers zero.
 */
const PROBE_CHANNELS = [8, 4, 3, 9] as const;

function probeFeeds(model: OnnxModel, channels: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  let state = 12345;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648) * 2 - 1;
  };
  for (const spec of model.inputs) {
    const dims = spec.shape.map((d, i) =>
      typeof d === "number" ? d : i === 0 ? 1 : i === 1 && spec.shape.length === 4 ? channels : 8,
    );
    const size = dims.reduce((a, b) => a * b, 1);
    if (spec.type === "float32") {
      feeds[spec.name] = { type: "float32", data: Float32Array.from({ length: size }, next), dims };
    } else if (spec.type === "int64") {
      feeds[spec.name] = { type: "int64", data: new BigInt64Array(size), dims };
    } else if (spec.type === "int32") {
      feeds[spec.name] = { type: "int32", data: new Int32Array(size), dims };
    } else {
      throw new Error(`input ${spec.name} has type ${spec.type}, which the verification does not feed`);
    }
  }
  return feeds;
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0] ?? "unknown error";
}
