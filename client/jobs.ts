/**
 * Generation jobs from the client: submit, read, list and cancel over HTTP, and follow one over Server-Sent
 * Events (GraphQL over SSE, distinct connections, with graphql-sse). `generateWithProgress` ties them together:
 * submit, follow, return the job's result.
 */
import { createClient as createSseClient } from "graphql-sse";
import { ClientError, type GraphQLErrorLike } from "./errors.ts";
import {
  CancelJobDocument,
  type CancelJobMutation,
  type GenerateInput,
  type GenerateResultFieldsFragment,
  JobDocument,
  type JobFieldsFragment,
  type JobStatus,
  JobsDocument,
  JobUpdatesDocument,
  type JobUpdatesSubscription,
  SubmitGenerationDocument,
  type SubmitGenerationMutation,
  type TypedDocumentString,
} from "./generated/graphql.ts";

export type JobView = JobFieldsFragment;
export type JobUpdateResult = JobUpdatesSubscription["jobUpdates"];
export type PreviewImage = NonNullable<Extract<JobUpdateResult, { __typename: "JobUpdate" }>["preview"]>;
/** Called with the job as of each update; `preview` is set every `previewEvery` steps. */
export type ProgressCallback = (job: JobView, preview: PreviewImage | null) => void;

type Execute = <TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  init?: { signal?: AbortSignal },
) => Promise<TResult>;

interface Options {
  url: string;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
}

const TERMINAL = new Set<JobStatus>(["SUCCEEDED", "FAILED", "CANCELLED"]);

export type JobsApi = ReturnType<typeof jobsApi>;

