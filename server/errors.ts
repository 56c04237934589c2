/**
 * Expected failures. Every error a caller can provoke is one of these small classes on one base; the GraphQL layer
 * turns them into typed union members (`... on InvalidInputError { field value allowed }`), and anything else is
 * masked by Yoga as an unexpected error. Messages name model ids and arguments, never server paths.
 */

/** Base of every expected autopipe error. `code` is stable and machine-readable. */
export class AutopipeError extends Error {
  override name = "AutopipeError";
  readonly code: string = "AUTOPIPE_ERROR";
}

/** A model id named no checkpoint in any of the places we look. */
export class ModelNotFoundError extends AutopipeError {
  override name = "ModelNotFoundError";
  override readonly code = "MODEL_NOT_FOUND";
  constructor(
    readonly model: string,
    /** Where we looked, described without server paths (e.g. "models directory", "Hugging Face cache"). */
    readonly searched: readonly string[],
  ) {
    super(`No checkpoint '${model}' with a model_index.json was found (looked in: ${searched.join(", ")})`);
  }
}

/** The checkpoint exists, but AutoPipeline has no pipeline for it and the requested task. */
export class UnsupportedPipelineError extends AutopipeError {
  override name = "UnsupportedPipelineError";
  override readonly code = "UNSUPPORTED_PIPELINE";
  constructor(
    message: string,
    readonly sourceClass: string | null = null,
    readonly family: string | null = null,
  ) {
    super(message);
  }
}

/** model_index.json exists but cannot be used (not JSON, not an object, no `_class_name`, too large). */
export class InvalidModelIndexError extends AutopipeError {
  override name = "InvalidModelIndexError";
  override readonly code = "INVALID_MODEL_INDEX";
  constructor(
    readonly model: string,
    readonly reason: string,
  ) {
    super(`model_index.json of '${model}' is invalid: ${reason}`);
  }
}

/** An argument is outside what is allowed. Names the argument, the value received and what is allowed. */
export class InvalidInputError extends AutopipeError {
  override name = "InvalidInputError";
  override readonly code = "INVALID_INPUT";
  constructor(
    readonly field: string,
    readonly value: string,
    readonly allowed: string,
  ) {
    super(`Invalid ${field}: ${value} (allowed: ${allowed})`);
  }
}

/** A checkpoint's files could not be loaded or run (corrupt or missing ONNX file, mismatching graph). */
export class ModelLoadError extends AutopipeError {
  override name = "ModelLoadError";
  override readonly code = "MODEL_LOAD_FAILED";
  constructor(
    readonly model: string,
    readonly component: string,
    reason: string,
  ) {
    super(`Could not load component '${component}' of '${model}': ${reason}`);
  }
}

