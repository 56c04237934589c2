/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** How a checkpoint's graphs are stored. */
export type CheckpointFormat =
  /** diffusers' own layout (component folders with config.json + safetensors weights): the graphs are built from the configs. */
  | 'DIFFUSERS'
  /** ONNX exports (diffusers' ONNX layout or optimum's): the graphs are loaded as they are. */
  | 'ONNX'
  /** One `.safetensors` file in the original (LDM / sgm) layout, as diffusers' `from_single_file` loads it: the graphs are built from the configs of a diffusers-layout checkpoint (`configFrom`) with the file's weights. */
  | 'SINGLE_FILE';

/** Where a checkpoint was found. */
export type CheckpointSource =
  /** The Hugging Face cache (HF_HOME / HF_HUB_CACHE). */
  | 'HF_CACHE'
  /** Downloaded from the Hub into the Hugging Face cache. */
  | 'HUB'
  /** The models directory (AUTOPIPE_MODELS_DIR). */
  | 'MODELS_DIR';

/** Exactly one task. */
export type GenerateInput =
  {   imageToImage: ImageToImageInput; inpainting?: never; textToImage?: never; }
  |  { imageToImage?: never;   inpainting: InpaintingInput; textToImage?: never; }
  |  { imageToImage?: never; inpainting?: never;   textToImage: TextToImageInput; };

/** An input image: a multipart upload, or base64 (optionally a `data:` URL). URLs are never fetched. */
export type ImageInput =
  {   base64: string; upload?: never; }
  |  { base64?: never;   upload: Blob | Uint8Array; };

export type ImageToImageInput = {
  /** SDXL refiners (`requires_aesthetics_score`), image tasks only (default 6.0). */
  aestheticScore?: number | null | undefined;
  /** SDXL: diffusers' `crops_coords_top_left` (default { x: 0, y: 0 }). */
  cropsCoordsTopLeft?: PointInput | null | undefined;
  /** Classifier-free guidance applies when > 1. Default: the pipeline config's (diffusers: 7.5). */
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  image: ImageInput;
  /** LoRA adapters with their scales (default: the pipeline config's, none). Checkpoints whose graphs are built here (diffusers layout, single files) take them; the base weights are shared, never copied. */
  loras?: Array<LoraInput> | null | undefined;
  /** `name`, `org/name` or `org/name@revision`, or a named pipeline (fromPipe) for this task. */
  model: string;
  /** SDXL refiners (`requires_aesthetics_score`), image tasks only (default 2.5). */
  negativeAestheticScore?: number | null | undefined;
  /** Default: the pipeline config's (none: unconditional). */
  negativePrompt?: string | null | undefined;
  numImagesPerPrompt?: number | null | undefined;
  /** Default: the pipeline config's (diffusers: 50). */
  numInferenceSteps?: number | null | undefined;
  /** SDXL: diffusers' `original_size` (default: the output size). */
  originalSize?: SizeInput | null | undefined;
  prompt: string;
  /** Default: the checkpoint's scheduler. */
  scheduler?: SchedulerName | null | undefined;
  /** Default: a random seed, returned in the result. */
  seed?: string | number | bigint | null | undefined;
  /** How much to change the image, in (0, 1]. Default: the pipeline config's (diffusers: 0.8). */
  strength?: number | null | undefined;
  /** SDXL: diffusers' `target_size` (default: the output size; not used by refiners' image tasks). */
  targetSize?: SizeInput | null | undefined;
  /** Default: the UNet's sample_size × the VAE factor (or the input image's). */
  width?: number | null | undefined;
};

export type InpaintingInput = {
  /** SDXL refiners (`requires_aesthetics_score`), image tasks only (default 6.0). */
  aestheticScore?: number | null | undefined;
  /** SDXL: diffusers' `crops_coords_top_left` (default { x: 0, y: 0 }). */
  cropsCoordsTopLeft?: PointInput | null | undefined;
  /** Classifier-free guidance applies when > 1. Default: the pipeline config's (diffusers: 7.5). */
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  image: ImageInput;
  /** LoRA adapters with their scales (default: the pipeline config's, none). Checkpoints whose graphs are built here (diffusers layout, single files) take them; the base weights are shared, never copied. */
  loras?: Array<LoraInput> | null | undefined;
  /** White = repaint, black = keep. */
  maskImage: ImageInput;
  /** `name`, `org/name` or `org/name@revision`, or a named pipeline (fromPipe) for this task. */
  model: string;
  /** SDXL refiners (`requires_aesthetics_score`), image tasks only (default 2.5). */
  negativeAestheticScore?: number | null | undefined;
  /** Default: the pipeline config's (none: unconditional). */
  negativePrompt?: string | null | undefined;
  numImagesPerPrompt?: number | null | undefined;
  /** Default: the pipeline config's (diffusers: 50). */
  numInferenceSteps?: number | null | undefined;
  /** SDXL: diffusers' `original_size` (default: the output size). */
  originalSize?: SizeInput | null | undefined;
  prompt: string;
  /** Default: the checkpoint's scheduler. */
  scheduler?: SchedulerName | null | undefined;
  /** Default: a random seed, returned in the result. */
  seed?: string | number | bigint | null | undefined;
  /** Default: the pipeline config's (diffusers: 1.0). */
  strength?: number | null | undefined;
  /** SDXL: diffusers' `target_size` (default: the output size; not used by refiners' image tasks). */
  targetSize?: SizeInput | null | undefined;
  /** Default: the UNet's sample_size × the VAE factor (or the input image's). */
  width?: number | null | undefined;
};

