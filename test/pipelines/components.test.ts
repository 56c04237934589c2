/**
 * Checkpoint facts without component configs (diffusers' ONNX layout as its converter writes it): the VAE factor
 * is inferred from the decoder, the scaling factor defaults to 0.18215, and the pipeline still matches diffusers.
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { maxAbsDiff, ReferenceCase } from "../helpers/reference.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";

describe("a checkpoint without component configs", () => {
  let dir: string;
  let services: Services;
  let components: SdComponents;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-noconfig-"));
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(dir, "bare"), {
      recursive: true,
      filter: (source) => !(path.basename(source) === "config.json"),
    });
    services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: dir }));
    const r = await resolveCheckpoint(services, "bare", "TEXT_TO_IMAGE");
    components = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
  });
  afterAll(async () => {
    await services.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("infers the VAE factor from the decoder and falls back to diffusers' defaults", async () => {
    expect(await components.facts()).toEqual({
      vaeScaleFactor: 2,
      scalingFactor: 0.18215,
      // diffusers' ONNX pipelines default to 512 px.
      sampleSize: 256,
      unetInChannels: 4,
      // Without a UNet config, SD's three halvings are assumed.
      sizeMultiple: 16,
      // Not Stable Diffusion XL: no pooled embeddings or time ids.
      xl: null,
    });
  });

  it("still matches diffusers (t2i_pndm)", async () => {
    const ref = new ReferenceCase("t2i_pndm");
    const out = await textToImage(components, ref.params(), {
      generator: new TorchGenerator(0),
      timer: new RunTimer(),
    });
    const latents = maxAbsDiff(out.latents.data, ref.array("final_latents"));
    expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  });
});
