/**
 * UNet2DConditionModel built from config.json + safetensors against diffusers' own outputs on the same files
 * (verify/<checkpoint>/unet: SD 1.5 topology with fp32 and fp16-variant weights, SD 2.x with linear projections
 * and heads per level, SDXL with text_time embeddings and two transformer layers), square and non-square, within
 * 1e-4 of max(1, max |reference|). The reference timestep is rank 0: it is fed as [1] to the square cases (the
 * graph expands it to the batch) and repeated to [batch] in the non-square ones. Also: every weight of the files is
 * read; the options no fixture uses (scale_shift, LCM's timestep_cond, 9 input channels, center_input_sample,
 * only_cross_attention) build and run on a synthetic checkpoint at a size that is not a multiple of the
 * downsampling factor (no diffusers reference for these: shapes and finiteness only); an unsupported config value
 * and a weight of the wrong shape are refused by name.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GraphBuilder, type WeightSource } from "../../server/graph-builder/graph-builder.ts";
import { buildComponentGraph } from "../../server/models/build-component.ts";
import { buildUNet2DConditionModel } from "../../server/models/unet-2d-condition.ts";
import { OnnxModel } from "../../server/runtime/onnx.ts";
import type { HostTensor } from "../../server/runtime/tensor.ts";
import {
  openBuilt,
  readArray,
  relativeDiff,
  SAFETENSORS_FIXTURES,
  verifyFolder,
} from "../helpers/component-cases.ts";

const BAR = 1e-4;
const FP32 = "diffusion_pytorch_model.safetensors";
const FP16 = "diffusion_pytorch_model.fp16.safetensors";

const models = new Map<string, Promise<OnnxModel>>();
function built(checkpoint: string, weights: string): Promise<OnnxModel> {
  const key = `${checkpoint}/${weights}`;
  let model = models.get(key);
  if (!model) {
    model = openBuilt(checkpoint, "unet", buildUNet2DConditionModel, weights);
    models.set(key, model);
  }
  return model;
}

afterAll(async () => {
  for (const model of models.values()) await (await model).release();
});

describe.each(["mini-sd", "mini-sd2-v", "tiny-sdxl"])("UNet2DConditionModel built for %s", (checkpoint) => {
  const { dir, manifest } = verifyFolder(checkpoint, "unet");
  it.each(manifest.cases.map((c) => [c.name, c] as const))("%s", async (_, testCase) => {
    const model = await built(checkpoint, testCase.name.endsWith("_fp16weights") ? FP16 : FP32);
    const feeds: Record<string, HostTensor> = {};
    for (const [name, entry] of Object.entries(testCase.inputs)) feeds[name] = readArray(dir, entry);
    const batch = feeds.sample!.dims[0]!;
    const t = feeds.timestep!.data as Float32Array;
    feeds.timestep = testCase.name.includes("nonsquare")
      ? { type: "float32", data: new Float32Array(batch).fill(t[0]!), dims: [batch] }
      : { type: "float32", data: t, dims: [1] };
    const out = (await model.run(feeds)).out_sample!;
    const expected = readArray(dir, testCase.outputs.out_sample!);
    expect(out.dims).toEqual(expected.dims);
    expect(relativeDiff(out.data, expected.data)).toBeLessThanOrEqual(BAR);
  });
});

describe("UNet2DConditionModel refusals", () => {
  const unet = path.join(SAFETENSORS_FIXTURES, "models", "mini-sd", "unet");

  /** Builds mini-sd's UNet from its fp32 weights under a config with `changes` applied. */
  async function buildWith(changes: Record<string, unknown>) {
    const folder = await mkdtemp(path.join(tmpdir(), "unet-config-"));
    try {
      const config = { ...JSON.parse(await readFile(path.join(unet, "config.json"), "utf8")), ...changes };
      const configFile = path.join(folder, "config.json");
      await writeFile(configFile, JSON.stringify(config));
      return await buildComponentGraph(
        { component: "unet", configFile, weightFiles: [path.join(unet, FP32)] },
        buildUNet2DConditionModel,
      );
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  it("refuses a value it does not implement, naming the key and the value", async () => {
    await expect(buildWith({ resnet_time_scale_shift: "spatial" })).rejects.toMatchObject({
      name: "UnsupportedComponentError",
      message: expect.stringContaining('resnet_time_scale_shift = "spatial"'),
    });
    await expect(buildWith({ class_embed_type: "timestep" })).rejects.toThrow(
      /class_embed_type = "timestep"/,
    );
    await expect(buildWith({ some_new_key: 3 })).rejects.toThrow(/unet: some_new_key = 3 is not supported/);
  });

  it("refuses a weight whose shape does not fit the config, naming the key and both shapes", async () => {
    await expect(buildWith({ cross_attention_dim: 32 })).rejects.toMatchObject({
      name: "UnsupportedComponentError",
      message: expect.stringMatching(
        /weight 'down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k\.weight' has shape \[32, 64\] but the config needs \[32, 32\]/,
      ),
    });
  });
});

