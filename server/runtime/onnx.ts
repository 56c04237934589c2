/**
 * The only door to onnxruntime-node. Loads a graph into an `OnnxModel` that knows its inputs and outputs (names,
 * dtypes, ranks, read from the session's metadata), runs it on plain typed arrays, times every `session.run`,
 * and releases it. Execution providers: CPU by default with `intraOpNumThreads` = cores (left unset, onnxruntime
 * runs like one thread here); `cuda`/`webgpu` are tried first when configured, and a provider that cannot load
 * is logged once and replaced by CPU.
 */
import * as ort from "onnxruntime-node";
import type { ExecutionProvider } from "../config.ts";
import type { HostTensor, TensorType } from "./tensor.ts";

export interface ValueSpec {
  readonly name: string;
  readonly type: TensorType | "unknown";
  /** Static sizes as numbers, symbolic ones as their names; empty for scalars. */
  readonly shape: readonly (number | string)[];
}

export interface SessionOptions {
  readonly provider: ExecutionProvider;
  readonly threads: number;
  /** onnxruntime's graph optimizations; `disabled` for graphs it optimized already (the cache). Default `all`. */
  readonly optimization?: "all" | "disabled";
  /**
   * Where onnxruntime saves the graph it optimized, with every initializer in `dataFile` beside it (the cache
   * builds its entries this way).
   */
  readonly saveOptimized?: { readonly file: string; readonly dataFile: string };
  /** Folder of the external data of a graph given as bytes (relative paths in the graph resolve there). */
  readonly externalDataFolder?: string;
  /**
   * Whether the graph runs many times per request (the UNet, once per step): such graphs keep onnxruntime's
   * memory pattern (one planned block per run of a shape); graphs that run once per request (text encoder, VAE)
   * allocate tensor by tensor. Default true. No graph keeps onnxruntime's CPU memory arena: it holds a request's
   * peak activations for the session's life (tiny-sd at 512² kept 343 MB after the request, 59 MB without), and
   * at SD 1.5's structure the UNet runs no slower without it (mid-sd 512², two steps: 8.4–10.7 s without,
   * 10.0–11.5 s with; `npm run bench -- memory-peak` prints what stays resident).
   */
  readonly hotLoop?: boolean;
  /** Log only fatal errors (a probe run whose failure the caller handles, such as the fusion check). */
  readonly quiet?: boolean;
}

/** Accumulates time spent inside `session.run` (for the benchmark's overhead share). */
export class RunTimer {
  runMs = 0;
  runs = 0;
}

/** Providers that failed to load once: later sessions go straight to CPU (and onnxruntime logs nothing again). */
const unavailableProviders = new Set<string>();

/** onnxruntime's version (part of the optimized-graph cache's key). */
export const runtimeVersion: string = ort.env.versions.common;

/** The provider a session for `provider` gets now: CPU once the provider failed to load. */
export function effectiveProvider(provider: ExecutionProvider): ExecutionProvider {
  return unavailableProviders.has(provider) ? "cpu" : provider;
}

/** Host tensors as onnxruntime tensors, made once for feeds that many runs share. */
export type PreparedFeeds = Readonly<Record<string, ort.Tensor>>;

export function prepareFeeds(feeds: Readonly<Record<string, HostTensor>>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    out[name] = new ort.Tensor(tensor.type, tensor.data, tensor.dims as number[]);
  }
  return out;
}

/** A loaded ONNX graph. `run` takes and returns host tensors; `release` frees the native session. */
export class OnnxModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputs: readonly ValueSpec[],
    readonly outputs: readonly ValueSpec[],
    /** The provider actually in use after any fallback. */
    readonly provider: ExecutionProvider,
  ) {}

  /**
   * Loads a graph from `model`: a file (external data such as weights.pb / model.onnx_data is found next to it
   * by onnxruntime) or the bytes of one (see `externalDataFolder`).
   */
  static async load(model: string | Uint8Array, options: SessionOptions): Promise<OnnxModel> {
    const config: Record<string, string> = {};
    if (options.saveOptimized) {
      config.optimized_model_external_initializers_file_name = options.saveOptimized.dataFile;
      config.optimized_model_external_initializers_min_size_in_bytes = "1024";
    }
    if (options.externalDataFolder)
      config.model_external_initializers_file_folder_path = options.externalDataFolder;
    const base: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: options.optimization ?? "all",
      logSeverityLevel: options.quiet ? 4 : 3,
      enableCpuMemArena: false,
      enableMemPattern: options.hotLoop ?? true,
      ...(options.saveOptimized ? { optimizedModelFilePath: options.saveOptimized.file } : {}),
      extra: { session: config },
    };
    const create = (providers: string[]) =>
      typeof model === "string"
        ? ort.InferenceSession.create(model, { ...base, executionProviders: providers })
        : ort.InferenceSession.create(model, { ...base, executionProviders: providers });
    let provider = unavailableProviders.has(options.provider) ? "cpu" : options.provider;
    let session: ort.InferenceSession;
    if (provider === "cpu") {
      session = await create(["cpu"]);
    } else {
      try {
        session = await create([provider]);
      } catch (error) {
        // A graph that does not load on CPU either is broken (its error is the one to report); only when CPU
        // works was the provider the problem, and then it is skipped from now on.
        session = await create(["cpu"]);
        unavailableProviders.add(provider);
        console.warn(
          `autopipe: execution provider '${provider}' could not load (${firstLine(error)}); using CPU`,
        );
        provider = "cpu";
      }
    }
    return new OnnxModel(
      session,
      session.inputMetadata.map(toSpec),
      session.outputMetadata.map(toSpec),
      provider,
    );
  }

  input(name: string): ValueSpec | undefined {
    return this.inputs.find((spec) => spec.name === name);
  }

  /**
   * Runs the graph. Only the named outputs are fetched when `outputNames` is given; `prepared` (from
   * `prepareFeeds`, e.g. a request's LoRA factors shared by every step) are fed too, unless `feeds` names them.
   */
  async run(
    feeds: Readonly<Record<string, HostTensor>>,
    timer?: RunTimer,
    outputNames?: readonly string[],
    prepared?: PreparedFeeds,
  ): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = { ...prepared };
    Object.assign(ortFeeds, prepareFeeds(feeds));
    const started = performance.now();
    const results = outputNames
      ? await this.session.run(ortFeeds, outputNames as string[])
      : await this.session.run(ortFeeds);
    if (timer) {
      timer.runMs += performance.now() - started;
      timer.runs += 1;
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      out[name] = {
        type: value.type as TensorType,
        data: value.data as HostTensor["data"],
        dims: [...value.dims],
      };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function toSpec(meta: ort.InferenceSession.ValueMetadata): ValueSpec {
  if (!meta.isTensor) return { name: meta.name, type: "unknown", shape: [] };
  const type = meta.type as string;
  const known: readonly string[] = ["float32", "float16", "int32", "int64", "bool", "uint8"];
  return {
    name: meta.name,
    type: known.includes(type) ? (type as TensorType) : "unknown",
    shape: meta.shape.map((d) => (typeof d === "number" && d >= 0 ? d : String(d))),
  };
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0] ?? "unknown error";
}
