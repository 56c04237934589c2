/**
 * StableDiffusionSafetyChecker built from config.json + safetensors against diffusers' own checker on four images
 * (test/fixtures/diffusers-safetensors/verify/mini-sd/safety_checker: two flagged, two not), its diagnostics
 * (image embeddings, concept cosines) through a builder that also outputs them, mini-sd's fp16 variant, refusals.
 */

import path from "node:path";
import { describe, expect, it } from "vitest";
import { UnsupportedComponentError } from "../../server/errors.ts";
import { buildComponentGraph, type ComponentBuilder } from "../../server/models/build-component.ts";
import {
  buildStableDiffusionSafetyChecker,
  parseStableDiffusionSafetyCheckerConfig,
  stableDiffusionSafetyChecker,
} from "../../server/models/safety-checker.ts";
import type { HostTensor } from "../../server/runtime/tensor.ts";
import {
  openBuilt,
  readArray,
  relativeDiff,
  SAFETENSORS_FIXTURES,
  verifyFolder,
} from "../helpers/component-cases.ts";

const { dir, manifest } = verifyFolder("mini-sd", "safety_checker");
const fourImages = manifest.cases[0]!;

/** The checker's values as outputs (diagnostics the production graph does not expose). */
const diagnostics: ComponentBuilder = (g, raw) => {
  const config = parseStableDiffusionSafetyCheckerConfig(raw);
  const size = config.vision.imageSize;
  const clipInput = g.input("clip_input", "float32", ["batch", 3, size, size]);
  const values = stableDiffusionSafetyChecker(g, clipInput, config);
  g.output(values.imageEmbeds, "image_embeds");
  g.output(values.conceptCos, "concept_cos");
  g.output(values.specialCareCos, "special_care_cos");
};

async function run(builder: ComponentBuilder, weights: string, feeds: Record<string, HostTensor>) {
  const model = await openBuilt("mini-sd", "safety_checker", builder, weights);
  try {
    return await model.run(feeds);
  } finally {
    await model.release();
  }
}

describe("StableDiffusionSafetyChecker of mini-sd", () => {
  const clipInput = readArray(dir, fourImages.inputs.clip_input!);
  const images = readArray(dir, fourImages.inputs.images!);

  it("flags the images diffusers flags and zeroes them", async () => {
    const out = await run(buildStableDiffusionSafetyChecker, "model.safetensors", {
      clip_input: clipInput,
      images,
    });
    const expectedFlags = Array.from(
      readArray(dir, fourImages.outputs.has_nsfw_concepts!).data as Float32Array,
    );
    expect(expectedFlags).toEqual([0, 0, 1, 1]);
    expect(out.has_nsfw_concepts!.type).toBe("bool");
    expect(Array.from(out.has_nsfw_concepts!.data as Uint8Array)).toEqual(expectedFlags);
    const expected = readArray(dir, fourImages.outputs.out_images!);
    expect(out.out_images!.dims).toEqual(expected.dims);
    const diff = relativeDiff(out.out_images!.data as Float32Array, expected.data as Float32Array);
    console.log(`mini-sd safety_checker four_images out_images: ${diff.toExponential(2)}`);
    expect(diff).toBe(0);
  });

  it("reads every weight of the file", async () => {
    const folder = path.join(SAFETENSORS_FIXTURES, "models", "mini-sd", "safety_checker");
    const built = await buildComponentGraph(
      {
        component: "safety_checker",
        configFile: path.join(folder, "config.json"),
        weightFiles: [path.join(folder, "model.safetensors")],
      },
      buildStableDiffusionSafetyChecker,
    );
    expect(built.unusedWeights).toEqual([]);
  });

  it("image embeddings and cosines within 1e-4 of diffusers'", async () => {
    const out = await run(diagnostics, "model.safetensors", { clip_input: clipInput });
    for (const name of ["image_embeds", "concept_cos", "special_care_cos"]) {
      const expected = readArray(dir, fourImages.outputs[name]!);
      const diff = relativeDiff(out[name]!.data as Float32Array, expected.data as Float32Array);
      console.log(`mini-sd safety_checker four_images ${name}: ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-4);
    }
  });

  it("from the fp16 variant: same decisions, embeddings within 1e-2 of the fp32 build and not identical", async () => {
    const out = await run(buildStableDiffusionSafetyChecker, "model.fp16.safetensors", {
      clip_input: clipInput,
      images,
    });
    expect(Array.from(out.has_nsfw_concepts!.data as Uint8Array)).toEqual([0, 0, 1, 1]);
    const full = await run(diagnostics, "model.safetensors", { clip_input: clipInput });
    const half = await run(diagnostics, "model.fp16.safetensors", { clip_input: clipInput });
    const diff = relativeDiff(
      half.image_embeds!.data as Float32Array,
      full.image_embeds!.data as Float32Array,
    );
    console.log(`mini-sd safety_checker fp16 vs fp32 image_embeds: ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-2);
    expect(diff).toBeGreaterThan(0);
  });
});

describe("parseStableDiffusionSafetyCheckerConfig", () => {
  const base = {
    architectures: ["StableDiffusionSafetyChecker"],
    projection_dim: 32,
    text_config: { anything: "unused" },
    vision_config: { hidden_size: 32, num_attention_heads: 4, image_size: 32, patch_size: 4 },
  };

  it("takes CLIPVisionConfig's defaults; vision_config_dict overrides vision_config", () => {
    const config = parseStableDiffusionSafetyCheckerConfig({
      ...base,
      vision_config_dict: { num_hidden_layers: 3 },
    });
    expect(config.vision).toMatchObject({
      hiddenSize: 32,
      numHiddenLayers: 3,
      intermediateSize: 3072,
      hiddenAct: "quick_gelu",
      layerNormEps: 1e-5,
      numChannels: 3,
    });
  });

  it.each([
    [
      { vision_config: { ...base.vision_config, hidden_act: "relu" } },
      /vision_config: hidden_act = "relu" is/,
    ],
    [{ vision_config: { ...base.vision_config, patch_size: 5 } }, /vision_config: patch_size = 5 is/],
    [{ architectures: ["CLIPModel"] }, /^safety_checker: architectures = \["CLIPModel"\] is/],
    [{ projection_dim: 0 }, /^safety_checker: projection_dim = 0 is/],
  ])("refuses %j, naming key and value", (change, message) => {
    const attempt = () => parseStableDiffusionSafetyCheckerConfig({ ...base, ...change });
    expect(attempt).toThrow(UnsupportedComponentError);
    expect(attempt).toThrow(message);
  });
});
