/**
 * The inference thread: a worker that owns every onnxruntime session of the process. onnxruntime-node loads
 * graphs and runs them synchronously on the calling thread, so on the main thread each UNet step (seconds at real
 * size) would stall every HTTP request, SSE event and bare query; here they stall nobody. Messages: `load` a graph
 * (through ./load-graph.ts; answers its input/output specs), `run` it on host tensors (answers outputs and the time inside session.run),
 * `release` it, `bind` feeds that many runs share (a request's LoRA factors: sent once, kept until `unbind`), `peek` at what loading one would report (./load-graph.ts `peekGraphLoad`); `loadBuilt` / `peekBuilt` do the same for a graph built from a diffusers component folder (./load-built-graph.ts). Errors travel back as { name, message }.
 */
import { parentPort } from "node:worker_threads";
import { type BuiltGraphSpec, loadBuiltGraph, peekBuiltGraph } from "./load-built-graph.ts";
import { type GraphLoadOptions, loadGraph, peekGraphLoad } from "./load-graph.ts";
import { type OnnxModel, type PreparedFeeds, prepareFeeds, RunTimer } from "./onnx.ts";
import type { HostTensor } from "./tensor.ts";

export type Request =
  | { readonly id: number; readonly op: "load"; readonly file: string; readonly options: GraphLoadOptions }
  | {
      readonly id: number;
      readonly op: "loadBuilt";
      readonly spec: BuiltGraphSpec;
      readonly options: GraphLoadOptions;
    }
  | {
      readonly id: number;
      readonly op: "peekBuilt";
      readonly spec: BuiltGraphSpec;
      readonly options: GraphLoadOptions;
    }
  | {
      readonly id: number;
      readonly op: "run";
      readonly model: number;
      readonly feeds: Readonly<Record<string, HostTensor>>;
      readonly outputNames?: readonly string[];
      /** Feeds bound earlier (`bind`), added to `feeds`. */
      readonly bound?: number;
    }
  | {
      readonly id: number;
      readonly op: "bind";
      readonly feeds: Readonly<Record<string, HostTensor>>;
      /** Feeds bound earlier that these add to (and override). */
      readonly base?: number;
    }
  | { readonly id: number; readonly op: "unbind"; readonly bound: number }
  | { readonly id: number; readonly op: "release"; readonly model: number }
  | { readonly id: number; readonly op: "peek"; readonly file: string; readonly options: GraphLoadOptions };

export type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string } };

const models = new Map<number, OnnxModel>();
let nextModel = 1;
/**
 * Feeds kept here between runs (a request's LoRA factors), as onnxruntime tensors made once at `bind`, so that no
 * step copies or wraps them again.
 */
const boundFeeds = new Map<number, PreparedFeeds>();
let nextBound = 1;

async function handle(request: Request): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  if (request.op === "load" || request.op === "loadBuilt") {
    // Through the optimized-graph cache (fusion, verification, onnxruntime's optimizations) where configured;
    // built graphs are written by the model modules first (./load-built-graph.ts).
    const { model, report } =
      request.op === "load"
        ? await loadGraph(request.file, request.options)
        : await loadBuiltGraph(request.spec, request.options);
    const handle = nextModel++;
    models.set(handle, model);
    return {
      value: {
        model: handle,
        inputs: model.inputs,
        outputs: model.outputs,
        provider: model.provider,
        report,
      },
      transfer: [],
    };
  }
  if (request.op === "peek") {
    return { value: (await peekGraphLoad(request.file, request.options)) ?? null, transfer: [] };
  }
  if (request.op === "peekBuilt") {
    return { value: (await peekBuiltGraph(request.spec, request.options)) ?? null, transfer: [] };
  }
  if (request.op === "bind") {
    const handle = nextBound++;
    const base = request.base === undefined ? {} : boundFeeds.get(request.base);
    if (!base) throw new Error(`feeds ${request.base} are not bound`);
    boundFeeds.set(handle, { ...base, ...prepareFeeds(request.feeds) });
    return { value: handle, transfer: [] };
  }
  if (request.op === "unbind") {
    boundFeeds.delete(request.bound);
    return { value: null, transfer: [] };
  }
  const model = models.get(request.model);
  if (!model) throw new Error(`graph ${request.model} is not loaded`);
  if (request.op === "release") {
    models.delete(request.model);
    await model.release();
    return { value: null, transfer: [] };
  }
  const timer = new RunTimer();
  const bound = request.bound === undefined ? undefined : boundFeeds.get(request.bound);
  if (request.bound !== undefined && !bound) throw new Error(`feeds ${request.bound} are not bound`);
  const outputs = await model.run(request.feeds, timer, request.outputNames, bound);
  // Outputs are not needed here any more: hand their buffers over instead of copying them.
  const transfer = Object.values(outputs).map((t) => t.data.buffer as ArrayBuffer);
  return { value: { outputs, runMs: timer.runMs }, transfer: [...new Set(transfer)] };
}

parentPort?.on("message", (request: Request) => {
  handle(request).then(
    ({ value, transfer }) =>
      parentPort?.postMessage({ id: request.id, ok: true, value } satisfies Reply, transfer),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      parentPort?.postMessage({
        id: request.id,
        ok: false,
        error: { name: e.name, message: e.message },
      } satisfies Reply);
    },
  );
});
