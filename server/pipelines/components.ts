/**
 * A Stable Diffusion checkpoint's parts, ready to run: tokenizer, scheduler config, the facts read from component
 * configs (VAE factor, scaling factor, UNet sample size and channels), and the four ONNX graphs loaded lazily,
 * each at most once (the promise is cached; a failed load is forgotten so a retry can succeed).
 *
 * Two layouts are read: diffusers' ONNX layout (`OnnxRuntimeModel` entries, no component configs, UNet external
 * data in weights.pb) and optimum's (the PyTorch class names, a config.json per component, model.onnx_data). Where
 * a config is missing, the VAE factor is inferred by running the decoder once on a small latent.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { ModelIndex } from "../checkpoints/model-index.ts";
import { checkpointFile } from "../checkpoints/paths.ts";
import { parsePythonJson } from "../checkpoints/python-json.ts";
import type { Config } from "../config.ts";
import { ModelLoadError } from "../errors.ts";
import { OnnxModel } from "../runtime/onnx.ts";
import { asFloat } from "../runtime/tensor.ts";
import { type ClipTokenizer, loadClipTokenizer } from "../tokenizer/clip-tokenizer.ts";

export type GraphName = "text_encoder" | "unet" | "vae_decoder" | "vae_encoder" | "safety_checker";

export interface ComponentFacts {
  /** Pixels per latent cell: 2^(len(vae.block_out_channels) − 1); 8 for real SD, 2 for the bundled tiny ones. */
  readonly vaeScaleFactor: number;
  /** Latents are multiplied by this after encoding and divided before decoding (default 0.18215). */
  readonly scalingFactor: number;
  /** UNet `sample_size` in latent cells: the default width/height is this × vaeScaleFactor. */
  readonly sampleSize: number;
  /** UNet input channels: 4 for text-to-image, 9 for inpainting UNets. */
  readonly unetInChannels: number;
  /** Width and height must be multiples of this: the VAE factor times the UNet's total downsampling. */
  readonly sizeMultiple: number;
}

export class SdComponents {
  private readonly graphs = new Map<GraphName, Promise<OnnxModel>>();
  private readonly graphBytes = new Map<GraphName, number>();
  private factsPromise: Promise<ComponentFacts> | undefined;

  private constructor(
    readonly checkpoint: LocatedCheckpoint,
    readonly modelIndex: ModelIndex,
    readonly tokenizer: ClipTokenizer,
    readonly schedulerConfig: Readonly<Record<string, unknown>>,
    private readonly options: Pick<Config, "executionProvider" | "threads">,
  ) {}

  /** Reads tokenizer and scheduler config now; graphs load on first use. */
  static async open(
    checkpoint: LocatedCheckpoint,
    modelIndex: ModelIndex,
    options: Pick<Config, "executionProvider" | "threads">,
  ): Promise<SdComponents> {
    const id = checkpoint.id;
    let tokenizer: ClipTokenizer;
    try {
      // The tokenizer reads its folder itself: vet every file first (no link out of the checkpoint, no giant).
      await vetComponentFiles(checkpoint, "tokenizer", MAX_TOKENIZER_FILE_BYTES);
      tokenizer = await loadClipTokenizer(path.join(checkpoint.dir, "tokenizer"));
    } catch (error) {
      if (error instanceof ModelLoadError) throw error;
      throw new ModelLoadError(id, "tokenizer", scrubPaths(String((error as Error).message), checkpoint));
    }
    const schedulerConfig = await readJson(checkpoint, "scheduler/scheduler_config.json");
    if (!schedulerConfig)
      throw new ModelLoadError(id, "scheduler", "scheduler/scheduler_config.json is missing");
    return new SdComponents(checkpoint, modelIndex, tokenizer, schedulerConfig, options);
  }

  get id(): string {
    return this.checkpoint.id;
  }

  /** The graph `name`, loaded once and shared by every task and request. */
  graph(name: GraphName): Promise<OnnxModel> {
    let promise = this.graphs.get(name);
    if (!promise) {
      promise = this.loadGraph(name);
      this.graphs.set(name, promise);
      // Forget a failed load so that the next request can try again (e.g. after the file was fixed).
      promise.catch(() => {
        if (this.graphs.get(name) === promise) this.graphs.delete(name);
      });
    }
    return promise;
  }

  /** Names of the graphs loaded (or loading) so far. */
  loadedGraphs(): GraphName[] {
    return [...this.graphs.keys()];
  }

  /** Weight bytes held by the loaded graphs (graph files plus external data, as on disk). */
  weightBytes(): number {
    let total = 0;
    for (const bytes of this.graphBytes.values()) total += bytes;
    return total;
  }

  /**
   * Whether the checkpoint ships diffusers' ONNX safety checker: `safety_checker/model.onnx` and the feature
   * extractor's `feature_extractor/preprocessor_config.json` (the graph itself loads on first use).
   */
  async hasSafetyChecker(): Promise<boolean> {
    for (const file of ["safety_checker/model.onnx", "feature_extractor/preprocessor_config.json"]) {
      try {
        await checkpointFile(this.checkpoint, file);
      } catch (error) {
        if (error instanceof ModelLoadError && error.message.endsWith("is missing")) return false;
        throw error;
      }
    }
    return true;
  }

  /** The feature extractor's preprocessor_config.json (CLIPImageProcessor), or null when absent. */
  featureExtractorConfig(): Promise<Record<string, unknown> | null> {
    return readJson(this.checkpoint, "feature_extractor/preprocessor_config.json");
  }

  facts(): Promise<ComponentFacts> {
    this.factsPromise ??= this.readFacts();
    this.factsPromise.catch(() => (this.factsPromise = undefined));
    return this.factsPromise;
  }

