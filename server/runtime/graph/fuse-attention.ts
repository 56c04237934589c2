/**
 * Fuses attention as diffusers exports it into onnxruntime's `com.microsoft.MultiHeadAttention` contrib operator,
 * which computes softmax(Q·Kᵀ·scale)·V head by head without materialising the attention weights of every head at
 * once (on CPU it runs a flash-attention kernel whose memory is linear in the number of tokens).
 *
 * The pattern (diffusers' `AttnProcessor`, exported by torch.onnx; every SD 1.x/2.x UNet and VAE attention):
 * ```
 * q3 [B,S,C] → Reshape [B,S,h,d] → Transpose(0,2,1,3) → Reshape [B·h,S,d] ─┐
 * k3 [B,L,C] → (same)                           → Transpose(0,2,1) ──────┴ MatMul → Mul(scale) [→ Add(0·…)]
 *   [→ Cast(float)] → Softmax(-1) [→ Cast(float)] → MatMul(·, v heads) → Reshape [B,h,S,d] → Transpose(0,2,1,3) → Reshape [B,S,C]
 * ```
 * becomes `MultiHeadAttention(q3, k3, v3; num_heads = h, scale)`. Anything else about a match (a real mask added
 * to the scores, a head count that is not a constant, intermediate values read elsewhere) leaves that attention
 * as it was; the nodes the fused operator replaces are pruned afterwards.
 */
import {
  danglingInputs,
  GraphIndex,
  type GraphProto,
  intAttribute,
  intsAttribute,
  type NodeProto,
  onnx,
  pruneUnused,
} from "./onnx-model.ts";

export interface FusionReport {
  /** Attention blocks replaced by MultiHeadAttention. */
  readonly fused: number;
  /** Softmax nodes that looked like attention but did not match the whole pattern. */
  readonly skipped: number;
  readonly prunedNodes: number;
}

const FLOAT = 1;

/** Rewrites `graph` in place. Returns what was done; a graph that would not be well formed is left unchanged. */
export function fuseAttention(graph: GraphProto): FusionReport {
  const index = new GraphIndex(graph);
  const replacements = new Map<NodeProto, NodeProto>();
  let skipped = 0;
  for (const softmax of graph.node ?? []) {
    if (softmax.opType !== "Softmax" || (softmax.domain ?? "") !== "") continue;
    const match = matchAttention(index, softmax);
    if (!match) {
      skipped += 1;
      continue;
    }
    replacements.set(match.last, {
      name: `${match.last.name ?? "attention"}/MultiHeadAttention`,
      opType: "MultiHeadAttention",
      domain: "com.microsoft",
      input: [match.q, match.k, match.v],
      output: [...(match.last.output ?? [])],
      attribute: [
        { name: "num_heads", type: onnx.AttributeProto.AttributeType.INT, i: match.heads },
        ...(match.scale === undefined
          ? []
          : [{ name: "scale", type: onnx.AttributeProto.AttributeType.FLOAT, f: match.scale }]),
      ],
    });
  }
  if (replacements.size === 0) return { fused: 0, skipped, prunedNodes: 0 };
  const original = graph.node ?? [];
  const originalInits = graph.initializer ?? [];
  graph.node = original.map((node) => replacements.get(node) ?? node);
  const prunedNodes = pruneUnused(graph);
  if (danglingInputs(graph).length > 0) {
    // Something outside the pattern read a value the fused operator no longer produces: keep the original.
    graph.node = original;
    graph.initializer = originalInits;
    return { fused: 0, skipped: skipped + replacements.size, prunedNodes: 0 };
  }
  return { fused: replacements.size, skipped, prunedNodes };
}

/** Adds the contrib operator domain to the model's opset imports when a fusion used it. */
export function importContribDomain(model: { opsetImport?: { domain?: string | null }[] | null }): void {
  const imports = (model.opsetImport ??= []);
  if (!imports.some((o) => o.domain === "com.microsoft")) {
    imports.push(onnx.OperatorSetIdProto.create({ domain: "com.microsoft", version: 1 }));
  }
}

interface AttentionMatch {
  q: string;
  k: string;
  v: string;
  heads: number;
  scale: number | undefined;
  /** The final Reshape back to [B, S, C], replaced by the fused node. */
  last: NodeProto;
}

