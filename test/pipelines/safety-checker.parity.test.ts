/**
 * The safety checker against diffusers: tiny-sd-safety's `safety_checker/model.onnx`, fed image by image as
 * `OnnxStableDiffusionPipeline` feeds it, flags the four reference test images as recorded (gradient and solid
 * red pass; checkerboard and noise are flagged and come back black), and flags the `safety_t2i_pndm` image.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { toNhwcUnit } from "../../server/pipelines/decode.ts";
import { runSafetyChecker } from "../../server/pipelines/safety-checker.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { floatTensor } from "../../server/runtime/tensor.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { maxAbsDiff, REFERENCE_NEXT, ReferenceCase, readFloat32 } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

const SAFETY = `${REFERENCE_NEXT}reference/safety/`;
const manifest = JSON.parse(readFileSync(`${SAFETY}manifest.json`, "utf8")) as {
  test_images: { name: string; has_nsfw_concept: boolean }[];
};
const run = () => ({ generator: new TorchGenerator(0n), timer: new RunTimer() });

describe("safety checker", () => {
  let services: Services;
  let components: SdComponents;
  beforeAll(async () => {
    services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: `${REFERENCE_NEXT}models` }));
    const r = await resolveCheckpoint(services, "tiny-sd-safety", "TEXT_TO_IMAGE");
    components = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
  });
  afterAll(() => services.dispose());

  it("finds the checker and its feature extractor in tiny-sd-safety", async () => {
    expect(await components.hasSafetyChecker()).toBe(true);
    expect(components.loadedGraphs()).not.toContain("safety_checker");
  });

  it("gives the four test images their recorded flags and out_images", async () => {
    const images = floatTensor(readFloat32(`${SAFETY}images.bin`), [4, 64, 64, 3]);
    const result = await runSafetyChecker(components, images, run());
    const recorded = Array.from(readFileSync(`${SAFETY}has_nsfw_concepts.bin`), (v) => v === 1);
    expect(recorded).toEqual(manifest.test_images.map((t) => t.has_nsfw_concept));
    expect(result.nsfwContentDetected).toEqual(recorded);
    expect(result.nsfwContentDetected).toEqual([false, false, true, true]);
    // Flagged images are all zeros, the others pass through unchanged.
    expect(maxAbsDiff(result.images.data, readFloat32(`${SAFETY}out_images.bin`)).diff).toBe(0);
    expect(components.loadedGraphs()).toContain("safety_checker");
  });

  it("flags the safety_t2i_pndm image and blacks it out", async () => {
    const ref = new ReferenceCase("safety_t2i_pndm", REFERENCE_NEXT);
    const decoded = floatTensor(ref.array("safety_images_in"), [1, 3, 64, 64]);
    const result = await runSafetyChecker(components, toNhwcUnit(decoded), run());
    expect(result.nsfwContentDetected).toEqual(ref.manifest.nsfw_content_detected);
    expect(result.images.data.every((v) => v === 0)).toBe(true);
    expect(maxAbsDiff(result.images.data, ref.array("image")).diff).toBe(0);
  });
});
