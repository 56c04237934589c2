/**
 * One diffusers reference case run through the pipeline stages, and the parity bar every pipeline case is held to:
 * final latents within 1e-3 of their max-abs, images within 1/255 on [0, 1], the PNG within one level.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { expect } from "vitest";
import type { Task } from "../../server/auto-pipeline/resolve.ts";
import { decodeImage, decodeMask } from "../../server/image/decode.ts";
import { encodePngs } from "../../server/image/encode.ts";
import { preprocessImage, preprocessMask } from "../../server/image/preprocess.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { imageToImage } from "../../server/pipelines/image-to-image.ts";
import { inpainting } from "../../server/pipelines/inpainting.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { floatTensor } from "../../server/runtime/tensor.ts";
import { maxAbsDiff, type ReferenceCase } from "./reference.ts";

export interface PipelineOutput {
  latents: { data: Float32Array; dims: readonly number[] };
  images: { data: Float32Array; dims: readonly number[] };
}

/** A fresh generator at the case's seed and a timer, as one pipeline run takes them. */
export function runOf(ref: ReferenceCase) {
  return { generator: new TorchGenerator(ref.manifest.seed), timer: new RunTimer() };
}

/** The case's init image and mask (files beside its manifest under `root`), preprocessed for `c`. */
async function caseInputs(ref: ReferenceCase, c: SdComponents, root: string) {
  const p = ref.manifest.params as unknown as { init_image: string | null; mask_image: string | null };
  const { vaeScaleFactor } = await c.facts();
  const size = { vaeScaleFactor, width: ref.manifest.params.width, height: ref.manifest.params.height };
  const read = (file: string) => readFileSync(`${root}${file}`);
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

/** Runs the reference case `ref` for `task` on `c` with the case's parameters and seed. */
export async function runCase(
  ref: ReferenceCase,
  c: SdComponents,
  task: Task,
  root: string,
): Promise<PipelineOutput> {
  const { image, mask } = await caseInputs(ref, c, root);
  // Image tasks with no width/height take the input image's size (diffusers: `image.shape[-2:]`).
  const side = (dim: number | null | undefined, i: number) => dim ?? image?.dims[i] ?? 0;
  const base = ref.params();
  const params = {
    ...base,
    width: side(base.width, 3),
    height: side(base.height, 2),
    strength: ref.manifest.params.strength ?? 1,
  };
  if (task === "TEXT_TO_IMAGE") return textToImage(c, base, runOf(ref));
  if (!image) throw new Error(`case ${ref.manifest.checkpoint}: ${task} without an init image`);
  if (task === "IMAGE_TO_IMAGE") return imageToImage(c, { ...params, image }, runOf(ref));
  if (!mask) throw new Error(`case ${ref.manifest.checkpoint}: inpainting without a mask`);
  return inpainting(c, { ...params, image, mask }, runOf(ref));
}

/** Holds `output` to the case's final latents, decoded images and PNG. */
export async function expectParity(ref: ReferenceCase, output: PipelineOutput): Promise<void> {
  expect(output.latents.dims).toEqual(ref.shape("final_latents"));
  const latents = maxAbsDiff(output.latents.data, ref.array("final_latents"));
  expect(latents.diff).toBeLessThanOrEqual(1e-3 * latents.scale);
  expect(maxAbsDiff(output.images.data, ref.array("image")).diff).toBeLessThanOrEqual(1 / 255);
  const [png] = await encodePngs(floatTensor(output.images.data, output.images.dims));
  const ours = await sharp(png).raw().toBuffer();
  const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
  expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
}
