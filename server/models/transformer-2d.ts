/**
 * diffusers' `Transformer2DModel` for continuous inputs (the UNet's spatial transformer) and what it is made of,
 * as graph functions: `BasicTransformerBlock` (self-attention, cross-attention, GEGLU feed-forward, each after a
 * LayerNorm and added back), `Attention` (to_q/to_k/to_v → fused multi-head attention → to_out.0) and
 * `FeedForward` with GEGLU. Attention is born fused (com.microsoft.MultiHeadAttention): no score tensor for all
 * heads is ever materialised. `upcast_attention` changes nothing here: the graph computes in float32 throughout.
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import {
  fromTokens,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  multiHeadAttention,
  toTokens,
  withLora,
} from "../graph-builder/nn.ts";

export interface AttentionOptions {
  readonly queryDim: number;
  /** The width of `context` (cross-attention), or queryDim for self-attention. */
  readonly contextDim: number;
  readonly heads: number;
  readonly headDim: number;
}

/** `Attention` (processor AttnProcessor2_0, no bias on q/k/v, bias on to_out.0, scale headDim^−0.5). */
export function attention(
  g: GraphBuilder,
  x: Value,
  context: Value,
  prefix: string,
  options: AttentionOptions,
): Value {
  const { queryDim, contextDim, heads, headDim } = options;
  const inner = heads * headDim;
  const q = linear(g, x, `${prefix}.to_q`, queryDim, inner, false);
  const k = linear(g, context, `${prefix}.to_k`, contextDim, inner, false);
  const v = linear(g, context, `${prefix}.to_v`, contextDim, inner, false);
  const out = multiHeadAttention(g, q, k, v, heads, { scale: headDim ** -0.5 });
  return linear(g, out, `${prefix}.to_out.0`, inner, queryDim);
}

/**
 * `FeedForward(dim, activation_fn="geglu")`: `net.0.proj` [2·inner, dim] holds the value rows [0, inner) and the
 * gate rows [inner, 2·inner); out = net.2(value · gelu(gate)) with the erf GELU. The two halves are taken from
 * the weight (constant slices, folded when the graph is optimized), so the projection's output is never split.
 */
export function feedForward(g: GraphBuilder, x: Value, prefix: string, dim: number, mult = 4): Value {
  const inner = dim * mult;
  const w = g.weight(`${prefix}.net.0.proj.weight`, [2 * inner, dim]);
  const b = g.weight(`${prefix}.net.0.proj.bias`, [2 * inner]);
  const half = (begin: number, end: number) => {
    const rows = g.op("Slice", [w, g.int64s([begin]), g.int64s([end]), g.int64s([0])]);
    const bias = g.op("Slice", [b, g.int64s([begin]), g.int64s([end]), g.int64s([0])]);
    return g.op("Add", [g.op("MatMul", [x, g.op("Transpose", [rows], { perm: [1, 0] })]), bias]);
  };
  // A LoRA on net.0.proj covers the whole matrix: its output is split into the same two halves.
  const delta = g.loraDelta(`${prefix}.net.0.proj`, x, {
    kind: "linear",
    inFeatures: dim,
    outFeatures: 2 * inner,
  });
  const part = (y: Value, begin: number, end: number) =>
    delta === undefined
      ? y
      : g.op("Add", [y, g.op("Slice", [delta, g.int64s([begin]), g.int64s([end]), g.int64s([-1])])]);
  const hidden = g.op("Mul", [
    part(half(0, inner), 0, inner),
    gelu(g, part(half(inner, 2 * inner), inner, 2 * inner)),
  ]);
  return linear(g, hidden, `${prefix}.net.2`, inner, dim);
}

export interface BasicTransformerBlockOptions {
  readonly dim: number;
  readonly heads: number;
  readonly headDim: number;
  readonly crossAttentionDim: number;
  /** `only_cross_attention`: attn1 also attends to the encoder hidden states. */
  readonly onlyCrossAttention: boolean;
}

