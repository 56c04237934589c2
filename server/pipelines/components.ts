import path from "node:path";
import type { Task } from "../auto-pipeline/resolve.ts";
import { type GraphSource, graphSource } from "../checkpoints/component-weights.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { ModelIndex } from "../checkpoints/model-index.ts";
import { checkpointFile } from "../checkpoints/paths.ts";
import { ldmUnetKeyMap } from "../checkpoints/single-file/key-map-ldm.ts";
import type { Config } from "../config.ts";
import { AutopipeError, ModelLoadError } from "../errors.ts";
import { zeroLoraFeeds } from "../loras/lora-feeds.ts";
import type { CheckpointTargets, ComponentTargets } from "../loras/lora-match.ts";
import { kohyaNames, type LoraComponent } from "../loras/lora-names.ts";
import { componentLoraLayers, readConfig } from "../models/build-component.ts";
import { modelModule } from "../models/registry.ts";
import {
  type BoundFeeds,
  bindFeeds,
  type Graph,
  openBuiltGraph,
  openGraph,
  peekBuiltGraph,
  peekGraph,
  withBoundFeeds,
} from "../runtime/graph.ts";
import type { BuiltGraphSpec } from "../runtime/load-built-graph.ts";
import { asFloat } from "../runtime/tensor.ts";
import type { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";
import {
  loadTokenizer,
  readJson,
  scrubPaths,
  vetComponentFiles,
  weightFileBytes,
} from "./component-files.ts";

export type GraphName =
  | "text_encoder"
  | "text_encoder_2"
  | "unet"
  | "vae_decoder"
  | "vae_encoder"
  | "safety_checker";

/** A tokenizer and the text encoder it feeds. */
export interface TextEncoderSlot {
  readonly tokenizer: "tokenizer" | "tokenizer_2";
  readonly graph: "text_encoder" | "text_encoder_2";
}

const TEXT_ENCODER_SLOTS: readonly TextEncoderSlot[] = [
  { tokenizer: "tokenizer", graph: "text_encoder" },
  { tokenizer: "tokenizer_2", graph: "text_encoder_2" },
];

/** Whether the checkpoint is Stable Diffusion XL (two text encoders, pooled embeddings and time ids). */
export function isXl(modelIndex: ModelIndex): boolean {
  return modelIndex.className.startsWith("StableDiffusionXL");
}

/**
 * The tokenizer + text encoder pairs a checkpoint conditions on, in diffusers' order: those its model_index.json
 * lists with a class (an SDXL refiner has `text_encoder: [null, null]`). Checkpoints that list neither get the
 * first pair, as before model_index.json components were read.
 */
export function textEncoderSlots(modelIndex: ModelIndex): readonly TextEncoderSlot[] {
  const listed = (name: string) => modelIndex.components.some((c) => c.name === name && c.className !== null);
  const slots = TEXT_ENCODER_SLOTS.filter((slot) => listed(slot.graph));
  return slots.length > 0 ? slots : TEXT_ENCODER_SLOTS.slice(0, 1);
}

/** The ONNX graphs a task needs on this checkpoint: its text encoders, the UNet, the VAE decoder (and encoder). */
export function taskGraphs(task: Task, modelIndex: ModelIndex): GraphName[] {
  const encoders = textEncoderSlots(modelIndex).map((slot) => slot.graph);
  return [...encoders, "unet", "vae_decoder", ...(task === "TEXT_TO_IMAGE" ? [] : ["vae_encoder" as const])];
}

/** SDXL's conditioning flags (diffusers' pipeline config in model_index.json) and what its UNet expects. */
export interface XlFacts {
  /** `force_zeros_for_empty_prompt` (default true): no negative prompt → zero negative embeddings. */
  readonly forceZerosForEmptyPrompt: boolean;
  /** `requires_aesthetics_score` (default false; refiners): img2img/inpaint time ids end in an aesthetic score. */
  readonly requiresAestheticsScore: boolean;
}

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
  /** SDXL's conditioning, null for SD 1.x / 2.x. */
  readonly xl: XlFacts | null;
}

export type ComponentOptions = Pick<Config, "executionProvider" | "threads" | "graphCacheDir">;

export class SdComponents {
  private readonly graphs = new Map<GraphName, Promise<Graph>>();
  private readonly graphBytes = new Map<GraphName, number>();
  /** Growth of the process's resident set while each graph loaded. */
  private readonly residentGrowth = new Map<GraphName, number>();
  /** How many attention blocks each loaded graph runs fused (see runtime/load-graph.ts). */
  private readonly fusedAttention = new Map<GraphName, number>();
  private readonly sources = new Map<GraphName, Promise<GraphSource>>();
  private factsPromise: Promise<ComponentFacts> | undefined;
  private loraTargetsPromise: Promise<CheckpointTargets> | undefined;

