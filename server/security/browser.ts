/**
 * What browsers may do. CORS is closed unless an origin is listed in `AUTOPIPE_CORS_ORIGINS`: a listed origin gets
 * its own name back (never `*`) and no credentials (keys travel in the Authorization header, not cookies); any
 * other origin gets no CORS headers, so its page can neither read a response nor pass a preflight. Yoga's CSRF
 * prevention refuses "simple" requests (form posts, text/plain, multipart, GET) that carry none of the headers
 * only scripts can set; the bundled client sends `graphql-require-preflight` with multipart uploads, and JSON
 * bodies are preflighted by browsers anyway. Pages served by the server itself are same-origin and unaffected.
 */
import { createGraphQLError, type Plugin } from "graphql-yoga";

/** Headers a cross-origin page may send once its origin is allowed. */
export const CORS_ALLOWED_HEADERS = [
  "content-type",
  "authorization",
  "graphql-require-preflight",
  "x-graphql-yoga-csrf",
];

/** Any one of these on a simple request shows it was sent by a script that passed CORS. */
export const CSRF_HEADERS = ["graphql-require-preflight", "x-graphql-yoga-csrf"];

export interface CorsDecision {
  readonly origin: string[];
  readonly credentials: boolean;
  readonly methods: string[];
  readonly allowedHeaders: string[];
  readonly maxAge: number;
}

/** Yoga's `cors` option: per request, the allowed origin or `false` (no CORS headers). */
export function corsPolicy(allowedOrigins: readonly string[]): (request: Request) => CorsDecision | false {
  const allowed = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, "")));
  if (allowed.has("*")) throw new Error("AUTOPIPE_CORS_ORIGINS may not contain '*': list each origin");
  return (request) => {
    const origin = request.headers.get("origin");
    if (!origin || !allowed.has(origin)) return false;
    return {
      origin: [origin],
      credentials: false,
      methods: ["GET", "POST", "OPTIONS"],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      maxAge: 600,
    };
  };
}

/** Content types a browser sends without a preflight (the list of `@graphql-yoga/plugin-csrf-prevention` 3.24.1). */
const SIMPLE_CONTENT_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/**
 * The check of `@graphql-yoga/plugin-csrf-prevention` (a request a browser sends without a preflight must carry
 * one of `CSRF_HEADERS`), with a refusal that says which header to send: its own reads only "Required CSRF
 * header(s) not present", which leaves a `curl` user guessing.
 */
export function csrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      const contentType = request.headers.get("content-type")?.toLowerCase();
      const simple = !contentType || SIMPLE_CONTENT_TYPES.some((type) => contentType.startsWith(type));
      if (!simple || CSRF_HEADERS.some((name) => request.headers.has(name))) return;
      const what = contentType
        ? contentType.split(";")[0]
        : `a ${request.method} request without a content-type`;
      throw createGraphQLError(
        `Required CSRF header(s) not present: ${what} needs the header 'graphql-require-preflight: 1' ` +
          `(or '${CSRF_HEADERS[1]}'), e.g. curl -H 'graphql-require-preflight: 1'`,
        { extensions: { code: "CSRF_HEADER_REQUIRED", http: { status: 403 } } },
      );
    },
  };
}
