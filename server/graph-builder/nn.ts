/**
 * Layers as graph functions over a `GraphBuilder`, named after the PyTorch modules whose weights they read:
 * `linear` (nn.Linear: `{prefix}.weight` [out, in], optional `{prefix}.bias`), `conv2d` (nn.Conv2d), `groupNorm`,
 * `layerNorm`, activations, and `multiHeadAttention`, emitted as onnxruntime's fused `com.microsoft.MultiHeadAttention`
 * (softmax(Q·Kᵀ·scale)·V per head, with no attention-score tensor materialised for all heads at once).
 *
 * GroupNorm is written as onnxruntime runs it fastest on CPU today: Reshape to [B, G, −1] → InstanceNormalization →
 * Reshape back → per-channel scale and shift (the contrib `GroupNorm` kernel has no CPU implementation).
 */
import type { GraphBuilder, Value } from "./graph-builder.ts";

/** nn.Linear: x [..., in] → [..., out] (plus its LoRA side branch when the graph is built with them). */
export function linear(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inFeatures: number,
  outFeatures: number,
  bias = true,
): Value {
  const w = g.weight(`${prefix}.weight`, [outFeatures, inFeatures]);
  // Wᵀ is a constant expression: folded once when onnxruntime optimizes the graph.
  const y = g.op("MatMul", [x, g.op("Transpose", [w], { perm: [1, 0] })]);
  const out = bias ? g.op("Add", [y, g.weight(`${prefix}.bias`, [outFeatures])]) : y;
  return withLora(g, out, g.loraDelta(prefix, x, { kind: "linear", inFeatures, outFeatures }));
}

/** `y` plus a layer's LoRA side branch, when the graph has one. */
export function withLora(g: GraphBuilder, y: Value, delta: Value | undefined): Value {
  return delta === undefined ? y : g.op("Add", [y, delta]);
}

/** nn.Conv2d with a square kernel, bias included (plus its LoRA side branch when the graph is built with them). */
export function conv2d(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
  options: { stride?: number; padding?: number; bias?: boolean } = {},
): Value {
  const { stride = 1, padding = 0, bias = true } = options;
  const inputs = [x, g.weight(`${prefix}.weight`, [outChannels, inChannels, kernel, kernel])];
  if (bias) inputs.push(g.weight(`${prefix}.bias`, [outChannels]));
  const y = g.op("Conv", inputs, {
    kernel_shape: [kernel, kernel],
    strides: [stride, stride],
    pads: [padding, padding, padding, padding],
  });
  const layer = { kind: "conv", inChannels, outChannels, kernel, stride, padding } as const;
  return withLora(g, y, g.loraDelta(prefix, x, layer));
}

/** nn.GroupNorm on [B, C, H, W] (or [B, C, N]) with affine weight and bias. */
export function groupNorm(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  channels: number,
  groups: number,
  eps: number,
): Value {
  const shape = g.op("Shape", [x]);
  const grouped = g.op("Reshape", [x, g.int64s([0, groups, -1])]);
  const normed = g.op(
    "InstanceNormalization",
    [grouped, g.floats(new Array(groups).fill(1)), g.floats(new Array(groups).fill(0))],
    {
      epsilon: eps,
    },
  );
  const back = g.op("Reshape", [normed, shape]);
  const w = g.op("Reshape", [g.weight(`${prefix}.weight`, [channels]), g.int64s([channels, 1, 1])]);
  const b = g.op("Reshape", [g.weight(`${prefix}.bias`, [channels]), g.int64s([channels, 1, 1])]);
  return g.op("Add", [g.op("Mul", [back, w]), b]);
}

/** nn.LayerNorm over the last axis. */
export function layerNorm(g: GraphBuilder, x: Value, prefix: string, dim: number, eps: number): Value {
  return g.op(
    "LayerNormalization",
    [x, g.weight(`${prefix}.weight`, [dim]), g.weight(`${prefix}.bias`, [dim])],
    {
      axis: -1,
      epsilon: eps,
    },
  );
}

export function silu(g: GraphBuilder, x: Value): Value {
  return g.op("Mul", [x, g.op("Sigmoid", [x])]);
}

/** GELU with erf (PyTorch's default, `approximate='none'`): 0.5·x·(1 + erf(x/√2)). */
export function gelu(g: GraphBuilder, x: Value): Value {
  return g.op("Gelu", [x], {}, "com.microsoft");
}

/** GELU with tanh (`gelu_new`, `gelu_pytorch_tanh`): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluTanh(g: GraphBuilder, x: Value): Value {
  const cube = g.op("Mul", [g.op("Mul", [x, x]), x]);
  const inner = g.op("Mul", [
    g.op("Add", [x, g.op("Mul", [cube, g.scalar(0.044715)])]),
    g.scalar(Math.sqrt(2 / Math.PI)),
  ]);
  return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), g.op("Add", [g.op("Tanh", [inner]), g.scalar(1)])]);
}

/** QuickGELU (CLIP's `quick_gelu`): x·σ(1.702·x). */
export function quickGelu(g: GraphBuilder, x: Value): Value {
  return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.scalar(1.702)])])]);
}

/**
 * Fused attention over [B, S, heads·headDim] queries and [B, L, heads·headDim] keys/values; `scale` defaults to
 * headDim^−0.5. A `mask` ([B, 1 or S, L] additive) is passed as the attention bias.
 */
export function multiHeadAttention(
  g: GraphBuilder,
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  options: { scale?: number; bias?: Value } = {},
): Value {
  const attrs: Record<string, number | { float: number }> = { num_heads: heads };
  if (options.scale !== undefined) attrs.scale = { float: options.scale };
  // Inputs: query, key, value, bias, key_padding_mask, attention_bias ([B or 1, heads or 1, S, L]).
  return g.op("MultiHeadAttention", [q, k, v, undefined, undefined, options.bias], attrs, "com.microsoft");
}

/** [B, C, H, W] → [B, H·W, C]. */
export function toTokens(g: GraphBuilder, x: Value, channels: number): Value {
  const flat = g.op("Reshape", [x, g.int64s([0, channels, -1])]);
  return g.op("Transpose", [flat], { perm: [0, 2, 1] });
}

/** [B, H·W, C] → [B, C, H, W], taking H and W from `like` ([B, C', H, W]). */
export function fromTokens(g: GraphBuilder, tokens: Value, like: Value, channels: number): Value {
  const chw = g.op("Transpose", [tokens], { perm: [0, 2, 1] });
  const shape = g.op("Shape", [like]);
  const b = g.op("Slice", [shape, g.int64s([0]), g.int64s([1])]);
  const hw = g.op("Slice", [shape, g.int64s([2]), g.int64s([4])]);
  const target = g.op("Concat", [b, g.int64s([channels]), hw], { axis: 0 });
  return g.op("Reshape", [chw, target]);
}