export type InpaintingMode =
  /** A 4-channel UNet: the kept region is re-noised and blended back after every step. */
  | 'BLEND'
  /** An inpainting UNet: [latents, mask, masked image latents] at every step. */
  | 'NINE_CHANNEL';

export type JobStatus =
  /** Cancelled by cancelJob (or its generate client went away): result is CancelledError. */
  | 'CANCELLED'
  /** Ended by an error: result is the typed error. */
  | 'FAILED'
  /** Waiting for a generation slot (see queuePosition). */
  | 'QUEUED'
  /** Denoising (see progress). */
  | 'RUNNING'
  /** Done: result is a Generation. */
  | 'SUCCEEDED';

/** The model family an adapter was made for, as far as its keys and shapes tell. */
export type LoraFamily =
  /** Stable Diffusion 1.x (768-wide text encoder). */
  | 'SD1'
  /** Stable Diffusion 2.x (1024-wide text encoder). */
  | 'SD2'
  /** Stable Diffusion XL (two text encoders, 2048-wide cross-attention). */
  | 'SDXL';

/** The key convention of an adapter file. */
export type LoraFormat =
  /** diffusers / PEFT: `unet.<module>.lora_A.weight` / `lora_B.weight` (and diffusers' older `lora.down` / `lora.up` spellings); alphas from the header's `lora_adapter_metadata`. */
  | 'DIFFUSERS'
  /** kohya / A1111: `lora_unet_…` / `lora_te_…` (`lora_te1_` / `lora_te2_` for SDXL) with `lora_down` / `lora_up` and an `alpha` per layer. */
  | 'KOHYA';

/** One adapter of a generation. Several combine like diffusers' `set_adapters(names, adapter_weights)`: each layer gets Σ scale × alpha / rank × up·down of the adapters that patch it, in the UNet and the text encoders alike. */
export type LoraInput = {
  /** An id of the `loras` query. */
  id: string;
  /** Any finite number; 0 turns it off. */
  scale?: number;
};

/** Overrides of a pipeline's config; fields left out keep the value they had. */
export type PipelineConfigInput = {
  /** For a single-file checkpoint (`name.safetensors`): the id of a diffusers-layout checkpoint to take the component configs, scheduler and tokenizers from, as diffusers' `from_single_file(…, config=…)`. */
  configFrom?: string | null | undefined;
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  /** LoRA adapters with their scales (replaces the list). */
  loras?: Array<LoraInput> | null | undefined;
  negativePrompt?: string | null | undefined;
  numInferenceSteps?: number | null | undefined;
  requiresSafetyChecker?: boolean | null | undefined;
  scheduler?: SchedulerName | null | undefined;
  strength?: number | null | undefined;
  /** Load the checkpoint's `*.<variant>.safetensors` files (diffusers' `variant=`, e.g. `fp16`); every component must have them. */
  variant?: string | null | undefined;
  width?: number | null | undefined;
};

/** A point in pixels from the top left (diffusers' `(top, left)` tuples, named: y = top, x = left). */
export type PointInput = {
  x: number;
  y: number;
};

/** A scheduler to swap in (diffusers' `from_config`: the checkpoint's config keys carry over). */
export type SchedulerName =
  /** DDIMScheduler */
  | 'DDIM'
  /** DPMSolverMultistepScheduler */
  | 'DPM_SOLVER_MULTISTEP'
  /** EulerAncestralDiscreteScheduler */
  | 'EULER_ANCESTRAL_DISCRETE'
  /** EulerDiscreteScheduler */
  | 'EULER_DISCRETE'
  /** LCMScheduler */
  | 'LCM'
  /** LMSDiscreteScheduler */
  | 'LMS_DISCRETE'
  /** PNDMScheduler */
  | 'PNDM';

/** A size in pixels (diffusers' `(height, width)` tuples, named). */
export type SizeInput = {
  height: number;
  width: number;
};

/** What a pipeline does, as diffusers' AutoPipelineFor* classes split it. */
export type Task =
  /** AutoPipelineForImage2Image */
  | 'IMAGE_TO_IMAGE'
  /** AutoPipelineForInpainting */
  | 'INPAINTING'
  /** AutoPipelineForText2Image */
  | 'TEXT_TO_IMAGE';