/** `BasicTransformerBlock` with norm_type "layer_norm" (eps 1e-5), attn1, attn2 and a GEGLU feed-forward. */
export function basicTransformerBlock(
  g: GraphBuilder,
  x: Value,
  encoderHiddenStates: Value,
  prefix: string,
  options: BasicTransformerBlockOptions,
): Value {
  const { dim, heads, headDim, crossAttentionDim, onlyCrossAttention } = options;
  const cross = { queryDim: dim, contextDim: crossAttentionDim, heads, headDim };
  let h = x;
  const n1 = layerNorm(g, h, `${prefix}.norm1`, dim, 1e-5);
  const a1 = onlyCrossAttention
    ? attention(g, n1, encoderHiddenStates, `${prefix}.attn1`, cross)
    : attention(g, n1, n1, `${prefix}.attn1`, { ...cross, contextDim: dim });
  h = g.op("Add", [a1, h]);
  const n2 = layerNorm(g, h, `${prefix}.norm2`, dim, 1e-5);
  h = g.op("Add", [attention(g, n2, encoderHiddenStates, `${prefix}.attn2`, cross), h]);
  const n3 = layerNorm(g, h, `${prefix}.norm3`, dim, 1e-5);
  return g.op("Add", [feedForward(g, n3, `${prefix}.ff`, dim), h]);
}

export interface Transformer2DModelOptions {
  readonly inChannels: number;
  readonly heads: number;
  readonly headDim: number;
  /** Number of BasicTransformerBlocks (`num_layers`, the UNet's `transformer_layers_per_block`). */
  readonly layers: number;
  readonly crossAttentionDim: number;
  readonly groups: number;
  /** proj_in/proj_out are Linear [inner, C] when true, 1×1 convolutions [inner, C, 1, 1] when false. */
  readonly useLinearProjection: boolean;
  readonly onlyCrossAttention: boolean;
}

/**
 * `Transformer2DModel` on [B, C, H, W]: GroupNorm (eps 1e-6) → proj_in → tokens → blocks → proj_out → back to
 * [B, C, H, W], plus the input. A 1×1 convolution on the pixels equals a Linear on the tokens, so both projection
 * kinds run as a MatMul on [B, H·W, C] (the conv weight reshaped to [out, in]).
 */
export function transformer2DModel(
  g: GraphBuilder,
  x: Value,
  encoderHiddenStates: Value,
  prefix: string,
  options: Transformer2DModelOptions,
): Value {
  const { inChannels, heads, headDim } = options;
  const inner = heads * headDim;
  const normed = groupNorm(g, x, `${prefix}.norm`, inChannels, options.groups, 1e-6);
  let h = projection(g, toTokens(g, normed, inChannels), `${prefix}.proj_in`, inChannels, inner, options);
  for (let i = 0; i < options.layers; i++) {
    h = basicTransformerBlock(g, h, encoderHiddenStates, `${prefix}.transformer_blocks.${i}`, {
      dim: inner,
      heads,
      headDim,
      crossAttentionDim: options.crossAttentionDim,
      onlyCrossAttention: options.onlyCrossAttention,
    });
  }
  h = projection(g, h, `${prefix}.proj_out`, inner, inChannels, options);
  return g.op("Add", [fromTokens(g, h, x, inChannels), x]);
}

/** proj_in / proj_out on tokens: a Linear, or a 1×1 convolution's weight used as one. */
function projection(
  g: GraphBuilder,
  tokens: Value,
  prefix: string,
  inFeatures: number,
  outFeatures: number,
  options: { readonly useLinearProjection: boolean },
): Value {
  if (options.useLinearProjection) return linear(g, tokens, prefix, inFeatures, outFeatures);
  const w = g.weight(`${prefix}.weight`, [outFeatures, inFeatures, 1, 1]);
  const matrix = g.op("Reshape", [w, g.int64s([outFeatures, inFeatures])]);
  const y = g.op("MatMul", [tokens, g.op("Transpose", [matrix], { perm: [1, 0] })]);
  const out = g.op("Add", [y, g.weight(`${prefix}.bias`, [outFeatures])]);
  // The 1×1 convolution's LoRA is fed as a Linear's (server/loras/lora-feeds.ts reshapes its factors).
  return withLora(g, out, g.loraDelta(prefix, tokens, { kind: "linear", inFeatures, outFeatures }));
}
