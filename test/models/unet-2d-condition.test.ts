/**
 * UNet2DConditionModel built from config.json + safetensors against diffusers' own outputs on the same files
 * (verify/<checkpoint>/unet: SD 1.5 topology with fp32 and fp16-variant weights, SD 2.x with linear projections
 * and heads per level, SDXL with text_time embeddings and two transformer layers), square and non-square, within
 * 1e-4 of max(1, max |reference|). The reference timestep is rank 0: it is fed as [1] to the square cases (the
 * graph expands it to the batch) and repeated to [batch] in the non-square ones. Also: an unsupported config value
 * and a weight of the wrong shape are refused by name.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildComponentGraph } from "../../server/models/build-component.ts";
import { buildUNet2DConditionModel } from "../../server/models/unet-2d-condition.ts";
import type { OnnxModel } from "../../server/runtime/onnx.ts";
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
        /weight 'down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k\.weight' = of shape \[32, 64\] .*needs \[32, 32\]/,
      ),
    });
  });
});
