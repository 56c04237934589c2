/**
 * diffusers' `AutoencoderKL` as two graphs, the halves the pipelines call: the encoder (`vae.encode`: Encoder then
 * `quant_conv`, giving the moments DiagonalGaussianDistribution takes — mean then raw logvar on the channel axis;
 * the pipeline clamps the logvar and samples) and the decoder (`vae.decode`: `post_quant_conv` then Decoder, on
 * latents the pipeline already divided by `scaling_factor`). `scaling_factor` and `force_upcast` do not change the
 * graph (it computes in float32); `shift_factor`, `latents_mean` and `latents_std` are refused, the SD pipelines
 * here do not apply them.
 *
 * Read from huggingface/diffusers: src/diffusers/models/autoencoders/autoencoder_kl.py at 020660152e10 (the
 * constructor's defaults, `encode` = quant_conv(encoder(x)), `_decode` = decoder(post_quant_conv(z))) and vae.py at
 * 04957c2003fa (`mid_block_add_attention`). `use_quant_conv` / `use_post_quant_conv` are keys of later diffusers
 * versions, not in the file read: default true; false omits the 1×1 conv (its weights are then not looked up).
 *
 * @example
 * const built = await buildComponentGraph(files, buildAutoencoderKLDecoder);
 * // inputs: latent_sample [batch, 4, h, w]; outputs: sample [batch, 3, 8h, 8w]
 */
import type { GraphBuilder } from "../graph-builder/graph-builder.ts";
import { conv2d } from "../graph-builder/nn.ts";
import type { ComponentBuilder } from "./build-component.ts";
import { ConfigFields } from "./config-fields.ts";
import { type CoderConfig, decoder, encoder } from "./vae-blocks.ts";

export interface AutoencoderKLConfig extends CoderConfig {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly latentChannels: number;
  readonly useQuantConv: boolean;
  readonly usePostQuantConv: boolean;
  /** Used by the pipelines, not by the graphs. */
  readonly scalingFactor: number;
}

const KNOWN_KEYS = [
  "in_channels",
  "out_channels",
  "down_block_types",
  "up_block_types",
  "block_out_channels",
  "layers_per_block",
  "act_fn",
  "latent_channels",
  "norm_num_groups",
  "sample_size",
  "scaling_factor",
  "shift_factor",
  "latents_mean",
  "latents_std",
  "force_upcast",
  "use_quant_conv",
  "use_post_quant_conv",
  "mid_block_add_attention",
];

/** Reads an AutoencoderKL `config.json` with diffusers' defaults; refuses what the builder does not implement. */
export function parseAutoencoderKLConfig(
  raw: Readonly<Record<string, unknown>>,
  component = "vae",
): AutoencoderKLConfig {
  const f = new ConfigFields(component, raw, KNOWN_KEYS);
  if (raw._class_name !== undefined && raw._class_name !== "AutoencoderKL") {
    f.refuse("_class_name", raw._class_name, "not AutoencoderKL");
  }
  const blockOutChannels = f.intList("block_out_channels", [64]);
  const down = f.stringList("down_block_types", ["DownEncoderBlock2D"], ["DownEncoderBlock2D"]);
  const up = f.stringList("up_block_types", ["UpDecoderBlock2D"], ["UpDecoderBlock2D"]);
  if (down.length !== blockOutChannels.length) {
    f.refuse(
      "down_block_types",
      down,
      `not one entry per block_out_channels entry (${blockOutChannels.length})`,
    );
  }
  if (up.length !== blockOutChannels.length) {
    f.refuse("up_block_types", up, `not one entry per block_out_channels entry (${blockOutChannels.length})`);
  }
  const groups = f.int("norm_num_groups", 32);
  for (const c of blockOutChannels) {
    if (c % groups !== 0)
      f.refuse("norm_num_groups", groups, `not a divisor of every block_out_channels entry`);
  }
  f.oneOf("act_fn", ["silu"], "silu");
  f.mustBeNull("shift_factor", "not applied by the Stable Diffusion pipelines (must be null)");
  f.mustBeNull("latents_mean", "not applied by autopipe's pipelines (must be null)");
  f.mustBeNull("latents_std", "not applied by autopipe's pipelines (must be null)");
  f.bool("force_upcast", true);
  const sampleSize = raw.sample_size;
  if (sampleSize !== undefined && !(typeof sampleSize === "number" || Array.isArray(sampleSize))) {
    f.refuse("sample_size", sampleSize, "not a number or a list");
  }
  return {
    inChannels: f.int("in_channels", 3),
    outChannels: f.int("out_channels", 3),
    latentChannels: f.int("latent_channels", 4),
    blockOutChannels,
    layersPerBlock: f.int("layers_per_block", 1),
    groups,
    midBlockAddAttention: f.bool("mid_block_add_attention", true),
    useQuantConv: f.bool("use_quant_conv", true),
    usePostQuantConv: f.bool("use_post_quant_conv", true),
    scalingFactor: f.number("scaling_factor", 0.18215),
  };
}

/**
 * The encoder half: input `sample` float32 [batch, in_channels, height, width] (pixels in [-1, 1]) → output
 * `latent_parameters` float32 [batch, 2·latent_channels, height/f, width/f] (mean, then raw logvar).
 */
export const buildAutoencoderKLEncoder: ComponentBuilder = (g: GraphBuilder, raw) => {
  const config = parseAutoencoderKLConfig(raw, g.options.component);
  const moments = 2 * config.latentChannels;
  const x = g.input("sample", "float32", ["batch", config.inChannels, "height", "width"]);
  let h = encoder(g, x, "encoder", config.inChannels, config.latentChannels, config);
  if (config.useQuantConv) h = conv2d(g, h, "quant_conv", moments, moments, 1);
  g.output(h, "latent_parameters", "float32", ["batch", moments, "latent_height", "latent_width"]);
};

/**
 * The decoder half: input `latent_sample` float32 [batch, latent_channels, h, w] (latents / scaling_factor) →
 * output `sample` float32 [batch, out_channels, h·f, w·f] (about [-1, 1]).
 */
export const buildAutoencoderKLDecoder: ComponentBuilder = (g: GraphBuilder, raw) => {
  const config = parseAutoencoderKLConfig(raw, g.options.component);
  const latent = config.latentChannels;
  let z = g.input("latent_sample", "float32", ["batch", latent, "latent_height", "latent_width"]);
  if (config.usePostQuantConv) z = conv2d(g, z, "post_quant_conv", latent, latent, 1);
  const y = decoder(g, z, "decoder", latent, config.outChannels, config);
  g.output(y, "sample", "float32", ["batch", config.outChannels, "height", "width"]);
};
