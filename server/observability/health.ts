/**
 * Probe and scrape routes, answered before GraphQL sees the request: `GET /healthz` (the process is up: always
 * 200), `GET /readyz` (ready to generate: 200 once warm-up is done, 503 while starting or draining), and
 * `GET /metrics` (Prometheus exposition text).
 */
import type { Plugin } from "graphql-yoga";
import type { Lifecycle } from "../service/lifecycle.ts";
import type { Metrics } from "./metrics.ts";

export function useHealthRoutes(lifecycle: Lifecycle, metrics: Metrics): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== "GET" && request.method !== "HEAD") return;
      const json = (status: number, body: unknown) =>
        new fetchAPI.Response(JSON.stringify(body), {
          status,
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        });
      switch (url.pathname) {
        case "/healthz":
          return endResponse(json(200, { status: "ok" }));
        case "/readyz":
          return endResponse(
            json(lifecycle.ready ? 200 : 503, { ready: lifecycle.ready, phase: lifecycle.phase }),
          );
        case "/metrics": {
          const { text, contentType } = await metrics.scrape();
          return endResponse(new fetchAPI.Response(text, { headers: { "content-type": contentType } }));
        }
      }
    },
  };
}
