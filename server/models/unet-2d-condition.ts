/**
 * diffusers' `UNet2DConditionModel` (Stable Diffusion 1.x, 2.x and XL) built as an ONNX graph from its config and
 * safetensors weights, block for block as `unet_2d_condition.py` composes it: time embedding (+ SDXL's text_time
 * embedding) → conv_in → down blocks (keeping every skip) → mid block → up blocks (consuming the skips from the
 * end) → GroupNorm, SiLU, conv_out. Weights are read by diffusers' parameter names.
 *
 * Graph inputs: `sample` [batch, in_channels, height, width], `timestep` [batch] (or [1], expanded to the batch),
 * `encoder_hidden_states` [batch, sequence, cross_attention_dim]; with `addition_embed_type: "text_time"` also
 * `text_embeds` [batch, E] and `time_ids` [batch, N] with E + N·addition_time_embed_dim =
 * projection_class_embeddings_input_dim (SDXL: N = 6, E = 1280; the refiner: N = 5); with `time_cond_proj_dim` also `timestep_cond` [batch, time_cond_proj_dim]. Output: `out_sample`
 * [batch, out_channels, height, width]. Height and width are symbolic and need not be multiples of the
 * downsampling factor (each upsampler takes the size of the skip it meets, as diffusers' `upsample_size` does).
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { conv2d, groupNorm, silu } from "../graph-builder/nn.ts";
import type { ComponentBuilder } from "./build-component.ts";
import { textTimeEmbedding, timestepEmbedding, timesteps } from "./embeddings.ts";
import {
  type BlockContext,
  type CrossAttention,
  crossAttnDownBlock2D,
  crossAttnUpBlock2D,
  downBlock2D,
  unetMidBlock2DCrossAttn,
  upBlock2D,
} from "./unet-2d-blocks.ts";
import { parseUNet2DConditionConfig, type UNet2DConditionConfig } from "./unet-2d-condition-config.ts";

export class UNet2DConditionModel {
  constructor(readonly config: UNet2DConditionConfig) {}

  /** Declares the inputs and `out_sample` on `g` and builds the graph between them. */
  build(g: GraphBuilder): void {
    const c = this.config;
    const levels = c.blockOutChannels.length;
    const c0 = c.blockOutChannels[0]!;
    let sample = g.input("sample", "float32", ["batch", c.inChannels, "height", "width"]);
    const timestep = g.input("timestep", "float32", ["batch"]);
    const encoderHiddenStates = g.input("encoder_hidden_states", "float32", [
      "batch",
      "sequence",
      c.crossAttentionDim,
    ]);

    // 0. center input if necessary
    if (c.centerInputSample) sample = g.op("Sub", [g.op("Mul", [sample, g.scalar(2)]), g.scalar(1)]);

    // 1. time: the timestep broadcast to the batch, its sinusoidal projection, then the TimestepEmbedding MLP.
    const batch = g.op("Slice", [g.op("Shape", [sample]), g.int64s([0]), g.int64s([1])]);
    const t = g.op("Expand", [timestep, batch]);
    const tEmb = timesteps(g, t, c0, c);
    const condition =
      c.timeCondProjDim === null
        ? undefined
        : g.input("timestep_cond", "float32", ["batch", c.timeCondProjDim]);
    const timeEmbedding = { inChannels: c0, timeEmbedDim: c.timeEmbedDim, condProjDim: c.timeCondProjDim };
    let emb = timestepEmbedding(g, tEmb, "time_embedding", timeEmbedding, condition);
    if (c.textTime) {
      // SDXL: text_embeds [batch, 1280] and 6 time ids; the refiner: 5 time ids (the aesthetic score last).
      const textEmbeds = g.input("text_embeds", "float32", ["batch", "text_embeds_dim"]);
      const timeIds = g.input("time_ids", "float32", ["batch", "num_time_ids"]);
      const aug = textTimeEmbedding(g, textEmbeds, timeIds, {
        flipSinToCos: c.flipSinToCos,
        freqShift: c.freqShift,
        timeIdDim: c.textTime.timeIdDim,
        inputDim: c.textTime.inputDim,
        timeEmbedDim: c.timeEmbedDim,
      });
      emb = g.op("Add", [emb, aug]);
    }
    const ctx: BlockContext = {
      // Every ResnetBlock2D applies the same activation to emb: computed once here.
      temb: c.resnetSkipTimeAct ? emb : silu(g, emb),
      tembChannels: c.timeEmbedDim,
      encoderHiddenStates,
      groups: c.normNumGroups,
      eps: c.normEps,
      timeEmbeddingNorm: c.resnetTimeScaleShift,
      resnetOutScaleFactor: c.resnetOutScaleFactor,
      useLinearProjection: c.useLinearProjection,
    };
    const attention = (level: number): CrossAttention => ({
      heads: c.heads[level]!,
      layers: c.transformerLayersPerBlock[level]!,
      crossAttentionDim: c.crossAttentionDim,
      onlyCrossAttention: c.onlyCrossAttention[level]!,
    });

    // 2. pre-process
    const padIn = (c.convInKernel - 1) / 2;
    let h = conv2d(g, sample, "conv_in", c.inChannels, c0, c.convInKernel, { padding: padIn });

    // 3. down: every resnet/attention output and every downsampler output is kept as a skip.
    const skips: Value[] = [h];
    for (let i = 0; i < levels; i++) {
      const options = {
        inChannels: i === 0 ? c0 : c.blockOutChannels[i - 1]!,
        outChannels: c.blockOutChannels[i]!,
        layers: c.layersPerBlock[i]!,
        addDownsample: i < levels - 1,
        downsamplePadding: c.downsamplePadding,
      };
      const prefix = `down_blocks.${i}`;
      const block =
        c.downBlockTypes[i] === "CrossAttnDownBlock2D"
          ? crossAttnDownBlock2D(g, ctx, h, prefix, { ...options, attention: attention(i) })
          : downBlock2D(g, ctx, h, prefix, options);
      h = block.out;
      skips.push(...block.skips);
    }

    // 4. mid
    if (c.midBlockType !== null) {
      h = unetMidBlock2DCrossAttn(g, ctx, h, c.blockOutChannels[levels - 1]!, {
        attention: attention(levels - 1),
        outputScaleFactor: c.midBlockScaleFactor,
      });
    }

    // 5. up: level i (deepest first) consumes layers + 1 skips and upsamples to the size of the next skip.
    const reversed = [...c.blockOutChannels].reverse();
    for (let i = 0; i < levels; i++) {
      const level = levels - 1 - i;
      const layers = c.layersPerBlock[level]! + 1;
      const taken = skips.splice(skips.length - layers, layers);
      const options = {
        inChannels: reversed[Math.min(i + 1, levels - 1)]!,
        prevOutputChannels: reversed[Math.max(i - 1, 0)]!,
        outChannels: reversed[i]!,
        layers,
        skips: taken,
        upsampleLike: i < levels - 1 ? skips[skips.length - 1]! : null,
      };
      const prefix = `up_blocks.${i}`;
      h =
        c.upBlockTypes[i] === "CrossAttnUpBlock2D"
          ? crossAttnUpBlock2D(g, ctx, h, prefix, { ...options, attention: attention(level) })
          : upBlock2D(g, ctx, h, prefix, options);
    }

    // 6. post-process
    h = silu(g, groupNorm(g, h, "conv_norm_out", c0, c.normNumGroups, c.normEps));
    const padOut = (c.convOutKernel - 1) / 2;
    h = conv2d(g, h, "conv_out", c0, c.outChannels, c.convOutKernel, { padding: padOut });
    g.output(h, "out_sample", "float32", ["batch", c.outChannels, "height", "width"]);
  }
}

/**
 * The `ComponentBuilder` of a UNet2DConditionModel folder: its config checked (`UnsupportedComponentError` naming
 * the key and value otherwise), then the graph built.
 *
 * @example
 * const built = await buildComponentGraph(
 *   { component: "unet", configFile: "ckpt/unet/config.json", weightFiles: ["ckpt/unet/diffusion_pytorch_model.safetensors"] },
 *   buildUNet2DConditionModel,
 * );
 */
export const buildUNet2DConditionModel: ComponentBuilder = (g, raw) => {
  new UNet2DConditionModel(parseUNet2DConditionConfig(raw, g.options.component)).build(g);
};
