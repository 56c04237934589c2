/**
 * UNet and VAE names of Stability's original checkpoints (LDM / sgm: `model.diffusion_model.`,
 * `first_stage_model.`) against diffusers' `UNet2DConditionModel` / `AutoencoderKL`, as tables computed from the
 * diffusers component config. The rules are diffusers' own conversion, read in
 * `src/diffusers/loaders/single_file_utils.py` at commit 11307ce964724348c940e4461f187c884135f7f3
 * (`DIFFUSERS_TO_LDM_MAPPING`, `convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint`,
 * `update_unet_resnet_ldm_to_diffusers`, `update_vae_attentions_ldm_to_diffusers`):
 *
 * UNet, with L levels and n = layers_per_block:
 * - `input_blocks.0.0` = conv_in; down level i resnet j = `input_blocks.{(n+1)i + j + 1}.0`, its attention `.1`
 *   (levels whose down block is a CrossAttn one); downsampler `input_blocks.{(n+1)(i+1)}.0.op` (not the last level);
 * - `middle_block.0/1/2` = mid resnet 0, attention, resnet 1;
 * - up level i block j (0..n, one more than down) = `output_blocks.{(n+1)i + j}.0`, attention `.1`; the upsampler
 *   (not the last level) sits after block n: `output_blocks.{(n+1)i + n}.2.conv` when the level has attention,
 *   `.1.conv` when not;
 * - `time_embed.0/2` = time_embedding.linear_1/2, `out.0` = conv_norm_out, `out.2` = conv_out, `label_emb.0.0/0.2`
 *   = add_embedding.linear_1/2 (SDXL `text_time`) or class_embedding.linear_1/2 (`class_embed_type`);
 * - resnet parts: `in_layers.0` norm1, `in_layers.2` conv1, `emb_layers.1` time_emb_proj, `out_layers.0` norm2,
 *   `out_layers.3` conv2, `skip_connection` conv_shortcut; inside attentions the names are diffusers' already.
 *
 * VAE, with L levels and n = layers_per_block: `encoder.down.{i}.block.{j}` / `.downsample.conv`; the decoder's
 * levels are numbered in reverse: diffusers `decoder.up_blocks.i` = `decoder.up.{L-1-i}` (n+1 resnets,
 * `.upsample.conv`); `mid.block_1/block_2/attn_1`; `norm_out` = conv_norm_out; resnet `nin_shortcut` =
 * conv_shortcut; mid attention `norm` = group_norm, `q/k/v` = to_q/to_k/to_v, `proj_out` = to_out.0, whose weights
 * are stored as 1×1 convolutions (reshaped to diffusers' Linear).
 */
import { UnsupportedComponentError } from "../../errors.ts";
import { ComponentKeyMap, type ModulePair, type Part } from "./key-map.ts";

export const LDM_UNET_PREFIX = "model.diffusion_model.";
export const LDM_VAE_PREFIX = "first_stage_model.";

/** UNet modules outside the levels. */
const UNET_LAYERS: readonly (readonly [original: string, diffusers: string])[] = [
  ["time_embed.0.", "time_embedding.linear_1."],
  ["time_embed.2.", "time_embedding.linear_2."],
  ["input_blocks.0.0.", "conv_in."],
  ["out.0.", "conv_norm_out."],
  ["out.2.", "conv_out."],
];

/** SDXL's `addition_embed_type: "text_time"` / a `class_embed_type` (both `label_emb` in the original). */
const LABEL_EMB = (target: "add_embedding" | "class_embedding") =>
  [
    ["label_emb.0.0.", `${target}.linear_1.`],
    ["label_emb.0.2.", `${target}.linear_2.`],
  ] as const;

