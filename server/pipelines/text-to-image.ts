/**
 * Text-to-image (diffusers' StableDiffusionPipeline / OnnxStableDiffusionPipeline): encode the prompt, draw the
 * starting noise, denoise over every timestep, decode. A short composition of the shared stages.
 */
import type { SdComponents } from "./components.ts";
import { decodeLatents } from "./decode.ts";
import { denoise } from "./denoise.ts";
import { latentShape, noiseLatents } from "./prepare-latents.ts";
import type { RunContext } from "./run-context.ts";
import { type CommonParams, type PipelineOutput, prepare } from "./setup.ts";

export type TextToImageParams = CommonParams;
export type { PipelineOutput } from "./setup.ts";

export async function textToImage(
  c: SdComponents,
  params: TextToImageParams,
  run: RunContext,
): Promise<PipelineOutput> {
  const facts = await c.facts();
  const { guidance, promptEmbeds, unetInputs, scheduler } = await prepare(c, params, run, "TEXT_TO_IMAGE");
  const shape = latentShape(params.numImagesPerPrompt, 4, params.height, params.width, facts.vaeScaleFactor);
  const latents = noiseLatents(shape, scheduler, run);
  const final = await denoise(
    {
      unet: await c.graphFor("unet", run),
      scheduler,
      timesteps: scheduler.timesteps,
      latents,
      promptEmbeds,
      extraInputs: unetInputs,
      guidance,
      guidanceScale: params.guidanceScale,
    },
    run,
  );
  return { images: await decodeLatents(c, final, run), latents: final };
}
