/**
 * Plain host tensors (typed array + dims) shared by the runtime and the pipelines, and the few tensor helpers the
 * pipelines need around the graphs: repeating along the batch and concatenating.
 */

export type TensorType = "float32" | "float16" | "int32" | "int64" | "bool" | "uint8";

export interface HostTensor {
  readonly type: TensorType;
  readonly data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
  readonly dims: readonly number[];
}

/** A float32 tensor, the working type of every pipeline stage. */
export interface FloatTensor extends HostTensor {
  readonly type: "float32";
  readonly data: Float32Array;
}

export function floatTensor(data: Float32Array, dims: readonly number[]): FloatTensor {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`tensor of ${data.length} values cannot have shape [${dims}]`);
  return { type: "float32", data, dims };
}

export function asFloat(tensor: HostTensor | undefined, what: string): FloatTensor {
  if (!tensor) throw new Error(`${what} is missing from the graph's outputs`);
  if (tensor.type !== "float32") throw new Error(`${what} is ${tensor.type}, expected float32`);
  return tensor as FloatTensor;
}

/** Concatenates tensors along axis 0 (they must agree on the other axes). */
export function concatBatch(parts: readonly FloatTensor[]): FloatTensor {
  const first = parts[0];
  if (!first) throw new Error("nothing to concatenate");
  const rest = first.dims.slice(1);
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  let batch = 0;
  for (const part of parts) {
    out.set(part.data, offset);
    offset += part.data.length;
    batch += part.dims[0] ?? 0;
  }
  return floatTensor(out, [batch, ...rest]);
}

/** Repeats each batch item `times` times in place order (torch `repeat_interleave(times, dim=0)`). */
export function repeatInterleave(tensor: FloatTensor, times: number): FloatTensor {
  const [batch = 1, ...rest] = tensor.dims;
  const item = tensor.data.length / batch;
  const out = new Float32Array(tensor.data.length * times);
  for (let b = 0; b < batch; b++) {
    const src = tensor.data.subarray(b * item, (b + 1) * item);
    for (let r = 0; r < times; r++) out.set(src, (b * times + r) * item);
  }
  return floatTensor(out, [batch * times, ...rest]);
}