/** ResnetBlock2D of the UNet. */
const UNET_RESNET_PARTS: readonly Part[] = [
  { original: "in_layers.0.", diffusers: "norm1." },
  { original: "in_layers.2.", diffusers: "conv1." },
  { original: "emb_layers.1.", diffusers: "time_emb_proj." },
  { original: "out_layers.0.", diffusers: "norm2." },
  { original: "out_layers.3.", diffusers: "conv2." },
  { original: "skip_connection.", diffusers: "conv_shortcut." },
];

/** ResnetBlock2D of the VAE: diffusers' names but for the shortcut. */
const VAE_RESNET_PARTS: readonly Part[] = [
  { original: "norm1.", diffusers: "norm1." },
  { original: "conv1.", diffusers: "conv1." },
  { original: "norm2.", diffusers: "norm2." },
  { original: "conv2.", diffusers: "conv2." },
  { original: "nin_shortcut.", diffusers: "conv_shortcut." },
];

/** The VAE mid-block attention (one head), q/k/v/proj_out stored as 1×1 convolutions. */
const VAE_ATTENTION_PARTS: readonly Part[] = [
  { original: "norm.", diffusers: "group_norm." },
  { original: "q.", diffusers: "to_q.", convAsLinear: true },
  { original: "k.", diffusers: "to_k.", convAsLinear: true },
  { original: "v.", diffusers: "to_v.", convAsLinear: true },
  { original: "proj_out.", diffusers: "to_out.0.", convAsLinear: true },
];

/** VAE modules outside the levels (encoder and decoder alike, plus the quant convs). */
const VAE_LAYERS: readonly (readonly [original: string, diffusers: string])[] = [
  ["encoder.conv_in.", "encoder.conv_in."],
  ["encoder.conv_out.", "encoder.conv_out."],
  ["encoder.norm_out.", "encoder.conv_norm_out."],
  ["decoder.conv_in.", "decoder.conv_in."],
  ["decoder.conv_out.", "decoder.conv_out."],
  ["decoder.norm_out.", "decoder.conv_norm_out."],
  ["quant_conv.", "quant_conv."],
  ["post_quant_conv.", "post_quant_conv."],
];

type Config = Readonly<Record<string, unknown>>;

/** The LDM UNet conversion for a `UNet2DConditionModel` config. */
export function ldmUnetKeyMap(config: Config, component = "unet"): ComponentKeyMap {
  const { levels, perLevel } = levelsOf(config, component);
  const down = stringList(config.down_block_types, levels);
  const up = stringList(config.up_block_types, levels);
  const withAttention = (type: string | undefined) => type?.includes("CrossAttn") === true;
  const pairs: ModulePair[] = UNET_LAYERS.map(([original, diffusers]) => ({ original, diffusers }));
  if (config.addition_embed_type === "text_time") {
    for (const [original, diffusers] of LABEL_EMB("add_embedding")) pairs.push({ original, diffusers });
  } else if (typeof config.class_embed_type === "string") {
    for (const [original, diffusers] of LABEL_EMB("class_embedding")) pairs.push({ original, diffusers });
  }
  const resnet = (original: string, diffusers: string) =>
    pairs.push({ original, diffusers, parts: UNET_RESNET_PARTS });
  const block = perLevel + 1;
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < perLevel; j++) {
      const n = block * i + j + 1;
      resnet(`input_blocks.${n}.0.`, `down_blocks.${i}.resnets.${j}.`);
      if (withAttention(down[i])) {
        pairs.push({ original: `input_blocks.${n}.1.`, diffusers: `down_blocks.${i}.attentions.${j}.` });
      }
    }
    if (i < levels - 1) {
      pairs.push({
        original: `input_blocks.${block * (i + 1)}.0.op.`,
        diffusers: `down_blocks.${i}.downsamplers.0.conv.`,
      });
    }
  }
  if (config.mid_block_type !== null) {
    resnet("middle_block.0.", "mid_block.resnets.0.");
    pairs.push({ original: "middle_block.1.", diffusers: "mid_block.attentions.0." });
    resnet("middle_block.2.", "mid_block.resnets.1.");
  }
  for (let i = 0; i < levels; i++) {
    const attention = withAttention(up[i]);
    for (let j = 0; j <= perLevel; j++) {
      const n = block * i + j;
      resnet(`output_blocks.${n}.0.`, `up_blocks.${i}.resnets.${j}.`);
      if (attention) {
        pairs.push({ original: `output_blocks.${n}.1.`, diffusers: `up_blocks.${i}.attentions.${j}.` });
      }
    }
    if (i < levels - 1) {
      pairs.push({
        original: `output_blocks.${block * i + perLevel}.${attention ? 2 : 1}.conv.`,
        diffusers: `up_blocks.${i}.upsamplers.0.conv.`,
      });
    }
  }
  return new ComponentKeyMap(component, LDM_UNET_PREFIX, pairs);
}

