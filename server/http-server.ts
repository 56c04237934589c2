/**
 * The HTTP server around Yoga. One thing happens before Yoga sees a request: a JSON POST larger than the
 * document limit whose body begins with its query (`{"query":"…`, as clients send it) is scanned as it arrives
 * (security/query-scan.ts), and a document over the limit is answered 413 at once, with no buffering, no JSON
 * parse and none of Yoga's work. A little left of the body is read and dropped (the connection stays usable);
 * more is not read: the answer says `connection: close` and the connection is closed in stages (RFC 9112 §9.6),
 * so that the client, still sending, reads the 413 rather than a reset. Everything else goes to Yoga as
 * it came (the scanned bytes put back), where the same limit is checked after parsing (security/graphql-limits.ts).
 */
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { documentTooLarge, GRAPHQL_LIMITS } from "./security/graphql-limits.ts";
import { QueryScan, type ScanVerdict } from "./security/query-scan.ts";

/** After a refusal, up to this much of the body is read and dropped; more ends the connection instead. */
const MAX_DRAIN_BYTES = 1024 * 1024;
/** How long a connection refused mid-body lingers, half-closed, so that the client reads the answer. */
const LINGER_MS = 2000;

/**
 * How long an idle kept-alive connection stays open. Node's default (5 s) races clients that reuse a connection
 * just as the server closes it: the request is written to a closing socket and the client sees a dropped
 * connection, not a response (most often on a loaded machine, where the client's own idle timer runs late). Past
 * the usual client and load-balancer idle timeouts (undici 4 s, browsers ≤ 60 s), the client always closes first;
 * the `Keep-Alive: timeout=65` header tells it so.
 */
export const KEEP_ALIVE_MS = 65_000;

/** An HTTP server for `handler` (the Yoga instance) with the early document-size refusal in front. */
export function createHttpServer(handler: RequestListener): Server {
  const server = createServer(refuseOversizedDocuments(handler, GRAPHQL_LIMITS.maxDocumentBytes));
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  // Must exceed keepAliveTimeout, or a connection idle between requests is cut while the next one's headers arrive.
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  return server;
}

/** Wraps `handler` so that oversized query-first JSON documents are refused before it runs (see above). */
export function refuseOversizedDocuments(handler: RequestListener, maxBytes: number): RequestListener {
  return (req, res) => {
    if (!scannable(req, maxBytes)) return handler(req, res);
    const scan = new QueryScan(maxBytes);
    const seen: Buffer[] = [];
    const decide = (verdict: Exclude<ScanVerdict, "undecided">) => {
      req.off("readable", onReadable);
      req.off("end", onEnd);
      if (verdict === "too-large") {
        const { message, code } = documentTooLarge(maxBytes);
        const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
        const read = seen.reduce((n, chunk) => n + chunk.byteLength, 0);
        const headers = {
          "content-type": "application/json; charset=utf-8",
          "content-length": String(Buffer.byteLength(body)),
        };
        if (Number(req.headers["content-length"]) - read <= MAX_DRAIN_BYTES) {
          // Little left: read and drop it, so that the connection stays usable.
          res.writeHead(413, headers).end(body);
          req.resume();
        } else {
          // Much left: answer, then close without reading it all (RFC 9110 allows either). Reading a 10 MB body
          // only to drop it costs the main thread ~2 ms, and a client that sends documents back to back would
          // make that most of its time.
          res.writeHead(413, { ...headers, connection: "close" }).end(body);
          lingerOnClose(req);
        }
        return;
      }
      for (let i = seen.length - 1; i >= 0; i--) req.unshift(seen[i] as Buffer);
      handler(req, res);
    };
    const onReadable = () => {
      for (let chunk: Buffer | null = req.read(); chunk !== null; chunk = req.read()) {
        seen.push(chunk);
        const verdict = scan.feed(chunk);
        if (verdict !== "undecided") return decide(verdict);
      }
    };
    // A body that ends undecided left its query string open: invalid JSON, as Yoga would say.
    const onEnd = () => {
      req.off("readable", onReadable);
      res
        .writeHead(400, { "content-type": "application/json; charset=utf-8" })
        .end(JSON.stringify({ errors: [{ message: "POST body sent invalid JSON." }] }));
    };
    req.on("readable", onReadable);
    req.on("end", onEnd);
  };
}

/**
 * Closes a refused connection in stages instead of at once (RFC 9112 §9.6). Node ends a `connection: close`
 * response with `socket.destroySoon()`: close(2) as soon as the answer is flushed, while the client's body is
 * still arriving, and the kernel answers unread data with a reset, which erases the answer from the client's
 * receive buffer before it was read (Node's fetch then fails with EPIPE: 22 in 50 tries of a 10 MB document).
 * Here the server half-closes instead (FIN after the answer) and reads no more (the request is no longer read, so
 * the client's sends stall on a full window; nothing is reset), and closes fully when the client does or after
 * LINGER_MS. Node's fetch, which reads the answer as it sends, then closes at once; a browser that hands the
 * answer over only once its upload ends gets it at the close.
 */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket;
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once("close", () => clearTimeout(timer));
  };
}

/** A JSON POST whose declared length exceeds the limit (smaller bodies cannot carry a larger document). */
function scannable(req: IncomingMessage, maxBytes: number): boolean {
  if (req.method !== "POST") return false;
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (!type.startsWith("application/json") && !type.startsWith("application/graphql+json")) return false;
  const declared = req.headers["content-length"];
  return declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes;
}
