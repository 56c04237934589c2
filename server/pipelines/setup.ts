/**
 * What every task does first: decide on classifier-free guidance, encode the prompts, and build a fresh scheduler
 * for this request (state never shared between requests) with its timesteps set.
 */
import type { FloatTensor } from "../runtime/tensor.ts";
import { createScheduler, type SchedulerName } from "../schedulers/registry.ts";
import type { Scheduler } from "../schedulers/scheduler.ts";
import type { SdComponents } from "./components.ts";
import { encodePrompt } from "./encode-prompt.ts";
import type { RunContext } from "./run-context.ts";
import type { ValidGeneration } from "./validate.ts";

/** Parameters every task shares: a validated request without its seed (the generator carries it). */
export interface CommonParams extends Omit<ValidGeneration, "seed"> {
  /** Another scheduler than the checkpoint's, built from its config (diffusers' `from_config`). */
  readonly scheduler?: SchedulerName;
}

export interface PipelineOutput {
  /** NHWC float32 in [0, 1]. */
  readonly images: FloatTensor;
  /** The latents after the last step (before 1/scaling_factor). */
  readonly latents: FloatTensor;
}

export interface Prepared {
  readonly guidance: boolean;
  readonly promptEmbeds: FloatTensor;
  readonly scheduler: Scheduler;
}

export async function prepare(c: SdComponents, params: CommonParams, run: RunContext): Promise<Prepared> {
  // diffusers: do_classifier_free_guidance = guidance_scale > 1.
  const guidance = params.guidanceScale > 1;
  const promptEmbeds = await encodePrompt(
    c,
    {
      prompt: params.prompt,
      negativePrompt: params.negativePrompt,
      numImagesPerPrompt: params.numImagesPerPrompt,
      guidance,
    },
    run,
  );
  const scheduler = createScheduler({ ...c.schedulerConfig }, params.scheduler);
  scheduler.setTimesteps(params.numInferenceSteps);
  return { guidance, promptEmbeds, scheduler };
}
