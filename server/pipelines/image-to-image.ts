/**
 * Image-to-image (diffusers' StableDiffusionImg2ImgPipeline): encode the prompt, keep the last `strength` share
 * of the timesteps, encode the image with the VAE (a seeded draw), noise it to the first kept timestep, denoise,
 * decode.
 */
import type { FloatTensor } from "../runtime/tensor.ts";
import { repeatInterleave } from "../runtime/tensor.ts";
import type { SdComponents } from "./components.ts";
import { decodeLatents } from "./decode.ts";
import { denoise } from "./denoise.ts";
import { encodeImage } from "./encode-image.ts";
import { noisedLatents } from "./prepare-latents.ts";
import type { RunContext } from "./run-context.ts";
import { type CommonParams, type PipelineOutput, prepare } from "./setup.ts";
import { strengthTimesteps } from "./strength.ts";

export interface ImageToImageParams extends CommonParams {
  /** The preprocessed input image, [1, 3, height, width] in [−1, 1]. */
  readonly image: FloatTensor;
  /** In (0, 1]: the share of the schedule that runs (default 0.8 in the API). */
  readonly strength: number;
}

export interface ImageTaskOutput extends PipelineOutput {
  /** False when the VAE encoder sampled inside its graph (not reproducible from the seed). */
  readonly seedReproducible: boolean;
}

export async function imageToImage(
  c: SdComponents,
  params: ImageToImageParams,
  run: RunContext,
): Promise<ImageTaskOutput> {
  const { guidance, promptEmbeds, unetInputs, scheduler } = await prepare(c, params, run, "IMAGE_TO_IMAGE");
  const timesteps = strengthTimesteps(scheduler, params.numInferenceSteps, params.strength);
  // prepare_latents: VAE sample of the image (first draw), repeated per image, then noise (second draw).
  const encoded = await encodeImage(c, params.image, run);
  const imageLatents = repeatInterleave(encoded.latents, params.numImagesPerPrompt);
  const latents = noisedLatents(imageLatents, scheduler, timesteps[0]!, run);
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
    },
    run,
  );
  return {
    images: await decodeLatents(c, final, run),
    latents: final,
    seedReproducible: encoded.seedReproducible,
  };
}
