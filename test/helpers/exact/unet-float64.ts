/**
 * diffusers' `UNet2DConditionModel` in float64 for the Stable Diffusion 1.x and XL layouts (DownBlock2D /
 * CrossAttnDownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D / CrossAttnUpBlock2D; 1×1-conv or linear `proj_in` /
 * `proj_out`; `transformer_layers_per_block`; heads = `attention_head_dim` per block as diffusers reads that key when
 * `num_attention_heads` is null; the `text_time` added embedding). It mirrors the blocks of
 * server/models/unet-2d-condition.ts without onnxruntime, so that a float32 result — ours or diffusers' — can be
 * measured against the exact value of the same function. Everything but the weights (float32 values, as loaded)
 * and the sinusoids' arguments is float64.
 */
import {
  add,
  attention,
  concatChannels,
  conv2d,
  type F64,
  f64,
  fromTokens,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  silu,
  toTokens,
  upsampleNearest2x,
} from "./float64-ops.ts";

export interface UNetConfig {
  readonly block_out_channels: readonly number[];
  readonly down_block_types: readonly string[];
  readonly up_block_types: readonly string[];
  readonly layers_per_block: number;
  readonly attention_head_dim: number | readonly number[];
  readonly num_attention_heads?: number | readonly number[] | null;
  readonly transformer_layers_per_block?: number | readonly number[];
  readonly norm_num_groups: number;
  readonly norm_eps: number;
  readonly use_linear_projection: boolean;
  readonly flip_sin_to_cos: boolean;
  readonly freq_shift: number;
  readonly addition_embed_type?: string | null;
  readonly addition_time_embed_dim?: number | null;
}

/** SDXL's added conditioning: pooled text embeddings [N, D] and the six size/crop ids per item [N, 6]. */
export interface AddedConditions {
  readonly textEmbeds: F64;
  readonly timeIds: F64;
}

export type WeightLookup = (name: string) => F64;

const perBlock = (v: number | readonly number[], blocks: number): number[] =>
  typeof v === "number" ? new Array(blocks).fill(v) : [...v];

export class ExactUNet {
  private readonly heads: number[];
  private readonly layers: number[];

  constructor(
    private readonly config: UNetConfig,
    private readonly w: WeightLookup,
  ) {
    const blocks = config.block_out_channels.length;
    this.heads = perBlock(config.num_attention_heads ?? config.attention_head_dim, blocks);
    this.layers = perBlock(config.transformer_layers_per_block ?? 1, blocks);
  }

  private has(name: string): boolean {
    try {
      this.w(name);
      return true;
    } catch {
      return false;
    }
  }

  private conv(x: F64, p: string, stride = 1, padding = 1): F64 {
    return conv2d(x, this.w(`${p}.weight`), this.w(`${p}.bias`), stride, padding);
  }

  private lin(x: F64, p: string, bias = true): F64 {
    return linear(x, this.w(`${p}.weight`), bias ? this.w(`${p}.bias`) : undefined);
  }

  private gn(x: F64, p: string, eps: number): F64 {
    return groupNorm(x, this.config.norm_num_groups, this.w(`${p}.weight`), this.w(`${p}.bias`), eps);
  }

  private resnet(x: F64, temb: F64, p: string): F64 {
    let h = this.conv(silu(this.gn(x, `${p}.norm1`, this.config.norm_eps)), `${p}.conv1`);
    const t = this.lin(silu(temb), `${p}.time_emb_proj`);
    const [n, c, hh, ww] = h.shape as [number, number, number, number];
    h = f64(
      h.data.map((v, i) => v + t.data[(Math.floor(i / (hh * ww)) % c) + Math.floor(i / (c * hh * ww)) * c]!),
      [n, c, hh, ww],
    );
    h = this.conv(silu(this.gn(h, `${p}.norm2`, this.config.norm_eps)), `${p}.conv2`);
    const shortcut = this.has(`${p}.conv_shortcut.weight`) ? this.conv(x, `${p}.conv_shortcut`, 1, 0) : x;
    return add(shortcut, h);
  }

  private attn(x: F64, p: string, context: F64, heads: number): F64 {
    const q = this.lin(x, `${p}.to_q`, false);
    const k = this.lin(context, `${p}.to_k`, false);
    const v = this.lin(context, `${p}.to_v`, false);
    return this.lin(attention(q, k, v, heads), `${p}.to_out.0`);
  }

