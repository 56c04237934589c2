/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
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
  /** Classifier-free guidance applies when > 1. */
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  image: ImageInput;
  /** `name`, `org/name` or `org/name@revision`. */
  model: string;
  /** Default "" (unconditional). */
  negativePrompt?: string | null | undefined;
  numImagesPerPrompt?: number | null | undefined;
  numInferenceSteps?: number | null | undefined;
  prompt: string;
  /** Default: the checkpoint's scheduler. */
  scheduler?: SchedulerName | null | undefined;
  /** Default: a random seed, returned in the result. */
  seed?: string | number | bigint | null | undefined;
  /** How much to change the image, in (0, 1]. */
  strength?: number | null | undefined;
  /** Default: the UNet's sample_size × the VAE factor (or the input image's). */
  width?: number | null | undefined;
};

export type InpaintingInput = {
  /** Classifier-free guidance applies when > 1. */
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  image: ImageInput;
  /** White = repaint, black = keep. */
  maskImage: ImageInput;
  /** `name`, `org/name` or `org/name@revision`. */
  model: string;
  /** Default "" (unconditional). */
  negativePrompt?: string | null | undefined;
  numImagesPerPrompt?: number | null | undefined;
  numInferenceSteps?: number | null | undefined;
  prompt: string;
  /** Default: the checkpoint's scheduler. */
  scheduler?: SchedulerName | null | undefined;
  /** Default: a random seed, returned in the result. */
  seed?: string | number | bigint | null | undefined;
  strength?: number | null | undefined;
  /** Default: the UNet's sample_size × the VAE factor (or the input image's). */
  width?: number | null | undefined;
};

export type InpaintingMode =
  /** A 4-channel UNet: the kept region is re-noised and blended back after every step. */
  | 'BLEND'
  /** An inpainting UNet: [latents, mask, masked image latents] at every step. */
  | 'NINE_CHANNEL';

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

/** What a pipeline does, as diffusers' AutoPipelineFor* classes split it. */
export type Task =
  /** AutoPipelineForImage2Image */
  | 'IMAGE_TO_IMAGE'
  /** AutoPipelineForInpainting */
  | 'INPAINTING'
  /** AutoPipelineForText2Image */
  | 'TEXT_TO_IMAGE';

export type TextToImageInput = {
  /** Classifier-free guidance applies when > 1. */
  guidanceScale?: number | null | undefined;
  height?: number | null | undefined;
  /** `name`, `org/name` or `org/name@revision`. */
  model: string;
  /** Default "" (unconditional). */
  negativePrompt?: string | null | undefined;
  numImagesPerPrompt?: number | null | undefined;
  numInferenceSteps?: number | null | undefined;
  prompt: string;
  /** Default: the checkpoint's scheduler. */
  scheduler?: SchedulerName | null | undefined;
  /** Default: a random seed, returned in the result. */
  seed?: string | number | bigint | null | undefined;
  /** Default: the UNet's sample_size × the VAE factor (or the input image's). */
  width?: number | null | undefined;
};

export type GenerateMutationVariables = Exact<{
  input: GenerateInput;
}>;


export type GenerateMutation = { __typename: 'Mutation', generate:
    | { __typename: 'BusyError', message: string, retryAfterMs: number }
    | { __typename: 'CancelledError', message: string }
    | { __typename: 'Generation', model: string, task: Task, pipelineClass: string, seedReproducible: boolean, notes: Array<string>, scheduler: string, seed: string, images: Array<{ __typename: 'GeneratedImage', width: number, height: number, mimeType: string, base64: string }>, timings: { __typename: 'Timings', totalMs: number, loadMs: number, imageDecodeMs: number, inferenceMs: number, sessionRunMs: number, sessionRuns: number, encodeMs: number } }
    | { __typename: 'InvalidInputError', message: string, field: string, value: string, allowed: string }
    | { __typename: 'InvalidModelIndexError', message: string }
    | { __typename: 'ModelLoadError', message: string, model: string, component: string }
    | { __typename: 'ModelNotFoundError', message: string, model: string, searched: Array<string> }
    | { __typename: 'RateLimitedError', message: string }
    | { __typename: 'ResourceLimitError', message: string }
    | { __typename: 'UnsupportedPipelineError', message: string, checkpointClass: string | null, checkpointFamily: string | null }
   };

export type LoadPipelineMutationVariables = Exact<{
  model: string;
}>;


export type LoadPipelineMutation = { __typename: 'Mutation', loadPipeline:
    | { __typename: 'InvalidInputError', message: string }
    | { __typename: 'InvalidModelIndexError', message: string }
    | { __typename: 'LoadedPipeline', model: string, tasks: Array<Task>, components: Array<string>, bytes: number, loads: number, lastUsedAt: string }
    | { __typename: 'ModelLoadError', message: string, component: string }
    | { __typename: 'ModelNotFoundError', message: string }
    | { __typename: 'UnsupportedPipelineError', message: string }
   };

export type ModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelsQuery = { __typename: 'Query', models: Array<{ __typename: 'ModelInfo', id: string, sourceClass: string | null, source: CheckpointSource }> };

export type PipelinesQueryVariables = Exact<{ [key: string]: never; }>;


export type PipelinesQuery = { __typename: 'Query', pipelines: Array<{ __typename: 'LoadedPipeline', model: string, tasks: Array<Task>, components: Array<string>, bytes: number, loads: number, lastUsedAt: string, inUse: number }> };

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
    | { __typename: 'PipelineResolution', model: string, task: Task, sourceClass: string, family: string, pipelineClass: string, source: CheckpointSource, revision: string | null, runnable: boolean, reason: string | null, loaded: boolean, inpaintingMode: InpaintingMode | null, components: Array<{ __typename: 'Component', name: string, library: string | null, className: string | null }> }
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

export const GenerateDocument = new TypedDocumentString(`
    mutation Generate($input: GenerateInput!) {
  generate(input: $input) {
    __typename
    ... on Error {
      message
    }
    ... on Generation {
      model
      task
      pipelineClass
      seedReproducible
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
  }
}
    `) as unknown as TypedDocumentString<GenerateMutation, GenerateMutationVariables>;
export const LoadPipelineDocument = new TypedDocumentString(`
    mutation LoadPipeline($model: String!) {
  loadPipeline(model: $model) {
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
export const ModelsDocument = new TypedDocumentString(`
    query Models {
  models {
    id
    sourceClass
    source
  }
}
    `) as unknown as TypedDocumentString<ModelsQuery, ModelsQueryVariables>;
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
      runnable
      reason
      loaded
      inpaintingMode
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
    `) as unknown as TypedDocumentString<ResolvePipelineQuery, ResolvePipelineQueryVariables>;
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