/**
 * A total byte budget for multipart (file upload) requests, enforced before the body is buffered: a
 * `Content-Length` over the budget is answered 413 at once, and a body without one (chunked) is counted while
 * the multipart parser reads it and cut off past the budget, so an endless upload costs at most the budget.
 * Multipart parsing buffers every file in memory, hence a budget of a few images rather than Yoga's general
 * `maxRequestBodySize` (which applies to every body, JSON with base64 images included, and must be at least
 * this budget or it answers first, with its own `REQUEST_ENTITY_TOO_LARGE` code). The refusal is a GraphQL
 * error with HTTP status 413: `{ errors: [{ message, extensions: { code: "PAYLOAD_TOO_LARGE" } }] }`.
 */
import { createGraphQLError, type Plugin } from "graphql-yoga";

const MIB = 1024 * 1024;

export interface UploadLimitOptions {
  /** Files one request may carry (an image and a mask). Default 2. */
  files?: number;
  /** Room for the `operations` and `map` fields and the multipart framing. Default 1 MiB. */
  overheadBytes?: number;
}

/** The multipart body budget for a per-file limit: `files × maxUploadBytes + overheadBytes`. */
export function multipartBudget(maxUploadBytes: number, options: UploadLimitOptions = {}): number {
  return (options.files ?? 2) * maxUploadBytes + (options.overheadBytes ?? MIB);
}

function isMultipart(request: Request): boolean {
  return (
    request.method === "POST" &&
    (request.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data")
  );
}

function payloadTooLarge(budget: number) {
  return createGraphQLError(`Request body too large: multipart requests may carry at most ${budget} bytes`, {
    extensions: { http: { status: 413 }, code: "PAYLOAD_TOO_LARGE" },
  });
}

/**
 * Refuses multipart requests whose body exceeds `multipartBudget(maxUploadBytes, options)` bytes (default
 * 2 × maxUploadBytes + 1 MiB), from `Content-Length` before reading, or while streaming when it is absent.
 * Other requests pass untouched.
 */
export function useUploadLimit(maxUploadBytes: number, options: UploadLimitOptions = {}): Plugin {
  const budget = multipartBudget(maxUploadBytes, options);
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!isMultipart(request)) return;
      const declared = request.headers.get("content-length");
      // A malformed Content-Length is left to Yoga's own check (400); only a valid, too large one is ours.
      if (declared !== null && /^\d+$/.test(declared) && Number(declared) > budget)
        throw payloadTooLarge(budget);
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser(async (req) => {
        const body = req.body;
        if (!body) return parse(req);
        let exceeded = false;
        let read = 0;
        // A native body needs the native TransformStream and a ponyfilled one the ponyfill's (they do not mix),
        // as in Yoga's own body limit. Erroring the transform makes the multipart parser reject; a counting
        // ReadableStream wrapper instead leaves the ponyfill's parser waiting forever.
        const Transform =
          body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
        const counted = body.pipeThrough(
          new Transform<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              read += chunk.byteLength;
              if (read > budget) {
                exceeded = true;
                controller.error(payloadTooLarge(budget));
                return;
              }
              controller.enqueue(chunk);
            },
          }),
        );
        const limited = new fetchAPI.Request(req.url, {
          method: req.method,
          headers: req.headers,
          body: counted,
          signal: req.signal,
          // Required by the fetch spec for a stream body.
          duplex: "half",
        } as RequestInit);
        try {
          return await parse(limited);
        } catch (error) {
          // The multipart parser rewraps stream errors as "invalid multipart data" (400); restore the 413.
          if (exceeded) throw payloadTooLarge(budget);
          throw error;
        }
      });
    },
  };
}
