/**
 * Reading and writing ONNX graphs as protobuf (ONNX's own `onnx.proto`, compiled by protobufjs in the onnx-proto
 * package). Only the small `.onnx` file is parsed: initializers stored as external data stay references to their
 * files, so a checkpoint with gigabytes of weights decodes in milliseconds. Helpers here read constant values
 * (initializers and `Constant` nodes), index producers and consumers, and drop nodes nothing uses any more.
 */
import onnxProto from "onnx-proto";

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type Int = number | { toNumber(): number };

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function toNumber(value: Int | null | undefined): number {
  if (value === null || value === undefined) return Number.NaN;
  return typeof value === "number" ? value : value.toNumber();
}

/** Producers and consumers of every value of a graph. */
export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  private readonly initializers = new Map<string, TensorProto>();

  constructor(readonly graph: GraphProto) {
    for (const node of graph.node ?? []) {
      for (const output of node.output ?? []) this.producer.set(output, node);
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumers.get(input) ?? [];
        list.push(node);
        this.consumers.set(input, list);
      }
    }
    for (const init of graph.initializer ?? []) if (init.name) this.initializers.set(init.name, init);
  }

  /** The node producing `value` when it is of type `opType`. */
  producedBy(value: string | undefined, opType: string): NodeProto | undefined {
    const node = value === undefined ? undefined : this.producer.get(value);
    return node?.opType === opType && (node.domain ?? "") === "" ? node : undefined;
  }

  /** Consumers of `value` other than `Shape` nodes (which only read its size). */
  dataConsumers(value: string): NodeProto[] {
    return (this.consumers.get(value) ?? []).filter((n) => n.opType !== "Shape");
  }

  /** The numbers of a constant (initializer or `Constant` node) stored inline; undefined otherwise. */
  constant(value: string | undefined): number[] | undefined {
    if (value === undefined) return undefined;
    const init = this.initializers.get(value);
    if (init) return tensorValues(init);
    const node = this.producedBy(value, "Constant");
    const attr = node?.attribute?.find((a) => a.name === "value");
    return attr?.t ? tensorValues(attr.t) : undefined;
  }

  /** A constant holding exactly one number. */
  scalar(value: string | undefined): number | undefined {
    const values = this.constant(value);
    return values?.length === 1 ? values[0] : undefined;
  }
}

/** Integer attribute `name` of `node`, or `fallback`. */
export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const attr = node.attribute?.find((a) => a.name === name);
  return attr ? toNumber(attr.i) : fallback;
}

export function intsAttribute(node: NodeProto, name: string): number[] | undefined {
  const attr = node.attribute?.find((a) => a.name === name);
  return attr?.ints?.map(toNumber);
}

const FLOAT = 1;
const INT64 = 7;
const INT32 = 6;
const DOUBLE = 11;

function tensorValues(t: TensorProto): number[] | undefined {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return undefined;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    const step = t.dataType === INT64 || t.dataType === DOUBLE ? 8 : 4;
    if (raw.byteLength > 1024 * step) return undefined; // weights, not a shape or scale constant
    for (let i = 0; i + step <= raw.byteLength; i += step) {
      if (t.dataType === FLOAT) out.push(view.getFloat32(i, true));
      else if (t.dataType === INT64) out.push(Number(view.getBigInt64(i, true)));
      else if (t.dataType === INT32) out.push(view.getInt32(i, true));
      else if (t.dataType === DOUBLE) out.push(view.getFloat64(i, true));
      else return undefined;
    }
    return out;
  }
  if (t.dataType === FLOAT) return [...(t.floatData ?? [])];
  if (t.dataType === INT64) return (t.int64Data ?? []).map(toNumber);
  if (t.dataType === INT32) return [...(t.int32Data ?? [])];
  if (t.dataType === DOUBLE) return [...(t.doubleData ?? [])];
  return undefined;
}

/**
 * Removes nodes whose outputs nobody reads (graph outputs count as read), repeatedly, and initializers no node
 * reads. Returns how many nodes went.
 */
export function pruneUnused(graph: GraphProto): number {
  const before = graph.node?.length ?? 0;
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ""));
  let nodes = graph.node ?? [];
  for (;;) {
    const read = new Set<string>(graphOutputs);
    for (const node of nodes) for (const input of node.input ?? []) read.add(input);
    // Subgraphs (If/Loop bodies) may read outer values implicitly: keep nodes whenever a graph attribute exists.
    const hasSubgraphs = nodes.some((n) => n.attribute?.some((a) => a.g || (a.graphs?.length ?? 0) > 0));
    if (hasSubgraphs) break;
    const kept = nodes.filter((node) => (node.output ?? []).some((o) => o && read.has(o)));
    if (kept.length === nodes.length) break;
    nodes = kept;
  }
  graph.node = nodes;
  const read = new Set<string>();
  for (const node of nodes) for (const input of node.input ?? []) read.add(input);
  for (const output of graphOutputs) read.add(output);
  graph.initializer = (graph.initializer ?? []).filter((init) => read.has(init.name ?? ""));
  return before - nodes.length;
}

/** Every node input is a graph input, an initializer or some node's output (empty names are optional inputs). */
export function danglingInputs(graph: GraphProto): string[] {
  const known = new Set<string>();
  for (const input of graph.input ?? []) known.add(input.name ?? "");
  for (const init of graph.initializer ?? []) known.add(init.name ?? "");
  for (const node of graph.node ?? []) for (const output of node.output ?? []) known.add(output);
  const missing: string[] = [];
  for (const node of graph.node ?? []) {
    for (const input of node.input ?? []) if (input && !known.has(input)) missing.push(input);
  }
  return missing;
}
