/**
 * diffusers' `UNet2DConditionModel` in float64, for the Stable Diffusion 1.x layout only (CrossAttnDownBlock2D ×n +
 * DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D + CrossAttnUpBlock2D ×n, 1×1 `proj_in`/`proj_out`, one
 * transformer layer per block, heads = `attention_head_dim` as diffusers reads that key when `num_attention_heads`
 * is null). It mirrors the blocks of server/models/unet-2d-condition.ts without onnxruntime, so that a float32
 * result — ours or diffusers' — can be measured against the exact value of the same function. Everything but the
 * weights (float32 values, as loaded) and the sinusoid's arguments is float64.
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

export interface Sd1UNetConfig {
  readonly block_out_channels: readonly number[];
  readonly down_block_types: readonly string[];
  readonly up_block_types: readonly string[];
  readonly layers_per_block: number;
  readonly attention_head_dim: number;
  readonly norm_num_groups: number;
  readonly norm_eps: number;
  readonly use_linear_projection: boolean;
  readonly flip_sin_to_cos: boolean;
  readonly freq_shift: number;
}

export type WeightLookup = (name: string) => F64;

export class ExactUNet {
  constructor(
    private readonly config: Sd1UNetConfig,
    private readonly w: WeightLookup,
  ) {
    if (config.use_linear_projection) throw new Error("only 1×1 proj_in/proj_out (SD 1.x) is written here");
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

  private attn(x: F64, p: string, context: F64): F64 {
    const q = this.lin(x, `${p}.to_q`, false);
    const k = this.lin(context, `${p}.to_k`, false);
    const v = this.lin(context, `${p}.to_v`, false);
    return this.lin(attention(q, k, v, this.config.attention_head_dim), `${p}.to_out.0`);
  }

  /** Transformer2DModel (norm eps 1e-6) around one BasicTransformerBlock with a GEGLU feed-forward. */
  private transformer(x: F64, p: string, context: F64): F64 {
    const [, , hh, ww] = x.shape as [number, number, number, number];
    let h = toTokens(this.conv(this.gn(x, `${p}.norm`, 1e-6), `${p}.proj_in`, 1, 0));
    const b = `${p}.transformer_blocks.0`;
    const ln = (v: F64, name: string) =>
      layerNorm(v, this.w(`${b}.${name}.weight`), this.w(`${b}.${name}.bias`), 1e-5);
    const n1 = ln(h, "norm1");
    h = add(this.attn(n1, `${b}.attn1`, n1), h);
    h = add(this.attn(ln(h, "norm2"), `${b}.attn2`, context), h);
    const proj = this.lin(ln(h, "norm3"), `${b}.ff.net.0.proj`);
    const inner = proj.shape.at(-1)! / 2;
    const rows = proj.data.length / (2 * inner);
    const gated = new Float64Array(rows * inner);
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < inner; i++)
        gated[r * inner + i] = proj.data[r * 2 * inner + i]! * gelu(proj.data[r * 2 * inner + inner + i]!);
    h = add(this.lin(f64(gated, [...proj.shape.slice(0, -1), inner]), `${b}.ff.net.2`), h);
    return add(this.conv(fromTokens(h, hh, ww), `${p}.proj_out`, 1, 0), x);
  }

  /**
   * diffusers' `get_timestep_embedding` → TimestepEmbedding, one row per batch item. The sinusoid arguments are
   * rounded to float32 step by step as diffusers computes them (at t ≈ 1000 an argument computed in float64 would
   * differ by up to 3e-5, far more than rounding elsewhere); the rest is float64.
   */
  private timeEmbedding(t: number, batch: number): F64 {
    const dim = this.config.block_out_channels[0]!;
    const half = dim / 2;
    const f32 = Math.fround;
    const emb = new Float64Array(batch * dim);
    for (let i = 0; i < half; i++) {
      const exponent = f32(f32(i * f32(-Math.log(10000))) / (half - this.config.freq_shift));
      const arg = f32(f32(t) * f32(Math.exp(exponent)));
      const [first, second] = this.config.flip_sin_to_cos
        ? [Math.cos(arg), Math.sin(arg)]
        : [Math.sin(arg), Math.cos(arg)];
      for (let b = 0; b < batch; b++) {
        emb[b * dim + i] = f32(first);
        emb[b * dim + half + i] = f32(second);
      }
    }
    return this.lin(
      silu(this.lin(f64(emb, [batch, dim]), "time_embedding.linear_1")),
      "time_embedding.linear_2",
    );
  }

  /** unet(sample [N, 4, h, w], timestep, encoder_hidden_states [N, L, D]) → noise prediction. */
  forward(sample: F64, timestep: number, context: F64): F64 {
    const cfg = this.config;
    const temb = this.timeEmbedding(timestep, sample.shape[0]!);
    let h = this.conv(sample, "conv_in");
    const skips: F64[] = [h];
    cfg.down_block_types.forEach((type, b) => {
      for (let j = 0; j < cfg.layers_per_block; j++) {
        h = this.resnet(h, temb, `down_blocks.${b}.resnets.${j}`);
        if (type === "CrossAttnDownBlock2D")
          h = this.transformer(h, `down_blocks.${b}.attentions.${j}`, context);
        skips.push(h);
      }
      if (b < cfg.down_block_types.length - 1) {
        h = this.conv(h, `down_blocks.${b}.downsamplers.0.conv`, 2, 1);
        skips.push(h);
      }
    });
    h = this.resnet(h, temb, "mid_block.resnets.0");
    h = this.transformer(h, "mid_block.attentions.0", context);
    h = this.resnet(h, temb, "mid_block.resnets.1");
    cfg.up_block_types.forEach((type, b) => {
      for (let j = 0; j <= cfg.layers_per_block; j++) {
        h = this.resnet(concatChannels(h, skips.pop()!), temb, `up_blocks.${b}.resnets.${j}`);
        if (type === "CrossAttnUpBlock2D") h = this.transformer(h, `up_blocks.${b}.attentions.${j}`, context);
      }
      if (b < cfg.up_block_types.length - 1)
        h = this.conv(upsampleNearest2x(h), `up_blocks.${b}.upsamplers.0.conv`);
    });
    return this.conv(silu(this.gn(h, "conv_norm_out", cfg.norm_eps)), "conv_out");
  }
}
