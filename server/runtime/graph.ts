/**
 * ONNX graphs as the pipelines use them: loaded and run on the inference thread (./inference-thread.ts), so the
 * main thread only copies tensors in and out (hundreds of kilobytes a step) and stays free for HTTP, SSE events
 * and the control plane while a generation runs. One thread owns every session: weights are held once.
 *
 * @example
 * const { model: unet } = await openGraph("models/tiny-sd/unet/model.onnx", { provider: "cpu", threads: 2 });
 * const { out_sample } = await unet.run({ sample, timestep, encoder_hidden_states }, timer);
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { ExecutionProvider } from "../config.ts";
import type { Reply, Request } from "./inference-thread.ts";
import type { BuiltGraphSpec } from "./load-built-graph.ts";
import type { GraphLoadOptions, GraphLoadReport } from "./load-graph.ts";
import type { RunTimer, ValueSpec } from "./onnx.ts";
import type { HostTensor } from "./tensor.ts";

/** A loaded graph: its input/output specs, `run` on host tensors, `release`. */
export interface Graph {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  /** The provider in use after any fallback. */
  readonly provider: ExecutionProvider;
  /** Feeds every run gets unless it is given others (`withBoundFeeds`). */
  readonly bound?: BoundFeeds;
  input(name: string): ValueSpec | undefined;
  run(
    feeds: Readonly<Record<string, HostTensor>>,
    timer?: RunTimer,
    outputNames?: readonly string[],
    bound?: BoundFeeds,
  ): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/** Feeds kept on the inference thread for many runs (`bindFeeds`): added to every run given them. */
export interface BoundFeeds {
  readonly handle: number;
  /** Bytes of the tensors held. */
  readonly bytes: number;
  release(): Promise<void>;
}

/**
 * Sends `feeds` to the inference thread once (their buffers are transferred, not copied: the caller must not use
 * them again) and keeps them there until `release`; with `base`, the bound set is `base`'s feeds with these added
 * (and overriding), `base` itself not copied.
 */
export async function bindFeeds(
  feeds: Readonly<Record<string, HostTensor>>,
  base?: BoundFeeds,
): Promise<BoundFeeds> {
  const thread = InferenceThread.get();
  const transfer = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
  // Counted before the transfer detaches the buffers.
  const bytes = Object.values(feeds).reduce((n, t) => n + t.data.byteLength, 0);
  const request = base ? { op: "bind" as const, feeds, base: base.handle } : { op: "bind" as const, feeds };
  const handle = (await thread.call(request, transfer)) as number;
  let released = false;
  return {
    handle,
    bytes,
    async release() {
      if (released) return;
      released = true;
      await thread.call({ op: "unbind", bound: handle });
    },
  };
}

/**
 * `graph` with `bound` added to every run that is not given other bound feeds; `release` releases `bound` too when
 * `owned`.
 */
export function withBoundFeeds(graph: Graph, bound: BoundFeeds, owned = false): Graph {
  return {
    inputs: graph.inputs,
    outputs: graph.outputs,
    provider: graph.provider,
    bound,
    input: (name) => graph.input(name),
    run: (feeds, timer, outputNames, other) => graph.run(feeds, timer, outputNames, other ?? bound),
    release: async () => {
      if (owned) await bound.release();
      await graph.release();
    },
  };
}

/**
 * Loads `file` on the inference thread, as ./load-graph.ts does (the optimized-graph cache where configured;
 * external data is found next to the file by onnxruntime).
 */
export function openGraph(
  file: string,
  options: GraphLoadOptions,
): Promise<{ model: Graph; report: GraphLoadReport }> {
  return open({ op: "load", file, options });
}

/**
 * Builds the graph of a diffusers component folder from its config and safetensors weights on the inference
 * thread and loads it (./load-built-graph.ts: through the optimized-graph cache where configured).
 */
export function openBuiltGraph(
  spec: BuiltGraphSpec,
  options: GraphLoadOptions,
): Promise<{ model: Graph; report: GraphLoadReport }> {
  return open({ op: "loadBuilt", spec, options });
}

/** What building and loading `spec` would report, without doing it; undefined when not cached yet. */
export async function peekBuiltGraph(
  spec: BuiltGraphSpec,
  options: GraphLoadOptions,
): Promise<GraphLoadReport | undefined> {
  const report = (await InferenceThread.get().call({
    op: "peekBuilt",
    spec,
    options,
  })) as GraphLoadReport | null;
  return report ?? undefined;
}

async function open(
  request: Call & { op: "load" | "loadBuilt" },
): Promise<{ model: Graph; report: GraphLoadReport }> {
  const thread = InferenceThread.get();
  const loaded = (await thread.call(request)) as {
    model: number;
    inputs: ValueSpec[];
    outputs: ValueSpec[];
    provider: ExecutionProvider;
    report: GraphLoadReport;
  };
  let released = false;
  const model: Graph = {
    inputs: loaded.inputs,
    outputs: loaded.outputs,
    provider: loaded.provider,
    input: (name) => loaded.inputs.find((spec) => spec.name === name),
    async run(feeds, timer, outputNames, bound) {
      const started = performance.now();
      const { outputs, runMs } = (await thread.call({
        op: "run",
        model: loaded.model,
        feeds,
        outputNames,
        ...(bound ? { bound: bound.handle } : {}),
      })) as {
        outputs: Record<string, HostTensor>;
        runMs: number;
      };
      if (timer) {
        // Time inside session.run, plus the hand-over both ways (which is what the caller waited for).
        timer.runMs += Math.max(runMs, performance.now() - started);
        timer.runs += 1;
      }
      return outputs;
    },
    async release() {
      if (released) return;
      released = true;
      await thread.call({ op: "release", model: loaded.model });
    },
  };
  return { model, report: loaded.report };
}

/**
 * What loading `file` would report (./load-graph.ts `peekGraphLoad`), without loading it; undefined when it has
 * not been loaded under these options before.
 */
export async function peekGraph(
  file: string,
  options: GraphLoadOptions,
): Promise<GraphLoadReport | undefined> {
  const report = (await InferenceThread.get().call({ op: "peek", file, options })) as GraphLoadReport | null;
  return report ?? undefined;
}

type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** The one worker of the process; kept alive only while calls are pending. */
class InferenceThread {
  private static instance: InferenceThread | undefined;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;

  static get(): InferenceThread {
    InferenceThread.instance ??= new InferenceThread();
    return InferenceThread.instance;
  }

  private constructor() {
    // Sources run under a TypeScript loader (tsx, vitest): the worker registers tsx first; built JavaScript
    // starts the compiled entry directly.
    const typescript = import.meta.url.endsWith(".ts");
    const entry = new URL(`./inference-thread.${typescript ? "ts" : "js"}`, import.meta.url);
    const tsx = pathToFileURL(
      createRequire(import.meta.url)
        .resolve("tsx/esm/api")
        .replace(/\.cjs$/, ".mjs"),
    ).href;
    const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
    this.worker = typescript
      ? new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`))
      : new Worker(entry);
    this.worker.unref();
    this.worker.on("message", (reply: Reply) => {
      const call = this.pending.get(reply.id);
      if (!call) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) call.resolve(reply.value);
      else call.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    });
    this.worker.on("error", (error) => this.failAll(error));
    this.worker.on("exit", (code) => {
      this.failAll(new Error(`the inference thread exited (code ${code})`));
      if (InferenceThread.instance === this) InferenceThread.instance = undefined;
    });
  }

  call(request: Call, transfer: readonly ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...request, id }, [...transfer]);
    });
  }

  private failAll(error: Error): void {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }
}