export type TextToImageInput = {
  /** SDXL refiners (`requires_aesthetics_score`), image tasks only (default 6.0). */
  aestheticScore?: number | null | undefined;
  /** SDXL: diffusers' `crops_coords_top_left` (default { x: 0, y: 0 }). */
  cropsCoordsTopLeft?: PointInput | null | undefined;
  /** Classifier-free guidance applies when > 1. Default: the pipeline config's (diffusers: 7.5). */
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  /** LoRA adapters with their scales (default: the pipeline config's, none). Checkpoints whose graphs are built here (diffusers layout, single files) take them; the base weights are shared, never copied. */
  loras?: Array<LoraInput> | null | undefined;
  /** `name`, `org/name` or `org/name@revision`, or a named pipeline (fromPipe) for this task. */
  model: string;
  /** SDXL refiners (`requires_aesthetics_score`), image tasks only (default 2.5). */
  negativeAestheticScore?: number | null | undefined;
  /** Default: the pipeline config's (none: unconditional). */
  negativePrompt?: string | null | undefined;
  numImagesPerPrompt?: number | null | undefined;
  /** Default: the pipeline config's (diffusers: 50). */
  numInferenceSteps?: number | null | undefined;
  /** SDXL: diffusers' `original_size` (default: the output size). */
  originalSize?: SizeInput | null | undefined;
  prompt: string;
  /** Default: the checkpoint's scheduler. */
  scheduler?: SchedulerName | null | undefined;
  /** Default: a random seed, returned in the result. */
  seed?: string | number | bigint | null | undefined;
  /** SDXL: diffusers' `target_size` (default: the output size; not used by refiners' image tasks). */
  targetSize?: SizeInput | null | undefined;
  /** Default: the UNet's sample_size × the VAE factor (or the input image's). */
  width?: number | null | undefined;
};

export type FromPipeMutationVariables = Exact<{
  name: string;
  from: string;
  task: Task;
  config?: PipelineConfigInput | null | undefined;
}>;


export type FromPipeMutation = { __typename: 'Mutation', fromPipe:
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'InvalidModelIndexError', message: string, model: string, detail: string }
    | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
    | { __typename: 'PipelineVariant', name: string, from: string, model: string, task: Task, pipelineClass: string, config: { __typename: 'PipelineConfig', requiresSafetyChecker: boolean, scheduler: string, numInferenceSteps: number, guidanceScale: number, strength: number | null, negativePrompt: string | null, width: number | null, height: number | null, variant: string | null, configFrom: string | null, loras: Array<{ __typename: 'LoraSetting', id: string, scale: number }> } }
    | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
   };

type GenerateResultFields_BusyError_Fragment = { __typename: 'BusyError', message: string, retryAfterMs: number };

type GenerateResultFields_CancelledError_Fragment = { __typename: 'CancelledError', message: string };

type GenerateResultFields_Generation_Fragment = { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } };

type GenerateResultFields_InterruptedError_Fragment = { __typename: 'InterruptedError', message: string, attempts: number };

type GenerateResultFields_InvalidInputError_Fragment = { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string };

type GenerateResultFields_InvalidModelIndexError_Fragment = { __typename: 'InvalidModelIndexError', message: string };

type GenerateResultFields_ModelLoadError_Fragment = { __typename: 'ModelLoadError', message: string, model: string, component: string };

type GenerateResultFields_ModelNotFoundError_Fragment = { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> };

type GenerateResultFields_RateLimitedError_Fragment = { __typename: 'RateLimitedError', message: string };

type GenerateResultFields_ResourceLimitError_Fragment = { __typename: 'ResourceLimitError', message: string };

type GenerateResultFields_ShuttingDownError_Fragment = { __typename: 'ShuttingDownError', message: string };

type GenerateResultFields_UnsupportedPipelineError_Fragment = { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null };

export type GenerateResultFieldsFragment =
  | GenerateResultFields_BusyError_Fragment
  | GenerateResultFields_CancelledError_Fragment
  | GenerateResultFields_Generation_Fragment
  | GenerateResultFields_InterruptedError_Fragment
  | GenerateResultFields_InvalidInputError_Fragment
  | GenerateResultFields_InvalidModelIndexError_Fragment
  | GenerateResultFields_ModelLoadError_Fragment
  | GenerateResultFields_ModelNotFoundError_Fragment
  | GenerateResultFields_RateLimitedError_Fragment
  | GenerateResultFields_ResourceLimitError_Fragment
  | GenerateResultFields_ShuttingDownError_Fragment
  | GenerateResultFields_UnsupportedPipelineError_Fragment
;

export type GenerateMutationVariables = Exact<{
  input: GenerateInput;
}>;


export type GenerateMutation = { __typename: 'Mutation', generate:
    | { __typename: 'BusyError', message: string, retryAfterMs: number }
    | { __typename: 'CancelledError', message: string }
    | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
    | { __typename: 'InterruptedError', message: string, attempts: number }
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'InvalidModelIndexError', message: string }
    | { __typename: 'ModelLoadError', message: string, model: string, component: string }
    | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
    | { __typename: 'RateLimitedError', message: string }
    | { __typename: 'ResourceLimitError', message: string }
    | { __typename: 'ShuttingDownError', message: string }
    | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
   };

