/**
 * Text-to-image parity with diffusers: every t2i case of the reference data is run from seed 0 through the
 * pipeline API on the bundled ONNX checkpoint, and compared with what diffusers produced — final latents within
 * 1e-3 of their max-abs, images within 1/255 on [0, 1], and the PNG within one level.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { encodePngs } from "../../server/image/encode.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { maxAbsDiff, REFERENCE_NEXT, ReferenceCase } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

const CASES = [
  "t2i_pndm",
  "t2i_ddim",
  "t2i_euler",
  "t2i_euler_ancestral",
  "t2i_dpmpp_2m",
  "t2i_lms",
  "t2i_lcm",
  "t2i_pndm_no_cfg",
  "t2i_pndm_batch2",
  "t2i_pndm_negative_prompt",
];

async function open(services: Services, model: string): Promise<SdComponents> {
  const r = await resolveCheckpoint(services, model, "TEXT_TO_IMAGE");
  // The lease is kept for the test's life; the services' dispose releases everything.
  return (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}

async function runCase(components: SdComponents, ref: ReferenceCase) {
  return textToImage(components, ref.params(), {
    generator: new TorchGenerator(ref.manifest.seed),
    timer: new RunTimer(),
  });
}

function expectParity(ref: ReferenceCase, output: Awaited<ReturnType<typeof runCase>>) {
  expect(output.latents.dims).toEqual(ref.shape("final_latents"));
  const latents = maxAbsDiff(output.latents.data, ref.array("final_latents"));
  expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  expect(output.images.dims).toEqual(ref.shape("image"));
  expect(maxAbsDiff(output.images.data, ref.array("image")).diff).toBeLessThanOrEqual(1 / 255);
}

describe("text-to-image parity with diffusers (tiny-sd, diffusers' ONNX layout)", () => {
  let services: Services;
  let components: SdComponents;
  beforeAll(async () => {
    services = createServices(testConfig());
    components = await open(services, "tiny-sd");
  });
  afterAll(() => services.dispose());

  it.each(CASES)("%s", async (id) => {
    const ref = new ReferenceCase(id);
    const output = await runCase(components, ref);
    expectParity(ref, output);
    // The PNGs equal diffusers' within one level.
    const pngs = await encodePngs(output.images);
    for (const [i, png] of pngs.entries()) {
      const ours = await sharp(png).raw().toBuffer();
      const theirs = await sharp(ref.png(i)).removeAlpha().raw().toBuffer();
      expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
    }
  });
});

describe("text-to-image parity with diffusers (tiny-sd2-v, optimum's layout, v-prediction)", () => {
  let services: Services;
  beforeAll(() => {
    services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: `${REFERENCE_NEXT}models` }));
  });
  afterAll(() => services.dispose());

  it("sd2v_t2i_ddim", async () => {
    const ref = new ReferenceCase("sd2v_t2i_ddim", REFERENCE_NEXT);
    const output = await runCase(await open(services, "tiny-sd2-v"), ref);
    expectParity(ref, output);
  });
});
