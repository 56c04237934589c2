/**
 * Builds the GraphQL server (graphql-yoga over the Pothos schema) without listening, so tests call
 * `yoga.fetch()` directly and main.ts attaches it to an HTTP server.
 */
import { createYoga, type GraphiQLOptions, type YogaServerInstance } from "graphql-yoga";
import type { Context, Services } from "./context.ts";
import { useHealthRoutes } from "./observability/health.ts";
import { useRequestLog } from "./observability/request-log.ts";
import { schema } from "./schema/schema.ts";
import { createSecurity } from "./security/security.ts";
import { multipartBudget, useUploadLimit } from "./upload-limit.ts";
import { useWebPage } from "./web-page.ts";

export type AutopipeYoga = YogaServerInstance<Record<string, unknown>, Context>;

/** A Yoga instance serving `/graphql` (GraphiQL on GET from a browser) for the given services. */
export function createAutopipeYoga(services: Services, options: { graphiql?: boolean } = {}): AutopipeYoga {
  // Keys, scopes, CORS/CSRF, document limits, rate limits (server/security/; README "Deploying").
  const security = createSecurity(services.config);
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: (options.graphiql ?? true) && security.introspection,
    // GraphiQL's scripts, styles and workers come inline from an npm package: the page loads with no CDN.
    renderGraphiQL: renderOnce(),
    cors: security.cors,
    landingPage: false,
    // Unexpected errors are masked ("Unexpected error."); expected ones are typed union members.
    maskedErrors: true,
    // Multipart uploads: at most an image and a mask of AUTOPIPE_MAX_UPLOAD_BYTES each, refused while reading.
    plugins: [
      // Observability first: every response (probes included) gets its request id and log line.
      useRequestLog(services.logger, services.metrics),
      useHealthRoutes({ ...services, keys: security.keys }),
      ...security.plugins,
      useUploadLimit(services.config.maxUploadBytes),
      useWebPage(),
    ],
    // Every other body (JSON with base64 images): the same two images, base64-inflated by 4/3.
    maxRequestBodySize: Math.max(
      multipartBudget(services.config.maxUploadBytes),
      Math.ceil((2 * services.config.maxUploadBytes * 4) / 3) + 1024 * 1024,
    ),
    // A generation stops when its client goes away or when a drain's grace period runs out.
    context: (initial) => ({
      services,
      signal: services.lifecycle.signalFor(initial.request.signal),
      ...security.context(initial),
    }),
  });
}

/**
 * Renders the GraphiQL page once per server: its options never change. The package (9 MB of inline scripts,
 * styles and workers) is imported on the first page view, not at start-up.
 */
function renderOnce(): (options: GraphiQLOptions) => Promise<string> {
  let page: Promise<string> | undefined;
  return (options) => {
    page ??= import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => renderGraphiQL(options));
    return page;
  };
}