export type JobFieldsFragment = { __typename: 'GenerationJob', id: string, status: JobStatus, task: Task, model: string, queuePosition: number | null, attempts: number, createdAt: string, startedAt: string | null, finishedAt: string | null, progress: { __typename: 'JobProgress', step: number, totalSteps: number, elapsedMs: number, etaMs: number | null }, result:
    | { __typename: 'BusyError', message: string, retryAfterMs: number }
    | { __typename: 'CancelledError', message: string }
    | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
    | { __typename: 'InterruptedError', message: string, attempts: number }
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'InvalidModelIndexError', message: string }
    | { __typename: 'ModelLoadError', message: string, model: string, component: string }
    | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
    | { __typename: 'RateLimitedError', message: string }
    | { __typename: 'ResourceLimitError', message: string }
    | { __typename: 'ShuttingDownError', message: string }
    | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
   | null };

export type SubmitGenerationMutationVariables = Exact<{
  input: GenerateInput;
}>;


export type SubmitGenerationMutation = { __typename: 'Mutation', submitGeneration:
    | { __typename: 'BusyError', message: string, retryAfterMs: number }
    | { __typename: 'GenerationJob', id: string, status: JobStatus, task: Task, model: string, queuePosition: number | null, attempts: number, createdAt: string, startedAt: string | null, finishedAt: string | null, progress: { __typename: 'JobProgress', step: number, totalSteps: number, elapsedMs: number, etaMs: number | null }, result:
        | { __typename: 'BusyError', message: string, retryAfterMs: number }
        | { __typename: 'CancelledError', message: string }
        | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
        | { __typename: 'InterruptedError', message: string, attempts: number }
        | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
        | { __typename: 'InvalidModelIndexError', message: string }
        | { __typename: 'ModelLoadError', message: string, model: string, component: string }
        | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
        | { __typename: 'RateLimitedError', message: string }
        | { __typename: 'ResourceLimitError', message: string }
        | { __typename: 'ShuttingDownError', message: string }
        | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
       | null }
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'InvalidModelIndexError', message: string }
    | { __typename: 'ModelLoadError', message: string, model: string, component: string }
    | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
    | { __typename: 'RateLimitedError', message: string }
    | { __typename: 'ResourceLimitError', message: string }
    | { __typename: 'ShuttingDownError', message: string }
    | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
   };

export type JobQueryVariables = Exact<{
  id: string | number;
}>;


export type JobQuery = { __typename: 'Query', job: { __typename: 'GenerationJob', id: string, status: JobStatus, task: Task, model: string, queuePosition: number | null, attempts: number, createdAt: string, startedAt: string | null, finishedAt: string | null, progress: { __typename: 'JobProgress', step: number, totalSteps: number, elapsedMs: number, etaMs: number | null }, result:
      | { __typename: 'BusyError', message: string, retryAfterMs: number }
      | { __typename: 'CancelledError', message: string }
      | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
      | { __typename: 'InterruptedError', message: string, attempts: number }
      | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
      | { __typename: 'InvalidModelIndexError', message: string }
      | { __typename: 'ModelLoadError', message: string, model: string, component: string }
      | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
      | { __typename: 'RateLimitedError', message: string }
      | { __typename: 'ResourceLimitError', message: string }
      | { __typename: 'ShuttingDownError', message: string }
      | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
     | null } | null };

export type JobsQueryVariables = Exact<{
  status?: JobStatus | null | undefined;
  first?: number | null | undefined;
}>;


export type JobsQuery = { __typename: 'Query', jobs: Array<{ __typename: 'GenerationJob', id: string, status: JobStatus, task: Task, model: string, queuePosition: number | null, attempts: number, createdAt: string, startedAt: string | null, finishedAt: string | null, progress: { __typename: 'JobProgress', step: number, totalSteps: number, elapsedMs: number, etaMs: number | null }, result:
      | { __typename: 'BusyError', message: string, retryAfterMs: number }
      | { __typename: 'CancelledError', message: string }
      | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
      | { __typename: 'InterruptedError', message: string, attempts: number }
      | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
      | { __typename: 'InvalidModelIndexError', message: string }
      | { __typename: 'ModelLoadError', message: string, model: string, component: string }
      | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
      | { __typename: 'RateLimitedError', message: string }
      | { __typename: 'ResourceLimitError', message: string }
      | { __typename: 'ShuttingDownError', message: string }
      | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
     | null }> };

export type CancelJobMutationVariables = Exact<{
  id: string | number;
}>;


