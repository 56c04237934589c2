/**
 * The GraphQL side of expected errors: `interface Error { message: String! }` and one object type per error class
 * of ../errors.ts. graphql-js treats a returned Error instance as a thrown one, so resolvers return expected errors
 * wrapped in an `ErrorResult` (see expected.ts); union members are told apart by the wrapped error's class.
 */
import {
  type AutopipeError,
  BusyError,
  CancelledError,
  InterruptedError,
  InvalidInputError,
  InvalidModelIndexError,
  JobNotFoundError,
  ModelLoadError,
  ModelNotFoundError,
  RateLimitedError,
  ResourceLimitError,
  ShuttingDownError,
  UnsupportedPipelineError,
} from "../errors.ts";
import { builder } from "./builder.ts";

/** An expected error on its way to a union member. */
export class ErrorResult<E extends AutopipeError = AutopipeError> {
  constructor(readonly error: E) {}
  get message(): string {
    return this.error.message;
  }
}

export const ErrorInterface = builder.interfaceRef<ErrorResult>("Error").implement({
  description: "Every expected failure implements Error; query `__typename` to tell them apart.",
  fields: (t) => ({ message: t.exposeString("message") }),
});

// biome-ignore lint/suspicious/noExplicitAny: constructor signatures of the error classes differ
function errorRef<E extends AutopipeError>(cls: abstract new (...args: any[]) => E, name: string) {
  // The ref is typed by the base shape (what the interface accepts); field resolvers narrow with `of(cls)`.
  return builder.objectRef<ErrorResult>(name).implement({
    interfaces: [ErrorInterface],
    isTypeOf: (value) => value instanceof ErrorResult && value.error instanceof cls,
  });
}

/** The wrapped error as its own class (the ref guarantees it through `isTypeOf`). */
function of<E extends AutopipeError>(_cls: abstract new (...args: never[]) => E) {
  return (r: ErrorResult): E => r.error as E;
}
const notFound = of(ModelNotFoundError);
const unsupported = of(UnsupportedPipelineError);
const badIndex = of(InvalidModelIndexError);
const badInput = of(InvalidInputError);
const loadFailed = of(ModelLoadError);
const busy = of(BusyError);

export const ModelNotFoundErrorType = errorRef(ModelNotFoundError, "ModelNotFoundError");
builder.objectFields(ModelNotFoundErrorType, (t) => ({
  model: t.string({ resolve: (r) => notFound(r).model }),
  searched: t.stringList({
    description: "Where we looked (never server paths).",
    resolve: (r) => [...notFound(r).searched],
  }),
}));

export const UnsupportedPipelineErrorType = errorRef(UnsupportedPipelineError, "UnsupportedPipelineError");
builder.objectFields(UnsupportedPipelineErrorType, (t) => ({
  checkpointClass: t.string({
    nullable: true,
    description: "The checkpoint's `_class_name`, when known.",
    resolve: (r) => unsupported(r).sourceClass,
  }),
  checkpointFamily: t.string({
    nullable: true,
    description: "diffusers' family key of that class, when it has one.",
    resolve: (r) => unsupported(r).family,
  }),
}));

export const InvalidModelIndexErrorType = errorRef(InvalidModelIndexError, "InvalidModelIndexError");
builder.objectFields(InvalidModelIndexErrorType, (t) => ({
  model: t.string({ resolve: (r) => badIndex(r).model }),
  detail: t.string({
    description: "What is wrong with model_index.json.",
    resolve: (r) => badIndex(r).reason,
  }),
}));

export const InvalidInputErrorType = errorRef(InvalidInputError, "InvalidInputError");
builder.objectFields(InvalidInputErrorType, (t) => ({
  field: t.string({
    description: "The argument, as a path (e.g. `textToImage.width`).",
    resolve: (r) => badInput(r).field,
  }),
  value: t.string({
    description: "The value received (shortened when long).",
    resolve: (r) => badInput(r).value,
  }),
  allowed: t.string({ description: "What would be accepted.", resolve: (r) => badInput(r).allowed }),
}));

export const ModelLoadErrorType = errorRef(ModelLoadError, "ModelLoadError");
builder.objectFields(ModelLoadErrorType, (t) => ({
  model: t.string({ resolve: (r) => loadFailed(r).model }),
  component: t.string({ resolve: (r) => loadFailed(r).component }),
}));

export const BusyErrorType = errorRef(BusyError, "BusyError");
builder.objectFields(BusyErrorType, (t) => ({
  retryAfterMs: t.int({
    description: "A hint: when a slot is likely free.",
    resolve: (r) => busy(r).retryAfterMs,
  }),
}));

export const CancelledErrorType = errorRef(CancelledError, "CancelledError");

export const JobNotFoundErrorType = errorRef(JobNotFoundError, "JobNotFoundError");
builder.objectFields(JobNotFoundErrorType, (t) => ({
  id: t.id({ resolve: (r) => of(JobNotFoundError)(r).id }),
}));

export const ShuttingDownErrorType = errorRef(ShuttingDownError, "ShuttingDownError");

export const InterruptedErrorType = errorRef(InterruptedError, "InterruptedError");
builder.objectFields(InterruptedErrorType, (t) => ({
  attempts: t.int({
    description:
      "Times the job had started when the server last stopped under it (AUTOPIPE_JOB_ATTEMPTS: runs at most).",
    resolve: (r) => of(InterruptedError)(r).attempts,
  }),
}));

const rateLimited = of(RateLimitedError);
export const RateLimitedErrorType = errorRef(RateLimitedError, "RateLimitedError");
builder.objectFields(RateLimitedErrorType, (t) => ({
  retryAfterMs: t.int({
    description: "When the caller's allowance (AUTOPIPE_RATE_LIMIT per minute) frees a generation.",
    resolve: (r) => rateLimited(r).retryAfterMs,
  }),
}));

const overBudget = of(ResourceLimitError);
export const ResourceLimitErrorType = errorRef(ResourceLimitError, "ResourceLimitError");
builder.objectFields(ResourceLimitErrorType, (t) => ({
  field: t.string({
    description: "The argument to reduce, as a path (e.g. `textToImage.width`).",
    resolve: (r) => overBudget(r).field,
  }),
  limit: t.int({
    description:
      "The largest value of `field` that fits this server's memory budget or time limit (0: none does).",
    resolve: (r) => overBudget(r).limit,
  }),
  resource: t.string({
    description:
      "What the request would exceed: `memory` (AUTOPIPE_MEMORY_BUDGET_BYTES) or `time` (AUTOPIPE_MAX_REQUEST_SECONDS, " +
      "or AUTOPIPE_SYNC_MAX_SECONDS for a synchronous generate: submitGeneration has no such limit).",
    resolve: (r) => overBudget(r).resource,
  }),
  estimatedSeconds: t.float({
    nullable: true,
    description: "For `time`: how long this server estimates the request would run, in seconds.",
    resolve: (r) => overBudget(r).estimatedSeconds,
  }),
  limitSeconds: t.float({
    nullable: true,
    description: "For `time`: the limit it would exceed, in seconds.",
    resolve: (r) => overBudget(r).limitSeconds,
  }),
}));
