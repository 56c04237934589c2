/**
 * Parity with diffusers on checkpoints in diffusers' own layout (config.json + safetensors per component): every
 * case of test/fixtures/diffusers-safetensors/reference runs from seed 0 through the pipeline stages on graphs
 * autopipe builds itself from the component configs — mini-sd (SD 1.5 topology, its fp16 variant files and safety
 * checker), mini-sd2-v (v-prediction, linear projections, heads per level) and tiny-sdxl. Final latents within
 * 1e-3 of their max-abs, images within 1/255 on [0, 1], the PNG within one level, as for the ONNX cases.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../server/auto-pipeline/resolve.ts";
import { createServices, type Services } from "../../server/context.ts";
import { decodeImage, decodeMask } from "../../server/image/decode.ts";
import { encodePngs } from "../../server/image/encode.ts";
import { preprocessImage, preprocessMask } from "../../server/image/preprocess.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { toNhwcUnit } from "../../server/pipelines/decode.ts";
import { imageToImage } from "../../server/pipelines/image-to-image.ts";
import { inpainting } from "../../server/pipelines/inpainting.ts";
import { runSafetyChecker } from "../../server/pipelines/safety-checker.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { floatTensor } from "../../server/runtime/tensor.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { maxAbsDiff, ReferenceCase } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

let services: Services;
beforeAll(() => {
  services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: `${SAFETENSORS_FIXTURES}models` }));
});
afterAll(() => services.dispose());

async function open(model: string, task: Task, variant: string | null = null): Promise<SdComponents> {
  const r = await resolveCheckpoint(services, model, task, {}, variant);
  expect(r.reason).toBeNull();
  expect(r.format).toBe("DIFFUSERS");
  // The lease is kept for the test's life; the services' dispose releases everything.
  return (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}

const run = (ref: ReferenceCase) => ({
  generator: new TorchGenerator(ref.manifest.seed),
  timer: new RunTimer(),
});

async function inputs(ref: ReferenceCase, c: SdComponents) {
  const p = ref.manifest.params as unknown as { init_image: string | null; mask_image: string | null };
  const { vaeScaleFactor } = await c.facts();
  const size = { vaeScaleFactor, width: ref.manifest.params.width, height: ref.manifest.params.height };
  const read = (file: string) => readFileSync(`${SAFETENSORS_FIXTURES}${file}`);
  const image = p.init_image
    ? preprocessImage(await decodeImage(read(p.init_image), { field: "image", maxPixels: 1 << 20 }), size)
        .tensor
    : undefined;
  const mask = p.mask_image
    ? preprocessMask(await decodeMask(read(p.mask_image), { field: "maskImage", maxPixels: 1 << 20 }), size)
        .tensor
    : undefined;
  return { image, mask };
}

async function expectParity(
  ref: ReferenceCase,
  output: {
    latents: { data: Float32Array; dims: readonly number[] };
    images: { data: Float32Array; dims: readonly number[] };
  },
) {
  expect(output.latents.dims).toEqual(ref.shape("final_latents"));
  const latents = maxAbsDiff(output.latents.data, ref.array("final_latents"));
  expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  expect(maxAbsDiff(output.images.data, ref.array("image")).diff).toBeLessThanOrEqual(1 / 255);
  const [png] = await encodePngs(floatTensor(output.images.data, output.images.dims));
  const ours = await sharp(png).raw().toBuffer();
  const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
  expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
}

const CASES: [id: string, model: string, task: Task, variant: string | null][] = [
  ["minisd_t2i_pndm", "mini-sd", "TEXT_TO_IMAGE", null],
  ["minisd_i2i_ddim_s0.6", "mini-sd", "IMAGE_TO_IMAGE", null],
  ["minisd_inpaint_pndm", "mini-sd", "INPAINTING", null],
  ["minisd_fp16variant_t2i_euler_a", "mini-sd", "TEXT_TO_IMAGE", "fp16"],
  ["minisd2v_t2i_ddim", "mini-sd2-v", "TEXT_TO_IMAGE", null],
  ["sdxl_t2i_euler", "tiny-sdxl", "TEXT_TO_IMAGE", null],
  ["sdxl_i2i_euler_s0.6", "tiny-sdxl", "IMAGE_TO_IMAGE", null],
  ["sdxl_inpaint_euler_s0.8", "tiny-sdxl", "INPAINTING", null],
];

describe("parity with diffusers on diffusers-layout checkpoints (graphs built from configs)", () => {
  it.each(CASES)("%s (%s, %s, variant %s)", async (id, model, task, variant) => {
    const ref = new ReferenceCase(id, SAFETENSORS_FIXTURES);
    expect(ref.manifest.checkpoint).toBe(model);
    const c = await open(model, task, variant);
    const { image, mask } = await inputs(ref, c);
    // Image tasks with no width/height take the input image's size (diffusers: `image.shape[-2:]`).
    const side = (dim: number | null | undefined, i: number) => dim ?? image?.dims[i] ?? 0;
    const base = ref.params();
    const params = {
      ...base,
      width: side(base.width, 3),
      height: side(base.height, 2),
      strength: ref.manifest.params.strength ?? 1,
    };
    const output =
      task === "TEXT_TO_IMAGE"
        ? await textToImage(c, ref.params(), run(ref))
        : task === "IMAGE_TO_IMAGE"
          ? await imageToImage(c, { ...params, image: image! }, run(ref))
          : await inpainting(c, { ...params, image: image!, mask: mask! }, run(ref));
    await expectParity(ref, output);
  });

  it("minisd_safety_t2i_pndm: the built safety checker flags the image and blacks it out", async () => {
    const ref = new ReferenceCase("minisd_safety_t2i_pndm", SAFETENSORS_FIXTURES);
    const c = await open("mini-sd", "TEXT_TO_IMAGE");
    expect(await c.hasSafetyChecker()).toBe(true);
    const output = await textToImage(c, ref.params(), run(ref));
    const decoded = floatTensor(ref.array("vae_decode_output"), ref.shape("vae_decode_output"));
    // Up to the VAE output this is the minisd_t2i_pndm run; the checker sees the decoded image.
    expect(maxAbsDiff(toNhwcUnit(decoded).data, output.images.data).diff).toBeLessThanOrEqual(1 / 255);
    const checked = await runSafetyChecker(c, toNhwcUnit(decoded), run(ref));
    expect(checked.nsfwContentDetected).toEqual(ref.manifest.nsfw_content_detected);
    expect(checked.images.data.every((v) => v === 0)).toBe(true);
    expect(maxAbsDiff(checked.images.data, ref.array("image")).diff).toBe(0);
  });
});
