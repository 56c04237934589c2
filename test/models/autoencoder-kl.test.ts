/**
 * AutoencoderKL built from config.json + safetensors against diffusers' own encoder and decoder outputs
 * (test/fixtures/diffusers-safetensors/verify/<checkpoint>/vae_encoder|vae_decoder), the fp16 variant of mini-sd
 * against its fp32 build, and the refusals of config values the builder does not implement.
 */

import path from "node:path";
import { describe, expect, it } from "vitest";
import { UnsupportedComponentError } from "../../server/errors.ts";
import {
  buildAutoencoderKLDecoder,
  buildAutoencoderKLEncoder,
  parseAutoencoderKLConfig,
} from "../../server/models/autoencoder-kl.ts";
import { buildComponentGraph, type ComponentBuilder } from "../../server/models/build-component.ts";
import {
  openBuilt,
  readArray,
  relativeDiff,
  SAFETENSORS_FIXTURES,
  verifyFolder,
} from "../helpers/component-cases.ts";

const FP32 = "diffusion_pytorch_model.safetensors";
const FP16 = "diffusion_pytorch_model.fp16.safetensors";

async function run(
  checkpoint: string,
  builder: ComponentBuilder,
  weights: string,
  feeds: Parameters<Awaited<ReturnType<typeof openBuilt>>["run"]>[0],
) {
  const model = await openBuilt(checkpoint, "vae", builder, weights);
  try {
    return await model.run(feeds);
  } finally {
    await model.release();
  }
}

describe.each(["mini-sd", "mini-sd2-v", "tiny-sdxl"])("AutoencoderKL of %s", (checkpoint) => {
  it("encoder: latent_parameters within 1e-4 of diffusers', mean and logvar are its halves", async () => {
    const { dir, manifest } = verifyFolder(checkpoint, "vae_encoder");
    for (const c of manifest.cases) {
      const out = await run(checkpoint, buildAutoencoderKLEncoder, FP32, {
        sample: readArray(dir, c.inputs.sample!),
      });
      const params = out.latent_parameters!;
      const expected = readArray(dir, c.outputs.latent_parameters!);
      expect(params.dims).toEqual(expected.dims);
      const diff = relativeDiff(params.data as Float32Array, expected.data as Float32Array);
      console.log(`${checkpoint} vae_encoder ${c.name} latent_parameters: ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-4);

      // DiagonalGaussianDistribution: mean = first half of the channels, logvar = clamp(second half, -30, 20).
      const [batch = 1, channels = 0] = params.dims;
      const half = (params.data.length / batch / channels) * (channels / 2);
      const data = params.data as Float32Array;
      const mean = new Float32Array(batch * half);
      const logvar = new Float32Array(batch * half);
      for (let b = 0; b < batch; b++) {
        mean.set(data.subarray(2 * b * half, (2 * b + 1) * half), b * half);
        logvar.set(
          data.subarray((2 * b + 1) * half, (2 * b + 2) * half).map((v) => Math.min(20, Math.max(-30, v))),
          b * half,
        );
      }
      expect(relativeDiff(mean, readArray(dir, c.outputs.mean!).data as Float32Array)).toBeLessThanOrEqual(
        1e-4,
      );
      expect(
        relativeDiff(logvar, readArray(dir, c.outputs.logvar!).data as Float32Array),
      ).toBeLessThanOrEqual(1e-4);
    }
  });

  it("decoder: sample within 1e-4 of diffusers'", async () => {
    const { dir, manifest } = verifyFolder(checkpoint, "vae_decoder");
    for (const c of manifest.cases) {
      const out = await run(checkpoint, buildAutoencoderKLDecoder, FP32, {
        latent_sample: readArray(dir, c.inputs.latent_sample!),
      });
      const expected = readArray(dir, c.outputs.sample!);
      expect(out.sample!.dims).toEqual(expected.dims);
      const diff = relativeDiff(out.sample!.data as Float32Array, expected.data as Float32Array);
      console.log(`${checkpoint} vae_decoder ${c.name} sample: ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe.each(["mini-sd", "mini-sd2-v", "tiny-sdxl"])("AutoencoderKL weights of %s", (checkpoint) => {
  it("every weight of the file is read by the encoder or the decoder", async () => {
    const dir = path.join(SAFETENSORS_FIXTURES, "models", checkpoint, "vae");
    const files = {
      component: "vae",
      configFile: path.join(dir, "config.json"),
      weightFiles: [path.join(dir, FP32)],
    };
    const enc = await buildComponentGraph(files, buildAutoencoderKLEncoder);
    const dec = await buildComponentGraph(files, buildAutoencoderKLDecoder);
    expect(enc.unusedWeights.filter((name) => dec.unusedWeights.includes(name))).toEqual([]);
  });
});

describe("AutoencoderKL from mini-sd's fp16 variant weights", () => {
  it("encoder and decoder stay within 1e-2 of the fp32 build, and differ from it", async () => {
    const enc = verifyFolder("mini-sd", "vae_encoder");
    const dec = verifyFolder("mini-sd", "vae_decoder");
    const sample = readArray(enc.dir, enc.manifest.cases[0]!.inputs.sample!);
    const latent = readArray(dec.dir, dec.manifest.cases[0]!.inputs.latent_sample!);
    for (const [builder, feeds, name] of [
      [buildAutoencoderKLEncoder, { sample }, "latent_parameters"],
      [buildAutoencoderKLDecoder, { latent_sample: latent }, "sample"],
    ] as const) {
      const full = (await run("mini-sd", builder, FP32, feeds))[name]!.data as Float32Array;
      const half = (await run("mini-sd", builder, FP16, feeds))[name]!.data as Float32Array;
      const diff = relativeDiff(half, full);
      console.log(`mini-sd vae fp16 vs fp32 ${name}: ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-2);
      expect(diff).toBeGreaterThan(0);
    }
  });
});

describe("parseAutoencoderKLConfig", () => {
  const base = {
    _class_name: "AutoencoderKL",
    block_out_channels: [32, 64],
    down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    norm_num_groups: 32,
  };

  it("takes diffusers' defaults", () => {
    const config = parseAutoencoderKLConfig(base);
    expect(config).toMatchObject({
      inChannels: 3,
      outChannels: 3,
      latentChannels: 4,
      layersPerBlock: 1,
      midBlockAddAttention: true,
      useQuantConv: true,
      usePostQuantConv: true,
      scalingFactor: 0.18215,
    });
  });

  it.each([
    ["shift_factor", 0.0609],
    ["act_fn", "gelu"],
    ["down_block_types", ["DownEncoderBlock2D", "AttnDownEncoderBlock2D"]],
    ["latents_mean", [0.1, 0.2, 0.3, 0.4]],
    ["norm_num_groups", 24],
    ["block_out_channels", [32, 0]],
    ["use_quant_conv", "yes"],
    ["temporal_compression_ratio", 4],
  ])("refuses %s = %j, naming key and value", (key, value) => {
    const attempt = () => parseAutoencoderKLConfig({ ...base, [key]: value }, "vae");
    expect(attempt).toThrow(UnsupportedComponentError);
    expect(attempt).toThrow(
      new RegExp(`^vae: ${key} = ${JSON.stringify(value).replace(/[[\]]/g, "\\$&")} is `),
    );
  });
});
