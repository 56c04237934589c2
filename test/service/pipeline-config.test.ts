/**
 * The effective pipeline config read from real checkpoints: model_index.json's `requires_safety_checker` (and its
 * default where a pipeline takes a checker but the key is absent), the scheduler config's class, the default size
 * from the UNet and VAE configs, diffusers' per-class `__call__` defaults, and overrides merged field by field.
 */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckpointLocator } from "../../server/checkpoints/locate.ts";
import { readModelIndex } from "../../server/checkpoints/model-index.ts";
import { callDefaults, effectiveConfig, mergeOverrides } from "../../server/service/pipeline-config.ts";
import { REFERENCE_NEXT } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-config-"));
  for (const name of ["tiny-sd-safety", "tiny-sd2-v"]) {
    await cp(path.join(REFERENCE_NEXT, "models", name), path.join(dir, name), { recursive: true });
  }
  // An SD checkpoint whose model_index.json lists a safety_checker slot but no requires_safety_checker key, and
  // that has no UNet config (the size is known only once the graphs load).
  await cp(path.join(REFERENCE_NEXT, "models", "tiny-sd2-v"), path.join(dir, "old-sd"), { recursive: true });
  await writeFile(
    path.join(dir, "old-sd", "model_index.json"),
    JSON.stringify({
      _class_name: "StableDiffusionPipeline",
      safety_checker: [null, null],
      unet: ["diffusers", "UNet2DConditionModel"],
    }),
  );
  await rm(path.join(dir, "old-sd", "unet", "config.json"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function configOf(
  model: string,
  pipelineClass: string,
  task: "TEXT_TO_IMAGE" | "IMAGE_TO_IMAGE" | "INPAINTING",
  overrides = {},
) {
  const checkpoint = await new CheckpointLocator(testConfig({ AUTOPIPE_MODELS_DIR: dir })).locate(model);
  return effectiveConfig(checkpoint, await readModelIndex(checkpoint), pipelineClass, task, overrides);
}

describe("effective pipeline config", () => {
  it("reads the checkpoint: checker required, scheduler class, size from UNet × VAE", async () => {
    expect(await configOf("tiny-sd-safety", "StableDiffusionPipeline", "TEXT_TO_IMAGE")).toEqual({
      requiresSafetyChecker: true,
      scheduler: "PNDMScheduler",
      numInferenceSteps: 50,
      guidanceScale: 7.5,
      strength: null,
      negativePrompt: null,
      width: 64,
      height: 64,
      variant: null,
      configFrom: null,
      loras: [],
    });
    expect(await configOf("tiny-sd2-v", "StableDiffusionInpaintPipeline", "INPAINTING")).toMatchObject({
      requiresSafetyChecker: false,
      scheduler: "DDIMScheduler",
      strength: 1,
      width: null,
    });
  });

  it("defaults requires_safety_checker to true for pipelines that take a checker; size unknown without configs", async () => {
    expect(await configOf("old-sd", "StableDiffusionPipeline", "TEXT_TO_IMAGE")).toMatchObject({
      requiresSafetyChecker: true,
      width: null,
      height: null,
    });
  });

  it("overrides win over the checkpoint, scheduler by API name shown as diffusers' class", async () => {
    expect(
      await configOf("tiny-sd-safety", "StableDiffusionImg2ImgPipeline", "IMAGE_TO_IMAGE", {
        requiresSafetyChecker: false,
        scheduler: "EULER_ANCESTRAL_DISCRETE",
        strength: 0.3,
        width: 96,
      }),
    ).toMatchObject({
      requiresSafetyChecker: false,
      scheduler: "EulerAncestralDiscreteScheduler",
      strength: 0.3,
      width: 96,
      height: null,
    });
  });

  it("uses diffusers' __call__ defaults per pipeline class", () => {
    expect(callDefaults("StableDiffusionImg2ImgPipeline", "IMAGE_TO_IMAGE")).toEqual({
      numInferenceSteps: 50,
      guidanceScale: 7.5,
      strength: 0.8,
    });
    expect(callDefaults("StableDiffusionXLPipeline", "TEXT_TO_IMAGE").guidanceScale).toBe(5);
    expect(callDefaults("StableDiffusionXLImg2ImgPipeline", "IMAGE_TO_IMAGE")).toMatchObject({
      guidanceScale: 5,
      strength: 0.3,
    });
    expect(callDefaults("StableDiffusionXLInpaintPipeline", "INPAINTING")).toMatchObject({
      guidanceScale: 7.5,
      strength: 0.9999,
    });
  });

  it("merges configs field by field, the newer winning and nulls keeping the older value", () => {
    expect(
      mergeOverrides(
        { numInferenceSteps: 3, guidanceScale: 2, scheduler: "DDIM" },
        { guidanceScale: 4, scheduler: null },
      ),
    ).toEqual({ numInferenceSteps: 3, guidanceScale: 4, scheduler: "DDIM" });
  });
});
