/**
 * Parity with diffusers on the mid-sd fixture: SD 1.5's graph structure (four UNet levels, cross-attention at
 * three, 8 heads, a factor-8 VAE with mid-block attention) at reduced width, in optimum's layout. Its three
 * reference cases run through the pipeline API; final latents within 1e-3 of their max-abs and the PNG within one
 * level of diffusers'. The checkpoint loads as the server loads it.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { decodeImage } from "../../server/image/decode.ts";
import { encodePngs } from "../../server/image/encode.ts";
import { preprocessImage } from "../../server/image/preprocess.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { imageToImage } from "../../server/pipelines/image-to-image.ts";
import type { PipelineOutput } from "../../server/pipelines/setup.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { MID_SD, MID_SD_MODELS, MidSdCase } from "../helpers/mid-sd.ts";
import { maxAbsDiff } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

let services: Services;
let components: SdComponents;
beforeAll(async () => {
  services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: MID_SD_MODELS }));
  const r = await resolveCheckpoint(services, "mid-sd", "IMAGE_TO_IMAGE");
  expect(r.runnable).toBe(true);
  // The lease is kept for the file's life; the services' dispose releases everything.
  components = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}, 180_000);
afterAll(() => services.dispose());

const run = (seed: number) => ({ generator: new TorchGenerator(seed), timer: new RunTimer() });

async function expectParity(ref: MidSdCase, output: PipelineOutput) {
  const expected = ref.finalLatents();
  expect(output.latents.dims).toEqual(expected.shape);
  const latents = maxAbsDiff(output.latents.data, expected.data);
  expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  const [png] = await encodePngs(output.images);
  const ours = await sharp(png).raw().toBuffer();
  const theirs = await sharp(ref.png()).removeAlpha().raw().toBuffer();
  expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
}

describe("mid-sd parity with diffusers (SD 1.5 structure, optimum's layout)", () => {
  it.each(["mid_t2i_pndm_256", "mid_t2i_euler_a_320x192"])(
    "%s",
    async (id) => {
      const ref = new MidSdCase(id);
      const output = await textToImage(components, ref.params(), run(ref.seed));
      await expectParity(ref, output);
    },
    180_000,
  );

  it("mid_i2i_ddim_s0.6", async () => {
    const ref = new MidSdCase("mid_i2i_ddim_s0.6");
    const params = ref.params();
    const { vaeScaleFactor } = await components.facts();
    const decoded = await decodeImage(readFileSync(`${MID_SD}inputs/init_256.png`), {
      field: "image",
      maxPixels: 1 << 20,
    });
    const image = preprocessImage(decoded, {
      vaeScaleFactor,
      width: params.width,
      height: params.height,
    }).tensor;
    const output = await imageToImage(
      components,
      { ...params, strength: ref.strength ?? 0.8, image },
      run(ref.seed),
    );
    expect(output.seedReproducible).toBe(true);
    await expectParity(ref, output);
  }, 180_000);
});
