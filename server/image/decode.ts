/**
 * Untrusted image bytes → 8-bit RGB (or PIL "L" grayscale) pixels, the way diffusers' `load_image` sees them:
 * `ImageOps.exif_transpose` then `convert("RGB")`. Only raster formats are decoded (PNG, JPEG, WebP, and the
 * GIF, TIFF and AVIF that sharp also reads); the format is sniffed from the magic bytes before sharp sees
 * anything, so SVG (which librsvg would parse and render, possibly huge) and PDF never reach a decoder. The
 * pixel count is checked from the header before any pixel is decoded, so a decompression bomb costs a header
 * parse. Alpha is dropped without compositing (PIL's RGBA → RGB keeps the stored colour under transparent
 * pixels), embedded ICC profiles are ignored (PIL applies none), and 16-bit samples keep their high byte (as
 * PIL's PNG reader does for RGB). Known differences from PIL: CMYK JPEGs go through a CMYK profile rather than
 * PIL's naive inversion, and 16-bit grayscale PNGs keep the high byte where PIL's "I;16" → "RGB" clips.
 * Otherwise the pixels equal Pillow 9.4's: baseline, progressive and 4:2:0 JPEG, lossy WebP with alpha, RGBA
 * and palette PNG with transparency, GIF, and EXIF orientations are checked byte for byte in the tests.
 */
import sharp, { type Metadata, type OutputInfo } from "sharp";
import { InvalidInputError } from "../errors.ts";
import { type LumaImage, type RgbImage, rgbToLuma } from "./pil.ts";

export type { LumaImage, RgbImage } from "./pil.ts";

/** What every "not an image" refusal names as allowed. */
export const IMAGE_FORMATS_ALLOWED = "a PNG, JPEG or WebP image";

/** Formats (sharp's names) that are decoded; anything else sharp might read is refused. */
const RASTER_FORMATS: ReadonlySet<string> = new Set(["png", "jpeg", "webp", "gif", "tiff", "heif"]);

const FORMAT_NAMES: Readonly<Record<string, string>> = {
  png: "PNG",
  jpeg: "JPEG",
  webp: "WebP",
  gif: "GIF",
  tiff: "TIFF",
  heif: "AVIF/HEIF",
};

export interface DecodeOptions {
  /** Argument name used in errors (e.g. `input.imageToImage.image`). */
  field: string;
  /** Largest width × height accepted, checked from the header before decoding. */
  maxPixels: number;
}

/**
 * Decodes PNG, JPEG, WebP (also GIF: first frame, TIFF: first page, AVIF) to RGB with the EXIF orientation
 * applied and alpha dropped. Throws `InvalidInputError(field, …)` for empty, unrecognised, vector, truncated or
 * corrupt data and for images of more than `maxPixels` pixels.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<RgbImage> {
  const { field, maxPixels } = options;
  const kind = sniff(bytes);
  if (kind.refuse !== undefined) throw new InvalidInputError(field, kind.refuse, IMAGE_FORMATS_ALLOWED);
  const name = FORMAT_NAMES[kind.format] ?? kind.format;
  const corrupt = () =>
    new InvalidInputError(
      field,
      `a truncated or corrupt ${name} (${bytes.length} bytes)`,
      IMAGE_FORMATS_ALLOWED,
    );

  // Header only: no pixel is decoded here, so the size check below costs nothing for a decompression bomb.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, failOn: "error" }).metadata();
  } catch {
    throw corrupt();
  }
  if (!RASTER_FORMATS.has(meta.format ?? "")) {
    throw new InvalidInputError(
      field,
      `a ${meta.format ?? "unknown"} file (${bytes.length} bytes)`,
      IMAGE_FORMATS_ALLOWED,
    );
  }
  const width = meta.width ?? 0;
  // Multi-frame GIF/WebP and multi-page TIFF report one frame's height as pageHeight; only that frame is read.
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw corrupt();
  if (width * height > maxPixels) {
    throw new InvalidInputError(
      field,
      `a ${width}×${height} ${name} (${width * height} pixels)`,
      `at most ${maxPixels} pixels (width × height)`,
    );
  }

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, {
      // Second guard: sharp re-checks the header dimensions before decoding.
      limitInputPixels: Math.max(1, Math.floor(maxPixels)),
      // Truncated or broken data is an error; decoder warnings (stray bytes after a JPEG marker) are not, as in PIL.
      failOn: "error",
      // diffusers' load_image applies the EXIF orientation (ImageOps.exif_transpose).
      autoOrient: true,
      // PIL does no colour management; converting through an embedded profile would change the pixels.
      ignoreIcc: true,
    })
      // PIL's convert("RGB") drops alpha without compositing; sharp's flatten() would composite.
      .removeAlpha()
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch {
    throw corrupt();
  }
  const { info, data } = decoded;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new Error(`decoder returned ${info.channels} channels for a ${name}`);
  }
  return {
    width: info.width,
    height: info.height,
    rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

/**
 * Decodes an inpainting mask to PIL "L" grayscale: `decodeImage` then PIL's RGB → L luma (see `rgbToLuma`).
 * White (255) means repaint. For diffusers' exact order when the mask must be resized (resize the RGB image,
 * then convert to L), give `decodeImage`'s RGB result to `preprocessMask` instead; for gray masks the two agree.
 */
