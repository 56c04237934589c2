/**
 * Stable Diffusion XL parity with diffusers: the three tiny-sdxl cases (text-to-image, image-to-image at strength
 * 0.6, 4-channel inpainting at 0.8; Euler, seed 0) run through the pipeline API on the bundled optimum-layout
 * checkpoint, all from one loaded checkpoint. Final latents within 1e-3 of their max-abs, images within 1/255,
 * PNGs within one level; and the stages on the way: both text encoders' penultimate states, the UNet's
 * `encoder_hidden_states`, `text_embeds` and `time_ids`. The reference runs use Euler (the checkpoint's own); the
 * other schedulers, each checked against diffusers on tiny-sd, run SDXL through the same stages here.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { decodeImage, decodeMask } from "../../server/image/decode.ts";
import { encodePngs } from "../../server/image/encode.ts";
import { preprocessImage, preprocessMask } from "../../server/image/preprocess.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { encodeTextXl } from "../../server/pipelines/encode-prompt.ts";
import { imageToImage } from "../../server/pipelines/image-to-image.ts";
import { inpainting } from "../../server/pipelines/inpainting.ts";
import { prepare } from "../../server/pipelines/setup.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { SCHEDULERS, type SchedulerName } from "../../server/schedulers/registry.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { maxAbsDiff, REFERENCE, ReferenceCase } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

const NEXT = new URL("../fixtures/diffusers-reference-next/", import.meta.url).pathname;
const INIT = readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`);
const MASK = readFileSync(`${REFERENCE}reference/inputs/mask_64x64.png`);

let services: Services;
let components: SdComponents;
beforeAll(async () => {
  services = createServices(testConfig());
  const r = await resolveCheckpoint(services, "tiny-sdxl", "TEXT_TO_IMAGE");
  expect(r.runnable).toBe(true);
  // One lease for every task: the three pipelines share the checkpoint's sessions.
  components = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
});
afterAll(() => services.dispose());

const run = (seed: number) => ({ generator: new TorchGenerator(seed), timer: new RunTimer() });
const params = (ref: ReferenceCase) => ({ ...ref.params(), strength: ref.manifest.params.strength ?? 1 });

async function inputs(ref: ReferenceCase) {
  const { vaeScaleFactor } = await components.facts();
  const size = { vaeScaleFactor, width: ref.manifest.params.width, height: ref.manifest.params.height };
  const image = preprocessImage(await decodeImage(INIT, { field: "image", maxPixels: 1 << 20 }), size).tensor;
  const mask = preprocessMask(
    await decodeMask(MASK, { field: "maskImage", maxPixels: 1 << 20 }),
    size,
  ).tensor;
  return { image, mask };
}

async function expectParity(
  ref: ReferenceCase,
  output: { latents: { data: Float32Array }; images: Parameters<typeof encodePngs>[0] },
) {
  const latents = maxAbsDiff(output.latents.data, ref.array("final_latents"));
  expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  expect(maxAbsDiff(output.images.data, ref.array("image")).diff).toBeLessThanOrEqual(1 / 255);
  const [png] = await encodePngs(output.images);
  const ours = await sharp(png).raw().toBuffer();
  const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
  expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
}

describe("SDXL parity with diffusers (tiny-sdxl, optimum's layout)", () => {
  it("conditions the UNet as diffusers does (prompt embeddings, text_embeds, time_ids)", async () => {
    const ref = new ReferenceCase("sdxl_t2i_euler", NEXT);
    const prepared = await prepare(components, params(ref), run(0), "TEXT_TO_IMAGE");
    expect(prepared.promptEmbeds.dims).toEqual(ref.shape("prompt_embeds_unet"));
    const embeds = maxAbsDiff(prepared.promptEmbeds.data, ref.array("prompt_embeds_unet"));
    expect(embeds.diff).toBeLessThanOrEqual(1e-4 * embeds.scale);
    const pooled = prepared.unetInputs.text_embeds!;
    expect(pooled.dims).toEqual(ref.shape("add_text_embeds_unet"));
    const pooledDiff = maxAbsDiff(pooled.data as Float32Array, ref.array("add_text_embeds_unet"));
    expect(pooledDiff.diff).toBeLessThanOrEqual(1e-4 * pooledDiff.scale);
    // force_zeros_for_empty_prompt: no negative prompt → the negative half is zeros.
    expect([...pooled.data.subarray(0, 32)].every((x) => x === 0)).toBe(true);
    const timeIds = prepared.unetInputs.time_ids!;
    expect(timeIds.dims).toEqual([2, 6]);
    expect([...timeIds.data]).toEqual([...ref.array("add_time_ids_unet")]);
  });

  it('with a negative prompt (even "") both encoders run on it instead of zeros; each image gets its rows', async () => {
    const ref = new ReferenceCase("sdxl_t2i_euler", NEXT);
    const p = { ...params(ref), negativePrompt: "", numImagesPerPrompt: 2 };
    const prepared = await prepare(components, p, run(0), "TEXT_TO_IMAGE");
    const empty = await encodeTextXl(components, "", run(0));
    const item = empty.promptEmbeds.data.length;
    expect(prepared.promptEmbeds.dims).toEqual([4, 77, 64]);
    expect(prepared.promptEmbeds.data.subarray(item, 2 * item)).toEqual(empty.promptEmbeds.data);
    const pooled = prepared.unetInputs.text_embeds!;
    expect(pooled.dims).toEqual([4, 32]);
    expect(pooled.data.subarray(0, 32)).toEqual(empty.pooledEmbeds.data);
    expect([...empty.pooledEmbeds.data].some((x) => x !== 0)).toBe(true);
    // The positive rows are the prompt's, as in the reference.
    const positive = maxAbsDiff(
      prepared.promptEmbeds.data.subarray(3 * item),
      ref.array("prompt_embeds_unet").subarray(item),
    );
    expect(positive.diff).toBeLessThanOrEqual(1e-4 * positive.scale);
    expect(prepared.unetInputs.time_ids!.dims).toEqual([4, 6]);
  });

  it("sdxl_t2i_euler", async () => {
    const ref = new ReferenceCase("sdxl_t2i_euler", NEXT);
    await expectParity(ref, await textToImage(components, ref.params(), run(ref.manifest.seed)));
  });

  it("sdxl_i2i_euler_s0.6", async () => {
    const ref = new ReferenceCase("sdxl_i2i_euler_s0.6", NEXT);
    const { image } = await inputs(ref);
    const output = await imageToImage(components, { ...params(ref), image }, run(ref.manifest.seed));
    expect(output.seedReproducible).toBe(true);
    await expectParity(ref, output);
  });

  it("sdxl_inpaint_euler_s0.8", async () => {
    const ref = new ReferenceCase("sdxl_inpaint_euler_s0.8", NEXT);
    const { image, mask } = await inputs(ref);
    const output = await inpainting(components, { ...params(ref), image, mask }, run(ref.manifest.seed));
    expect(output.path).toBe("BLEND");
    await expectParity(ref, output);
  });
});

describe("SDXL with every scheduler the server offers", () => {
  it.each([...SCHEDULERS.keys()])("%s", async (name) => {
    const ref = new ReferenceCase("sdxl_t2i_euler", NEXT);
    const p = { ...ref.params(), numInferenceSteps: 4, scheduler: name as SchedulerName };
    const a = await textToImage(components, p, run(7));
    expect(a.images.dims).toEqual([1, 64, 64, 3]);
    expect(a.latents.data.every(Number.isFinite)).toBe(true);
    // Seeded: the same request gives the same latents, bit for bit.
    expect((await textToImage(components, p, run(7))).latents.data).toEqual(a.latents.data);
  });
});