export type CancelJobMutation = { __typename: 'Mutation', cancelJob:
    | { __typename: 'GenerationJob', id: string, status: JobStatus, task: Task, model: string, queuePosition: number | null, attempts: number, createdAt: string, startedAt: string | null, finishedAt: string | null, progress: { __typename: 'JobProgress', step: number, totalSteps: number, elapsedMs: number, etaMs: number | null }, result:
        | { __typename: 'BusyError', message: string, retryAfterMs: number }
        | { __typename: 'CancelledError', message: string }
        | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
        | { __typename: 'InterruptedError', message: string, attempts: number }
        | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
        | { __typename: 'InvalidModelIndexError', message: string }
        | { __typename: 'ModelLoadError', message: string, model: string, component: string }
        | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
        | { __typename: 'RateLimitedError', message: string }
        | { __typename: 'ResourceLimitError', message: string }
        | { __typename: 'ShuttingDownError', message: string }
        | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
       | null }
    | { __typename: 'JobNotFoundError', message: string, id: string }
   };

export type JobUpdatesSubscriptionVariables = Exact<{
  id: string | number;
  previewEvery?: number | null | undefined;
}>;


export type JobUpdatesSubscription = { __typename: 'Subscription', jobUpdates:
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'JobNotFoundError', message: string, id: string }
    | { __typename: 'JobUpdate', job: { __typename: 'GenerationJob', id: string, status: JobStatus, task: Task, model: string, queuePosition: number | null, attempts: number, createdAt: string, startedAt: string | null, finishedAt: string | null, progress: { __typename: 'JobProgress', step: number, totalSteps: number, elapsedMs: number, etaMs: number | null }, result:
          | { __typename: 'BusyError', message: string, retryAfterMs: number }
          | { __typename: 'CancelledError', message: string }
          | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, nsfwContentDetected: Array<boolean> | null, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
          | { __typename: 'InterruptedError', message: string, attempts: number }
          | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
          | { __typename: 'InvalidModelIndexError', message: string }
          | { __typename: 'ModelLoadError', message: string, model: string, component: string }
          | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
          | { __typename: 'RateLimitedError', message: string }
          | { __typename: 'ResourceLimitError', message: string }
          | { __typename: 'ShuttingDownError', message: string }
          | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
         | null }, preview: { __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string } | null }
   };

export type LoadPipelineMutationVariables = Exact<{
  model: string;
  variant?: string | null | undefined;
}>;


export type LoadPipelineMutation = { __typename: 'Mutation', loadPipeline:
    | { __typename: 'InvalidInputError', message: string }
    | { __typename: 'InvalidModelIndexError', message: string }
    | { __typename: 'LoadedPipeline', model: string, tasks: Array<Task>, components: Array<string>, bytes: number, loads: number, lastUsedAt: string }
    | { __typename: 'ModelLoadError', message: string, component: string }
    | { __typename: 'ModelNotFoundError', message: string }
    | { __typename: 'UnsupportedPipelineError', message: string }
   };

export type LorasQueryVariables = Exact<{ [key: string]: never; }>;


export type LorasQuery = { __typename: 'Query', loras: Array<{ __typename: 'Lora', id: string, format: LoraFormat, family: LoraFamily | null, rank: number, components: Array<string>, bytes: number }> };

export type ModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelsQuery = { __typename: 'Query', models: Array<{ __typename: 'ModelInfo', id: string, sourceClass: string | null, source: CheckpointSource }> };

export type PipelineConfigFieldsFragment = { __typename: 'PipelineConfig', requiresSafetyChecker: boolean, scheduler: string, numInferenceSteps: number, guidanceScale: number, strength: number | null, negativePrompt: string | null, width: number | null, height: number | null, variant: string | null, configFrom: string | null, loras: Array<{ __typename: 'LoraSetting', id: string, scale: number }> };

export type PipelineVariantFieldsFragment = { __typename: 'PipelineVariant', name: string, from: string, model: string, task: Task, pipelineClass: string, config: { __typename: 'PipelineConfig', requiresSafetyChecker: boolean, scheduler: string, numInferenceSteps: number, guidanceScale: number, strength: number | null, negativePrompt: string | null, width: number | null, height: number | null, variant: string | null, configFrom: string | null, loras: Array<{ __typename: 'LoraSetting', id: string, scale: number }> } };

export type PipelineVariantsQueryVariables = Exact<{ [key: string]: never; }>;


export type PipelineVariantsQuery = { __typename: 'Query', pipelineVariants: Array<{ __typename: 'PipelineVariant', name: string, from: string, model: string, task: Task, pipelineClass: string, config: { __typename: 'PipelineConfig', requiresSafetyChecker: boolean, scheduler: string, numInferenceSteps: number, guidanceScale: number, strength: number | null, negativePrompt: string | null, width: number | null, height: number | null, variant: string | null, configFrom: string | null, loras: Array<{ __typename: 'LoraSetting', id: string, scale: number }> } }> };

export type PipelinesQueryVariables = Exact<{ [key: string]: never; }>;


export type PipelinesQuery = { __typename: 'Query', pipelines: Array<{ __typename: 'LoadedPipeline', model: string, tasks: Array<Task>, components: Array<string>, bytes: number, loads: number, lastUsedAt: string, inUse: number }> };

export type RemovePipelineVariantMutationVariables = Exact<{
  name: string;
}>;