export function jobsApi(options: Options, execute: Execute) {
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);

  /**
   * One SSE client per stream, so that a refusal is that stream's own. graphql-sse retries any non-2xx answer
   * and then reports only "Server responded with 401"; a refusal (a 4xx other than 408 / 429: a missing or wrong
   * key, a missing scope, a bad request) is read here and thrown from the retry hook at once, as a ClientError
   * with the server's message and status.
   */
  function streamClient() {
    let refused: ClientError | null = null;
    return createSseClient({
      url: options.url,
      fetchFn: async (input: RequestInfo | URL, init?: RequestInit) => {
        const response = await baseFetch(input, init);
        if (isRefusal(response.status)) refused = await refusalOf(response);
        return response;
      },
      headers: () => options.headers ?? {},
      // A dropped stream is re-subscribed: its first event is the job's current state, so nothing that matters
      // is lost. A refused one is not: retrying cannot change the answer.
      retryAttempts: 3,
      retry: async (retries) => {
        if (refused) throw refused;
        await backoff(retries);
      },
    });
  }

  const methods = {
    /** Validates and queues a generation; answers at once with the job (or the typed error `generate` would give). */
    async submitGeneration(
      input: GenerateInput,
      init?: { signal?: AbortSignal },
    ): Promise<SubmitGenerationMutation["submitGeneration"]> {
      return (await execute(SubmitGenerationDocument, { input }, init)).submitGeneration;
    },
    /** A job by id; null when unknown or expired. */
    async job(id: string, init?: { signal?: AbortSignal }): Promise<JobView | null> {
      return (await execute(JobDocument, { id }, init)).job;
    },
    /** Jobs, newest first (default 20). */
    async jobs(filter: { status?: JobStatus; first?: number } = {}, init?: { signal?: AbortSignal }) {
      return (await execute(JobsDocument, filter, init)).jobs;
    },
    /** Cancels a queued or running job; a finished one comes back unchanged. */
    async cancelJob(id: string, init?: { signal?: AbortSignal }): Promise<CancelJobMutation["cancelJob"]> {
      return (await execute(CancelJobDocument, { id }, init)).cancelJob;
    },
    /**
     * Follows a job: its current state first, then every queue move and step, ending with the result. Stopping the
     * iteration (or aborting `signal`) closes the stream; it never cancels the job.
     */
    jobUpdates(
      id: string,
      init: { previewEvery?: number; signal?: AbortSignal } = {},
    ): AsyncIterableIterator<JobUpdateResult> {
      const sse = streamClient();
      const iterator = sse.iterate<JobUpdatesSubscription>({
        query: JobUpdatesDocument.toString(),
        variables: { id, previewEvery: init.previewEvery ?? 0 },
      });
      const onAbort = () => void iterator.return?.();
      init.signal?.addEventListener("abort", onAbort, { once: true });
      const next = async (): Promise<IteratorResult<JobUpdateResult>> => {
        const step = await iterator.next().catch((error: unknown) => {
          sse.dispose();
          const status = error instanceof ClientError ? error.status : null;
          const errors = error instanceof ClientError ? error.errors : [];
          throw new ClientError(`Subscription to job ${id} failed: ${describe(error)}`, status, errors);
        });
        if (step.done) {
          init.signal?.removeEventListener("abort", onAbort);
          sse.dispose();
          return { done: true, value: undefined };
        }
        if (step.value.errors?.length || !step.value.data) {
          throw new ClientError(step.value.errors?.map((e) => e.message).join("; ") ?? "empty event", null, [
            ...(step.value.errors ?? []),
          ]);
        }
        return { done: false, value: step.value.data.jobUpdates };
      };
      return {
        next,
        async return() {
          init.signal?.removeEventListener("abort", onAbort);
          await iterator.return?.();
          sse.dispose();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
    },
  };

  /** Submits, follows and returns the job's result (the same union member `generate` returns). */
  async function generateWithProgress(
    input: GenerateInput,
    {
      onProgress,
      previewEvery = 0,
      signal,
    }: { onProgress: ProgressCallback; previewEvery?: number; signal?: AbortSignal },
  ): Promise<GenerateResultFieldsFragment> {
    const submitted = await methods.submitGeneration(input, { signal });
    if (submitted.__typename !== "GenerationJob") return submitted as GenerateResultFieldsFragment;
    const id = submitted.id;
    const cancel = () => void methods.cancelJob(id).catch(() => undefined);
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const update of methods.jobUpdates(id, { previewEvery })) {
        if (update.__typename !== "JobUpdate") throw new ClientError(update.message);
        onProgress(update.job, update.preview ?? null);
        if (TERMINAL.has(update.job.status) && update.job.result) return update.job.result;
      }
      // The stream ended without a result (e.g. an unexpected server error): read the job once more.
      const job = await methods.job(id);
      if (job?.result) return job.result;
      throw new ClientError(`Job ${id} ended without a result`);
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  }

  return { methods, generateWithProgress };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error))
    return error.map((e) => (e as { message?: string }).message ?? String(e)).join("; ");
  return String(error);
}

/** A 4xx other than 408 (timeout) and 429 (rate limited): asking again gets the same answer. */
function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** The server's GraphQL errors of a refused response as a ClientError (its status line when the body has none). */
async function refusalOf(response: Response): Promise<ClientError> {
  const fallback = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  try {
    // Yoga answers a stream's request in the format asked for: JSON, or one `next` event of an event stream.
    const text = await response.clone().text();
    const json = text.trimStart().startsWith("{") ? text : /^data: (\{.*)$/m.exec(text)?.[1];
    const body = (json ? JSON.parse(json) : {}) as { errors?: GraphQLErrorLike[] };
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const message = errors.map((e) => e.message).join("; ") || fallback;
    return new ClientError(message, response.status, errors);
  } catch {
    return new ClientError(fallback, response.status);
  }
}

/** graphql-sse's default wait before a retry: 1 s doubled per retry, plus 0.3 to 3 s at random. */
function backoff(retries: number): Promise<void> {
  const delay = 1000 * 2 ** retries + 300 + Math.floor(Math.random() * 2700);
  return new Promise((resolve) => setTimeout(resolve, delay));
}
