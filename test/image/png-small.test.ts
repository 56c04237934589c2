/**
 * The small PNG writer used for live previews: its files decode (with sharp, an independent decoder) to exactly the
 * pixels written, for odd sizes too.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { encodeSmallRgbPng } from "../../server/image/png-small.ts";

describe("encodeSmallRgbPng", () => {
  for (const [width, height] of [
    [16, 16],
    [5, 3],
    [40, 24],
  ] as const) {
    it(`round-trips ${width}×${height} RGB pixels`, async () => {
      const pixels = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i >> 3)) % 256);
      const png = encodeSmallRgbPng(pixels, width, height);
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);
      expect(Buffer.compare(data, Buffer.from(pixels))).toBe(0);
    });
  }
});
