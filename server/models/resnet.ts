/**
 * diffusers' `resnet.py` and the samplers beside it, as graph functions: `ResnetBlock2D` (GroupNorm → SiLU →
 * conv1, plus the time embedding, → GroupNorm → SiLU → conv2, plus the shortcut), `Downsample2D` (a stride-2
 * convolution) and `Upsample2D` (nearest ×2 then a 3×3 convolution).
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { conv2d, groupNorm, linear, silu } from "../graph-builder/nn.ts";

export interface ResnetBlock2DOptions {
  readonly inChannels: number;
  readonly outChannels: number;
  /** `temb_channels`: the time embedding's width; 0 for blocks without one (the VAE's). */
  readonly tembChannels: number;
  readonly groups: number;
  readonly eps: number;
  /**
   * `time_embedding_norm`: "default" adds the projected embedding after conv1; "scale_shift" projects to
   * 2·out channels and applies norm2(h)·(1 + scale) + shift.
   */
  readonly timeEmbeddingNorm: "default" | "scale_shift";
  /** `output_scale_factor`: (shortcut + h) / factor. */
  readonly outputScaleFactor: number;
}

/**
 * `ResnetBlock2D` with act_fn silu. `temb` arrives already activated (silu(emb), or emb itself with
 * `resnet_skip_time_act`): it is the same for every block, so the UNet computes it once. Without `temb`
 * (`temb_channels=None`, the VAE's blocks) there is no `time_emb_proj`.
 */
export function resnetBlock2D(
  g: GraphBuilder,
  x: Value,
  temb: Value | undefined,
  prefix: string,
  options: ResnetBlock2DOptions,
): Value {
  const { inChannels, outChannels, groups, eps } = options;
  let h = silu(g, groupNorm(g, x, `${prefix}.norm1`, inChannels, groups, eps));
  h = conv2d(g, h, `${prefix}.conv1`, inChannels, outChannels, 3, { padding: 1 });
  if (temb === undefined) {
    // Dropout is the identity at inference.
    h = conv2d(
      g,
      silu(g, groupNorm(g, h, `${prefix}.norm2`, outChannels, groups, eps)),
      `${prefix}.conv2`,
      outChannels,
      outChannels,
      3,
      { padding: 1 },
    );
    return residual(g, x, h, prefix, options);
  }
  const scaleShift = options.timeEmbeddingNorm === "scale_shift";
  const projected = linear(
    g,
    temb,
    `${prefix}.time_emb_proj`,
    options.tembChannels,
    scaleShift ? 2 * outChannels : outChannels,
  );
  // [B, C] → [B, C, 1, 1], broadcast over the pixels.
  const t = g.op("Unsqueeze", [projected, g.int64s([2, 3])]);
  if (scaleShift) {
    const [scale, shift] = g.opN("Split", [t, g.int64s([outChannels, outChannels])], 2, { axis: 1 });
    h = groupNorm(g, h, `${prefix}.norm2`, outChannels, groups, eps);
    h = g.op("Add", [g.op("Mul", [h, g.op("Add", [scale!, g.scalar(1)])]), shift!]);
  } else {
    h = groupNorm(g, g.op("Add", [h, t]), `${prefix}.norm2`, outChannels, groups, eps);
  }
  h = conv2d(g, silu(g, h), `${prefix}.conv2`, outChannels, outChannels, 3, { padding: 1 });
  return residual(g, x, h, prefix, options);
}

/** (shortcut(x) + h) / output_scale_factor; the shortcut is a 1×1 convolution when the channel count changes. */
function residual(g: GraphBuilder, x: Value, h: Value, prefix: string, options: ResnetBlock2DOptions): Value {
  const { inChannels, outChannels } = options;
  const shortcut =
    inChannels !== outChannels ? conv2d(g, x, `${prefix}.conv_shortcut`, inChannels, outChannels, 1) : x;
  const out = g.op("Add", [shortcut, h]);
  return options.outputScaleFactor === 1 ? out : g.op("Div", [out, g.scalar(options.outputScaleFactor)]);
}

/**
 * `Downsample2D(use_conv=True, padding)`: a 3×3 stride-2 convolution; with padding 0 diffusers pads one column
 * and one row at the end (right, bottom) first.
 */
export function downsample2D(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  channels: number,
  padding: number,
): Value {
  const w = g.weight(`${prefix}.conv.weight`, [channels, channels, 3, 3]);
  const b = g.weight(`${prefix}.conv.bias`, [channels]);
  const pads = padding === 0 ? [0, 0, 1, 1] : [padding, padding, padding, padding];
  return g.op("Conv", [x, w, b], { kernel_shape: [3, 3], strides: [2, 2], pads });
}

/**
 * `Upsample2D(use_conv=True)`: nearest-neighbour upsampling to the height and width of `like` (the skip it will
 * be concatenated with; that is diffusers' `upsample_size` when the input size is not a multiple of the total
 * downsampling factor, and exactly 2× otherwise), then a 3×3 convolution. Without `like` (the VAE decoder): ×2.
 */
export function upsample2D(
  g: GraphBuilder,
  x: Value,
  like: Value | undefined,
  prefix: string,
  channels: number,
): Value {
  if (like === undefined) {
    const up = g.op("Resize", [x, undefined, g.floats([1, 1, 2, 2])], {
      mode: "nearest",
      coordinate_transformation_mode: "asymmetric",
      nearest_mode: "floor",
    });
    return conv2d(g, up, `${prefix}.conv`, channels, channels, 3, { padding: 1 });
  }
  const xShape = g.op("Shape", [x]);
  const sizes = g.op(
    "Concat",
    [
      g.op("Slice", [xShape, g.int64s([0]), g.int64s([2])]),
      g.op("Slice", [g.op("Shape", [like]), g.int64s([2]), g.int64s([4])]),
    ],
    { axis: 0 },
  );
  // PyTorch's "nearest": source index = floor(destination · in / out).
  const up = g.op("Resize", [x, undefined, undefined, sizes], {
    mode: "nearest",
    coordinate_transformation_mode: "asymmetric",
    nearest_mode: "floor",
  });
  return conv2d(g, up, `${prefix}.conv`, channels, channels, 3, { padding: 1 });
}