export type RemovePipelineVariantMutation = { __typename: 'Mutation', removePipelineVariant:
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'PipelineVariant', name: string, from: string, model: string, task: Task, pipelineClass: string, config: { __typename: 'PipelineConfig', requiresSafetyChecker: boolean, scheduler: string, numInferenceSteps: number, guidanceScale: number, strength: number | null, negativePrompt: string | null, width: number | null, height: number | null, variant: string | null, configFrom: string | null, loras: Array<{ __typename: 'LoraSetting', id: string, scale: number }> } }
   };

export type ResolvePipelineQueryVariables = Exact<{
  model: string;
  task: Task;
  controlnet?: boolean | null | undefined;
  enablePag?: boolean | null | undefined;
}>;


export type ResolvePipelineQuery = { __typename: 'Query', resolvePipeline:
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'InvalidModelIndexError', message: string, model: string, detail: string }
    | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
    | { __typename: 'PipelineResolution', model: string, task: Task, sourceClass: string, family: string, pipelineClass: string, source: CheckpointSource, revision: string | null, format: CheckpointFormat, variants: Array<string>, runnable: boolean, reason: string | null, notes: Array<string>, loaded: boolean, inpaintingMode: InpaintingMode | null, config: { __typename: 'PipelineConfig', requiresSafetyChecker: boolean, scheduler: string, numInferenceSteps: number, guidanceScale: number, strength: number | null, negativePrompt: string | null, width: number | null, height: number | null, variant: string | null, configFrom: string | null, loras: Array<{ __typename: 'LoraSetting', id: string, scale: number }> }, components: Array<{ __typename: 'Component', name: string, library: string | null, className: string | null }> }
    | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
   };

export type SchedulersQueryVariables = Exact<{ [key: string]: never; }>;


export type SchedulersQuery = { __typename: 'Query', schedulers: Array<{ __typename: 'SchedulerInfo', name: SchedulerName, className: string }> };

export type UnloadPipelineMutationVariables = Exact<{
  model: string;
}>;


export type UnloadPipelineMutation = { __typename: 'Mutation', unloadPipeline:
    | { __typename: 'InvalidInputError', message: string }
    | { __typename: 'ModelNotFoundError', message: string }
    | { __typename: 'UnloadedPipeline', model: string, unloaded: boolean }
   };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const GenerateResultFieldsFragmentDoc = new TypedDocumentString(`
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}
    `, {"fragmentName":"GenerateResultFields"}) as unknown as TypedDocumentString<GenerateResultFieldsFragment, unknown>;
export const JobFieldsFragmentDoc = new TypedDocumentString(`
    fragment JobFields on GenerationJob {
  __typename
  id
  status
  task
  model
  queuePosition
  attempts
  progress {
    step
    totalSteps
    elapsedMs
    etaMs
  }
  createdAt
  startedAt
  finishedAt
  result {
    ...GenerateResultFields
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}`, {"fragmentName":"JobFields"}) as unknown as TypedDocumentString<JobFieldsFragment, unknown>;
export const PipelineConfigFieldsFragmentDoc = new TypedDocumentString(`
    fragment PipelineConfigFields on PipelineConfig {
  requiresSafetyChecker
  scheduler
  numInferenceSteps
  guidanceScale
  strength
  negativePrompt
  width
  height
  variant
  configFrom
  loras {
    id
    scale
  }
}
    `, {"fragmentName":"PipelineConfigFields"}) as unknown as TypedDocumentString<PipelineConfigFieldsFragment, unknown>;