/** The LDM VAE conversion for an `AutoencoderKL` config. */
export function ldmVaeKeyMap(config: Config, component = "vae"): ComponentKeyMap {
  const { levels, perLevel } = levelsOf(config, component);
  const pairs: ModulePair[] = VAE_LAYERS.map(([original, diffusers]) => ({ original, diffusers }));
  const resnet = (original: string, diffusers: string) =>
    pairs.push({ original, diffusers, parts: VAE_RESNET_PARTS });
  for (const side of ["encoder", "decoder"] as const) {
    resnet(`${side}.mid.block_1.`, `${side}.mid_block.resnets.0.`);
    resnet(`${side}.mid.block_2.`, `${side}.mid_block.resnets.1.`);
    if (config.mid_block_add_attention !== false) {
      pairs.push({
        original: `${side}.mid.attn_1.`,
        diffusers: `${side}.mid_block.attentions.0.`,
        parts: VAE_ATTENTION_PARTS,
      });
    }
  }
  for (let i = 0; i < levels; i++) {
    for (let j = 0; j < perLevel; j++) {
      resnet(`encoder.down.${i}.block.${j}.`, `encoder.down_blocks.${i}.resnets.${j}.`);
    }
    // The decoder's levels run the other way: diffusers' up_blocks.i is the original up.{L-1-i}.
    const o = levels - 1 - i;
    for (let j = 0; j <= perLevel; j++) {
      resnet(`decoder.up.${o}.block.${j}.`, `decoder.up_blocks.${i}.resnets.${j}.`);
    }
    if (i < levels - 1) {
      pairs.push({
        original: `encoder.down.${i}.downsample.conv.`,
        diffusers: `encoder.down_blocks.${i}.downsamplers.0.conv.`,
      });
      pairs.push({
        original: `decoder.up.${o}.upsample.conv.`,
        diffusers: `decoder.up_blocks.${i}.upsamplers.0.conv.`,
      });
    }
  }
  return new ComponentKeyMap(component, LDM_VAE_PREFIX, pairs);
}

/** Levels (len(block_out_channels)) and resnets per level (`layers_per_block`, one number). */
function levelsOf(config: Config, component: string): { levels: number; perLevel: number } {
  const channels = config.block_out_channels;
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new UnsupportedComponentError(
      component,
      "block_out_channels",
      JSON.stringify(channels),
      "not a list",
    );
  }
  const perLevel = config.layers_per_block ?? 2;
  if (typeof perLevel !== "number" || !Number.isInteger(perLevel) || perLevel < 1) {
    // The original numbering counts (n+1) blocks per level; a per-level list has no single-file layout here.
    throw new UnsupportedComponentError(
      component,
      "layers_per_block",
      JSON.stringify(perLevel),
      "not supported in single files (one positive integer is)",
    );
  }
  return { levels: channels.length, perLevel };
}

function stringList(value: unknown, length: number): (string | undefined)[] {
  const list = Array.isArray(value) ? value : [];
  return Array.from({ length }, (_, i) => (typeof list[i] === "string" ? (list[i] as string) : undefined));
}