export async function decodeMask(bytes: Uint8Array, options: DecodeOptions): Promise<LumaImage> {
  return rgbToLuma(await decodeImage(bytes, options));
}

const HEIF_BRANDS: ReadonlySet<string> = new Set([
  "avif",
  "avis",
  "heic",
  "heix",
  "heim",
  "heis",
  "hevc",
  "hevx",
  "mif1",
  "msf1",
]);

type Sniffed = { format: string; refuse?: undefined } | { format?: undefined; refuse: string };

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Classifies the data by its magic bytes. Only raster signatures pass; everything else is described briefly
 * for the error (never echoed: it may be large or binary).
 */
function sniff(bytes: Uint8Array): Sniffed {
  const n = bytes.length;
  if (n === 0) return { refuse: "empty data (0 bytes)" };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { format: "png" };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { format: "jpeg" };
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return { format: "webp" };
  if (startsWith(bytes, ascii("GIF87a")) || startsWith(bytes, ascii("GIF89a"))) return { format: "gif" };
  if (
    startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])
  ) {
    return { format: "tiff" };
  }
  if (startsWith(bytes, ascii("ftyp"), 4)) {
    // ISO media: an image only with a HEIF-family major brand (MP4 video shares the container).
    const brand = String.fromCharCode(...bytes.subarray(8, 12));
    return HEIF_BRANDS.has(brand)
      ? { format: "heif" }
      : { refuse: `an ISO media file of brand ${JSON.stringify(brand)} (${n} bytes), not an image` };
  }
  // Not an accepted raster format: say what it looks like.
  if (startsWith(bytes, ascii("%PDF")))
    return { refuse: `a PDF document (${n} bytes; vector formats are not accepted)` };
  if (startsWith(bytes, [0x1f, 0x8b])) return { refuse: `gzip-compressed data (${n} bytes)` };
  const head = new TextDecoder("utf-8", { fatal: false })
    .decode(bytes.subarray(0, 1024))
    .replace(/^\uFEFF/, "")
    .trimStart()
    .toLowerCase();
  if (head.startsWith("<")) {
    return /<svg[\s>]/.test(head) || head.startsWith("<?xml")
      ? { refuse: `an SVG or XML document (${n} bytes; vector formats are not accepted)` }
      : { refuse: `markup text, not an image (${n} bytes)` };
  }
  if (/^data:|^https?:\/\//.test(head))
    return { refuse: `a URL or data URL given as file content (${n} bytes)` };
  return { refuse: `${n} bytes of unrecognised data (not an image)` };
}
