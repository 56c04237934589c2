/**
 * What a GraphQL request carries through its resolvers without every call passing it on: its id (returned in
 * the `x-request-id` header and written on every log line it causes) and the typed errors it returned, so that
 * the request's log line and the error counters name them. Held in an AsyncLocalStorage entered around execution.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

export interface RequestScope {
  readonly requestId: string;
  /** Set when the request executes a GraphQL operation. */
  operation?: { readonly name: string; readonly type: string };
  /** `__typename`s of the typed errors this request's resolvers returned, in order. */
  readonly errorTypes: string[];
}

const storage = new AsyncLocalStorage<RequestScope>();

/** The scope of the request being executed, if any. */
export function currentScope(): RequestScope | undefined {
  return storage.getStore();
}

/** Runs `work` inside `scope`. */
export function runInScope<T>(scope: RequestScope, work: () => T): T {
  return storage.run(scope, work);
}

/** Notes a typed error returned by a resolver of the current request (no-op outside a request). */
export function noteExpectedError(typename: string): void {
  storage.getStore()?.errorTypes.push(typename);
}

// A caller's own id is kept when it is short and plain (no header or log injection); otherwise a fresh UUID.
const CALLER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id of a request: the caller's `x-request-id` when usable, a fresh UUID otherwise. */
export function requestIdOf(headers: Headers): string {
  const given = headers.get("x-request-id");
  return given && CALLER_ID.test(given) ? given : randomUUID();
}
