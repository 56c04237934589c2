/**
 * A small ONNX graph-building layer: values are names, ops append nodes, weights are initializers looked up by
 * their checkpoint names and stored as external data pointing into the weight files themselves (no copy). It knows
 * nothing of any model; the model modules (server/models/) are written against it the way stable-diffusion.cpp's
 * `unet.hpp` writes blocks as functions over a graph context and onnxruntime-genai's builder emits fused operators
 * directly.
 *
 * Weights whose stored dtype is not float32 (F16, BF16) become a float16/bfloat16 initializer followed by a `Cast`;
 * weights stored in another layout (a 1×1 convolution used as a Linear, a transposed projection, rows of a stacked
 * q/k/v) get the `Reshape`/`Transpose`/`Slice` that recovers the expected tensor. onnxruntime folds all of these
 * into plain float32 constants when it optimizes the graph, so the served graph computes in fp32 on the weights.
 *
 * @example
 * const g = new GraphBuilder(weights);
 * const x = g.input("sample", "float32", ["batch", 4, "height", "width"]);
 * const y = g.op("Conv", [x, g.weight("conv_in.weight", [320, 4, 3, 3]), g.weight("conv_in.bias", [320])], { pads: [1, 1, 1, 1] });
 * g.output(y, "out_sample");
 * const model = g.toModel();
 */
import path from "node:path";
import type onnxProto from "onnx-proto";
import { UnsupportedComponentError } from "../errors.ts";
import { type ModelProto, type NodeProto, onnx } from "../runtime/graph/onnx-model.ts";
import type { WeightDtype } from "../safetensors/safetensors-file.ts";

/** A named value of the graph. */
export type Value = string;

/** Where a weight's bytes are: a tensor of a safetensors file, possibly stored in another layout. */
export interface WeightRef {
  /** The weight file, links followed. */
  readonly file: string;
  readonly dtype: WeightDtype;
  /** The shape as stored. */
  readonly shape: readonly number[];
  readonly byteOffset: number;
  readonly byteLength: number;
  /** How to get the expected tensor from the stored one (single-file layouts). */
  readonly transform?:
    | { readonly kind: "reshape" }
    | { readonly kind: "transpose" }
    /** Rows [begin, end) of dimension 0 (a stacked q/k/v projection). */
    | { readonly kind: "rows"; readonly begin: number; readonly end: number };
}

/** Weights by the names the model modules ask for (diffusers' / transformers' parameter names). */
export interface WeightSource {
  get(name: string): WeightRef | undefined;
  /**
   * Told the shape the model expects before `get(name)` (optional): a source that makes weights up — the
   * benchmarks' random checkpoints — learns the parameter list of a config this way.
   */
  expect?(name: string, shape: readonly number[]): void;
}

export type ElemType = "float32" | "int64" | "int32" | "bool";
type Dim = number | string;
type Attr =
  | number
  | string
  | readonly number[]
  | { readonly floats: readonly number[] }
  | { readonly float: number };

const ELEM: Record<ElemType | WeightDtype, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  F32: onnx.TensorProto.DataType.FLOAT,
  F16: onnx.TensorProto.DataType.FLOAT16,
  BF16: onnx.TensorProto.DataType.BFLOAT16,
};

export interface BuildOptions {
  /** Used in messages ("unet", "vae"): the component whose weights are read. */
  readonly component: string;
  /** The folder external-data locations are relative to (every weight file must be inside it). */
  readonly dataFolder: string;
  /**
   * Give `loraDelta` layers a low-rank side branch whose factors are graph inputs (see `loraDelta`); without it
   * `loraDelta` adds nothing.
   */
  readonly lora?: boolean;
}

/** A layer that can carry a LoRA side branch: its shape as the base weight has it. */
export type LoraLayer =
  | { readonly kind: "linear"; readonly inFeatures: number; readonly outFeatures: number }
  | {
      readonly kind: "conv";
      readonly inChannels: number;
      readonly outChannels: number;
      readonly kernel: number;
      readonly stride: number;
      readonly padding: number;
    };

/** Whether a graph input is a LoRA factor (`loraDelta`). */
export const isLoraInput = (name: string) => name.startsWith("lora_down:") || name.startsWith("lora_up:");