/** Too many generations are running or queued; retry after `retryAfterMs`. */
export class BusyError extends AutopipeError {
  override name = "BusyError";
  override readonly code = "BUSY";
  constructor(readonly retryAfterMs: number) {
    super(`The server is busy; retry in about ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/** The client went away (or cancelled): the generation stopped at its next step or left the queue. */
export class CancelledError extends AutopipeError {
  override name = "CancelledError";
  override readonly code = "CANCELLED";
  constructor() {
    super("The generation was cancelled");
  }
}

/**
 * The worker running a job was lost (killed, or its lock expired) more times than `AUTOPIPE_JOB_ATTEMPTS` allows.
 * A ModelLoadError (the checkpoint could not be run) whose component is `worker`.
 */
export class WorkerLostError extends ModelLoadError {
  override name = "WorkerLostError";
  override readonly code = "WORKER_LOST" as "MODEL_LOAD_FAILED";
  constructor(model: string, attempts: number) {
    super(model, "worker", `the worker running it was lost ${attempts} time(s); no attempt is left`);
  }
}

/**
 * The server stopped (a restart, a crash, SIGKILL) while this job was running, and it had already been re-queued
 * after such a stop as often as `AUTOPIPE_JOB_ATTEMPTS` allows: it is not run again.
 */
export class InterruptedError extends AutopipeError {
  override name = "InterruptedError";
  override readonly code = "INTERRUPTED";
  constructor(readonly attempts: number) {
    super(
      `The server stopped while this job was running, ${attempts} time(s); it is not run again ` +
        "(AUTOPIPE_JOB_ATTEMPTS runs at most): submit it again",
    );
  }
}

/** The job queue (Redis) cannot be reached: a BusyError, since retrying later is the remedy. */
export class QueueUnavailableError extends BusyError {
  override name = "QueueUnavailableError";
  override readonly code = "QUEUE_UNAVAILABLE" as "BUSY";
  constructor(retryAfterMs = 5000) {
    super(retryAfterMs);
    this.message = `The job queue is unreachable; retry in about ${Math.ceil(retryAfterMs / 1000)} s`;
  }
}

/** No job with this id (never submitted, expired, or not visible to the caller). */
export class JobNotFoundError extends AutopipeError {
  override name = "JobNotFoundError";
  override readonly code = "JOB_NOT_FOUND";
  constructor(readonly id: string) {
    super(`No job '${id}' (unknown, or finished and expired)`);
  }
}

/** The server is draining before it stops: it takes no new generation; retry on another instance. */
export class ShuttingDownError extends AutopipeError {
  override name = "ShuttingDownError";
  override readonly code = "SHUTTING_DOWN";
  constructor() {
    super("The server is shutting down and takes no new generations; retry on another instance");
  }
}

/** The caller used up its generations for now (`AUTOPIPE_RATE_LIMIT` per minute); retry after `retryAfterMs`. */
export class RateLimitedError extends AutopipeError {
  override name = "RateLimitedError";
  override readonly code = "RATE_LIMITED";
  constructor(readonly retryAfterMs: number) {
    super(`Too many generations; retry in about ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/**
 * The request would need more memory than the server's budget (`AUTOPIPE_MEMORY_BUDGET_BYTES`), or, with `time`
 * given, would run longer than this server allows a generation (`AUTOPIPE_MAX_REQUEST_SECONDS`) or a synchronous
 * `generate` (`AUTOPIPE_SYNC_MAX_SECONDS`). Names the field to reduce and the largest value of it that would fit
 * (0 when none would).
 */
export class ResourceLimitError extends AutopipeError {
  override name = "ResourceLimitError";
  override readonly code = "RESOURCE_LIMIT";
  /** What ran out: `memory` or `time`. */
  readonly resource: "memory" | "time";
  readonly estimatedSeconds: number | null;
  readonly limitSeconds: number | null;
  constructor(
    readonly field: string,
    readonly limit: number,
    readonly neededBytes: number,
    readonly budgetBytes: number,
    time?: { estimatedSeconds: number; limitSeconds: number; synchronous: boolean },
  ) {
    super(
      time
        ? timeMessage(field, limit, time)
        : `${field} needs about ${gib(neededBytes)} of memory, over this server's budget of ${gib(budgetBytes)}; ` +
            (limit > 0 ? `the largest ${field} that fits is ${limit}` : "no value of it fits"),
    );
    this.resource = time ? "time" : "memory";
    this.estimatedSeconds = time?.estimatedSeconds ?? null;
    this.limitSeconds = time?.limitSeconds ?? null;
  }
}

function timeMessage(
  field: string,
  limit: number,
  time: { estimatedSeconds: number; limitSeconds: number; synchronous: boolean },
): string {
  const reduce = limit > 0 ? `the largest ${field} that fits is ${limit}` : `no value of ${field} fits`;
  const estimate = `This generation would take about ${Math.ceil(time.estimatedSeconds)} s on this server`;
  if (!time.synchronous)
    return `${estimate}, over its limit of ${time.limitSeconds} s per generation; ${reduce}`;
  return (
    `${estimate}, over the ${time.limitSeconds} s a synchronous generate may take: submit it as a job with ` +
    `submitGeneration (the client's generate(…, { onProgress }) does), or reduce ${field} (${reduce})`
  );
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** Shows a user-supplied value in an error message: quoted, and cut short when long. */
export function showValue(value: unknown, max = 80): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** A safetensors file that cannot be trusted: truncated, a header that lies, a dtype weights never use. */
export class SafetensorsError extends AutopipeError {
  override name = "SafetensorsError";
  override readonly code = "INVALID_SAFETENSORS";

  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`Safetensors file '${file}' is invalid: ${reason}`);
  }
}

/**
 * A component whose config or weights the graph builder cannot build faithfully: names the component, the config
 * key (or weight) and its value, so the checkpoint is reported not runnable instead of giving a wrong image.
 */
export class UnsupportedComponentError extends AutopipeError {
  override name = "UnsupportedComponentError";
  override readonly code = "UNSUPPORTED_COMPONENT";

  constructor(
    readonly component: string,
    readonly key: string,
    readonly value: string,
    readonly detail = "not supported",
    /** The whole message, where "key = value is detail" does not read well (weights). */
    message?: string,
  ) {
    super(message ?? `${component}: ${key} = ${value} is ${detail}`);
  }
}

/**
 * A configuration the server cannot start with (e.g. a malformed AUTOPIPE_PIPELINES_FILE). Its message is one line
 * naming the setting, the entry and the field; main.ts prints it and exits 1, without a stack trace.
 */
export class ConfigError extends AutopipeError {
  override name = "ConfigError";
  override readonly code = "CONFIG_ERROR";
}