export const PipelineVariantFieldsFragmentDoc = new TypedDocumentString(`
    fragment PipelineVariantFields on PipelineVariant {
  name
  from
  model
  task
  pipelineClass
  config {
    ...PipelineConfigFields
  }
}
    fragment PipelineConfigFields on PipelineConfig {
  requiresSafetyChecker
  scheduler
  numInferenceSteps
  guidanceScale
  strength
  negativePrompt
  width
  height
  variant
  configFrom
  loras {
    id
    scale
  }
}`, {"fragmentName":"PipelineVariantFields"}) as unknown as TypedDocumentString<PipelineVariantFieldsFragment, unknown>;
export const FromPipeDocument = new TypedDocumentString(`
    mutation FromPipe($name: String!, $from: String!, $task: Task!, $config: PipelineConfigInput) {
  fromPipe(name: $name, from: $from, task: $task, config: $config) {
    __typename
    ... on Error {
      message
    }
    ... on PipelineVariant {
      ...PipelineVariantFields
    }
    ... on InvalidInputError {
      field
      value
      allowed
    }
    ... on ModelNotFoundError {
      model
      searched
    }
    ... on UnsupportedPipelineError {
      checkpointClass
      checkpointFamily
    }
    ... on InvalidModelIndexError {
      model
      detail
    }
  }
}
    fragment PipelineConfigFields on PipelineConfig {
  requiresSafetyChecker
  scheduler
  numInferenceSteps
  guidanceScale
  strength
  negativePrompt
  width
  height
  variant
  configFrom
  loras {
    id
    scale
  }
}
fragment PipelineVariantFields on PipelineVariant {
  name
  from
  model
  task
  pipelineClass
  config {
    ...PipelineConfigFields
  }
}`) as unknown as TypedDocumentString<FromPipeMutation, FromPipeMutationVariables>;
export const GenerateDocument = new TypedDocumentString(`
    mutation Generate($input: GenerateInput!) {
  generate(input: $input) {
    ...GenerateResultFields
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}`) as unknown as TypedDocumentString<GenerateMutation, GenerateMutationVariables>;
export const SubmitGenerationDocument = new TypedDocumentString(`
    mutation SubmitGeneration($input: GenerateInput!) {
  submitGeneration(input: $input) {
    __typename
    ... on Error {
      message
    }
    ... on GenerationJob {
      ...JobFields
    }
    ... on InvalidInputError {
      field
      value
      allowed
    }
    ... on ModelNotFoundError {
      model
      searched
    }
    ... on UnsupportedPipelineError {
      checkpointClass
      checkpointFamily
    }
    ... on ModelLoadError {
      model
      component
    }
    ... on BusyError {
      retryAfterMs
    }
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}
fragment JobFields on GenerationJob {
  __typename
  id
  status
  task
  model
  queuePosition
  attempts
  progress {
    step
    totalSteps
    elapsedMs
    etaMs
  }
  createdAt
  startedAt
  finishedAt
  result {
    ...GenerateResultFields
  }
}`) as unknown as TypedDocumentString<SubmitGenerationMutation, SubmitGenerationMutationVariables>;
export const JobDocument = new TypedDocumentString(`
    query Job($id: ID!) {
  job(id: $id) {
    ...JobFields
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}
fragment JobFields on GenerationJob {
  __typename
  id
  status
  task
  model
  queuePosition
  attempts
  progress {
    step
    totalSteps
    elapsedMs
    etaMs
  }
  createdAt
  startedAt
  finishedAt
  result {
    ...GenerateResultFields
  }
}`) as unknown as TypedDocumentString<JobQuery, JobQueryVariables>;
export const JobsDocument = new TypedDocumentString(`
    query Jobs($status: JobStatus, $first: Int) {
  jobs(status: $status, first: $first) {
    ...JobFields
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}
fragment JobFields on GenerationJob {
  __typename
  id
  status
  task
  model
  queuePosition
  attempts
  progress {
    step
    totalSteps
    elapsedMs
    etaMs
  }
  createdAt
  startedAt
  finishedAt
  result {
    ...GenerateResultFields
  }
}`) as unknown as TypedDocumentString<JobsQuery, JobsQueryVariables>;
export const CancelJobDocument = new TypedDocumentString(`
    mutation CancelJob($id: ID!) {
  cancelJob(id: $id) {
    __typename
    ... on Error {
      message
    }
    ... on GenerationJob {
      ...JobFields
    }
    ... on JobNotFoundError {
      id
    }
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}
fragment JobFields on GenerationJob {
  __typename
  id
  status
  task
  model
  queuePosition
  attempts
  progress {
    step
    totalSteps
    elapsedMs
    etaMs
  }
  createdAt
  startedAt
  finishedAt
  result {
    ...GenerateResultFields
  }
}`) as unknown as TypedDocumentString<CancelJobMutation, CancelJobMutationVariables>;
export const JobUpdatesDocument = new TypedDocumentString(`
    subscription JobUpdates($id: ID!, $previewEvery: Int) {
  jobUpdates(id: $id, previewEvery: $previewEvery) {
    __typename
    ... on Error {
      message
    }
    ... on JobUpdate {
      job {
        ...JobFields
      }
      preview {
        width
        height
        mimeType
        base64
      }
    }
    ... on JobNotFoundError {
      id
    }
    ... on InvalidInputError {
      field
      value
      allowed
    }
  }
}
    fragment GenerateResultFields on GenerateResult {
  __typename
  ... on Error {
    message
  }
  ... on Generation {
    model
    task
    pipelineClass
    seedReproducible
    nsfwContentDetected
    notes
    scheduler
    seed
    images {
      width
      height
      mimeType
      base64
    }
    timings {
      totalMs
      loadMs
      imageDecodeMs
      inferenceMs
      sessionRunMs
      sessionRuns
      encodeMs
    }
  }
  ... on InvalidInputError {
    field
    value
    allowed
  }
  ... on ModelNotFoundError {
    model
    searched
  }
  ... on UnsupportedPipelineError {
    checkpointClass
    checkpointFamily
  }
  ... on ModelLoadError {
    model
    component
  }
  ... on BusyError {
    retryAfterMs
  }
  ... on InterruptedError {
    attempts
  }
}
fragment JobFields on GenerationJob {
  __typename
  id
  status
  task
  model
  queuePosition
  attempts
  progress {
    step
    totalSteps
    elapsedMs
    etaMs
  }
  createdAt
  startedAt
  finishedAt
  result {
    ...GenerateResultFields
  }
}`) as unknown as TypedDocumentString<JobUpdatesSubscription, JobUpdatesSubscriptionVariables>;
export const LoadPipelineDocument = new TypedDocumentString(`
    mutation LoadPipeline($model: String!, $variant: String) {
  loadPipeline(model: $model, variant: $variant) {
    __typename
    ... on Error {
      message
    }
    ... on LoadedPipeline {
      model
      tasks
      components
      bytes
      loads
      lastUsedAt
    }
    ... on ModelLoadError {
      component
    }
  }
}
    `) as unknown as TypedDocumentString<LoadPipelineMutation, LoadPipelineMutationVariables>;