/** Graph input names of a module's LoRA factors. */
export const loraInputNames = (module: string) => ({
  down: `lora_down:${module}`,
  up: `lora_up:${module}`,
});

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly weightValues = new Map<string, Value>();
  private readonly constants = new Map<string, Value>();
  private counter = 0;
  /** Every weight name the graph read (unused weights of a file can then be reported). */
  readonly usedWeights = new Set<string>();
  /** The layers given a LoRA side branch, by module name. */
  readonly loraLayers = new Map<string, LoraLayer>();

  constructor(
    private readonly weights: WeightSource,
    readonly options: BuildOptions,
  ) {}

  input(name: string, type: ElemType, dims: readonly Dim[]): Value {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares `value` a graph output called `name` (through an Identity when the names differ). */
  output(value: Value, name: string, type: ElemType = "float32", dims?: readonly Dim[]): void {
    if (value !== name) this.nodes.push(node("Identity", [value], [name], {}, "", `${name}/Identity`));
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Appends one node; returns its first output. */
  op(
    type: string,
    inputs: readonly (Value | undefined)[],
    attrs: Readonly<Record<string, Attr>> = {},
    domain = "",
  ): Value {
    return this.opN(type, inputs, 1, attrs, domain)[0]!;
  }

  /** Appends one node with `outputs` outputs. */
  opN(
    type: string,
    inputs: readonly (Value | undefined)[],
    outputs: number,
    attrs: Readonly<Record<string, Attr>> = {},
    domain = "",
  ): Value[] {
    const id = this.counter++;
    const names = Array.from({ length: outputs }, (_, k) => `${type}_${id}${outputs > 1 ? `_${k}` : ""}`);
    this.nodes.push(
      node(
        type,
        inputs.map((i) => i ?? ""),
        names,
        attrs,
        domain,
        `${type}_${id}`,
      ),
    );
    return names;
  }

  /** Whether the checkpoint has weight `name` (optional parameters: biases, projections). */
  hasWeight(name: string): boolean {
    return this.weights.get(name) !== undefined;
  }

  /**
   * The float32 value of weight `name`, which must have shape `shape` (after its stored layout is undone); the
   * error names the weight and both shapes.
   */
  weight(name: string, shape: readonly number[]): Value {
    const cached = this.weightValues.get(name);
    if (cached) return cached;
    this.weights.expect?.(name, shape);
    const ref = this.weights.get(name);
    if (!ref)
      throw new UnsupportedComponentError(
        this.options.component,
        `weight '${name}'`,
        "missing",
        "missing",
        `${this.options.component}: weight '${name}' (shape [${shape.join(", ")}]) is missing from the weights`,
      );
    const stored = ref.shape;
    const expectedElements = shape.reduce((a, b) => a * b, 1);
    const fits = (() => {
      const t = ref.transform;
      if (!t) return sameShape(stored, shape);
      if (t.kind === "reshape") return stored.reduce((a, b) => a * b, 1) === expectedElements;
      if (t.kind === "transpose")
        return stored.length === 2 && shape.length === 2 && stored[0] === shape[1] && stored[1] === shape[0];
      return t.end - t.begin === shape[0] && sameShape(stored.slice(1), shape.slice(1));
    })();
    if (!fits) {
      throw new UnsupportedComponentError(
        this.options.component,
        `weight '${name}'`,
        `[${stored.join(", ")}]`,
        "of the wrong shape",
        `${this.options.component}: weight '${name}' has shape [${stored.join(", ")}] but the config needs [${shape.join(", ")}]`,
      );
    }
    this.usedWeights.add(name);
    let value = this.externalInitializer(name, ref);
    if (ref.dtype !== "F32") value = this.op("Cast", [value], { to: ELEM.float32 });
    const t = ref.transform;
    if (t?.kind === "reshape") value = this.op("Reshape", [value, this.int64s(shape)]);
    else if (t?.kind === "transpose") value = this.op("Transpose", [value], { perm: [1, 0] });
    else if (t?.kind === "rows") {
      value = this.op("Slice", [value, this.int64s([t.begin]), this.int64s([t.end]), this.int64s([0])]);
    }
    this.weightValues.set(name, value);
    return value;
  }

  /**
   * The LoRA side branch of layer `module` applied to its input `x` (undefined when the graph is built without
   * them): `x · down · up` for a Linear, `conv_1×1(conv_k×k(x, down), up)` for a convolution, where `down` and
   * `up` are graph inputs whose rank dimension is free. The caller adds the result to the layer's output.
   *
   * Every run feeds them: without adapters, rank-1 factors of zeros (the branch then adds exact zeros; see
   * `loraDefaultFeeds`). Not initializers a feed overrides: onnxruntime-node passes only the graph's declared
   * inputs to the session, and drops other feeds silently. Not rank 0: onnxruntime leaves the output of a Conv
   * with no input channels unwritten once it has optimized and saved the graph, and a batched MatMul with an
   * empty inner dimension does not write zeros either.
   *
   * The factors are fed already combined: several adapters concatenated along the rank, each adapter's `up`
   * multiplied by its scale × alpha / rank (server/loras/lora-feeds.ts). Linear: down [in, r], up [r, out].
   * Convolution: down [r, in, k, k], up [out, r, 1, 1].
   */
  loraDelta(module: string, x: Value, layer: LoraLayer): Value | undefined {
    if (!this.options.lora) return undefined;
    if (this.loraLayers.has(module)) throw new Error(`LoRA branch for '${module}' built twice`);
    this.loraLayers.set(module, layer);
    const names = loraInputNames(module);
    const rank = `${module}.rank`;
    if (layer.kind === "linear") {
      const { inFeatures, outFeatures } = layer;
      this.inputs.push(valueInfo(names.down, "float32", [inFeatures, rank]));
      this.inputs.push(valueInfo(names.up, "float32", [rank, outFeatures]));
      return this.op("MatMul", [this.op("MatMul", [x, names.down]), names.up]);
    }
    const { inChannels, outChannels, kernel, stride, padding } = layer;
    this.inputs.push(valueInfo(names.down, "float32", [rank, inChannels, kernel, kernel]));
    this.inputs.push(valueInfo(names.up, "float32", [outChannels, rank, 1, 1]));
    const down = this.op("Conv", [x, names.down], {
      kernel_shape: [kernel, kernel],
      strides: [stride, stride],
      pads: [padding, padding, padding, padding],
    });
    return this.op("Conv", [down, names.up], { kernel_shape: [1, 1] });
  }

  /** An int64 constant (shapes, axes). */
  int64s(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant("int64", values, dims);
  }

  /** A float32 constant. */
  floats(values: readonly number[], dims: readonly number[] = [values.length]): Value {
    return this.constant("float32", values, dims);
  }

  /** A float32 scalar constant (rank 0). */
  scalar(value: number): Value {
    return this.constant("float32", [value], []);
  }

  private constant(type: "int64" | "float32", values: readonly number[], dims: readonly number[]): Value {
    const key = `${type}:${dims.join("x")}:${values.join(",")}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = `const_${this.constants.size}`;
    const raw =
      type === "int64"
        ? new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer)
        : new Uint8Array(Float32Array.from(values).buffer);
    this.initializers.push({ name, dataType: ELEM[type], dims: [...dims], rawData: raw });
    this.constants.set(key, name);
    return name;
  }

  private externalInitializer(name: string, ref: WeightRef): Value {
    const location = path.relative(this.options.dataFolder, ref.file);
    if (location.startsWith("..") || path.isAbsolute(location)) {
      throw new UnsupportedComponentError(
        this.options.component,
        `weight '${name}'`,
        "in another folder",
        "stored outside the component's folder",
        `${this.options.component}: weight '${name}' is stored outside the component's folder`,
      );
    }
    const entry = (key: string, value: string) => onnx.StringStringEntryProto.create({ key, value });
    this.initializers.push({
      name: `w:${name}`,
      dataType: ELEM[ref.dtype],
      dims: [...ref.shape],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        entry("location", location.split(path.sep).join("/")),
        entry("offset", String(ref.byteOffset)),
        entry("length", String(ref.byteLength)),
      ],
    });
    return `w:${name}`;
  }

  /** The ONNX model (opset 17 + com.microsoft 1). */
  toModel(): ModelProto {
    return onnx.ModelProto.create({
      irVersion: 8,
      producerName: "autopipe",
      opsetImport: [
        { domain: "", version: 17 },
        { domain: "com.microsoft", version: 1 },
      ],
      graph: {
        name: this.options.component,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** How many nodes of type `opType` the graph has. */
  countOps(opType: string): number {
    return this.nodes.filter((n) => n.opType === opType).length;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function valueInfo(name: string, type: ElemType, dims?: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        ...(dims
          ? { shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } }
          : {}),
      },
    },
  };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attrs: Readonly<Record<string, Attr>>,
  domain: string,
  name: string,
): NodeProto {
  const T = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(attrs).map(([key, v]) => {
    if (typeof v === "number") {
      return Number.isInteger(v) && !FLOAT_ATTRS.has(key)
        ? { name: key, type: T.INT, i: v }
        : { name: key, type: T.FLOAT, f: v };
    }
    if (typeof v === "string") return { name: key, type: T.STRING, s: new TextEncoder().encode(v) };
    if ("floats" in v) return { name: key, type: T.FLOATS, floats: [...v.floats] };
    if ("float" in v) return { name: key, type: T.FLOAT, f: v.float };
    return { name: key, type: T.INTS, ints: [...v] };
  });
  return { opType, input, output, attribute, domain, name };
}

/** Attributes ONNX declares as floats even when the value is whole (epsilon = 1 never happens, scale may). */
const FLOAT_ATTRS = new Set(["epsilon", "scale", "alpha", "beta", "mask_filter_value"]);
