/**
 * The typed autopipe client: `createClient({ url })` returns one method per operation of client/operations,
 * typed by the generated documents. Results are the schema's unions, discriminated on `__typename`; transport and
 * GraphQL errors throw `ClientError`. Uses only `fetch` (and graphql-sse for subscriptions), so it runs in Node 20+
 * and browsers.
 *
 * @example
 * const client = createClient({ url: "http://localhost:4000/graphql" });
 * const r = await client.resolvePipeline({ model: "tiny-sd", task: "TEXT_TO_IMAGE" });
 * if (r.__typename === "PipelineResolution") console.log(r.pipelineClass);
 *
 * // A long generation with progress and live previews:
 * const result = await client.generate(
 *   { textToImage: { model: "tiny-sd", prompt: "a cat", seed: 1 } },
 *   { onProgress: (job, preview) => console.log(job.progress.step, "/", job.progress.totalSteps) },
 * );
 */
import { ClientError, type GraphQLErrorLike } from "./errors.ts";
import type { TypedDocumentString } from "./generated/graphql.ts";
import {
  FromPipeDocument,
  type FromPipeMutation,
  type FromPipeMutationVariables,
  GenerateDocument,
  type GenerateInput,
  type GenerateMutation,
  LoadPipelineDocument,
  type LoadPipelineMutation,
  LorasDocument,
  type LorasQuery,
  ModelsDocument,
  type ModelsQuery,
  PipelinesDocument,
  type PipelinesQuery,
  PipelineVariantsDocument,
  type PipelineVariantsQuery,
  RemovePipelineVariantDocument,
  type RemovePipelineVariantMutation,
  ResolvePipelineDocument,
  type ResolvePipelineQuery,
  type ResolvePipelineQueryVariables,
  SchedulersDocument,
  type SchedulersQuery,
  UnloadPipelineDocument,
  type UnloadPipelineMutation,
} from "./generated/graphql.ts";
import { type JobsApi, jobsApi } from "./jobs.ts";
import { multipartBody } from "./multipart.ts";

export { ClientError } from "./errors.ts";
export type * from "./generated/graphql.ts";

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. `http://localhost:4000/graphql`. */
  url: string;
  /** A fetch implementation; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Extra headers for every request (e.g. authorization). */
  headers?: Record<string, string>;
}

export type AutopipeClient = ReturnType<typeof createClient>;

