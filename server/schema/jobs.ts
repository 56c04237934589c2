/**
 * Generation jobs for frontends: `submitGeneration` validates like `generate` and answers at once with a job;
 * `job`, `jobs` read them; `cancelJob` stops one; the `jobUpdates` subscription (SSE) streams its state, every
 * denoising step and optional live previews, ending with the result.
 */
import { GraphQLError } from "graphql";
import type { Context } from "../context.ts";
import { AutopipeError, InvalidInputError, JobNotFoundError } from "../errors.ts";
import { jobOwnerFilter, mayAccessJob } from "../security/auth.ts";
import type { JobProgress, JobSnapshot, JobStatus } from "../service/job.ts";
import { builder } from "./builder.ts";
import {
  BusyErrorType,
  ErrorResult,
  InvalidInputErrorType,
  InvalidModelIndexErrorType,
  JobNotFoundErrorType,
  ModelLoadErrorType,
  ModelNotFoundErrorType,
  RateLimitedErrorType,
  ResourceLimitErrorType,
  ShuttingDownErrorType,
  UnsupportedPipelineErrorType,
} from "./errors.ts";
import { expected } from "./expected.ts";
import { GENERATE_ERRORS, GeneratedImageType, GenerateInput, GenerateResult, submitJob } from "./generate.ts";
import { TaskEnum } from "./pipeline.ts";

const MAX_LISTED = 1000;

export const JobStatusEnum = builder.enumType("JobStatus", {
  values: {
    QUEUED: { description: "Waiting for a generation slot (see queuePosition)." },
    RUNNING: { description: "Denoising (see progress)." },
    SUCCEEDED: { description: "Done: result is a Generation." },
    FAILED: { description: "Ended by an error: result is the typed error." },
    CANCELLED: {
      description: "Cancelled by cancelJob (or its generate client went away): result is CancelledError.",
    },
  } satisfies Record<JobStatus, unknown>,
});

const JobProgressType = builder.objectRef<JobProgress>("JobProgress").implement({
  fields: (t) => ({
    step: t.exposeInt("step", { description: "Denoising steps finished." }),
    totalSteps: t.exposeInt("totalSteps", {
      description: "Denoising steps this job runs (image-to-image: int(numInferenceSteps × strength)).",
    }),
    elapsedMs: t.exposeFloat("elapsedMs", { description: "Since the job started running (0 while queued)." }),
    etaMs: t.float({
      nullable: true,
      description: "Estimated time left, from the mean step time so far (null before the first step).",
      resolve: (p) => p.etaMs,
    }),
  }),
});

export const GenerationJobType = builder.objectRef<JobSnapshot>("GenerationJob").implement({
  description: "A submitted generation. Every field is as of the moment this value was produced.",
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "progress" in value && "status" in value,
  fields: (t) => ({
    id: t.exposeID("id"),
    status: t.field({ type: JobStatusEnum, resolve: (j) => j.status }),
    task: t.field({ type: TaskEnum, resolve: (j) => j.task }),
    model: t.exposeString("model"),
    queuePosition: t.int({
      nullable: true,
      description: "1 for the next job to start; null once running or ended.",
      resolve: (j) => j.queuePosition,
    }),
    progress: t.field({ type: JobProgressType, resolve: (j) => j.progress }),
    attempts: t.int({
      description:
        "Times the job started running: 0 while first queued, 2 after a server stop (or a lost worker) made it " +
        "run again; past AUTOPIPE_JOB_ATTEMPTS it ends FAILED with InterruptedError instead.",
      resolve: (j) => j.attempts,
    }),
    createdAt: t.exposeString("createdAt", { description: "ISO 8601." }),
    startedAt: t.string({ nullable: true, resolve: (j) => j.startedAt }),
    finishedAt: t.string({ nullable: true, resolve: (j) => j.finishedAt }),
    result: t.field({
      type: GenerateResult,
      nullable: true,
      description: "Null until the job ends; then what `generate` would have returned.",
      resolve: (j) => {
        if (j.result) return j.result;
        if (j.error instanceof AutopipeError) return new ErrorResult(j.error);
        if (j.error) throw j.error; // unexpected: masked by the server
        return null;
      },
    }),
  }),
});

const SubmitGenerationResult = builder.unionType("SubmitGenerationResult", {
  types: [
    GenerationJobType,
    InvalidInputErrorType,
    ModelNotFoundErrorType,
    UnsupportedPipelineErrorType,
    InvalidModelIndexErrorType,
    BusyErrorType,
    ModelLoadErrorType,
    ShuttingDownErrorType,
    RateLimitedErrorType,
    ResourceLimitErrorType,
  ],
});