  private constructor(
    readonly checkpoint: LocatedCheckpoint,
    readonly modelIndex: ModelIndex,
    /** The text encoders with their tokenizers, in diffusers' order (SDXL: text_encoder, text_encoder_2). */
    readonly textEncoders: readonly (TextEncoderSlot & { readonly tokenizerModel: ClipTokenizer })[],
    readonly schedulerConfig: Readonly<Record<string, unknown>>,
    private readonly options: ComponentOptions,
  ) {}

  /** Reads tokenizers and scheduler config now; graphs load on first use. */
  static async open(
    checkpoint: LocatedCheckpoint,
    modelIndex: ModelIndex,
    options: ComponentOptions,
  ): Promise<SdComponents> {
    const id = checkpoint.id;
    const textEncoders = await Promise.all(
      textEncoderSlots(modelIndex).map(async (slot) => ({
        ...slot,
        tokenizerModel: await loadTokenizer(checkpoint, slot.tokenizer),
      })),
    );
    const schedulerConfig = await readJson(checkpoint, "scheduler/scheduler_config.json");
    if (!schedulerConfig)
      throw new ModelLoadError(id, "scheduler", "scheduler/scheduler_config.json is missing");
    return new SdComponents(checkpoint, modelIndex, textEncoders, schedulerConfig, options);
  }

  get id(): string {
    return this.checkpoint.id;
  }

  /** The first tokenizer (SD's only one). */
  get tokenizer(): ClipTokenizer {
    return this.textEncoders[0]!.tokenizerModel;
  }

  /** The ONNX graphs `task` needs on this checkpoint. */
  taskGraphs(task: Task): GraphName[] {
    return taskGraphs(task, this.modelIndex);
  }

