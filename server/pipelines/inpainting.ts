/**
 * Inpainting (diffusers' StableDiffusionInpaintPipeline). Two paths share the loop:
 * - a 9-channel UNet (inpainting checkpoints) sees `[latents, mask, masked_image_latents]` at every step;
 * - a 4-channel UNet (any text-to-image checkpoint) denoises freely, and after every step the region outside the
 *   mask is replaced by the image latents re-noised to the next timestep (the blend).
 * Strength 1.0 starts from pure noise; below it, from the image latents noised to the first kept timestep.
 * Generator draws follow diffusers: [image VAE sample] → initial noise → masked-image VAE sample.
 */
import { maskedImage, resizeMaskNearest } from "../image/preprocess.ts";
import { concatBatch, type FloatTensor, floatTensor, repeatInterleave } from "../runtime/tensor.ts";
import type { SdComponents } from "./components.ts";
import { decodeLatents } from "./decode.ts";
import { concatChannels, denoise } from "./denoise.ts";
import { encodeImage } from "./encode-image.ts";
import type { ImageTaskOutput } from "./image-to-image.ts";
import { latentShape, scaleByInitSigma } from "./prepare-latents.ts";
import type { RunContext } from "./run-context.ts";
import { type CommonParams, prepare } from "./setup.ts";
import { strengthTimesteps } from "./strength.ts";

export interface InpaintingParams extends CommonParams {
  /** The preprocessed image, [1, 3, H, W] in [−1, 1]. */
  readonly image: FloatTensor;
  /** The binarised mask, [1, 1, H, W]: 1 = repaint, 0 = keep. */
  readonly mask: FloatTensor;
  /** In (0, 1] (default 1.0 in the API). */
  readonly strength: number;
}

export type InpaintPath = "NINE_CHANNEL" | "BLEND";

export async function inpainting(
  c: SdComponents,
  params: InpaintingParams,
  run: RunContext,
): Promise<ImageTaskOutput & { path: InpaintPath }> {
  const facts = await c.facts();
  const nineChannel = facts.unetInChannels === 9;
  const n = params.numImagesPerPrompt;
  const { guidance, promptEmbeds, unetInputs, scheduler } = await prepare(c, params, run, "INPAINTING");
  const timesteps = strengthTimesteps(scheduler, params.numInferenceSteps, params.strength);
  const strengthMax = params.strength === 1;
  let seedReproducible = true;

  // prepare_latents: the image latents are needed to start below strength 1, and by the blend at every step.
  let imageLatents: FloatTensor | undefined;
  if (!nineChannel || !strengthMax) {
    const encoded = await encodeImage(c, params.image, run);
    seedReproducible &&= encoded.seedReproducible;
    imageLatents = repeatInterleave(encoded.latents, n);
  }
  const [, , h = 0, w = 0] = params.image.dims;
  const shape = latentShape(n, 4, h, w, facts.vaeScaleFactor);
  const noise = run.generator.randn(shape);
  // Strength 1 starts from pure noise; below it, from the image latents noised to the first kept timestep.
  const latents = strengthMax
    ? scaleByInitSigma(floatTensor(noise, shape), scheduler)
    : floatTensor(scheduler.addNoise(imageLatents!.data, noise, timesteps[0]!), shape);

  // prepare_mask_latents: mask at latent size (nearest) and the masked image's VAE sample (always drawn).
  const mask = repeatInterleave(resizeMaskNearest(params.mask, shape[2], shape[3]), n);
  const maskedEncoded = await encodeImage(c, maskedImage(params.image, params.mask), run);
  seedReproducible &&= maskedEncoded.seedReproducible;
  const maskedImageLatents = repeatInterleave(maskedEncoded.latents, n);

  const double = (t: FloatTensor) => (guidance ? concatBatch([t, t]) : t);
  const extraChannels = nineChannel ? concatChannels(double(mask), double(maskedImageLatents)) : undefined;
  const afterStep = nineChannel
    ? undefined
    : (current: FloatTensor, i: number): FloatTensor =>
        blend(current, imageLatents!, mask, noise, timesteps, i, scheduler);

  const final = await denoise(
    {
      unet: await c.graphFor("unet", run),
      scheduler,
      timesteps,
      latents,
      promptEmbeds,
      extraInputs: unetInputs,
      guidance,
      guidanceScale: params.guidanceScale,
      extraChannels,
      afterStep,
    },
    run,
  );
  return {
    images: await decodeLatents(c, final, run),
    latents: final,
    seedReproducible,
    path: nineChannel ? "NINE_CHANNEL" : "BLEND",
  };
}

/** 4-channel path: (1 − mask) · image latents noised to the next timestep + mask · latents. */
function blend(
  latents: FloatTensor,
  imageLatents: FloatTensor,
  mask: FloatTensor,
  noise: Float32Array,
  timesteps: readonly number[],
  i: number,
  scheduler: { addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array },
): FloatTensor {
  const proper =
    i < timesteps.length - 1
      ? scheduler.addNoise(imageLatents.data, noise, timesteps[i + 1]!)
      : imageLatents.data;
  const [batch = 1, channels = 4, h = 0, w = 0] = latents.dims;
  const plane = h * w;
  const out = new Float32Array(latents.data.length);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const at = (b * channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const m = mask.data[b * plane + p]!;
        // torch: (1 - init_mask) * init_latents_proper + init_mask * latents, in float32.
        out[at + p] = Math.fround(
          Math.fround(Math.fround(1 - m) * proper[at + p]!) + Math.fround(m * latents.data[at + p]!),
        );
      }
    }
  }
  return floatTensor(out, latents.dims);
}
