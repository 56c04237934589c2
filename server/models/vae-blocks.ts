/**
 * The blocks of diffusers' AutoencoderKL as graph functions, each reading the weights under the prefix diffusers
 * gives it: `Encoder` and `Decoder` (vae.py), `DownEncoderBlock2D`, `UpDecoderBlock2D` and `UNetMidBlock2D`
 * (unet_2d_blocks.py), and the mid
 * block's one-head `Attention` with its input GroupNorm. The VAE builds all of them with `resnet_eps` 1e-6 and
 * `output_scale_factor` 1.
 *
 * Read from huggingface/diffusers: src/diffusers/models/autoencoders/vae.py at 04957c2003fa (Encoder, Decoder:
 * conv_in, down/up blocks with `add_downsample`/`add_upsample` on all but the last level, `downsample_padding` 0,
 * `attention_head_dim` = channels, mid block, conv_norm_out eps 1e-6, SiLU, conv_out), models/unets/unet_2d_blocks.py
 * at 049ca3822f9e (UNetMidBlock2D: resnets[0], then attention (heads = channels / attention_head_dim, group norm with
 * `resnet_eps`, `residual_connection=True`, `bias=True`) and resnet per layer), models/downsampling.py at
 * 0b011181c92d (Downsample2D: padding 0 → F.pad (0, 1, 0, 1) then a stride-2 3×3 conv) and models/resnet.py at
 * 00194089c74a (ResnetBlock2D: norm1 → SiLU → conv1 → norm2 → SiLU → conv2, 1×1 `conv_shortcut` when the channel
 * count changes). ResnetBlock2D (without a time embedding), Downsample2D and Upsample2D are the UNet's (./resnet.ts).
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import {
  conv2d,
  fromTokens,
  groupNorm,
  linear,
  multiHeadAttention,
  silu,
  toTokens,
} from "../graph-builder/nn.ts";
import { downsample2D, resnetBlock2D as resnet, upsample2D } from "./resnet.ts";

/** The GroupNorm epsilon of every VAE block (`resnet_eps` and `conv_norm_out`). */
export const VAE_NORM_EPS = 1e-6;

export interface VaeBlockOptions {
  /** `norm_num_groups`. */
  readonly groups: number;
  readonly eps: number;
}

/** ResnetBlock2D with `temb_channels=None` (./resnet.ts): output_scale_factor 1, no time embedding. */
function resnetBlock2D(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  { groups, eps }: VaeBlockOptions,
): Value {
  return resnet(g, x, undefined, prefix, {
    inChannels,
    outChannels,
    tembChannels: 0,
    groups,
    eps,
    timeEmbeddingNorm: "default",
    outputScaleFactor: 1,
  });
}

/**
 * The mid block's Attention (`heads = channels / attention_head_dim` = 1, biases on q/k/v/out): GroupNorm over the
 * input, the pixels as tokens, fused attention with scale channels^−0.5, `to_out.0`, back to [B, C, H, W], plus the
 * residual (`residual_connection=True`, `rescale_output_factor` 1).
 */
export function vaeAttention(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  channels: number,
  { groups, eps }: VaeBlockOptions,
): Value {
  const normed = groupNorm(g, x, `${prefix}.group_norm`, channels, groups, eps);
  const tokens = toTokens(g, normed, channels);
  const q = linear(g, tokens, `${prefix}.to_q`, channels, channels);
  const k = linear(g, tokens, `${prefix}.to_k`, channels, channels);
  const v = linear(g, tokens, `${prefix}.to_v`, channels, channels);
  const attended = multiHeadAttention(g, q, k, v, 1);
  const out = linear(g, attended, `${prefix}.to_out.0`, channels, channels);
  return g.op("Add", [fromTokens(g, out, x, channels), x]);
}

/** UNetMidBlock2D without time embedding: resnets.0, then (attentions.0 if `addAttention`) and resnets.1. */
export function unetMidBlock2D(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  channels: number,
  addAttention: boolean,
  options: VaeBlockOptions,
): Value {
  let h = resnetBlock2D(g, x, `${prefix}.resnets.0`, channels, channels, options);
  if (addAttention) h = vaeAttention(g, h, `${prefix}.attentions.0`, channels, options);
  return resnetBlock2D(g, h, `${prefix}.resnets.1`, channels, channels, options);
}

