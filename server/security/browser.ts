/**
 * What browsers may do. CORS is closed unless an origin is listed in `AUTOPIPE_CORS_ORIGINS`: a listed origin gets
 * its own name back (never `*`) and no credentials (keys travel in the Authorization header, not cookies); any
 * other origin gets no CORS headers, so its page can neither read a response nor pass a preflight. Yoga's CSRF
 * prevention refuses "simple" requests (form posts, text/plain, multipart, GET) that carry none of the headers
 * only scripts can set; the bundled client sends `graphql-require-preflight` with multipart uploads, and JSON
 * bodies are preflighted by browsers anyway. Pages served by the server itself are same-origin and unaffected.
 */
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import type { Plugin } from "graphql-yoga";

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

export function csrfPrevention(): Plugin {
  return useCSRFPrevention({ requestHeaders: CSRF_HEADERS }) as Plugin;
}
