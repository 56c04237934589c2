/**
 * decodeImage / decodeMask on images made here with sharp: formats, EXIF orientation, alpha dropped without
 * compositing, gray and palette and 16-bit inputs, and the refusals — empty, garbage, truncated, vector and
 * decompression-bomb data — each an InvalidInputError naming the field.
 */
import { readFileSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../server/errors.ts";
import { decodeImage, decodeMask } from "../../server/image/decode.ts";

const LIMITS = { field: "input.imageToImage.image", maxPixels: 1024 * 1024 };

/** A w×h image whose pixel (x, y) is (x·7, y·11, x+y) mod 256, as raw RGB. */
function pattern(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = (x * 7) % 256;
      rgb[i + 1] = (y * 11) % 256;
      rgb[i + 2] = (x + y) % 256;
    }
  }
  return rgb;
}

function raw(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4) {
  return sharp(pixels, { raw: { width, height, channels } });
}

async function refusal(promise: Promise<unknown>): Promise<InvalidInputError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

/** A valid 1-bit grayscale PNG of width×height black pixels: tiny on disk, huge once decoded. */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth 1, colour type 0 (gray), no interlace
  const scanlines = Buffer.alloc((1 + Math.ceil(width / 8)) * height);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(scanlines, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("decodeImage matches PIL (diffusers' load_image: exif_transpose, convert('RGB'))", () => {
  const PIL = new URL("./fixtures/pil/", import.meta.url);
  const manifest = JSON.parse(readFileSync(new URL("manifest.json", PIL), "utf8")) as {
    decoded: { file: string; mode: string; width: number; height: number; rgb: string }[];
  };
  for (const entry of manifest.decoded) {
    it(`${entry.file} (PIL mode ${entry.mode})`, async () => {
      const image = await decodeImage(readFileSync(new URL(entry.file, PIL)), LIMITS);
      expect([image.width, image.height]).toEqual([entry.width, entry.height]);
      expect(Buffer.from(image.rgb).equals(readFileSync(new URL(entry.rgb, PIL)))).toBe(true);
    });
  }
});

describe("decodeImage", () => {
  const W = 37;
  const H = 23;
  const rgb = pattern(W, H);

  it("decodes PNG and lossless WebP to the exact RGB bytes", async () => {
    for (const bytes of [
      await raw(rgb, W, H, 3).png().toBuffer(),
      await raw(rgb, W, H, 3).webp({ lossless: true }).toBuffer(),
    ]) {
      const image = await decodeImage(bytes, LIMITS);
      expect(image.width).toBe(W);
      expect(image.height).toBe(H);
      expect(Buffer.from(image.rgb).equals(Buffer.from(rgb))).toBe(true);
    }
  });

  it("decodes JPEG (lossy: close to the source)", async () => {
    const flat = new Uint8Array(W * H * 3).fill(120);
    const image = await decodeImage(await raw(flat, W, H, 3).jpeg({ quality: 95 }).toBuffer(), LIMITS);
    expect([image.width, image.height, image.rgb.length]).toEqual([W, H, W * H * 3]);
    expect(Math.max(...image.rgb.map((v) => Math.abs(v - 120)))).toBeLessThanOrEqual(2);
  });

  it("applies the EXIF orientation (6: rotate 90° clockwise)", async () => {
    // Stored 40×20: left half red, right half blue. Displayed 20×40: red on top, blue below.
    const px = new Uint8Array(40 * 20 * 3);
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 40; x++) px.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
    }
    const jpeg = await raw(px, 40, 20, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const image = await decodeImage(jpeg, LIMITS);
    expect([image.width, image.height]).toEqual([20, 40]);
    const at = (x: number, y: number) =>
      Array.from(image.rgb.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    expect(at(10, 5)[0]).toBeGreaterThan(200);
    expect(at(10, 5)[2]).toBeLessThan(50);
    expect(at(10, 35)[0]).toBeLessThan(50);
    expect(at(10, 35)[2]).toBeGreaterThan(200);
  });

  it("drops alpha without compositing, keeping the colour under transparent pixels (PIL convert('RGB'))", async () => {
    const rgba = Uint8Array.from([10, 20, 30, 0, 200, 100, 50, 128, 1, 2, 3, 255]);
    const png = await raw(rgba, 3, 1, 4).png().toBuffer();
    const webp = await raw(rgba, 3, 1, 4).webp({ lossless: true, exact: true }).toBuffer();
    for (const bytes of [png, webp]) {
      const image = await decodeImage(bytes, LIMITS);
      expect(Array.from(image.rgb)).toEqual([10, 20, 30, 200, 100, 50, 1, 2, 3]);
    }
  });

  it("expands gray, gray+alpha and palette PNGs to RGB", async () => {
    const gray = Uint8Array.from([0, 77, 200, 255]);
    const fromGray = await decodeImage(await raw(gray, 4, 1, 1).png().toBuffer(), LIMITS);
    expect(Array.from(fromGray.rgb)).toEqual([0, 0, 0, 77, 77, 77, 200, 200, 200, 255, 255, 255]);
    const grayAlpha = Uint8Array.from([90, 0, 180, 255]);
    const fromGrayAlpha = await decodeImage(await raw(grayAlpha, 2, 1, 2).png().toBuffer(), LIMITS);
    expect(Array.from(fromGrayAlpha.rgb)).toEqual([90, 90, 90, 180, 180, 180]);
    const palette = await raw(rgb, W, H, 3).png({ palette: true, colours: 256, dither: 0 }).toBuffer();
    expect((await sharp(palette).metadata()).isPalette).toBe(true);
    const fromPalette = await decodeImage(palette, LIMITS);
    expect(fromPalette.rgb.length).toBe(W * H * 3);
  });

  it("reads 16-bit PNGs by their high byte, as PIL does for RGB", async () => {
    const u16 = Uint16Array.from([0x1234, 0xabcd, 0xff80, 0x00ff, 0x0180, 0x7fff]);
    const png16 = await sharp(u16, { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace("rgb16")
      .png()
      .toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe("ushort");
    expect(Array.from((await decodeImage(png16, LIMITS)).rgb)).toEqual([0x12, 0xab, 0xff, 0x00, 0x01, 0x7f]);
  });

  it("accepts exactly maxPixels and refuses one more, naming the size", async () => {
    const png = await raw(pattern(64, 64), 64, 64, 3).png().toBuffer();
    await expect(decodeImage(png, { ...LIMITS, maxPixels: 4096 })).resolves.toMatchObject({ width: 64 });
    const error = await refusal(decodeImage(png, { ...LIMITS, maxPixels: 4095 }));
    expect(error.field).toBe(LIMITS.field);
    expect(error.value).toBe("a 64×64 PNG (4096 pixels)");
    expect(error.allowed).toMatch(/4095 pixels/);
  });

  it("refuses a decompression bomb from its header", async () => {
    const bomb = pngBomb(20000, 20000);
    expect(bomb.length).toBeLessThan(100_000);
    const error = await refusal(decodeImage(bomb, LIMITS));
    expect(error.field).toBe(LIMITS.field);
    expect(error.value).toBe("a 20000×20000 PNG (400000000 pixels)");
  });

  it("refuses empty, garbage and truncated data as not an image", async () => {
    const png = await raw(pattern(64, 64), 64, 64, 3).png().toBuffer();
    const jpeg = await raw(pattern(64, 64), 64, 64, 3).jpeg().toBuffer();
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /0 bytes/],
      [new TextEncoder().encode("definitely not an image"), /unrecognised data/],
      [Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 251), /unrecognised data/],
      [png.subarray(0, png.length - 40), /truncated or corrupt PNG/],
      [png.subarray(0, 30), /truncated or corrupt PNG/],
      [jpeg.subarray(0, Math.floor(jpeg.length / 2)), /truncated or corrupt JPEG/],
    ];
    for (const [bytes, value] of cases) {
      const error = await refusal(decodeImage(bytes, LIMITS));
      expect(error.field).toBe(LIMITS.field);
      expect(error.value).toMatch(value);
      expect(error.allowed).toBe("a PNG, JPEG or WebP image");
    }
  });

  it("refuses SVG, PDF, gzip (svgz) and video containers before any decoder runs", async () => {
    const text = (s: string) => new TextEncoder().encode(s);
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect/></svg>';
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypisom"), Buffer.alloc(16)]);
    const cases: [Uint8Array, RegExp][] = [
      [text(svg), /SVG/],
      [text(`\uFEFF  <?xml version="1.0"?>\n${svg}`), /SVG/],
      [text("%PDF-1.7\n..."), /PDF/],
      [deflateSyncGzip(text(svg)), /gzip/],
      [text("<html><body>hi</body></html>"), /markup/],
      [mp4, /ISO media/],
    ];
    for (const [bytes, value] of cases) {
      const error = await refusal(decodeImage(bytes, LIMITS));
      expect(error.value).toMatch(value);
    }
  });
});

