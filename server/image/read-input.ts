/**
 * The bytes of a GraphQL `ImageInput`: a multipart upload (graphql-yoga hands it over as a WHATWG `File`) or a
 * base64 string, plain or as a `data:image/…;base64,` URL. Size limits are enforced before the data is
 * materialised: an upload's declared size is checked first and its stream is counted while read (and
 * cancelled past the limit); a base64 string's decoded length is computed from its length before decoding.
 * URLs are never fetched — a server that fetched caller-supplied URLs could be pointed at internal hosts.
 */
import { InvalidInputError, showValue } from "../errors.ts";

/** The `ImageInput` value (`@oneOf`: exactly one member is set). */
export interface ImageInputValue {
  upload?: File | null;
  base64?: string | null;
}

export interface ReadImageInputOptions {
  /** Argument name used in errors (e.g. `input.imageToImage.image`). */
  field: string;
  /** Largest accepted image file, in bytes (the decoded size for base64). */
  maxBytes: number;
}

const ALLOWED =
  "exactly one of `upload` (a multipart file) or `base64` (optionally a data:image/…;base64, URL)";
const BASE64_ALLOWED = "base64 image data, plain or as a data:image/…;base64, URL (URLs are not fetched)";

/**
 * Reads an image input's bytes, refusing (with `InvalidInputError(field, …)`) inputs larger than `maxBytes`,
 * malformed base64, non-image or non-base64 data URLs, other URLs, and a value with neither or both members.
 */
export async function readImageInput(
  input: ImageInputValue,
  options: ReadImageInputOptions,
): Promise<Uint8Array> {
  const { field } = options;
  const hasUpload = input.upload !== undefined && input.upload !== null;
  const hasBase64 = input.base64 !== undefined && input.base64 !== null;
  if (hasUpload && hasBase64) throw new InvalidInputError(field, "both an upload and base64 data", ALLOWED);
  if (hasUpload) return readUpload(input.upload as unknown, options);
  if (hasBase64) return decodeBase64Input(input.base64 as unknown, options);
  throw new InvalidInputError(field, "no image", ALLOWED);
}

async function readUpload(upload: unknown, { field, maxBytes }: ReadImageInputOptions): Promise<Uint8Array> {
  if (typeof upload !== "object" || upload === null || typeof (upload as Blob).size !== "number") {
    // A client can put any JSON value where the multipart map should have placed a file.
    throw new InvalidInputError(field, `${showValue(upload)} where a file upload was expected`, ALLOWED);
  }
  const file = upload as Blob;
  const tooLarge = (what: string) => new InvalidInputError(field, what, `at most ${maxBytes} bytes`);
  if (file.size > maxBytes) throw tooLarge(`an upload of ${file.size} bytes`);
  if (typeof file.stream !== "function") {
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (bytes.length > maxBytes) throw tooLarge(`an upload of ${bytes.length} bytes`);
    return bytes;
  }
  // The declared size may not match the data; count what is actually read and stop early.
  const reader = file.stream().getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(`an upload of more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Longest `data:` header (`data:image/png;base64,`) we look for the comma in. */
const MAX_DATA_URL_HEADER = 200;

/**
 * Decodes a base64 image string: plain base64 (standard or URL-safe alphabet, padding optional, whitespace
 * ignored) or a `data:image/<type>[;params];base64,<data>` URL. Exported for callers that have only a string.
 */
export function decodeBase64Input(value: unknown, { field, maxBytes }: ReadImageInputOptions): Uint8Array {
  if (typeof value !== "string") throw new InvalidInputError(field, showValue(value), BASE64_ALLOWED);
  let payload = value.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(payload.slice(0, 40))?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    throw new InvalidInputError(
      field,
      `the URL ${showValue(payload)} (URLs are not fetched)`,
      BASE64_ALLOWED,
    );
  }
  if (scheme !== undefined && scheme !== "data") {
    throw new InvalidInputError(field, `a ${scheme}: URL ${showValue(payload)}`, BASE64_ALLOWED);
  }
  if (scheme === "data") {
    const comma = payload.indexOf(",");
    if (comma < 0 || comma > MAX_DATA_URL_HEADER) {
      throw new InvalidInputError(field, `a malformed data URL ${showValue(payload, 60)}`, BASE64_ALLOWED);
    }
    const params = payload
      .slice("data:".length, comma)
      .split(";")
      .map((p) => p.trim().toLowerCase());
    const mediaType = params[0] ?? "";
    if (!/^image\/[a-z0-9.+-]+$/.test(mediaType)) {
      throw new InvalidInputError(
        field,
        `a data URL of type ${showValue(mediaType || "(none)")}`,
        BASE64_ALLOWED,
      );
    }
    if (!params.slice(1).includes("base64")) {
      throw new InvalidInputError(field, "a data URL that is not base64-encoded", BASE64_ALLOWED);
    }
    payload = payload.slice(comma + 1);
  }

  // Line breaks (MIME-style wrapping) and spaces carry no data.
  if (/\s/.test(payload)) payload = payload.replace(/\s+/g, "");
  const unpadded = payload.replace(/={1,2}$/, "");
  // Decoded size from the length alone: 3 bytes per 4 characters, before any decoding work.
  const decodedLength = Math.floor((unpadded.length * 3) / 4);
  if (decodedLength > maxBytes) {
    throw new InvalidInputError(field, `base64 data of ${decodedLength} bytes`, `at most ${maxBytes} bytes`);
  }
  if (unpadded.length === 0) throw new InvalidInputError(field, "an empty base64 string", BASE64_ALLOWED);
  const bad = /[^A-Za-z0-9+/_-]/.exec(unpadded);
  if (bad) {
    throw new InvalidInputError(
      field,
      `base64 with the invalid character ${JSON.stringify(bad[0])} at position ${bad.index}`,
      BASE64_ALLOWED,
    );
  }
  if (/[+/]/.test(unpadded) && /[-_]/.test(unpadded)) {
    throw new InvalidInputError(field, "base64 mixing the standard and URL-safe alphabets", BASE64_ALLOWED);
  }
  const padded = payload.length !== unpadded.length;
  if (unpadded.length % 4 === 1 || (padded && payload.length % 4 !== 0)) {
    throw new InvalidInputError(field, `base64 of invalid length ${payload.length}`, BASE64_ALLOWED);
  }
  // Node's decoder accepts both alphabets; a Buffer is a Uint8Array.
  return Buffer.from(unpadded, "base64");
}
