/**
 * UNet2DConditionModel's `config.json`, read and checked once, up front: every key diffusers' constructor takes
 * (with its defaults when a key is absent, as older checkpoints omit many), scalars expanded per level as
 * `unet_2d_condition.py` expands them, and every key or value the graph builder does not implement refused by
 * name (`UnsupportedComponentError`: component, key, value), so that such a checkpoint is reported, never run
 * wrongly.
 */
import { UnsupportedComponentError } from "../errors.ts";

export type DownBlockType = "CrossAttnDownBlock2D" | "DownBlock2D";
export type UpBlockType = "CrossAttnUpBlock2D" | "UpBlock2D";

export interface UNet2DConditionConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly centerInputSample: boolean;
  readonly flipSinToCos: boolean;
  readonly freqShift: number;
  readonly downBlockTypes: readonly DownBlockType[];
  /** null: no mid block. */
  readonly midBlockType: "UNetMidBlock2DCrossAttn" | null;
  readonly upBlockTypes: readonly UpBlockType[];
  readonly blockOutChannels: readonly number[];
  /** Per level, like everything per level below. */
  readonly layersPerBlock: readonly number[];
  readonly onlyCrossAttention: readonly boolean[];
  /** Attention heads per level: `num_attention_heads`, or the legacy `attention_head_dim` when that is null. */
  readonly heads: readonly number[];
  readonly transformerLayersPerBlock: readonly number[];
  readonly crossAttentionDim: number;
  readonly useLinearProjection: boolean;
  readonly downsamplePadding: number;
  readonly midBlockScaleFactor: number;
  readonly normNumGroups: number;
  readonly normEps: number;
  readonly resnetTimeScaleShift: "default" | "scale_shift";
  readonly resnetSkipTimeAct: boolean;
  readonly resnetOutScaleFactor: number;
  readonly timeEmbedDim: number;
  /** LCM's `time_cond_proj_dim`: the width of the `timestep_cond` input; null when absent. */
  readonly timeCondProjDim: number | null;
  readonly convInKernel: number;
  readonly convOutKernel: number;
  /** SDXL's `addition_embed_type: "text_time"`; null when absent. */
  readonly textTime: { readonly timeIdDim: number; readonly inputDim: number } | null;
}

const DEFAULT_DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
const DEFAULT_UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];

/** Keys read, and keys accepted without effect on the graph (`sample_size`, `dropout` at inference, ...). */
// biome-ignore format: a table
const KNOWN = new Set([
  "sample_size", "in_channels", "out_channels", "center_input_sample", "flip_sin_to_cos", "freq_shift",
  "down_block_types", "mid_block_type", "up_block_types", "only_cross_attention", "block_out_channels",
  "layers_per_block", "downsample_padding", "mid_block_scale_factor", "dropout", "act_fn", "norm_num_groups",
  "norm_eps", "cross_attention_dim", "transformer_layers_per_block", "reverse_transformer_layers_per_block",
  "encoder_hid_dim", "encoder_hid_dim_type", "attention_head_dim", "num_attention_heads", "dual_cross_attention",
  "use_linear_projection", "class_embed_type", "addition_embed_type", "addition_time_embed_dim", "num_class_embeds",
  "upcast_attention", "resnet_time_scale_shift", "resnet_skip_time_act", "resnet_out_scale_factor",
  "time_embedding_type", "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act", "time_cond_proj_dim",
  "conv_in_kernel", "conv_out_kernel", "projection_class_embeddings_input_dim", "attention_type",
  "class_embeddings_concat", "mid_block_only_cross_attention", "cross_attention_norm", "addition_embed_type_num_heads",
]);

/** Reads keys of a raw config with diffusers' defaults; every refusal names the key and the value. */
class ConfigReader {
  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    private readonly component: string,
  ) {}

  get(key: string, fallback: unknown): unknown {
    return Object.hasOwn(this.raw, key) ? this.raw[key] : fallback;
  }

  refuse(key: string, value: unknown, detail?: string): never {
    throw new UnsupportedComponentError(this.component, key, JSON.stringify(value) ?? "undefined", detail);
  }

  /** The key must hold exactly one of `allowed`. */
  oneOf<T>(key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.get(key, fallback);
    return allowed.includes(v as T) ? (v as T) : this.refuse(key, v);
  }

  int(key: string, fallback: unknown, min = 1): number {
    const v = this.get(key, fallback);
    return Number.isInteger(v) && (v as number) >= min ? (v as number) : this.refuse(key, v);
  }

  num(key: string, fallback: unknown): number {
    const v = this.get(key, fallback);
    return typeof v === "number" && Number.isFinite(v) ? v : this.refuse(key, v);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key, fallback);
    return typeof v === "boolean" ? v : this.refuse(key, v);
  }

  /** A scalar repeated per level, or a list of one entry per level; each entry checked by `ok`. */
  perLevel<T>(key: string, fallback: unknown, levels: number, ok: (v: unknown) => v is T): T[] {
    const v = this.get(key, fallback);
    if (ok(v)) return new Array<T>(levels).fill(v);
    if (Array.isArray(v) && v.length === levels && v.every(ok)) return v;
    return this.refuse(key, v, `not supported (one value, or one per level: ${levels})`);
  }

  list<T extends string>(key: string, fallback: readonly string[], allowed: readonly T[]): T[] {
    const v = this.get(key, fallback);
    if (!Array.isArray(v) || v.length === 0) return this.refuse(key, v);
    for (const item of v)
      if (!allowed.includes(item as T)) this.refuse(key, item, "not supported in this list");
    return v as T[];
  }
}

const isPositiveInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isBool = (v: unknown): v is boolean => typeof v === "boolean";

