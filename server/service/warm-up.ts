/**
 * Loading and unloading checkpoints on request (`loadPipeline` / `unloadPipeline`): warm-up loads what
 * text-to-image needs (text encoder, UNet, VAE decoder) so that the first generation pays no load; the VAE
 * encoder still waits for the first image task. A named pipeline loads its checkpoint (for its task).
 */

import type { Task } from "../auto-pipeline/resolve.ts";
import type { Services } from "../context.ts";
import { UnsupportedPipelineError } from "../errors.ts";
import type { CacheEntryInfo } from "./pipeline-cache.ts";
import { targetOf } from "./pipeline-variants.ts";
import { resolveCheckpoint } from "./resolve-checkpoint.ts";

/** The task a checkpoint is made for, judged by its class name (inpainting and img2img checkpoints). */
function nativeTask(className: string): Task {
  if (className.includes("Inpaint")) return "INPAINTING";
  if (className.includes("Img2Img")) return "IMAGE_TO_IMAGE";
  return "TEXT_TO_IMAGE";
}

export async function loadPipeline(
  services: Pick<Services, "locator" | "pipelines" | "variants">,
  model: string,
  /** The weights variant to load (diffusers' `variant=`); a named pipeline's own variant otherwise. */
  weightsVariant: string | null = null,
): Promise<CacheEntryInfo> {
  const { variant, model: checkpointId } = targetOf(services, model, null, "model");
  const resolution = await resolveCheckpoint(
    services,
    checkpointId,
    variant?.task ?? nativeTask,
    {},
    weightsVariant ?? variant?.config.variant ?? null,
    variant?.config.configFrom ?? null,
  );
  if (!resolution.runnable) {
    throw new UnsupportedPipelineError(
      `${resolution.pipelineClass} cannot be loaded by this server: ${resolution.reason ?? "unsupported"}`,
      resolution.sourceClass,
      resolution.family,
    );
  }
  const lease = await services.pipelines.acquire(resolution.checkpoint, resolution.modelIndex);
  try {
    await lease.components.facts();
    // What text-to-image needs: the text encoder(s), the UNet and the VAE decoder.
    await Promise.all(lease.components.taskGraphs("TEXT_TO_IMAGE").map((g) => lease.components.graph(g)));
  } finally {
    lease.release();
  }
  const info = services.pipelines.infoOf(resolution.checkpoint);
  if (!info) throw new Error(`'${model}' was evicted right after loading (cache budget too small)`);
  return info;
}

/** Unloads a checkpoint; false when it was not loaded. */
export async function unloadPipeline(
  services: Pick<Services, "locator" | "pipelines">,
  model: string,
): Promise<boolean> {
  return services.pipelines.unload(await services.locator.locate(model));
}
