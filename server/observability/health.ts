/**
 * Probe and scrape routes, answered before GraphQL sees the request: `GET /healthz` (the process is up: always
 * 200), `GET /readyz` (ready to generate: 200 once warm-up is done, 503 while starting or draining), and
 * `GET /metrics` (Prometheus exposition text). When API keys are configured, `/metrics` wants a key with the
 * `metrics` (or `admin`) scope, as the scraper's bearer token: it names the checkpoints loaded and what runs.
 * A scrape that fails is a plain 500 with no detail (the reason goes to the log, never to the client).
 */
import type { Plugin } from "graphql-yoga";
import type { KeyRing } from "../security/api-keys.ts";
import { authenticate, hasScope } from "../security/auth.ts";
import type { Lifecycle } from "../service/lifecycle.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

export interface HealthRouteOptions {
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics;
  readonly keys: KeyRing;
  readonly logger: Logger;
}

export function useHealthRoutes({ lifecycle, metrics, keys, logger }: HealthRouteOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== "GET" && request.method !== "HEAD") return;
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        new fetchAPI.Response(JSON.stringify(body), {
          status,
          headers: {
            "content-type": "application/json; charset=utf-8",
            "cache-control": "no-store",
            ...headers,
          },
        });
      const plain = (status: number, text: string) =>
        new fetchAPI.Response(`${text}\n`, {
          status,
          headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
        });
      switch (url.pathname) {
        case "/healthz":
          return endResponse(json(200, { status: "ok" }));
        case "/readyz":
          return endResponse(
            json(lifecycle.ready ? 200 : 503, { ready: lifecycle.ready, phase: lifecycle.phase }),
          );
        case "/metrics": {
          const denied = metricsDenied(request, keys);
          if (denied) return endResponse(json(denied.status, { errors: [denied.error] }, denied.headers));
          try {
            const { text, contentType } = await metrics.scrape();
            return endResponse(
              new fetchAPI.Response(text, {
                headers: { "content-type": contentType, "cache-control": "no-store" },
              }),
            );
          } catch (error) {
            logger.error({ event: "metrics", error: (error as Error).message }, "metrics scrape failed");
            return endResponse(plain(500, "metrics unavailable"));
          }
        }
      }
    },
  };
}

/** Null when the caller may scrape (an open server, or a key with the `metrics` or `admin` scope), else why not. */
function metricsDenied(
  request: Request,
  keys: KeyRing,
): {
  status: number;
  error: { message: string; extensions: { code: string } };
  headers?: Record<string, string>;
} | null {
  let auth: ReturnType<typeof authenticate>;
  try {
    auth = authenticate(request, keys);
  } catch (error) {
    const extensions = (error as { extensions?: { code?: string } }).extensions;
    return {
      status: 401,
      error: {
        message: (error as Error).message,
        extensions: { code: extensions?.code ?? "UNAUTHENTICATED" },
      },
      headers: { "www-authenticate": 'Bearer realm="autopipe"' },
    };
  }
  if (hasScope(auth, "metrics")) return null;
  return {
    status: 403,
    error: {
      message: "This API key lacks the 'metrics' scope (a metrics or admin key may read /metrics)",
      extensions: { code: "FORBIDDEN" },
    },
  };
}
