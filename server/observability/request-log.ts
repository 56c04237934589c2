/**
 * A Yoga plugin for request observability: gives every request an id (the caller's `x-request-id` when usable,
 * else a UUID) returned in the `x-request-id` response header, runs the request inside its scope (so generation
 * log lines carry the id), counts GraphQL operations and their errors by type, and logs one JSON line per request
 * with method, path, status, duration, operation and error types. Probes and scrapes log at debug level only.
 */
import type { DefinitionNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "./logger.ts";
import { type Metrics, operationLabel } from "./metrics.ts";
import { type RequestScope, requestIdOf, runInScope } from "./request-scope.ts";

const QUIET_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

interface Tracked {
  readonly scope: RequestScope;
  readonly started: number;
  readonly path: string;
  graphqlErrors: number;
}

export function useRequestLog(logger: Logger, metrics: Metrics): Plugin {
  const tracked = new WeakMap<Request, Tracked>();
  return {
    onRequest({ request, url, requestHandler, setRequestHandler }) {
      const scope: RequestScope = { requestId: requestIdOf(request.headers), errorTypes: [] };
      tracked.set(request, { scope, started: performance.now(), path: url.pathname, graphqlErrors: 0 });
      setRequestHandler((req, serverContext) => runInScope(scope, () => requestHandler(req, serverContext)));
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const entry = request ? tracked.get(request) : undefined;
      const operation = args.document.definitions.find(
        (d: DefinitionNode) => d.kind === "OperationDefinition",
      );
      const type = operation?.kind === "OperationDefinition" ? operation.operation : "unknown";
      const name =
        args.operationName ?? (operation?.kind === "OperationDefinition" ? operation.name?.value : null);
      if (entry) entry.scope.operation = { name: name ?? "anonymous", type };
      metrics.operations.inc({ operation: operationLabel(name), type });
      return {
        onExecuteDone({ result }) {
          if (!entry || !("errors" in result)) return;
          entry.graphqlErrors += result.errors?.length ?? 0;
        },
      };
    },
    onResponse({ request, response }) {
      const entry = tracked.get(request);
      if (!entry) return;
      response.headers.set("x-request-id", entry.scope.requestId);
      const durationMs = performance.now() - entry.started;
      const operation = entry.scope.operation?.name;
      const errorTypes = [...entry.scope.errorTypes];
      if (entry.graphqlErrors > 0) errorTypes.push("GraphQLError");
      if (operation) {
        const label = operationLabel(operation === "anonymous" ? null : operation);
        metrics.requestDuration.observe({ operation: label }, durationMs / 1000);
        for (const type of entry.scope.errorTypes) metrics.errors.inc({ operation: label, type });
        if (entry.graphqlErrors > 0)
          metrics.errors.inc({ operation: label, type: "GraphQLError" }, entry.graphqlErrors);
      }
      const line = {
        requestId: entry.scope.requestId,
        event: "request",
        method: request.method,
        path: entry.path,
        status: response.status,
        durationMs: Math.round(durationMs * 10) / 10,
        operation: operation ?? null,
        outcome: response.status >= 400 || errorTypes.length > 0 ? "error" : "ok",
        errorTypes,
      };
      if (QUIET_PATHS.has(entry.path)) logger.debug(line, "request");
      else logger.info(line, "request");
    },
  };
}