function deflateSyncGzip(bytes: Uint8Array): Uint8Array {
  // gzip framing is what matters here (svgz starts with 1f 8b).
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), deflateSync(bytes)]);
}

describe("decodeMask", () => {
  it("keeps gray values and converts colour with PIL's luma", async () => {
    const gray = Uint8Array.from([0, 1, 127, 128, 254, 255]);
    const mask = await decodeMask(await raw(gray, 6, 1, 1).png().toBuffer(), LIMITS);
    expect(Array.from(mask.luma)).toEqual(Array.from(gray));
    const colour = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]);
    const fromColour = await decodeMask(await raw(colour, 3, 1, 3).png().toBuffer(), LIMITS);
    expect(Array.from(fromColour.luma)).toEqual([76, 150, 29]);
  });

  it("ignores the alpha channel (PIL's RGBA → L does)", async () => {
    const rgba = Uint8Array.from([255, 255, 255, 0, 0, 0, 0, 255]);
    const mask = await decodeMask(await raw(rgba, 2, 1, 4).png().toBuffer(), LIMITS);
    expect(Array.from(mask.luma)).toEqual([255, 0]);
  });

  it("is refused like an image", async () => {
    const error = await refusal(decodeMask(new Uint8Array(0), { field: "maskImage", maxPixels: 100 }));
    expect(error.field).toBe("maskImage");
  });
});