/** Creates a typed client for one autopipe endpoint. */
export function createClient(options: ClientOptions) {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);

  async function execute<TResult, TVariables>(
    document: TypedDocumentString<TResult, TVariables>,
    variables: TVariables,
    init: { signal?: AbortSignal } = {},
  ): Promise<TResult> {
    const query = document.toString();
    // Variables holding Blobs or byte arrays go as a multipart request; everything else as JSON.
    const form = multipartBody(query, variables);
    const headers: Record<string, string> = { accept: "application/json" };
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      // fetch sets the multipart content type with its boundary; a caller's content-type would break it.
      if (name.toLowerCase() !== "content-type") headers[name] = value;
    }
    if (!form) headers["content-type"] = "application/json";
    // Yoga's CSRF prevention accepts multipart requests that carry this header.
    else headers["graphql-require-preflight"] = "1";
    const body =
      form ??
      JSON.stringify({ query, variables }, (_key, value) =>
        typeof value === "bigint" ? value.toString() : value,
      );
    let response: Response;
    try {
      response = await doFetch(options.url, { method: "POST", headers, body, signal: init.signal });
    } catch (error) {
      throw new ClientError(`Request to ${options.url} failed: ${(error as Error).message}`);
    }
    return readResponse<TResult>(response);
  }

  const jobs: JobsApi = jobsApi(options, execute);

  return {
    /** Which pipeline class a checkpoint maps to for a task (diffusers' AutoPipeline). */
    async resolvePipeline(variables: ResolvePipelineQueryVariables, init?: { signal?: AbortSignal }) {
      return (await execute(ResolvePipelineDocument, variables, init)).resolvePipeline;
    },
    /** Checkpoints the server finds locally. */
    async models(init?: { signal?: AbortSignal }): Promise<ModelsQuery["models"]> {
      return (await execute(ModelsDocument, {}, init)).models;
    },
    /** LoRA adapters a generation may apply (`loras` of its input), sorted by id. */
    async loras(init?: { signal?: AbortSignal }): Promise<LorasQuery["loras"]> {
      return (await execute(LorasDocument, {}, init)).loras;
    },
    /** Schedulers a generation may pick instead of the checkpoint's own. */
    async schedulers(init?: { signal?: AbortSignal }): Promise<SchedulersQuery["schedulers"]> {
      return (await execute(SchedulersDocument, {}, init)).schedulers;
    },
    /**
     * Generates images for one task (`{ textToImage: { model, prompt, ... } }`). Input images
     * (`imageToImage.image.upload`, `inpainting.maskImage.upload`) may be a Blob/File or a Buffer/Uint8Array and are
     * uploaded as multipart; results come back as base64 PNGs. `seed` is a decimal string: pass it back to
     * reproduce the images.
     */
    async generate(input: GenerateInput, init: GenerateOptions = {}): Promise<GenerateResult> {
      if (init.onProgress) return jobs.generateWithProgress(input, { ...init, onProgress: init.onProgress });
      return (await execute(GenerateDocument, { input }, init)).generate;
    },
    ...jobs.methods,
    /** Checkpoints loaded in the server's pipeline cache, most recently used first. */
    async pipelines(init?: { signal?: AbortSignal }): Promise<PipelinesQuery["pipelines"]> {
      return (await execute(PipelinesDocument, {}, init)).pipelines;
    },
    /**
     * Loads a checkpoint ahead of its first generation (warm-up); `variant` loads `*.<variant>.safetensors` weights
     * (e.g. `fp16`) of a diffusers-layout checkpoint.
     */
    async loadPipeline(
      model: string,
      init?: { signal?: AbortSignal; variant?: string },
    ): Promise<LoadPipelineMutation["loadPipeline"]> {
      return (await execute(LoadPipelineDocument, { model, variant: init?.variant ?? null }, init))
        .loadPipeline;
    },
    /** Releases a loaded checkpoint (after the requests using it finish). */
    async unloadPipeline(
      model: string,
      init?: { signal?: AbortSignal },
    ): Promise<UnloadPipelineMutation["unloadPipeline"]> {
      return (await execute(UnloadPipelineDocument, { model }, init)).unloadPipeline;
    },
    /**
     * Makes a named pipeline from a checkpoint or another named pipeline (diffusers' `from_pipe`): configs merge,
     * the newer wins. Requests may then name it as their `model`.
     */
    async fromPipe(
      variables: FromPipeMutationVariables,
      init?: { signal?: AbortSignal },
    ): Promise<FromPipeMutation["fromPipe"]> {
      return (await execute(FromPipeDocument, variables, init)).fromPipe;
    },
    /** Named pipelines, in the order they were made. */
    async pipelineVariants(init?: {
      signal?: AbortSignal;
    }): Promise<PipelineVariantsQuery["pipelineVariants"]> {
      return (await execute(PipelineVariantsDocument, {}, init)).pipelineVariants;
    },
    /** Forgets a named pipeline (its checkpoint stays loaded). */
    async removePipelineVariant(
      name: string,
      init?: { signal?: AbortSignal },
    ): Promise<RemovePipelineVariantMutation["removePipelineVariant"]> {
      return (await execute(RemovePipelineVariantDocument, { name }, init)).removePipelineVariant;
    },
    /** Runs any generated document (for operations this wrapper does not name). */
    execute,
  };
}

/** Reads a GraphQL-over-HTTP response, throwing ClientError for HTTP, JSON and GraphQL errors. */
export async function readResponse<TResult>(response: Response): Promise<TResult> {
  const text = await response.text();
  let payload: { data?: TResult | null; errors?: GraphQLErrorLike[] };
  try {
    payload = JSON.parse(text);
  } catch {
    throw new ClientError(`HTTP ${response.status}: response is not JSON`, response.status);
  }
  if (payload.errors?.length) {
    throw new ClientError(payload.errors.map((e) => e.message).join("; "), response.status, payload.errors);
  }
  if (!response.ok || payload.data == null) {
    throw new ClientError(`HTTP ${response.status}: no data in response`, response.status);
  }
  return payload.data;
}

export interface GenerateOptions {
  /** Aborting it cancels the generation (with `onProgress`: the job is cancelled and its CancelledError returned). */
  signal?: AbortSignal;
  /**
   * Runs the generation as a job and calls this on every update (queue moves, each denoising step), with a
   * preview every `previewEvery` steps (default 0: none).
   */
  onProgress?: ProgressCallback;
  /** With `onProgress`: a preview every this many steps (default 0: none). */
  previewEvery?: number;
}

export type { JobUpdateResult, JobView, PreviewImage, ProgressCallback } from "./jobs.ts";

import type { ProgressCallback } from "./jobs.ts";

export type ResolvePipelineResult = ResolvePipelineQuery["resolvePipeline"];
export type GenerateResult = GenerateMutation["generate"];
