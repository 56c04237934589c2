/**
 * diffusers' `embeddings.py` as graph functions: `Timesteps` (the sinusoidal projection of a timestep, no weights),
 * `TimestepEmbedding` (linear → act → linear, with the LCM `cond_proj`), and the SDXL `text_time` additional
 * embedding (`add_time_proj` + `add_embedding` of UNet2DConditionModel).
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { linear, silu } from "../graph-builder/nn.ts";

export interface TimestepsOptions {
  /** `flip_sin_to_cos`: [cos, sin] instead of [sin, cos]. */
  readonly flipSinToCos: boolean;
  /** `downscale_freq_shift` (the UNet's `freq_shift`). */
  readonly freqShift: number;
}

/**
 * The frequencies of `get_timestep_embedding` (max_period 10000, scale 1), computed in float32 step by step as
 * PyTorch does (−ln(10000) · arange / (half − shift), then exp), so that t·freq rounds like the reference even
 * at t ≈ 1000.
 */
export function timestepFrequencies(dim: number, freqShift: number): number[] {
  const half = Math.floor(dim / 2);
  const f = Math.fround;
  const logPeriod = f(-Math.log(10000));
  const denominator = f(half - freqShift);
  return Array.from({ length: half }, (_, i) => f(Math.exp(f(f(logPeriod * i) / denominator))));
}

/** `Timesteps(dim, flip_sin_to_cos, freq_shift)`: t [N] → [N, dim]. */
export function timesteps(g: GraphBuilder, t: Value, dim: number, options: TimestepsOptions): Value {
  const freqs = timestepFrequencies(dim, options.freqShift);
  const args = g.op("Mul", [g.op("Unsqueeze", [t, g.int64s([1])]), g.floats(freqs, [1, freqs.length])]);
  const sin = g.op("Sin", [args]);
  const cos = g.op("Cos", [args]);
  const emb = g.op("Concat", options.flipSinToCos ? [cos, sin] : [sin, cos], { axis: 1 });
  // An odd `dim` gets one zero column at the end (torch.nn.functional.pad(emb, (0, 1))).
  return dim % 2 === 1 ? g.op("Pad", [emb, g.int64s([0, 0, 0, 1])]) : emb;
}

export interface TimestepEmbeddingOptions {
  readonly inChannels: number;
  readonly timeEmbedDim: number;
  /** `cond_proj_dim`: the size of the `condition` added (through `cond_proj`, no bias) before `linear_1`. */
  readonly condProjDim?: number | null;
}

/** `TimestepEmbedding` with act_fn silu and no post-activation: linear_2(silu(linear_1(x + cond_proj(c)))). */
export function timestepEmbedding(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  options: TimestepEmbeddingOptions,
  condition?: Value,
): Value {
  const { inChannels, timeEmbedDim, condProjDim } = options;
  let h = x;
  if (condProjDim && condition !== undefined) {
    h = g.op("Add", [h, linear(g, condition, `${prefix}.cond_proj`, condProjDim, inChannels, false)]);
  }
  h = silu(g, linear(g, h, `${prefix}.linear_1`, inChannels, timeEmbedDim));
  return linear(g, h, `${prefix}.linear_2`, timeEmbedDim, timeEmbedDim);
}

export interface TextTimeEmbeddingOptions extends TimestepsOptions {
  /** `addition_time_embed_dim`: the sinusoidal width of each time id. */
  readonly timeIdDim: number;
  /** `projection_class_embeddings_input_dim` = text_embeds width + time ids · timeIdDim. */
  readonly inputDim: number;
  readonly timeEmbedDim: number;
}

/**
 * SDXL's `addition_embed_type: "text_time"`: each time id through `add_time_proj` (Timesteps of
 * `addition_time_embed_dim`), the results laid side by side per sample, concatenated after `text_embeds`, then
 * `add_embedding` (a TimestepEmbedding). Returns `aug_emb` [B, timeEmbedDim]. As in diffusers, the number of time
 * ids is whatever is fed (6 for SDXL, 5 for the refiner's aesthetic-score conditioning).
 */
export function textTimeEmbedding(
  g: GraphBuilder,
  textEmbeds: Value,
  timeIds: Value,
  options: TextTimeEmbeddingOptions,
): Value {
  const flat = g.op("Reshape", [timeIds, g.int64s([-1])]);
  const projected = timesteps(g, flat, options.timeIdDim, options);
  // time_embeds.reshape((batch, -1))
  const batch = g.op("Slice", [g.op("Shape", [timeIds]), g.int64s([0]), g.int64s([1])]);
  const perSample = g.op("Concat", [batch, g.int64s([-1])], { axis: 0 });
  const timeEmbeds = g.op("Reshape", [projected, perSample]);
  const addEmbeds = g.op("Concat", [textEmbeds, timeEmbeds], { axis: 1 });
  return timestepEmbedding(g, addEmbeds, "add_embedding", {
    inChannels: options.inputDim,
    timeEmbedDim: options.timeEmbedDim,
  });
}
