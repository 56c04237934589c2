/**
 * What every task does first: decide on classifier-free guidance, encode the prompts, and build a fresh scheduler
 * for this request (state never shared between requests) with its timesteps set. For SDXL it also builds the
 * UNet's added conditioning: the pooled `text_embeds` and the `time_ids`.
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import type { FloatTensor, HostTensor } from "../runtime/tensor.ts";
import { createScheduler, type SchedulerName } from "../schedulers/registry.ts";
import type { Scheduler } from "../schedulers/scheduler.ts";
import type { SdComponents } from "./components.ts";
import { encodePrompt, encodePromptXl } from "./encode-prompt.ts";
import { addTimeIds, checkTimeIds, type XlConditioning } from "./micro-conditioning.ts";
import type { RunContext } from "./run-context.ts";
import type { ValidGeneration } from "./validate.ts";

/** Parameters every task shares: a validated request without its seed (the generator carries it). */
export interface CommonParams extends Omit<ValidGeneration, "seed"> {
  /** Another scheduler than the checkpoint's, built from its config (diffusers' `from_config`). */
  readonly scheduler?: SchedulerName;
  /** SDXL's micro-conditioning (sizes, crop, aesthetic scores); ignored by other checkpoints. */
  readonly xl?: XlConditioning;
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
  /** UNet inputs besides sample, timestep and encoder_hidden_states (SDXL: text_embeds, time_ids). */
  readonly unetInputs: Readonly<Record<string, HostTensor>>;
  readonly scheduler: Scheduler;
}

export async function prepare(
  c: SdComponents,
  params: CommonParams,
  run: RunContext,
  task: Task = "TEXT_TO_IMAGE",
): Promise<Prepared> {
  // diffusers: do_classifier_free_guidance = guidance_scale > 1.
  const guidance = params.guidanceScale > 1;
  const prompts = {
    prompt: params.prompt,
    negativePrompt: params.negativePrompt,
    numImagesPerPrompt: params.numImagesPerPrompt,
    guidance,
  };
  const { xl } = await c.facts();
  let promptEmbeds: FloatTensor;
  let unetInputs: Record<string, HostTensor> = {};
  if (xl) {
    const embeddings = await encodePromptXl(
      c,
      { ...prompts, forceZerosForEmptyPrompt: xl.forceZerosForEmptyPrompt },
      run,
    );
    promptEmbeds = embeddings.promptEmbeds;
    const size = { width: params.width, height: params.height };
    const timeIds = addTimeIds(task, xl, params.xl ?? {}, size, params.numImagesPerPrompt, guidance);
    checkTimeIds(await c.graph("unet"), timeIds, c.id, xl);
    unetInputs = { text_embeds: embeddings.pooledEmbeds, time_ids: timeIds };
  } else {
    promptEmbeds = await encodePrompt(c, prompts, run);
  }
  const scheduler = createScheduler({ ...c.schedulerConfig }, params.scheduler);
  scheduler.setTimesteps(params.numInferenceSteps);
  return { guidance, promptEmbeds, unetInputs, scheduler };
}
