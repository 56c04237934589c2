/**
 * Image-to-image and inpainting parity with diffusers: every such case of the reference data runs from seed 0
 * through the public pipeline API (decode → preprocess → pipeline) on the bundled checkpoints, whose VAE encoders
 * return moments so that the latent sample is drawn from the request's generator. Final latents within 1e-3 of
 * their max-abs, images within 1/255.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../server/auto-pipeline/resolve.ts";
import { createServices, type Services } from "../../server/context.ts";
import { decodeImage, decodeMask } from "../../server/image/decode.ts";
import { preprocessImage, preprocessMask } from "../../server/image/preprocess.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { imageToImage } from "../../server/pipelines/image-to-image.ts";
import { inpainting } from "../../server/pipelines/inpainting.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { maxAbsDiff, REFERENCE, ReferenceCase } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

const INIT = readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`);
const MASK = readFileSync(`${REFERENCE}reference/inputs/mask_64x64.png`);

let services: Services;
beforeAll(() => {
  services = createServices(testConfig());
});
afterAll(() => services.dispose());

async function open(model: string, task: Task): Promise<SdComponents> {
  const r = await resolveCheckpoint(services, model, task);
  expect(r.runnable).toBe(true);
  // The lease is kept for the test's life; the services' dispose releases everything.
  return (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}

async function inputs(ref: ReferenceCase, c: SdComponents) {
  const { vaeScaleFactor } = await c.facts();
  const size = { vaeScaleFactor, width: ref.manifest.params.width, height: ref.manifest.params.height };
  const image = preprocessImage(await decodeImage(INIT, { field: "image", maxPixels: 1 << 20 }), size).tensor;
  const mask = preprocessMask(
    await decodeMask(MASK, { field: "maskImage", maxPixels: 1 << 20 }),
    size,
  ).tensor;
  return { image, mask };
}

function common(ref: ReferenceCase) {
  return { ...ref.params(), strength: ref.manifest.params.strength ?? 1 };
}

function expectParity(
  ref: ReferenceCase,
  output: { latents: { data: Float32Array }; images: { data: Float32Array } },
) {
  const latents = maxAbsDiff(output.latents.data, ref.array("final_latents"));
  expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  expect(maxAbsDiff(output.images.data, ref.array("image")).diff).toBeLessThanOrEqual(1 / 255);
}

const run = (seed: number) => ({ generator: new TorchGenerator(seed), timer: new RunTimer() });

describe("image-to-image parity with diffusers (tiny-sd)", () => {
  it.each(["i2i_pndm_s0.75", "i2i_ddim_s0.75", "i2i_euler_s0.75"])("%s", async (id) => {
    const ref = new ReferenceCase(id);
    const c = await open("tiny-sd", "IMAGE_TO_IMAGE");
    const { image } = await inputs(ref, c);
    const output = await imageToImage(c, { ...common(ref), image }, run(ref.manifest.seed));
    expect(output.seedReproducible).toBe(true);
    expectParity(ref, output);
  });
});

describe("inpainting parity with diffusers", () => {
  it.each([
    ["inpaint9_pndm_s1.0", "tiny-sd-inpaint", "NINE_CHANNEL"],
    ["inpaint9_pndm_s0.8", "tiny-sd-inpaint", "NINE_CHANNEL"],
    ["inpaint4_pndm_s1.0", "tiny-sd", "BLEND"],
    ["inpaint4_pndm_s0.8", "tiny-sd", "BLEND"],
  ])("%s (%s, %s)", async (id, model, path) => {
    const ref = new ReferenceCase(id);
    expect(ref.manifest.checkpoint).toBe(model);
    const c = await open(model, "INPAINTING");
    const { image, mask } = await inputs(ref, c);
    const output = await inpainting(c, { ...common(ref), image, mask }, run(ref.manifest.seed));
    expect(output.path).toBe(path);
    expectParity(ref, output);
  });
});
