/**
 * Parity with diffusers on single files: `mini-sd.safetensors` (fp16, LDM layout) and `tiny-sdxl.safetensors`
 * (sgm layout) are the original-layout forms of the fixture's mini-sd and tiny-sdxl, made with diffusers' own
 * conversion scripts. Loaded with the diffusers folder as `configFrom` (diffusers' `from_single_file(config=…)`),
 * they must give the images of the same reference cases as the diffusers-layout checkpoints — the fp16-variant
 * mini-sd case for the fp16 file — with the same bars: final latents within 1e-3 of their max-abs, images within
 * 1/255 on [0, 1], the PNG within one level.
 */
import { realpathSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../server/auto-pipeline/resolve.ts";
import { graphSource } from "../../server/checkpoints/component-weights.ts";
import { createServices, type Services } from "../../server/context.ts";
import type { GraphName, SdComponents } from "../../server/pipelines/components.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { expectParity, runCase } from "../helpers/pipeline-parity.ts";
import { ReferenceCase } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

let services: Services;
beforeAll(() => {
  // The fixture root as models directory: single files are `single-file/<name>.safetensors`, the diffusers
  // folders `models/<name>`.
  services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: SAFETENSORS_FIXTURES }));
});
afterAll(() => services.dispose());

const CASES: [
  id: string,
  file: string,
  configFrom: string,
  task: Task,
  sourceClass: string,
  pipelineClass: string,
][] = [
  [
    "minisd_fp16variant_t2i_euler_a",
    "single-file/mini-sd.safetensors",
    "models/mini-sd",
    "TEXT_TO_IMAGE",
    "StableDiffusionPipeline",
    "StableDiffusionPipeline",
  ],
  [
    "sdxl_t2i_euler",
    "single-file/tiny-sdxl.safetensors",
    "models/tiny-sdxl",
    "TEXT_TO_IMAGE",
    "StableDiffusionXLPipeline",
    "StableDiffusionXLPipeline",
  ],
  [
    "sdxl_i2i_euler_s0.6",
    "single-file/tiny-sdxl.safetensors",
    "models/tiny-sdxl",
    "IMAGE_TO_IMAGE",
    "StableDiffusionXLPipeline",
    "StableDiffusionXLImg2ImgPipeline",
  ],
  [
    "sdxl_inpaint_euler_s0.8",
    "single-file/tiny-sdxl.safetensors",
    "models/tiny-sdxl",
    "INPAINTING",
    "StableDiffusionXLPipeline",
    "StableDiffusionXLInpaintPipeline",
  ],
];

async function open(
  file: string,
  configFrom: string,
  task: Task,
  classes: { sourceClass: string; pipelineClass: string },
): Promise<SdComponents> {
  const r = await resolveCheckpoint(services, file, task, {}, null, configFrom);
  expect(r.reason).toBeNull();
  expect(r).toMatchObject({ format: "SINGLE_FILE", runnable: true, variants: [], notes: [], ...classes });
  expect(r.checkpoint.singleFile?.configFrom).toBe(configFrom);
  // Every graph the file holds reads the file's weights (the config checkpoint's own weights are not used).
  for (const graph of ["unet", "vae_decoder", "vae_encoder", ...r.modelIndex.components.map((c) => c.name)]) {
    if (!graph.startsWith("text_encoder") && !graph.startsWith("unet") && !graph.startsWith("vae")) continue;
    if (graph === "vae") continue;
    const source = await graphSource(r.checkpoint, graph as GraphName, null);
    expect(source).toMatchObject({
      kind: "built",
      weightFiles: [realpathSync(`${SAFETENSORS_FIXTURES}${file}`)],
    });
  }
  return (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}

describe("parity with diffusers on single files (configFrom: the diffusers folder)", () => {
  it.each(CASES)("%s from %s", async (id, file, configFrom, task, sourceClass, pipelineClass) => {
    const ref = new ReferenceCase(id, SAFETENSORS_FIXTURES);
    expect(`models/${ref.manifest.checkpoint}`).toBe(configFrom);
    const c = await open(file, configFrom, task, { sourceClass, pipelineClass });
    await expectParity(ref, await runCase(ref, c, task, SAFETENSORS_FIXTURES));
  });
});
