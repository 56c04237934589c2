/**
 * Everything that makes the server safe to expose, built once from the configuration for yoga.ts: the plugin list
 * (CSRF prevention, document limits, scope checks), the CORS policy, whether GraphiQL and introspection are on,
 * and the per-request security context (`auth`, the client's address, the generation rate limit). The rules are
 * documented in README "Deploying".
 */
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.ts";
import { type Auth, KeyRing } from "./api-keys.ts";
import { authenticate, useScopes } from "./auth.ts";
import { corsPolicy, csrfPrevention } from "./browser.ts";
import { graphqlLimitPlugins } from "./graphql-limits.ts";
import { GenerationRateLimit } from "./rate-limit.ts";

/** What the security layer adds to the GraphQL context. */
export interface SecurityContext {
  /** The caller's key id and scope; null when the server is open (no keys configured). */
  readonly auth: Auth | null;
  /** The client's address as the socket saw it ("unknown" for in-process calls). */
  readonly clientAddress: string;
  /** Generations per minute per caller. */
  readonly rateLimit: GenerationRateLimit;
}

export interface Security {
  readonly keys: KeyRing;
  readonly plugins: Plugin[];
  readonly cors: ReturnType<typeof corsPolicy>;
  /** GraphiQL and introspection served. */
  readonly introspection: boolean;
  /** The security part of a request's context; throws a 401 GraphQL error for a missing or wrong key. */
  context(initial: { request: Request }): SecurityContext;
}

export function createSecurity(config: Config): Security {
  const keys = KeyRing.fromConfig(config);
  const introspection = config.introspection ?? isLoopback(listenHost(config, keys));
  const rateLimit = new GenerationRateLimit(config.rateLimit);
  return {
    keys,
    introspection,
    cors: corsPolicy(config.corsOrigins),
    plugins: [
      csrfPrevention(),
      ...graphqlLimitPlugins({ introspection, fieldSuggestions: config.introspection === true }),
      useScopes() as Plugin,
    ],
    context: (initial) => ({
      auth: authenticate(initial.request, keys),
      clientAddress: clientAddress(initial),
      rateLimit,
    }),
  };
}

/** Where to listen: `HOST`, else loopback when the server is open, else every interface (undefined). */
export function listenHost(config: Pick<Config, "host">, keys: KeyRing): string | undefined {
  return config.host ?? (keys.open ? "127.0.0.1" : undefined);
}

/** One line for start-up: open or keyed, where it listens, and what that means. Never shows a key. */
export function startupNotice(config: Config, keys: KeyRing): string {
  const host = listenHost(config, keys) ?? "every interface";
  if (!keys.open) return `autopipe: ${keys.size} API key(s) configured; listening on ${host}`;
  return config.host
    ? `autopipe: WARNING no API keys configured (AUTOPIPE_API_KEYS): anyone who reaches ${host} may use this server`
    : "autopipe: no API keys configured (AUTOPIPE_API_KEYS): open, so listening on loopback only (set HOST to change)";
}

export function isLoopback(host: string | undefined): boolean {
  return host === "localhost" || host === "::1" || (host?.startsWith("127.") ?? false);
}

function clientAddress(initial: object): string {
  const req = (initial as { req?: { socket?: { remoteAddress?: string } } }).req;
  return req?.socket?.remoteAddress ?? "unknown";
}