/**
 * Checks a UNet2DConditionModel `config.json` and returns what the graph builder needs.
 *
 * @example
 * const config = parseUNet2DConditionConfig(JSON.parse(text)); // SD 1.5: heads [8, 8, 8, 8], crossAttentionDim 768
 */
export function parseUNet2DConditionConfig(
  raw: Readonly<Record<string, unknown>>,
  component = "unet",
): UNet2DConditionConfig {
  const r = new ConfigReader(raw, component);
  for (const key of Object.keys(raw)) if (!key.startsWith("_") && !KNOWN.has(key)) r.refuse(key, raw[key]);

  // Keys only the values diffusers uses for Stable Diffusion 1.x/2.x/XL are accepted for.
  r.oneOf("act_fn", "silu", ["silu", "swish"]);
  r.oneOf("time_embedding_type", "positional", ["positional"]);
  r.oneOf("dual_cross_attention", false, [false]);
  r.oneOf("class_embed_type", null, [null]);
  r.oneOf("num_class_embeds", null, [null]);
  r.oneOf("class_embeddings_concat", false, [false]);
  r.oneOf("encoder_hid_dim", null, [null]);
  r.oneOf("encoder_hid_dim_type", null, [null]);
  r.oneOf("time_embedding_act_fn", null, [null]);
  r.oneOf("timestep_post_act", null, [null]);
  r.oneOf("attention_type", "default", ["default"]);
  r.oneOf("cross_attention_norm", null, [null]);
  r.oneOf("reverse_transformer_layers_per_block", null, [null]);
  r.oneOf("mid_block_only_cross_attention", null, [null, true, false]);
  r.bool("upcast_attention", false);

  const downBlockTypes = r.list("down_block_types", DEFAULT_DOWN, ["CrossAttnDownBlock2D", "DownBlock2D"]);
  const upBlockTypes = r.list("up_block_types", DEFAULT_UP, ["CrossAttnUpBlock2D", "UpBlock2D"]);
  const levels = downBlockTypes.length;
  if (upBlockTypes.length !== levels)
    r.refuse("up_block_types", upBlockTypes, `not one per down block (${levels})`);
  const channels = r.get("block_out_channels", [320, 640, 1280, 1280]);
  if (!Array.isArray(channels)) r.refuse("block_out_channels", channels);
  const blockOutChannels = r.perLevel("block_out_channels", null, levels, isPositiveInt);

  // diffusers' legacy naming: `num_attention_heads or attention_head_dim` is the number of heads.
  const heads =
    r.get("num_attention_heads", null) === null
      ? r.perLevel("attention_head_dim", 8, levels, isPositiveInt)
      : r.perLevel("num_attention_heads", null, levels, isPositiveInt);

  const crossDims = r.perLevel("cross_attention_dim", 1280, levels, isPositiveInt);
  if (new Set(crossDims).size !== 1)
    r.refuse("cross_attention_dim", crossDims, "not supported (differs per level)");

  const addition = r.oneOf("addition_embed_type", null, [null, "text_time"]);
  let textTime: UNet2DConditionConfig["textTime"] = null;
  if (addition === "text_time") {
    const timeIdDim = r.int("addition_time_embed_dim", null);
    const inputDim = r.int("projection_class_embeddings_input_dim", null);
    textTime = { timeIdDim, inputDim };
  }

  const convInKernel = r.int("conv_in_kernel", 3);
  const convOutKernel = r.int("conv_out_kernel", 3);
  if (convInKernel % 2 === 0) r.refuse("conv_in_kernel", convInKernel, "not supported (even)");
  if (convOutKernel % 2 === 0) r.refuse("conv_out_kernel", convOutKernel, "not supported (even)");
  const normNumGroups = r.int("norm_num_groups", 32);
  for (const c of blockOutChannels) {
    if (c % normNumGroups !== 0) r.refuse("norm_num_groups", normNumGroups, `not a divisor of ${c} channels`);
  }
  const timeEmbeddingDim = r.get("time_embedding_dim", null);
  const timeCondProjDim = r.get("time_cond_proj_dim", null);

  return {
    inChannels: r.int("in_channels", 4),
    outChannels: r.int("out_channels", 4),
    centerInputSample: r.bool("center_input_sample", false),
    flipSinToCos: r.bool("flip_sin_to_cos", true),
    freqShift: r.num("freq_shift", 0),
    downBlockTypes,
    midBlockType: r.oneOf("mid_block_type", "UNetMidBlock2DCrossAttn", ["UNetMidBlock2DCrossAttn", null]),
    upBlockTypes,
    blockOutChannels,
    layersPerBlock: r.perLevel("layers_per_block", 2, levels, isPositiveInt),
    onlyCrossAttention: r.perLevel("only_cross_attention", false, levels, isBool),
    heads,
    transformerLayersPerBlock: r.perLevel("transformer_layers_per_block", 1, levels, isPositiveInt),
    crossAttentionDim: crossDims[0]!,
    useLinearProjection: r.bool("use_linear_projection", false),
    downsamplePadding: r.int("downsample_padding", 1, 0),
    midBlockScaleFactor: r.num("mid_block_scale_factor", 1),
    normNumGroups,
    normEps: r.num("norm_eps", 1e-5),
    resnetTimeScaleShift: r.oneOf("resnet_time_scale_shift", "default", ["default", "scale_shift"] as const),
    resnetSkipTimeAct: r.bool("resnet_skip_time_act", false),
    resnetOutScaleFactor: r.num("resnet_out_scale_factor", 1),
    timeEmbedDim: timeEmbeddingDim === null ? 4 * blockOutChannels[0]! : r.int("time_embedding_dim", null),
    timeCondProjDim: timeCondProjDim === null ? null : r.int("time_cond_proj_dim", null),
    convInKernel,
    convOutKernel,
    textTime,
  };
}