/** `layers` ResnetBlock2Ds under `${prefix}.resnets.N`; the first changes the channel count. */
function resnets(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  layers: number,
  options: VaeBlockOptions,
): Value {
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = resnetBlock2D(
      g,
      h,
      `${prefix}.resnets.${i}`,
      i === 0 ? inChannels : outChannels,
      outChannels,
      options,
    );
  }
  return h;
}

/** DownEncoderBlock2D: `layers` resnets (the first changes the channel count), then an optional downsampler. */
export function downEncoderBlock2D(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  layers: number,
  addDownsample: boolean,
  options: VaeBlockOptions,
): Value {
  const h = resnets(g, x, prefix, inChannels, outChannels, layers, options);
  // Downsample2D with padding 0 (diffusers pads right and bottom by one, then a stride-2 3×3 conv).
  return addDownsample ? downsample2D(g, h, `${prefix}.downsamplers.0`, outChannels, 0) : h;
}

/** UpDecoderBlock2D: `layers` resnets (the first changes the channel count), then an optional upsampler. */
export function upDecoderBlock2D(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  layers: number,
  addUpsample: boolean,
  options: VaeBlockOptions,
): Value {
  const h = resnets(g, x, prefix, inChannels, outChannels, layers, options);
  return addUpsample ? upsample2D(g, h, undefined, `${prefix}.upsamplers.0`, outChannels) : h;
}

export interface CoderConfig {
  readonly blockOutChannels: readonly number[];
  readonly layersPerBlock: number;
  readonly groups: number;
  readonly midBlockAddAttention: boolean;
}

/** diffusers' `Encoder` (double_z): [B, inChannels, H, W] → [B, 2·outChannels, H/f, W/f]. */
export function encoder(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  config: CoderConfig,
): Value {
  const options = { groups: config.groups, eps: VAE_NORM_EPS };
  const channels = config.blockOutChannels;
  const first = channels[0]!;
  const last = channels[channels.length - 1]!;
  let h = conv2d(g, x, `${prefix}.conv_in`, inChannels, first, 3, { padding: 1 });
  let previous = first;
  channels.forEach((out, i) => {
    const isFinal = i === channels.length - 1;
    h = downEncoderBlock2D(
      g,
      h,
      `${prefix}.down_blocks.${i}`,
      previous,
      out,
      config.layersPerBlock,
      !isFinal,
      options,
    );
    previous = out;
  });
  h = unetMidBlock2D(g, h, `${prefix}.mid_block`, last, config.midBlockAddAttention, options);
  h = silu(g, groupNorm(g, h, `${prefix}.conv_norm_out`, last, config.groups, VAE_NORM_EPS));
  return conv2d(g, h, `${prefix}.conv_out`, last, 2 * outChannels, 3, { padding: 1 });
}

/** diffusers' `Decoder` (norm_type "group"): [B, inChannels, h, w] → [B, outChannels, h·f, w·f]. */
export function decoder(
  g: GraphBuilder,
  z: Value,
  prefix: string,
  inChannels: number,
  outChannels: number,
  config: CoderConfig,
): Value {
  const options = { groups: config.groups, eps: VAE_NORM_EPS };
  const reversed = [...config.blockOutChannels].reverse();
  const top = reversed[0]!;
  const bottom = reversed[reversed.length - 1]!;
  let h = conv2d(g, z, `${prefix}.conv_in`, inChannels, top, 3, { padding: 1 });
  h = unetMidBlock2D(g, h, `${prefix}.mid_block`, top, config.midBlockAddAttention, options);
  let previous = top;
  reversed.forEach((out, i) => {
    const isFinal = i === reversed.length - 1;
    // Decoder levels have one resnet more than encoder levels (`num_layers=layers_per_block + 1`).
    h = upDecoderBlock2D(
      g,
      h,
      `${prefix}.up_blocks.${i}`,
      previous,
      out,
      config.layersPerBlock + 1,
      !isFinal,
      options,
    );
    previous = out;
  });
  h = silu(g, groupNorm(g, h, `${prefix}.conv_norm_out`, bottom, config.groups, VAE_NORM_EPS));
  return conv2d(g, h, `${prefix}.conv_out`, bottom, outChannels, 3, { padding: 1 });
}