const CancelJobResult = builder.unionType("CancelJobResult", {
  types: [GenerationJobType, JobNotFoundErrorType],
});

interface JobUpdateValue {
  readonly job: JobSnapshot;
  readonly preview: Promise<unknown> | null;
}

const JobUpdateType = builder.objectRef<JobUpdateValue>("JobUpdate").implement({
  isTypeOf: (value) => typeof value === "object" && value !== null && "job" in value && "preview" in value,
  fields: (t) => ({
    job: t.field({ type: GenerationJobType, resolve: (u) => u.job }),
    preview: t.field({
      type: GeneratedImageType,
      nullable: true,
      description:
        "Every `previewEvery`-th step: a cheap PNG of where the image is heading (the predicted clean latents " +
        "mapped linearly to RGB, at latent resolution; no VAE run).",
      resolve: (u) => u.preview as Promise<typeof GeneratedImageType.$inferType> | null,
    }),
  }),
});

const JobUpdateResult = builder.unionType("JobUpdateResult", {
  types: [JobUpdateType, JobNotFoundErrorType, InvalidInputErrorType],
});

builder.mutationField("submitGeneration", (t) =>
  t.field({
    type: SubmitGenerationResult,
    description: "Validates like `generate`, queues the generation and answers at once with its job.",
    args: { input: t.arg({ type: GenerateInput, required: true }) },
    resolve: (_root, { input }, context) => expected(() => submitJob(context, input), GENERATE_ERRORS),
  }),
);

builder.mutationField("cancelJob", (t) =>
  t.field({
    type: CancelJobResult,
    description:
      "Cancels a job: a queued one leaves the queue at once, a running one stops at its next step and frees its " +
      "slot; a finished one is returned unchanged.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) =>
      expected(async () => {
        // Another caller's job is not found: ids are not a way to learn of or stop others' work.
        const known = await visibleJob(context, String(id));
        const job = known && (await context.services.jobs.cancel(known.id));
        if (!job) throw new JobNotFoundError(String(id));
        return job;
      }, [JobNotFoundError]),
  }),
);

builder.queryField("job", (t) =>
  t.field({
    type: GenerationJobType,
    nullable: true,
    description: "A job by id; null when unknown or expired.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => visibleJob(context, String(id)),
  }),
);

builder.queryField("jobs", (t) =>
  t.field({
    type: [GenerationJobType],
    description: "Jobs newest first, optionally of one status.",
    args: {
      status: t.arg({ type: JobStatusEnum }),
      first: t.arg.int({ defaultValue: 20 }),
    },
    resolve: (_root, { status, first }, context) => {
      const count = first ?? 20;
      if (!Number.isInteger(count) || count < 0 || count > MAX_LISTED) {
        const error = new InvalidInputError("first", String(count), `an integer from 0 to ${MAX_LISTED}`);
        throw new GraphQLError(error.message, { extensions: { code: "BAD_USER_INPUT", field: "first" } });
      }
      return context.services.jobs.list({ status, first: count, owner: jobOwnerFilter(context) });
    },
  }),
);

builder.subscriptionField("jobUpdates", (t) =>
  t.field({
    type: JobUpdateResult,
    description:
      "The job's current state at once, then one event per status change, queue move and denoising step (in " +
      "order, none skipped), ending with the terminal state and its result. Closing it never cancels the job.",
    args: {
      id: t.arg.id({ required: true }),
      previewEvery: t.arg.int({ defaultValue: 0, description: "A preview every k steps (0: none)." }),
    },
    subscribe: (_root, { id, previewEvery }, context) => jobUpdates(context, String(id), previewEvery ?? 0),
    resolve: (event) => event,
  }),
);

/** A job the caller may see (its own, or any for admins and on an open server), else null. */
async function visibleJob(context: Context, id: string): Promise<JobSnapshot | null> {
  const job = await context.services.jobs.get(id);
  return job && mayAccessJob(context, job.owner) ? job : null;
}

async function* jobUpdates(
  context: Context,
  id: string,
  previewEvery: number,
): AsyncGenerator<JobUpdateValue | ErrorResult> {
  if (!Number.isInteger(previewEvery) || previewEvery < 0) {
    yield new ErrorResult(new InvalidInputError("previewEvery", String(previewEvery), "an integer >= 0"));
    return;
  }
  const updates = (await visibleJob(context, id)) && (await context.services.jobs.updates(id, previewEvery));
  if (!updates) {
    yield new ErrorResult(new JobNotFoundError(id));
    return;
  }
  yield* updates;
}