function matchAttention(index: GraphIndex, softmax: NodeProto): AttentionMatch | undefined {
  const axis = intAttribute(softmax, "axis", -1);
  if (axis !== -1 && axis !== 2) return undefined;
  // Scores: MatMul(q, kᵀ), optionally scaled, optionally plus a zero bias (torch's baddbmm with beta = 0).
  let scores = softmax.input?.[0];
  let scale: number | undefined;
  // diffusers' upcast_softmax (the VAE's attention) casts the scores to float first.
  const upcast = index.producedBy(scores, "Cast");
  if (upcast) {
    if (intAttribute(upcast, "to", 0) !== FLOAT) return undefined;
    scores = upcast.input?.[0];
  }
  const add = index.producedBy(scores, "Add");
  if (add) {
    const [a, b] = add.input ?? [];
    if (isZero(index, b)) scores = a;
    else if (isZero(index, a)) scores = b;
    else return undefined; // a mask or bias: not this pattern
  }
  const mul = index.producedBy(scores, "Mul");
  if (mul) {
    const [a, b] = mul.input ?? [];
    const s = index.scalar(b) ?? index.scalar(a);
    if (s === undefined) return undefined;
    scale = s;
    scores = index.scalar(b) !== undefined ? a : b;
  }
  const qk = index.producedBy(scores, "MatMul");
  if (!qk) return undefined;
  // After the softmax: an optional Cast to float, then MatMul with the value heads.
  let probs = softmax.output?.[0] ?? "";
  const afterSoftmax = index.dataConsumers(probs);
  if (afterSoftmax.length !== 1) return undefined;
  let next = afterSoftmax[0]!;
  if (next.opType === "Cast") {
    if (intAttribute(next, "to", 0) !== FLOAT) return undefined;
    probs = next.output?.[0] ?? "";
    const consumers = index.dataConsumers(probs);
    if (consumers.length !== 1) return undefined;
    next = consumers[0]!;
  }
  if (next.opType !== "MatMul" || next.input?.[0] !== probs) return undefined;
  const pv = next;
  // Intermediates must not be read by anything but the pattern.
  for (const value of [qk.output?.[0], mul?.output?.[0], add?.output?.[0], upcast?.output?.[0]]) {
    if (value !== undefined && index.dataConsumers(value).length !== 1) return undefined;
  }
  const q = splitHeads(index, qk.input?.[0]);
  const kT = index.producedBy(qk.input?.[1], "Transpose");
  if (!kT || !sameInts(intsAttribute(kT, "perm"), [0, 2, 1])) return undefined;
  const k = splitHeads(index, kT.input?.[0]);
  const v = splitHeads(index, pv.input?.[1]);
  if (!q || !k || !v || q.heads !== k.heads || q.heads !== v.heads) return undefined;
  const last = mergeHeads(index, pv.output?.[0], q.heads);
  if (!last) return undefined;
  return { q: q.input, k: k.input, v: v.input, heads: q.heads, scale, last };
}

/** `x [B,S,C] → Reshape [B,S,h,d] → Transpose(0,2,1,3) → Reshape [B·h,S,d]`: returns x and h. */
function splitHeads(index: GraphIndex, value: string | undefined) {
  const flat = index.producedBy(value, "Reshape");
  const transpose = index.producedBy(flat?.input?.[0], "Transpose");
  const split = index.producedBy(transpose?.input?.[0], "Reshape");
  if (!flat || !transpose || !split) return undefined;
  if (!sameInts(intsAttribute(transpose, "perm"), [0, 2, 1, 3])) return undefined;
  const heads = constantDim(index, split.input?.[1], 2);
  const input = split.input?.[0];
  if (heads === undefined || heads < 1 || !input) return undefined;
  return { input, heads };
}

/** `y [B·h,S,d] → Reshape [B,h,S,d] → Transpose(0,2,1,3) → Reshape [B,S,C]`: returns the last Reshape. */
function mergeHeads(index: GraphIndex, value: string | undefined, heads: number): NodeProto | undefined {
  if (!value) return undefined;
  const [unflat] = index.dataConsumers(value);
  if (index.dataConsumers(value).length !== 1 || unflat?.opType !== "Reshape") return undefined;
  if (constantDim(index, unflat.input?.[1], 1) !== heads) return undefined;
  const [transpose] = index.dataConsumers(unflat.output?.[0] ?? "");
  if (index.dataConsumers(unflat.output?.[0] ?? "").length !== 1 || transpose?.opType !== "Transpose") {
    return undefined;
  }
  if (!sameInts(intsAttribute(transpose, "perm"), [0, 2, 1, 3])) return undefined;
  const [merge] = index.dataConsumers(transpose.output?.[0] ?? "");
  if (index.dataConsumers(transpose.output?.[0] ?? "").length !== 1 || merge?.opType !== "Reshape") {
    return undefined;
  }
  return merge;
}

/** Entry `position` of a Reshape target: a constant tensor, or a Concat whose entry there is constant. */
function constantDim(index: GraphIndex, shape: string | undefined, position: number): number | undefined {
  const whole = index.constant(shape);
  if (whole) return whole[position];
  const concat = index.producedBy(shape, "Concat");
  if (!concat) return undefined;
  const parts = concat.input ?? [];
  // Each part of a shape Concat is one entry ([1]-shaped) in torch's exports; anything else is not ours.
  if (parts.length !== 4) return undefined;
  return index.scalar(parts[position]);
}

/** A value that is all zeros: a zero constant, or anything multiplied by a zero constant. */
function isZero(index: GraphIndex, value: string | undefined): boolean {
  const constant = index.constant(value);
  if (constant) return constant.every((x) => x === 0);
  const mul = index.producedBy(value, "Mul");
  if (!mul) return false;
  const [a, b] = mul.input ?? [];
  if (index.scalar(a) === 0 || index.scalar(b) === 0) {
    // 0 · x is 0 only for finite x: accept the export's ConstantOfShape(0) operand.
    const other = index.scalar(a) === 0 ? b : a;
    const fill = index.producedBy(other, "ConstantOfShape");
    const value = fill?.attribute?.find((attr) => attr.name === "value");
    return (
      fill !== undefined && (value === undefined || value.t?.rawData?.every((byte) => byte === 0) === true)
    );
  }
  return false;
}

function sameInts(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