describe("UNet2DConditionModel graph", () => {
  it.each(["mini-sd", "mini-sd2-v", "tiny-sdxl"])("reads every weight of %s's file", async (checkpoint) => {
    const unet = path.join(SAFETENSORS_FIXTURES, "models", checkpoint, "unet");
    const built = await buildComponentGraph(
      { component: "unet", configFile: path.join(unet, "config.json"), weightFiles: [path.join(unet, FP32)] },
      buildUNet2DConditionModel,
    );
    expect(built.unusedWeights).toEqual([]);
  });

  it("builds and runs the options no fixture covers, at a size that is not a multiple of 2^levels", async () => {
    const config = {
      block_out_channels: [4, 8],
      down_block_types: ["CrossAttnDownBlock2D", "DownBlock2D"],
      up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D"],
      layers_per_block: 1,
      attention_head_dim: 2,
      norm_num_groups: 2,
      cross_attention_dim: 8,
      in_channels: 9,
      center_input_sample: true,
      only_cross_attention: true,
      resnet_time_scale_shift: "scale_shift",
      time_cond_proj_dim: 4,
      downsample_padding: 0,
    };
    const folder = await mkdtemp(path.join(tmpdir(), "unet-synthetic-"));
    try {
      const configFile = path.join(folder, "config.json");
      await writeFile(configFile, JSON.stringify(config));
      const weights = path.join(folder, FP32);
      await writeFile(weights, randomSafetensors(weightShapes(config, folder, weights)));
      const built = await buildComponentGraph(
        { component: "unet", configFile, weightFiles: [weights] },
        buildUNet2DConditionModel,
      );
      const model = await OnnxModel.load(built.bytes, {
        provider: "cpu",
        threads: 1,
        externalDataFolder: folder,
      });
      const f = (dims: number[]): HostTensor => {
        const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
        return { type: "float32", data, dims };
      };
      const out = (
        await model.run({
          sample: f([2, 9, 5, 7]),
          timestep: { type: "float32", data: new Float32Array([500]), dims: [1] },
          encoder_hidden_states: f([2, 3, 8]),
          timestep_cond: f([2, 4]),
        })
      ).out_sample!;
      await model.release();
      expect(out.dims).toEqual([2, 4, 5, 7]);
      expect((out.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

/** The weights `config` asks for, by name and shape: a source told each weight the builder reads (`expect`). */
function weightShapes(config: Record<string, unknown>, folder: string, file: string): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const source: WeightSource = {
    expect: (name, shape) => void shapes.set(name, [...shape]),
    get: (name) => {
      const shape = shapes.get(name);
      if (!shape) return undefined;
      return { file, dtype: "F32", shape, byteOffset: 0, byteLength: 4 * shape.reduce((a, b) => a * b, 1) };
    },
  };
  buildUNet2DConditionModel(new GraphBuilder(source, { component: "unet", dataFolder: folder }), config);
  return shapes;
}

/** A safetensors file of F32 tensors with values drawn from a fixed sequence in [-0.3, 0.3). */
function randomSafetensors(shapes: ReadonlyMap<string, readonly number[]>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  const data = new Float32Array(out.buffer, 8 + json.length, offset / 4);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    data[i] = (state / 2147483648 - 0.5) * 0.6;
  }
  return out;
}