export const LorasDocument = new TypedDocumentString(`
    query Loras {
  loras {
    id
    format
    family
    rank
    components
    bytes
  }
}
    `) as unknown as TypedDocumentString<LorasQuery, LorasQueryVariables>;
export const ModelsDocument = new TypedDocumentString(`
    query Models {
  models {
    id
    sourceClass
    source
  }
}
    `) as unknown as TypedDocumentString<ModelsQuery, ModelsQueryVariables>;
export const PipelineVariantsDocument = new TypedDocumentString(`
    query PipelineVariants {
  pipelineVariants {
    ...PipelineVariantFields
  }
}
    fragment PipelineConfigFields on PipelineConfig {
  requiresSafetyChecker
  scheduler
  numInferenceSteps
  guidanceScale
  strength
  negativePrompt
  width
  height
  variant
  configFrom
  loras {
    id
    scale
  }
}
fragment PipelineVariantFields on PipelineVariant {
  name
  from
  model
  task
  pipelineClass
  config {
    ...PipelineConfigFields
  }
}`) as unknown as TypedDocumentString<PipelineVariantsQuery, PipelineVariantsQueryVariables>;
export const PipelinesDocument = new TypedDocumentString(`
    query Pipelines {
  pipelines {
    model
    tasks
    components
    bytes
    loads
    lastUsedAt
    inUse
  }
}
    `) as unknown as TypedDocumentString<PipelinesQuery, PipelinesQueryVariables>;
export const RemovePipelineVariantDocument = new TypedDocumentString(`
    mutation RemovePipelineVariant($name: String!) {
  removePipelineVariant(name: $name) {
    __typename
    ... on Error {
      message
    }
    ... on PipelineVariant {
      ...PipelineVariantFields
    }
    ... on InvalidInputError {
      field
      value
      allowed
    }
  }
}
    fragment PipelineConfigFields on PipelineConfig {
  requiresSafetyChecker
  scheduler
  numInferenceSteps
  guidanceScale
  strength
  negativePrompt
  width
  height
  variant
  configFrom
  loras {
    id
    scale
  }
}
fragment PipelineVariantFields on PipelineVariant {
  name
  from
  model
  task
  pipelineClass
  config {
    ...PipelineConfigFields
  }
}`) as unknown as TypedDocumentString<RemovePipelineVariantMutation, RemovePipelineVariantMutationVariables>;
export const ResolvePipelineDocument = new TypedDocumentString(`
    query ResolvePipeline($model: String!, $task: Task!, $controlnet: Boolean = false, $enablePag: Boolean = false) {
  resolvePipeline(
    model: $model
    task: $task
    controlnet: $controlnet
    enablePag: $enablePag
  ) {
    __typename
    ... on Error {
      message
    }
    ... on PipelineResolution {
      model
      task
      sourceClass
      family
      pipelineClass
      source
      revision
      format
      variants
      runnable
      reason
      notes
      loaded
      inpaintingMode
      config {
        ...PipelineConfigFields
      }
      components {
        name
        library
        className
      }
    }
    ... on ModelNotFoundError {
      model
      searched
    }
    ... on UnsupportedPipelineError {
      checkpointClass
      checkpointFamily
    }
    ... on InvalidModelIndexError {
      model
      detail
    }
    ... on InvalidInputError {
      field
      value
      allowed
    }
  }
}
    fragment PipelineConfigFields on PipelineConfig {
  requiresSafetyChecker
  scheduler
  numInferenceSteps
  guidanceScale
  strength
  negativePrompt
  width
  height
  variant
  configFrom
  loras {
    id
    scale
  }
}`) as unknown as TypedDocumentString<ResolvePipelineQuery, ResolvePipelineQueryVariables>;
export const SchedulersDocument = new TypedDocumentString(`
    query Schedulers {
  schedulers {
    name
    className
  }
}
    `) as unknown as TypedDocumentString<SchedulersQuery, SchedulersQueryVariables>;
export const UnloadPipelineDocument = new TypedDocumentString(`
    mutation UnloadPipeline($model: String!) {
  unloadPipeline(model: $model) {
    __typename
    ... on Error {
      message
    }
    ... on UnloadedPipeline {
      model
      unloaded
    }
  }
}
    `) as unknown as TypedDocumentString<UnloadPipelineMutation, UnloadPipelineMutationVariables>;