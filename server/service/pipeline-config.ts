import type { Task } from "../auto-pipeline/resolve.ts";
import { readConfigFile } from "../checkpoints/config-file.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { ModelIndex } from "../checkpoints/model-index.ts";
import type { LoraInputValue } from "../loras/lora-request.ts";
import { SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";

/** The effective config of a resolved pipeline (GraphQL `PipelineConfig`). */
export interface PipelineConfig {
  readonly requiresSafetyChecker: boolean;
  /** diffusers' class name of the scheduler, e.g. `PNDMScheduler`. */
  readonly scheduler: string;
  readonly numInferenceSteps: number;
  readonly guidanceScale: number;
  /** null for text-to-image. */
  readonly strength: number | null;
  readonly negativePrompt: string | null;
  /** null when it follows the input image (image tasks) or is known only once the graphs load. */
  readonly width: number | null;
  readonly height: number | null;
  /** The weights variant loaded (`fp16` → `*.fp16.safetensors`); null for the plain files. */
  readonly variant: string | null;
  /** A single file's config checkpoint (diffusers' `from_single_file(config=…)`, or the reference repo used). */
  readonly configFrom: string | null;
  /** LoRA adapters applied unless a request names its own (empty: none). */
  readonly loras: readonly LoraInputValue[];
}

/** What a named pipeline may set (GraphQL `PipelineConfigInput`): every field optional, `scheduler` by API name. */
export interface PipelineConfigOverrides {
  readonly requiresSafetyChecker?: boolean | null;
  readonly scheduler?: SchedulerName | null;
  readonly numInferenceSteps?: number | null;
  readonly guidanceScale?: number | null;
  readonly strength?: number | null;
  readonly negativePrompt?: string | null;
  readonly width?: number | null;
  readonly height?: number | null;
  readonly variant?: string | null;
  readonly configFrom?: string | null;
  /** LoRA adapters and their scales (a request's `loras` replaces the list). */
  readonly loras?: readonly LoraInputValue[] | null;
}

export const CONFIG_FIELDS = [
  "requiresSafetyChecker",
  "scheduler",
  "numInferenceSteps",
  "guidanceScale",
  "strength",
  "negativePrompt",
  "width",
  "height",
  "variant",
  "configFrom",
  "loras",
] as const satisfies readonly (keyof PipelineConfigOverrides)[];

/** `newer` over `older`, field by field; null and absent fields of `newer` keep `older`'s (from_pipe's merge). */
export function mergeOverrides(
  older: PipelineConfigOverrides,
  newer: PipelineConfigOverrides,
): PipelineConfigOverrides {
  const out: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    const value = newer[field] ?? older[field];
    if (value !== undefined && value !== null) out[field] = value;
  }
  return out as PipelineConfigOverrides;
}

/** diffusers' `__call__` defaults of a pipeline class for a task. */
export function callDefaults(pipelineClass: string, task: Task) {
  const xl = pipelineClass.includes("XL");
  const guidanceScale = xl && task !== "INPAINTING" ? 5.0 : 7.5;
  const strength =
    task === "TEXT_TO_IMAGE" ? null : task === "IMAGE_TO_IMAGE" ? (xl ? 0.3 : 0.8) : xl ? 0.9999 : 1.0;
  return { numInferenceSteps: 50, guidanceScale, strength };
}

/** The checkpoint's config for `task` with diffusers' defaults, then `overrides` on top. */
export async function effectiveConfig(
  checkpoint: LocatedCheckpoint,
  modelIndex: ModelIndex,
  pipelineClass: string,
  task: Task,
  overrides: PipelineConfigOverrides = {},
): Promise<PipelineConfig> {
  const [scheduler, unet, vae] = await Promise.all([
    readConfigFile(checkpoint, "scheduler/scheduler_config.json"),
    readConfigFile(checkpoint, "unet/config.json"),
    readConfigFile(checkpoint, "vae_decoder/config.json").then(
      (c) => c ?? readConfigFile(checkpoint, "vae/config.json"),
    ),
  ]);
  // Pipelines that take a safety checker register `requires_safety_checker` (default True in their __init__);
  // the others (SDXL) have neither.
  const requires = modelIndex.raw.requires_safety_checker;
  const requiresSafetyChecker = typeof requires === "boolean" ? requires : "safety_checker" in modelIndex.raw;
  // diffusers: height = height or unet.config.sample_size * vae_scale_factor (text-to-image); image tasks take
  // the input image's size.
  const blocks = vae?.block_out_channels;
  const side =
    task === "TEXT_TO_IMAGE" && typeof unet?.sample_size === "number" && Array.isArray(blocks)
      ? unet.sample_size * 2 ** (blocks.length - 1)
      : null;
  const defaults = callDefaults(pipelineClass, task);
  const schedulerClass = overrides.scheduler
    ? (SCHEDULERS.get(overrides.scheduler)?.className ?? overrides.scheduler)
    : String(scheduler?._class_name ?? "unknown");
  return {
    requiresSafetyChecker: overrides.requiresSafetyChecker ?? requiresSafetyChecker,
    scheduler: schedulerClass,
    numInferenceSteps: overrides.numInferenceSteps ?? defaults.numInferenceSteps,
    guidanceScale: overrides.guidanceScale ?? defaults.guidanceScale,
    strength: overrides.strength ?? defaults.strength,
    negativePrompt: overrides.negativePrompt ?? null,
    width: overrides.width ?? side,
    height: overrides.height ?? side,
    variant: overrides.variant ?? null,
    configFrom: overrides.configFrom ?? checkpoint.singleFile?.configFrom ?? null,
    loras: overrides.loras ?? [],
  };
}