  /** Releases every loaded graph. */
  async dispose(): Promise<void> {
    const loads = [...this.graphs.values()];
    this.graphs.clear();
    this.graphBytes.clear();
    await Promise.all(loads.map(async (p) => (await p.catch(() => undefined))?.release()));
  }

  private async loadGraph(name: GraphName): Promise<OnnxModel> {
    // Every file of the component folder (graph, external data) must stay inside the checkpoint's root.
    await checkpointFile(this.checkpoint, `${name}/model.onnx`);
    const bytes = await vetComponentFiles(this.checkpoint, name, Number.POSITIVE_INFINITY);
    try {
      // The unresolved path: in a Hugging Face cache snapshot each file links to its own blob, and onnxruntime
      // must find external data (weights.pb, model.onnx_data) next to model.onnx, not next to the blob.
      const model = await OnnxModel.load(path.join(this.checkpoint.dir, name, "model.onnx"), {
        provider: this.options.executionProvider,
        threads: this.options.threads,
        // Only the UNet runs in the denoising loop; the others run once per request.
        hotLoop: name === "unet",
      });
      this.graphBytes.set(name, bytes);
      return model;
    } catch (error) {
      const message = scrubPaths(String((error as Error).message ?? error), this.checkpoint);
      throw new ModelLoadError(this.id, name, message.split("\n")[0] ?? "load failed");
    }
  }

  private async readFacts(): Promise<ComponentFacts> {
    const vae =
      (await readJson(this.checkpoint, "vae_decoder/config.json")) ??
      (await readJson(this.checkpoint, "vae/config.json"));
    const unet = await readJson(this.checkpoint, "unet/config.json");
    const blocks = vae?.block_out_channels;
    const vaeScaleFactor = Array.isArray(blocks) ? 2 ** (blocks.length - 1) : await this.inferVaeFactor();
    const scalingFactor = typeof vae?.scaling_factor === "number" ? vae.scaling_factor : 0.18215;
    let unetInChannels = typeof unet?.in_channels === "number" ? unet.in_channels : undefined;
    if (unetInChannels === undefined) {
      const channels = (await this.graph("unet")).input("sample")?.shape[1];
      unetInChannels =
        typeof channels === "number" ? channels : this.modelIndex.className.includes("Inpaint") ? 9 : 4;
    }
    // Without a UNet config, default to 512 px as diffusers' ONNX pipelines do.
    const sampleSize =
      typeof unet?.sample_size === "number" ? unet.sample_size : Math.round(512 / vaeScaleFactor);
    // Each UNet down block but the last halves the latent; without a config assume SD's three halvings.
    const unetBlocks = unet?.block_out_channels;
    const downsampling = Array.isArray(unetBlocks) ? 2 ** (unetBlocks.length - 1) : 8;
    const sizeMultiple = vaeScaleFactor * downsampling;
    return { vaeScaleFactor, scalingFactor, sampleSize, unetInChannels, sizeMultiple };
  }

  /** Runs the decoder on a 1×4×8×8 latent and compares sizes (layouts without a VAE config). */
  private async inferVaeFactor(): Promise<number> {
    const decoder = await this.graph("vae_decoder");
    const inputName = decoder.inputs[0]?.name ?? "latent_sample";
    const out = await decoder.run({
      [inputName]: { type: "float32", data: new Float32Array(4 * 8 * 8), dims: [1, 4, 8, 8] },
    });
    const sample = asFloat(Object.values(out)[0], "vae_decoder output");
    return (sample.dims[3] ?? 8) / 8;
  }
}

async function readJson(
  checkpoint: LocatedCheckpoint,
  relative: string,
): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(await checkpointFile(checkpoint, relative), "utf8");
  } catch {
    return null;
  }
  try {
    const value = parsePythonJson(text) as Record<string, unknown> | null;
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    throw new ModelLoadError(
      checkpoint.id,
      relative.split("/")[0] ?? relative,
      `${relative} is not valid JSON`,
    );
  }
}

/** Largest tokenizer file read (vocab.json of large vocabularies is a few MB). */
const MAX_TOKENIZER_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Checks every file of a component folder: each must resolve inside the checkpoint's root and be at most
 * `maxBytes`. Returns the bytes of its weight files (everything but JSON configs), sizes followed through links.
 */
async function vetComponentFiles(
  checkpoint: LocatedCheckpoint,
  component: string,
  maxBytes: number,
): Promise<number> {
  let total = 0;
  let entries: string[];
  try {
    entries = await readdir(path.join(checkpoint.dir, component));
  } catch {
    throw new ModelLoadError(checkpoint.id, component, `the folder ${component}/ is missing`);
  }
  for (const name of entries) {
    const info = await stat(await checkpointFile(checkpoint, `${component}/${name}`));
    if (!info.isFile()) continue;
    if (info.size > maxBytes) {
      throw new ModelLoadError(
        checkpoint.id,
        component,
        `${component}/${name} is larger than ${maxBytes} bytes`,
      );
    }
    if (!name.endsWith(".json")) total += info.size;
  }
  return total;
}

/** Removes server paths from a library's error message: the checkpoint's folders, then any absolute path. */
export function scrubPaths(message: string, checkpoint: LocatedCheckpoint): string {
  let out = message;
  for (const dir of [checkpoint.dir, checkpoint.root].filter((d): d is string => Boolean(d))) {
    out = out.replaceAll(`${dir}/`, "").replaceAll(dir, ".");
  }
  // Whatever absolute path is left (a realpath, a blob): keep its last component only.
  return out.replace(/(?:\/[^\s/"'`:]+){2,}/g, (p) => `…/${path.basename(p)}`);
}