  /** The graph `name`, loaded once and shared by every task and request. */
  graph(name: GraphName): Promise<Graph> {
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

  /**
   * Graph `name` as a run uses it: with the run's LoRA factors (bound on the inference thread) added to every
   * call when the run has adapters for it.
   */
  async graphFor(name: GraphName, run: { readonly loras?: ReadonlyMap<string, BoundFeeds> }): Promise<Graph> {
    const graph = await this.graph(name);
    const bound = run.loras?.get(name);
    return bound ? withBoundFeeds(graph, bound) : graph;
  }

  /**
   * The layers adapters can patch, per text encoder and UNet of the checkpoint (see loras/lora-match.ts): the
   * builder run over the weight files' headers, once. Components whose graph is an ONNX export map to null.
   */
  loraTargets(): Promise<CheckpointTargets> {
    this.loraTargetsPromise ??= this.readLoraTargets();
    this.loraTargetsPromise.catch(() => (this.loraTargetsPromise = undefined));
    return this.loraTargetsPromise;
  }

  private async readLoraTargets(): Promise<CheckpointTargets> {
    const out = new Map<LoraComponent, ComponentTargets | null>();
    const graphs: LoraComponent[] = [...this.textEncoders.map((slot) => slot.graph), "unet"];
    for (const name of graphs) {
      const source = await this.source(name);
      if (source.kind !== "built") {
        out.set(name, null);
        continue;
      }
      const files = {
        component: source.folder,
        configFile: source.configFile,
        weightFiles: source.weightFiles,
        ...(source.singleFile ? { singleFile: source.singleFile } : {}),
      };
      const layers = await componentLoraLayers(files, modelModule(name).build);
      // The UNet's original (LDM / SGM) names too, where the key map can be drawn for its config.
      const original =
        name === "unet"
          ? await readConfig(name, source.configFile)
              .then((config) => ldmUnetKeyMap(config))
              .catch(() => undefined)
          : undefined;
      const byKohya = new Map<string, string>();
      for (const module of layers.keys()) {
        for (const kohya of kohyaNames(module, original)) byKohya.set(kohya, module);
      }
      out.set(name, { layers, byKohya });
    }
    return out;
  }

  /** Names of the graphs loaded (or loading) so far. */
  loadedGraphs(): GraphName[] {
    return [...this.graphs.keys()];
  }

  /** Weight bytes held by the loaded graphs (ONNX: graph files plus external data, as on disk; built: as fp32). */
  weightBytes(): number {
    let total = 0;
    for (const bytes of this.graphBytes.values()) total += bytes;
    return total;
  }

  /**
   * How much the process's resident set grew while the loaded graphs loaded (weights, prepacked copies, session
   * state). Approximate: another checkpoint loading at the same time is counted too.
   */
  residentBytesAfterLoad(): number {
    let total = 0;
    for (const bytes of this.residentGrowth.values()) total += bytes;
    return total;
  }

  /**
   * Whether `name` runs its attention fused (one flash-attention kernel, memory linear in the tokens, instead of
   * the exported score matrices, quadratic): what its load found once loaded, else what the optimized-graph cache
   * recorded, else what a load is expected to find — fusion is tried on every graph loaded on CPU with the cache
   * on (its verification can still keep the original; the service re-plans after the load).
   */
  async attentionFused(name: GraphName): Promise<boolean> {
    const loaded = this.fusedAttention.get(name);
    if (loaded !== undefined) return loaded > 0;
    const source = await this.source(name);
    const report =
      source.kind === "built"
        ? await peekBuiltGraph(this.builtSpec(name, source), this.graphOptions(name))
        : await peekGraph(path.join(this.checkpoint.dir, name, "model.onnx"), this.graphOptions(name));
    if (report) return report.fusedAttention > 0;
    return this.options.graphCacheDir !== undefined && this.options.executionProvider === "cpu";
  }

  /**
   * Whether the checkpoint ships diffusers' ONNX safety checker: `safety_checker/model.onnx` and the feature
   * extractor's `feature_extractor/preprocessor_config.json` (the graph itself loads on first use).
   */
  async hasSafetyChecker(): Promise<boolean> {
    if ((await this.source("safety_checker")).kind === "missing") return false;
    for (const file of ["feature_extractor/preprocessor_config.json"]) {
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
    this.residentGrowth.clear();
    this.fusedAttention.clear();
    await Promise.all(loads.map(async (p) => (await p.catch(() => undefined))?.release()));
  }

  /** Where graph `name` comes from: an ONNX export or a diffusers component folder (under the variant). */
  private source(name: GraphName): Promise<GraphSource> {
    let promise = this.sources.get(name);
    if (!promise) {
      promise = graphSource(this.checkpoint, name, this.checkpoint.variant ?? null);
      this.sources.set(name, promise);
      promise.catch(() => this.sources.delete(name));
    }
    return promise;
  }

  private builtSpec(name: GraphName, source: GraphSource & { kind: "built" }): BuiltGraphSpec {
    const variant = this.checkpoint.variant;
    return {
      graph: name,
      folder: source.folder,
      tag: source.singleFile ? `${name}.single-file` : variant ? `${name}.${variant}` : name,
      configFile: source.configFile,
      weightFiles: source.weightFiles,
      ...(source.singleFile ? { singleFile: source.singleFile } : {}),
    };
  }

  private async loadGraph(name: GraphName): Promise<Graph> {
    const source = await this.source(name);
    if (source.kind === "missing") throw new ModelLoadError(this.id, name, source.reason);
    // Every file of the component folder (graph, external data, weights) must stay inside the checkpoint's root.
    const folder = source.kind === "built" ? source.folder : name;
    if (source.kind === "onnx") await checkpointFile(this.checkpoint, source.relative);
    const bytes =
      source.kind === "built"
        ? (source.weightBytes ??
          (await weightFileBytes(source.weightFiles).catch((error: unknown) => {
            throw error instanceof AutopipeError ? new ModelLoadError(this.id, name, error.message) : error;
          })))
        : await vetComponentFiles(this.checkpoint, folder, Number.POSITIVE_INFINITY);
    if (source.kind === "built") await vetComponentFiles(this.checkpoint, folder, Number.POSITIVE_INFINITY);
    try {
      // ONNX: the unresolved path — in a Hugging Face cache snapshot each file links to its own blob, and
      // onnxruntime must find external data (weights.pb, model.onnx_data) next to model.onnx, not next to the blob.
      const residentBefore = process.memoryUsage.rss();
      const { model, report } =
        source.kind === "built"
          ? await openBuiltGraph(this.builtSpec(name, source), this.graphOptions(name))
          : await openGraph(path.join(this.checkpoint.dir, name, "model.onnx"), this.graphOptions(name));
      this.residentGrowth.set(name, Math.max(0, process.memoryUsage.rss() - residentBefore));
      this.fusedAttention.set(name, report.fusedAttention);
      this.graphBytes.set(name, bytes);
      // A graph with LoRA side branches runs with rank-1 zero factors unless a request binds its adapters.
      const zeros = zeroLoraFeeds(model.inputs);
      if (Object.keys(zeros).length === 0) return model;
      return withBoundFeeds(model, await bindFeeds(zeros), true);
    } catch (error) {
      const message = scrubPaths(String((error as Error).message ?? error), this.checkpoint);
      throw new ModelLoadError(this.id, name, message.split("\n")[0] ?? "load failed");
    }
  }

  private graphOptions(name: GraphName) {
    return {
      provider: this.options.executionProvider,
      threads: this.options.threads,
      // Only the UNet runs in the denoising loop; the others run once per request.
      hotLoop: name === "unet",
      cacheDir: this.options.graphCacheDir,
    };
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
    return { vaeScaleFactor, scalingFactor, sampleSize, unetInChannels, sizeMultiple, xl: this.xlFacts() };
  }

  private xlFacts(): XlFacts | null {
    if (!isXl(this.modelIndex)) return null;
    const flag = (key: string, fallback: boolean) => {
      const value = this.modelIndex.raw[key];
      return typeof value === "boolean" ? value : fallback;
    };
    return {
      forceZerosForEmptyPrompt: flag("force_zeros_for_empty_prompt", true),
      requiresAestheticsScore: flag("requires_aesthetics_score", false),
    };
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
