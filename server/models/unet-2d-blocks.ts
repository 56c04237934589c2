/**
 * diffusers' `unet_2d_blocks.py` blocks that Stable Diffusion 1.x/2.x/XL UNets are made of, as graph functions:
 * `DownBlock2D` / `CrossAttnDownBlock2D` (resnets, each followed by a Transformer2DModel in the cross-attention
 * kind, then a Downsample2D; every intermediate output is a skip), `UNetMidBlock2DCrossAttn` (resnet, then
 * transformer + resnet), and `UpBlock2D` / `CrossAttnUpBlock2D` (each resnet takes the last remaining skip
 * concatenated on the channels; an Upsample2D to the next skip's size ends every level but the last).
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { downsample2D, resnetBlock2D, upsample2D } from "./resnet.ts";
import { transformer2DModel } from "./transformer-2d.ts";

/** What every block of one UNet shares. */
export interface BlockContext {
  /** The activated time embedding (see resnetBlock2D). */
  readonly temb: Value;
  readonly tembChannels: number;
  readonly encoderHiddenStates: Value;
  readonly groups: number;
  /** `norm_eps` of the resnets. */
  readonly eps: number;
  readonly timeEmbeddingNorm: "default" | "scale_shift";
  /** `resnet_out_scale_factor` (the mid block uses `mid_block_scale_factor` instead). */
  readonly resnetOutScaleFactor: number;
  readonly useLinearProjection: boolean;
}

/** The Transformer2DModel of a cross-attention block: heads (head dim = channels / heads) and depth. */
export interface CrossAttention {
  readonly heads: number;
  /** `transformer_layers_per_block` of the level. */
  readonly layers: number;
  readonly crossAttentionDim: number;
  readonly onlyCrossAttention: boolean;
}

export interface DownBlockOptions {
  readonly inChannels: number;
  readonly outChannels: number;
  /** Resnets in the block (`layers_per_block`). */
  readonly layers: number;
  readonly addDownsample: boolean;
  readonly downsamplePadding: number;
}

export interface BlockOutput {
  readonly out: Value;
  /** Outputs kept for the up blocks, in order (`output_states`). */
  readonly skips: readonly Value[];
}

function resnet(g: GraphBuilder, ctx: BlockContext, x: Value, prefix: string, inC: number, outC: number) {
  return resnetBlock2D(g, x, ctx.temb, prefix, {
    inChannels: inC,
    outChannels: outC,
    tembChannels: ctx.tembChannels,
    groups: ctx.groups,
    eps: ctx.eps,
    timeEmbeddingNorm: ctx.timeEmbeddingNorm,
    outputScaleFactor: ctx.resnetOutScaleFactor,
  });
}

function transformer(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  channels: number,
  attn: CrossAttention,
) {
  return transformer2DModel(g, x, ctx.encoderHiddenStates, prefix, {
    inChannels: channels,
    heads: attn.heads,
    headDim: Math.floor(channels / attn.heads),
    layers: attn.layers,
    crossAttentionDim: attn.crossAttentionDim,
    groups: ctx.groups,
    useLinearProjection: ctx.useLinearProjection,
    onlyCrossAttention: attn.onlyCrossAttention,
  });
}

function downBlock(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  options: DownBlockOptions,
  attn: CrossAttention | null,
): BlockOutput {
  const skips: Value[] = [];
  let h = x;
  for (let i = 0; i < options.layers; i++) {
    const inC = i === 0 ? options.inChannels : options.outChannels;
    h = resnet(g, ctx, h, `${prefix}.resnets.${i}`, inC, options.outChannels);
    if (attn) h = transformer(g, ctx, h, `${prefix}.attentions.${i}`, options.outChannels, attn);
    skips.push(h);
  }
  if (options.addDownsample) {
    h = downsample2D(g, h, `${prefix}.downsamplers.0`, options.outChannels, options.downsamplePadding);
    skips.push(h);
  }
  return { out: h, skips };
}

/** `DownBlock2D`: resnets, then Downsample2D unless it is the last level. */
export function downBlock2D(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  options: DownBlockOptions,
): BlockOutput {
  return downBlock(g, ctx, x, prefix, options, null);
}

/** `CrossAttnDownBlock2D`: (resnet, Transformer2DModel) pairs, then Downsample2D unless it is the last level. */
export function crossAttnDownBlock2D(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  options: DownBlockOptions & { readonly attention: CrossAttention },
): BlockOutput {
  return downBlock(g, ctx, x, prefix, options, options.attention);
}

/** `UNetMidBlock2DCrossAttn` (one attention): resnet → Transformer2DModel → resnet, at one width. */
export function unetMidBlock2DCrossAttn(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  channels: number,
  options: { readonly attention: CrossAttention; readonly outputScaleFactor: number },
): Value {
  const mid = { ...ctx, resnetOutScaleFactor: options.outputScaleFactor };
  let h = resnet(g, mid, x, "mid_block.resnets.0", channels, channels);
  h = transformer(g, mid, h, "mid_block.attentions.0", channels, options.attention);
  return resnet(g, mid, h, "mid_block.resnets.1", channels, channels);
}

export interface UpBlockOptions {
  /** The width of the level below (diffusers' `in_channels`: the last skip's channels). */
  readonly inChannels: number;
  /** The width of the incoming hidden states (`prev_output_channel`). */
  readonly prevOutputChannels: number;
  readonly outChannels: number;
  /** Resnets in the block (`layers_per_block + 1`). */
  readonly layers: number;
  /** The skips this block consumes, in the order they were produced (it takes them from the end). */
  readonly skips: readonly Value[];
  /** Upsample to this value's height and width at the end (the next skip); null on the last level. */
  readonly upsampleLike: Value | null;
}

function upBlock(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  options: UpBlockOptions,
  attn: CrossAttention | null,
): Value {
  const { layers, outChannels } = options;
  let h = x;
  for (let i = 0; i < layers; i++) {
    const skip = options.skips[options.skips.length - 1 - i]!;
    const skipC = i === layers - 1 ? options.inChannels : outChannels;
    const hC = i === 0 ? options.prevOutputChannels : outChannels;
    h = g.op("Concat", [h, skip], { axis: 1 });
    h = resnet(g, ctx, h, `${prefix}.resnets.${i}`, hC + skipC, outChannels);
    if (attn) h = transformer(g, ctx, h, `${prefix}.attentions.${i}`, outChannels, attn);
  }
  if (options.upsampleLike) h = upsample2D(g, h, options.upsampleLike, `${prefix}.upsamplers.0`, outChannels);
  return h;
}

/** `UpBlock2D`: resnets over the concatenated skips, then Upsample2D unless it is the last level. */
export function upBlock2D(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  options: UpBlockOptions,
): Value {
  return upBlock(g, ctx, x, prefix, options, null);
}

/** `CrossAttnUpBlock2D`: (resnet, Transformer2DModel) pairs over the skips, then Upsample2D unless last. */
export function crossAttnUpBlock2D(
  g: GraphBuilder,
  ctx: BlockContext,
  x: Value,
  prefix: string,
  options: UpBlockOptions & { readonly attention: CrossAttention },
): Value {
  return upBlock(g, ctx, x, prefix, options, options.attention);
}
