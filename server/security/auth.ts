/**
 * Who may do what. With keys configured every request must carry `Authorization: Bearer <key>`: a missing or wrong
 * key is HTTP 401 with a GraphQL error, before anything is parsed or run. The caller's identity is put on the
 * GraphQL context as `auth` (null when the server is open, i.e. no keys configured), and `requireScope` is the one
 * check resolvers and services use. Root fields that need `admin` are refused for the whole operation with HTTP
 * 403 before execution, so a `generate` key cannot load, unload or rename pipelines; a `metrics` key (for the
 * scraper: observability/health.ts) runs no GraphQL at all.
 */
import type { Plugin } from "graphql-yoga";
import { createGraphQLError } from "graphql-yoga";
import type { Auth, KeyRing, Scope } from "./api-keys.ts";
import { rootFieldNames } from "./operation.ts";

export type { Auth, Scope } from "./api-keys.ts";

/**
 * Root fields only `admin` keys may select. Job fields that are scoped by owner check in their resolvers with
 * `requireScope(context, "admin")` when they reach past the caller's own jobs.
 */
export const ADMIN_ROOT_FIELDS: ReadonlySet<string> = new Set([
  "loadPipeline",
  "unloadPipeline",
  "fromPipe",
  "removePipelineVariant",
]);

/** The caller's identity for a request (null when the server is open), or a 401 GraphQL error. */
export function authenticate(request: Request, keys: KeyRing): Auth | null {
  if (keys.open) return null;
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  const auth = match?.[1] ? keys.verify(match[1]) : null;
  if (auth) return auth;
  throw createGraphQLError(header ? "Invalid API key" : "Missing API key: send Authorization: Bearer <key>", {
    extensions: {
      code: "UNAUTHENTICATED",
      http: { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="autopipe"' } },
    },
  });
}

/** What a context must carry for `requireScope`. */
export interface AuthContext {
  /** Null when the server is open (no keys configured): every scope is granted. */
  readonly auth: Auth | null;
}

/**
 * Throws a 403 GraphQL error unless the caller's key has `scope` (`admin` includes `generate`). An open server
 * grants every scope. Example: `requireScope(context, "admin")` before listing every caller's jobs.
 */
export function requireScope(context: AuthContext, scope: Scope): void {
  if (hasScope(context.auth, scope)) return;
  throw createGraphQLError(`This API key lacks the '${scope}' scope`, {
    extensions: { code: "FORBIDDEN", http: { status: 403 } },
  });
}

/** Whether `auth` grants `scope` (null: the server is open; `admin` grants every scope). */
export function hasScope(auth: Auth | null, scope: Scope): boolean {
  return auth === null || auth.scope === "admin" || auth.scope === scope;
}

/** Whose jobs a caller submits: its key's id; null on an open server. */
export function ownerOf(context: AuthContext): string | null {
  return context.auth?.keyId ?? null;
}

/** Whether a caller may see (and cancel) a job: its own, or any with the `admin` scope or on an open server. */
export function mayAccessJob(context: AuthContext, owner: string | null): boolean {
  return context.auth === null || context.auth.scope === "admin" || context.auth.keyId === owner;
}

/** The owner filter of a caller's job listings: undefined (everyone's) for admins and on an open server. */
export function jobOwnerFilter(context: AuthContext): string | undefined {
  return context.auth === null || context.auth.scope === "admin" ? undefined : context.auth.keyId;
}

/**
 * Refuses, before execution, any operation of a `metrics` key, and an operation selecting an admin-only root field
 * with a `generate` key.
 */
export function useScopes(): Plugin<AuthContext> {
  const check = (args: {
    contextValue: unknown;
    document: Parameters<typeof rootFieldNames>[0];
    operationName?: string | null;
  }) => {
    const context = args.contextValue as AuthContext;
    if (hasScope(context.auth, "admin")) return;
    requireScope(context, "generate");
    for (const name of rootFieldNames(args.document, args.operationName ?? undefined)) {
      if (ADMIN_ROOT_FIELDS.has(name)) requireScope(context, "admin");
    }
  };
  return {
    onExecute: ({ args }) => check(args),
    onSubscribe: ({ args }) => check(args),
  };
}
