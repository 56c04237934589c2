/**
 * What crosses Redis for a job, as JSON: the job payload a worker runs (the validated request with input images
 * as base64 and the seed fixed, so a worker re-plans it cheaply and draws the same noise), the stored job record
 * (status, progress, result with PNGs as base64) and typed errors, rebuilt on the other side as instances of
 * their own AutopipeError class so the GraphQL layer still tells them apart.
 */
import type { Task } from "../../auto-pipeline/resolve.ts";
import type { Config } from "../../config.ts";
import * as errors from "../../errors.ts";
import { readImageInput } from "../../image/read-input.ts";
import type { GeneratedPng, GenerationResult } from "../generation.ts";
import type { GenerationPlan, PlanTarget, TaskRequest } from "../generation-plan.ts";
import type { JobSnapshot, JobStatus } from "../job.ts";

/** A job as a worker receives it from the queue (and as the embedded job store keeps it until it ends). */
export interface JobPayload {
  readonly task: Task;
  /**
   * The request as planned, every field of it (a field added to the generation input later rides along), with
   * `seed` fixed (decimal string) and images as `{ base64 }`.
   */
  readonly input: Record<string, unknown>;
  /**
   * The checkpoint and the named pipeline's config the request resolved to (`requiresSafetyChecker`, `variant`,
   * `configFrom`, …, as a whole object), so the worker plans it as the API did, whether or not it knows that pipeline.
   * Absent in payloads queued before it existed: the worker then looks `input.model` up itself.
   */
  readonly target?: PlanTarget;
}

/** A job as stored in Redis; `seq` grows with every write, so a follower can drop stale events. */
export interface JobRecord {
  readonly id: string;
  status: JobStatus;
  readonly task: Task;
  readonly model: string;
  readonly owner: string | null;
  step: number;
  totalSteps: number;
  readonly createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Mean milliseconds per step so far (null before the first step). */
  perStepMs: number | null;
  /** How many times a worker started this job (more than one after a lost worker). */
  attempts: number;
  seq: number;
  /** When this version was written (ms since the epoch). */
  at: number;
  result: StoredResult | null;
  error: StoredError | null;
}

type StoredResult = Omit<GenerationResult, "seed" | "images"> & {
  readonly seed: string;
  readonly images: readonly (Omit<GeneratedPng, "png"> & { png: string })[];
};

interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** The payload of a planned request: image bytes read once more (uploads can be read again) and base64-encoded. */
export async function payloadOf(
  plan: GenerationPlan,
  config: Pick<Config, "maxUploadBytes">,
): Promise<JobPayload> {
  const { image, maskImage, seed: _seed, ...rest } = plan.input;
  // The request as it was planned (the pipeline's defaults filled in); `target` says what `model` resolved to.
  const input: Record<string, unknown> = { ...rest, seed: plan.common.seed.toString() };
  const read = async (value: TaskRequest["image"], field: string) =>
    value
      ? {
          base64: Buffer.from(
            await readImageInput(value, { field, maxBytes: config.maxUploadBytes }),
          ).toString("base64"),
        }
      : null;
  if (image) input.image = await read(image, "image");
  if (maskImage) input.maskImage = await read(maskImage, "maskImage");
  return { task: plan.task, input, target: plan.target };
}

/** The request a worker plans from a payload. */
export function requestOf(payload: JobPayload): TaskRequest {
  const input = payload.input as unknown as TaskRequest & { seed: string };
  return { ...input, seed: BigInt(input.seed) };
}

export function encodeResult(result: GenerationResult): StoredResult {
  return {
    ...result,
    seed: result.seed.toString(),
    images: result.images.map((image) => ({ ...image, png: image.png.toString("base64") })),
  };
}

function decodeResult(stored: StoredResult): GenerationResult {
  return {
    ...stored,
    seed: BigInt(stored.seed),
    images: stored.images.map((image) => ({ ...image, png: Buffer.from(image.png, "base64") })),
  };
}

/** Expected errors keep their class and fields; anything else keeps only its message (and is masked). */
export function encodeError(error: unknown): StoredError {
  if (error instanceof errors.AutopipeError) {
    const {
      name,
      message,
      stack: _stack,
      ...fields
    } = error as errors.AutopipeError & Record<string, unknown>;
    return { name, message, fields };
  }
  return { name: "Error", message: error instanceof Error ? error.message : String(error), fields: {} };
}

const CLASSES: Record<string, { prototype: Error } | undefined> = {
  ModelNotFoundError: errors.ModelNotFoundError,
  UnsupportedPipelineError: errors.UnsupportedPipelineError,
  InvalidModelIndexError: errors.InvalidModelIndexError,
  InvalidInputError: errors.InvalidInputError,
  ModelLoadError: errors.ModelLoadError,
  BusyError: errors.BusyError,
  CancelledError: errors.CancelledError,
  JobNotFoundError: errors.JobNotFoundError,
  WorkerLostError: errors.WorkerLostError,
  InterruptedError: errors.InterruptedError,
};

export function decodeError(stored: StoredError): Error {
  const cls = CLASSES[stored.name];
  if (!cls) return new Error(stored.message);
  // Rebuilt without its constructor (whose arguments differ per class): same prototype, same fields.
  const error = Object.create(cls.prototype) as Error;
  Object.assign(error, stored.fields, { message: stored.message, name: stored.name });
  return error;
}

/** The snapshot of a record; `queuePosition` is the job's place among queued jobs (null unless QUEUED). */
export function snapshotOf(record: JobRecord, queuePosition: number | null, now = Date.now()): JobSnapshot {
  const running = record.status === "RUNNING";
  return {
    id: record.id,
    status: record.status,
    task: record.task,
    model: record.model,
    owner: record.owner,
    queuePosition: record.status === "QUEUED" ? queuePosition : null,
    attempts: record.attempts,
    progress: {
      step: record.step,
      totalSteps: record.totalSteps,
      elapsedMs: record.startedAt === null ? 0 : (record.finishedAt ?? now) - record.startedAt,
      etaMs:
        running && record.perStepMs !== null ? record.perStepMs * (record.totalSteps - record.step) : null,
    },
    createdAt: new Date(record.createdAt).toISOString(),
    startedAt: record.startedAt === null ? null : new Date(record.startedAt).toISOString(),
    finishedAt: record.finishedAt === null ? null : new Date(record.finishedAt).toISOString(),
    result: record.result ? decodeResult(record.result) : null,
    error: record.error ? decodeError(record.error) : null,
  };
}
