/**
 * Whether a JSON body's document is over the limit, decided from its first bytes as they stream in: a body that
 * begins with the `query` member (`{"query":"…`, as clients send it) is followed through that string until it
 * closes or its decoded length must exceed the limit (server/http-server.ts refuses the latter before reading the
 * rest). Bodies that begin with another member are "not-query-first": they are parsed whole, and checked after.
 */

/** `{"query":"` at the start of a body, with the whitespace JSON allows. */
const QUERY_FIRST = /^[ \t\n\r]*\{[ \t\n\r]*"query"[ \t\n\r]*:[ \t\n\r]*"/;
/** Bytes of the body's start within which `{"query":"` must appear. */
const PREFIX_BYTES = 64;

export type ScanVerdict = "undecided" | "within" | "too-large" | "not-query-first";

/**
 * Follows a JSON body's first bytes: whether it starts with the `query` member and, if so, whether that string
 * ends before `maxDocumentBytes` decoded bytes are certain to be exceeded.
 */
export class QueryScan {
  private prefix = "";
  /** Decoded bytes of the query string seen so far, at least (undefined until the prefix matched). */
  private decoded: number | undefined;
  /** Inside an escape: the backslash was the last byte. */
  private escaped = false;
  /** Hex digits of a `\uXXXX` escape still to pass over. */
  private hexLeft = 0;

  constructor(private readonly maxDocumentBytes: number) {}

  /** Feeds the next chunk; a verdict other than "undecided" is final. */
  feed(chunk: Uint8Array): ScanVerdict {
    let i = 0;
    if (this.decoded === undefined) {
      const before = this.prefix.length;
      const take = Math.min(PREFIX_BYTES - before, chunk.byteLength);
      this.prefix += Buffer.from(chunk.buffer, chunk.byteOffset, take).toString("latin1");
      const match = QUERY_FIRST.exec(this.prefix);
      if (!match) return this.prefix.length >= PREFIX_BYTES ? "not-query-first" : "undecided";
      // The string begins right after the opening quote; the match is new with this chunk, so it ends in it.
      i = match[0].length - before;
      this.decoded = 0;
    }
    // Every raw byte outside an escape is one byte of the decoded UTF-8 text, and every escape at least one
    // (`\n` one, `\u00e9` two): a lower bound that reaches the limit only if the document does.
    let decoded = this.decoded;
    while (i < chunk.byteLength) {
      if (this.hexLeft > 0) {
        const n = Math.min(this.hexLeft, chunk.byteLength - i);
        this.hexLeft -= n;
        i += n;
        continue;
      }
      if (this.escaped) {
        this.escaped = false;
        if (chunk[i] === 0x75) this.hexLeft = 4;
        decoded += 1;
        i += 1;
        continue;
      }
      const quote = chunk.indexOf(0x22, i);
      const backslash = chunk.indexOf(0x5c, i);
      const stop = quote < 0 ? backslash : backslash < 0 ? quote : Math.min(quote, backslash);
      if (stop < 0) {
        decoded += chunk.byteLength - i;
        break;
      }
      decoded += stop - i;
      if (stop === quote) {
        this.decoded = decoded;
        return decoded > this.maxDocumentBytes ? "too-large" : "within";
      }
      this.escaped = true;
      i = stop + 1;
      if (decoded > this.maxDocumentBytes) break;
    }
    this.decoded = decoded;
    return decoded > this.maxDocumentBytes ? "too-large" : "undecided";
  }
}
