/**
 * Serves the web page (web/, bundled by `npm run build:web` into web/dist/) next to the GraphQL endpoint: GET `/`
 * answers index.html and GET `/assets/<file>` the bundle and stylesheet; every other request goes on to Yoga. Asset
 * names carry a content hash, so they are cached for a year while index.html is revalidated on every visit. Only
 * plain file names inside web/dist/assets/ are served (no slashes, no leading dot), so a path cannot leave it. When
 * the page has not been built, `/` answers 503 saying how to build it.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "graphql-yoga";

// From server/ (sources) or dist/server/ (the build), the page's bundle is web/dist/ of the checkout.
const DIST = fileURLToPath(
  new URL(import.meta.url.includes("/dist/server/") ? "../../web/dist/" : "../web/dist/", import.meta.url),
);

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * The page loads only its own script and stylesheet and talks only to this server; images are the API's data: URLs
 * and the user's own files (blob: URLs).
 */
const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** A file name under assets/: letters, digits, `-`, `_` and dots, not starting with a dot, with a known type. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * The page plugin. `dist` (default web/dist/ of this checkout) is where index.html and assets/ are read from,
 * on every request: a rebuild shows without a restart.
 */
export function useWebPage(dist: string = DIST): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== "GET" && request.method !== "HEAD") return;
      const head = request.method === "HEAD";
      if (url.pathname === "/") {
        const html = await readOrNull(join(dist, "index.html"));
        if (!html) {
          endResponse(
            new fetchAPI.Response("The web page is not built: run `npm run build`, then reload.\n", {
              status: 503,
              headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
            }),
          );
          return;
        }
        endResponse(
          new fetchAPI.Response(head ? null : new Uint8Array(html), {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "cache-control": "no-cache",
              "content-security-policy": PAGE_CSP,
              "x-content-type-options": "nosniff",
            },
          }),
        );
        return;
      }
      if (!url.pathname.startsWith("/assets/")) return;
      const name = url.pathname.slice("/assets/".length);
      const type = CONTENT_TYPES[name.slice(name.lastIndexOf("."))];
      const body = ASSET_NAME.test(name) && type ? await readOrNull(join(dist, "assets", name)) : null;
      if (!body || !type) {
        endResponse(
          new fetchAPI.Response("Not found\n", {
            status: 404,
            headers: { "content-type": "text/plain; charset=utf-8" },
          }),
        );
        return;
      }
      endResponse(
        new fetchAPI.Response(head ? null : new Uint8Array(body), {
          headers: {
            "content-type": type,
            "cache-control": "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
          },
        }),
      );
    },
  };
}