  /** Transformer2DModel (norm eps 1e-6) around `layers` BasicTransformerBlocks with GEGLU feed-forwards. */
  private transformer(x: F64, p: string, context: F64, heads: number, layers: number): F64 {
    const [, , hh, ww] = x.shape as [number, number, number, number];
    const normed = this.gn(x, `${p}.norm`, 1e-6);
    const linearProjection = this.config.use_linear_projection;
    let h = linearProjection
      ? this.lin(toTokens(normed), `${p}.proj_in`)
      : toTokens(this.conv(normed, `${p}.proj_in`, 1, 0));
    for (let l = 0; l < layers; l++) {
      const b = `${p}.transformer_blocks.${l}`;
      const ln = (v: F64, name: string) =>
        layerNorm(v, this.w(`${b}.${name}.weight`), this.w(`${b}.${name}.bias`), 1e-5);
      const n1 = ln(h, "norm1");
      h = add(this.attn(n1, `${b}.attn1`, n1, heads), h);
      h = add(this.attn(ln(h, "norm2"), `${b}.attn2`, context, heads), h);
      const proj = this.lin(ln(h, "norm3"), `${b}.ff.net.0.proj`);
      const inner = proj.shape.at(-1)! / 2;
      const rows = proj.data.length / (2 * inner);
      const gated = new Float64Array(rows * inner);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < inner; i++)
          gated[r * inner + i] = proj.data[r * 2 * inner + i]! * gelu(proj.data[r * 2 * inner + inner + i]!);
      h = add(this.lin(f64(gated, [...proj.shape.slice(0, -1), inner]), `${b}.ff.net.2`), h);
    }
    const out = linearProjection
      ? fromTokens(this.lin(h, `${p}.proj_out`), hh, ww)
      : this.conv(fromTokens(h, hh, ww), `${p}.proj_out`, 1, 0);
    return add(out, x);
  }

  /**
   * diffusers' `get_timestep_embedding` of each value, `dim` wide. The sinusoid arguments are rounded to float32 step
   * by step as diffusers computes them (at t ≈ 1000 an argument computed in float64 would differ by up to 3e-5, far
   * more than rounding elsewhere), and so are the sines and cosines; the layers that take them are float64.
   */
  private sinusoids(values: readonly number[], dim: number): F64 {
    const half = dim / 2;
    const f32 = Math.fround;
    const emb = new Float64Array(values.length * dim);
    for (let i = 0; i < half; i++) {
      const frequency = f32(Math.exp(f32(f32(i * f32(-Math.log(10000))) / (half - this.config.freq_shift))));
      values.forEach((t, row) => {
        const arg = f32(f32(t) * frequency);
        const [first, second] = this.config.flip_sin_to_cos
          ? [Math.cos(arg), Math.sin(arg)]
          : [Math.sin(arg), Math.cos(arg)];
        emb[row * dim + i] = f32(first);
        emb[row * dim + half + i] = f32(second);
      });
    }
    return f64(emb, [values.length, dim]);
  }

  /** TimestepEmbedding of the timestep, plus SDXL's `text_time` added embedding when the config has one. */
  private timeEmbedding(t: number, batch: number, added?: AddedConditions): F64 {
    const cfg = this.config;
    const emb = this.sinusoids(new Array(batch).fill(t), cfg.block_out_channels[0]!);
    const temb = this.lin(silu(this.lin(emb, "time_embedding.linear_1")), "time_embedding.linear_2");
    if (cfg.addition_embed_type !== "text_time") return temb;
    if (!added) throw new Error("this UNet takes text_embeds and time_ids");
    const timeEmbeds = this.sinusoids([...added.timeIds.data], cfg.addition_time_embed_dim!).data;
    const [, textDim] = added.textEmbeds.shape as [number, number];
    const width = textDim + timeEmbeds.length / batch;
    const joined = new Float64Array(batch * width);
    for (let b = 0; b < batch; b++) {
      joined.set(added.textEmbeds.data.subarray(b * textDim, (b + 1) * textDim), b * width);
      joined.set(
        timeEmbeds.subarray(b * (width - textDim), (b + 1) * (width - textDim)),
        b * width + textDim,
      );
    }
    const aug = this.lin(
      silu(this.lin(f64(joined, [batch, width]), "add_embedding.linear_1")),
      "add_embedding.linear_2",
    );
    return add(temb, aug);
  }

  /** unet(sample [N, 4, h, w], timestep, encoder_hidden_states [N, L, D], added conditions) → noise prediction. */
  forward(sample: F64, timestep: number, context: F64, added?: AddedConditions): F64 {
    const cfg = this.config;
    const blocks = cfg.block_out_channels.length;
    const temb = this.timeEmbedding(timestep, sample.shape[0]!, added);
    let h = this.conv(sample, "conv_in");
    const skips: F64[] = [h];
    cfg.down_block_types.forEach((type, b) => {
      for (let j = 0; j < cfg.layers_per_block; j++) {
        h = this.resnet(h, temb, `down_blocks.${b}.resnets.${j}`);
        if (type === "CrossAttnDownBlock2D") {
          h = this.transformer(
            h,
            `down_blocks.${b}.attentions.${j}`,
            context,
            this.heads[b]!,
            this.layers[b]!,
          );
        }
        skips.push(h);
      }
      if (b < blocks - 1) {
        h = this.conv(h, `down_blocks.${b}.downsamplers.0.conv`, 2, 1);
        skips.push(h);
      }
    });
    h = this.resnet(h, temb, "mid_block.resnets.0");
    h = this.transformer(h, "mid_block.attentions.0", context, this.heads.at(-1)!, this.layers.at(-1)!);
    h = this.resnet(h, temb, "mid_block.resnets.1");
    cfg.up_block_types.forEach((type, b) => {
      // Up blocks take the down blocks' heads and layers in reverse.
      const [heads, layers] = [this.heads[blocks - 1 - b]!, this.layers[blocks - 1 - b]!];
      for (let j = 0; j <= cfg.layers_per_block; j++) {
        h = this.resnet(concatChannels(h, skips.pop()!), temb, `up_blocks.${b}.resnets.${j}`);
        if (type === "CrossAttnUpBlock2D") {
          h = this.transformer(h, `up_blocks.${b}.attentions.${j}`, context, heads, layers);
        }
      }
      if (b < blocks - 1) h = this.conv(upsampleNearest2x(h), `up_blocks.${b}.upsamplers.0.conv`);
    });
    return this.conv(silu(this.gn(h, "conv_norm_out", cfg.norm_eps)), "conv_out");
  }
}
