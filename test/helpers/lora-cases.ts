/** The diffusers-lora fixture's pipeline cases run through our stages with their adapters bound as side branches. */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { expect } from "vitest";
import type { Task } from "../../server/auto-pipeline/resolve.ts";
import { createServices, type Services } from "../../server/context.ts";
import { decodeImage } from "../../server/image/decode.ts";
import { encodePngs } from "../../server/image/encode.ts";
import { preprocessImage } from "../../server/image/preprocess.ts";
import { bindLoras, planLoras } from "../../server/loras/lora-request.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { imageToImage } from "../../server/pipelines/image-to-image.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { floatTensor } from "../../server/runtime/tensor.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "./component-cases.ts";
import { LORA_FIXTURES } from "./lora.ts";
import type { ReferenceCase } from "./reference.ts";
import { testConfig } from "./services.ts";

export const LORA_CASES: [id: string, model: string, task: Task][] = [
  ["minisd_lora_a1.0_t2i_pndm", "mini-sd", "TEXT_TO_IMAGE"],
  ["minisd_lora_a0.5_t2i_pndm", "mini-sd", "TEXT_TO_IMAGE"],
  ["minisd_lora_a0.7_b0.5_t2i_pndm", "mini-sd", "TEXT_TO_IMAGE"],
  ["minisd_lora_a1.0_i2i_ddim_s0.6", "mini-sd", "IMAGE_TO_IMAGE"],
  ["sdxl_lora1.0_t2i_euler", "tiny-sdxl", "TEXT_TO_IMAGE"],
];

export interface LoraCaseManifest {
  lora: { adapters: { adapter: string; scale: number }[] };
  params: { init_image: string | null; strength: number | null; width: number; height: number };
}

/** Services over the fixture checkpoints (diffusers layout) with the fixture's adapters as AUTOPIPE_LORAS_DIR. */
export function loraFixtureServices(): Services {
  return createServices(
    testConfig({
      AUTOPIPE_MODELS_DIR: `${SAFETENSORS_FIXTURES}models`,
      AUTOPIPE_LORAS_DIR: `${LORA_FIXTURES}adapters`,
    }),
  );
}

export async function openCheckpoint(services: Services, model: string, task: Task): Promise<SdComponents> {
  const r = await resolveCheckpoint(services, model, task, {}, null);
  expect(r.reason).toBeNull();
  return (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}

/** One run of case `ref` with its adapters read from `convention` files; returns latents, PNG pixels. */
export async function runLoraCase(
  services: Services,
  ref: ReferenceCase,
  model: string,
  task: Task,
  convention: "diffusers" | "kohya",
) {
  const manifest = ref.manifest as unknown as LoraCaseManifest;
  const c = await openCheckpoint(services, model, task);
  const loras = manifest.lora.adapters.map((a) => ({ id: `${a.adapter}.${convention}`, scale: a.scale }));
  const planned = await planLoras(services.config, c, loras, "textToImage");
  expect(planned.notes).toEqual([]);
  const bound = await bindLoras(services.config, c, planned.adapters);
  try {
    const run = {
      generator: new TorchGenerator(ref.manifest.seed),
      timer: new RunTimer(),
      loras: bound.feeds,
    };
    let output: Awaited<ReturnType<typeof textToImage>>;
    if (task === "TEXT_TO_IMAGE") {
      output = await textToImage(c, ref.params(), run);
    } else {
      const { vaeScaleFactor } = await c.facts();
      const p = manifest.params;
      const bytes = readFileSync(`${SAFETENSORS_FIXTURES}${p.init_image}`);
      const image = preprocessImage(await decodeImage(bytes, { field: "image", maxPixels: 1 << 20 }), {
        vaeScaleFactor,
        width: p.width,
        height: p.height,
      }).tensor;
      output = await imageToImage(c, { ...ref.params(), strength: p.strength ?? 1, image }, run);
    }
    const [png] = await encodePngs(floatTensor(output.images.data, output.images.dims));
    return { latents: output.latents, pixels: await sharp(png).raw().toBuffer() };
  } finally {
    await bound.release();
  }
}
