/**
 * Builds the GraphQL server (graphql-yoga over the Pothos schema) without listening, so tests call
 * `yoga.fetch()` directly and main.ts attaches it to an HTTP server.
 */
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import type { Context, Services } from "./context.ts";
import { schema } from "./schema/schema.ts";
import { createSecurity } from "./security/security.ts";
import { multipartBudget, useUploadLimit } from "./upload-limit.ts";

export type AutopipeYoga = YogaServerInstance<Record<string, unknown>, Context>;

/** A Yoga instance serving `/graphql` (GraphiQL on GET from a browser) for the given services. */
export function createAutopipeYoga(services: Services, options: { graphiql?: boolean } = {}): AutopipeYoga {
  // Keys, scopes, CORS/CSRF, document limits, rate limits (server/security/; README "Deploying").
  const security = createSecurity(services.config);
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: (options.graphiql ?? true) && security.introspection,
    cors: security.cors,
    landingPage: false,
    // Unexpected errors are masked ("Unexpected error."); expected ones are typed union members.
    maskedErrors: true,
    // Multipart uploads: at most an image and a mask of AUTOPIPE_MAX_UPLOAD_BYTES each, refused while reading.
    plugins: [...security.plugins, useUploadLimit(services.config.maxUploadBytes)],
    // Every other body (JSON with base64 images): the same two images, base64-inflated by 4/3.
    maxRequestBodySize: Math.max(
      multipartBudget(services.config.maxUploadBytes),
      Math.ceil((2 * services.config.maxUploadBytes * 4) / 3) + 1024 * 1024,
    ),
    context: (initial) => ({ services, signal: initial.request.signal, ...security.context(initial) }),
  });
}
