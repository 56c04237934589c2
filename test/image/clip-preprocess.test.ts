/**
 * CLIPImageProcessor preprocessing against transformers' own output: the four 64×64 safety test images and the
 * image the `safety_t2i_pndm` case showed the checker, through the tiny-sd-safety feature extractor config
 * (shortest edge 32 with BICUBIC, crop 32×32, rescale, normalize). The recorded `clip_input` must match within 1e-5.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  centerCrop,
  clipPreprocess,
  parseClipProcessorConfig,
  shortestEdgeSize,
} from "../../server/image/clip-preprocess.ts";
import { decodeImage } from "../../server/image/decode.ts";
import { toUint8Images } from "../../server/image/encode.ts";
import { floatTensor } from "../../server/runtime/tensor.ts";
import { maxAbsDiff, REFERENCE_NEXT, ReferenceCase, readFloat32 } from "../helpers/reference.ts";

const SAFETY = `${REFERENCE_NEXT}reference/safety/`;
const manifest = JSON.parse(readFileSync(`${SAFETY}manifest.json`, "utf8")) as {
  test_images: { name: string; file: string }[];
};
const config = parseClipProcessorConfig(
  JSON.parse(
    readFileSync(`${REFERENCE_NEXT}models/tiny-sd-safety/feature_extractor/preprocessor_config.json`, "utf8"),
  ),
);

describe("CLIPImageProcessor", () => {
  it("reads the feature extractor config (bicubic, shortest edge 32, crop 32)", () => {
    expect(config.resample.name).toBe("BICUBIC");
    expect(config.size).toEqual({ shortestEdge: 32 });
    expect(config.cropSize).toEqual({ height: 32, width: 32 });
  });

  it("matches transformers' clip_input for the four test images within 1e-5", async () => {
    const expected = readFloat32(`${SAFETY}clip_input.bin`);
    const item = 3 * 32 * 32;
    expect(expected.length).toBe(4 * item);
    for (const [i, image] of manifest.test_images.entries()) {
      const rgb = await decodeImage(readFileSync(`${SAFETY}${image.file}`), {
        field: "image",
        maxPixels: 1 << 20,
      });
      const actual = clipPreprocess(rgb, config);
      const { diff } = maxAbsDiff(actual.data, expected.subarray(i * item, (i + 1) * item));
      expect(diff, image.name).toBeLessThanOrEqual(1e-5);
    }
  });

  it("matches the clip_input of the safety_t2i_pndm pipeline image (numpy_to_pil of the decoded image)", () => {
    const ref = new ReferenceCase("safety_t2i_pndm", REFERENCE_NEXT);
    // The checker sees (x / 2 + 0.5).clamp(0, 1) of the VAE output, as uint8 via numpy_to_pil.
    const decoded = ref.array("safety_images_in");
    const nhwc = new Float32Array(64 * 64 * 3);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 64 * 64; p++) {
        const v = Math.fround(Math.fround(decoded[c * 4096 + p]! / 2) + 0.5);
        nhwc[p * 3 + c] = Math.min(1, Math.max(0, v));
      }
    }
    const [pixels] = toUint8Images(floatTensor(nhwc, [1, 64, 64, 3]));
    const actual = clipPreprocess({ width: 64, height: 64, rgb: pixels! }, config);
    expect([actual.width, actual.height]).toEqual([32, 32]);
    const { diff } = maxAbsDiff(actual.data, ref.array("safety_clip_input"));
    expect(diff).toBeLessThanOrEqual(1e-5);
  });

  it("sizes the short side as transformers does (int of the long side)", () => {
    expect(shortestEdgeSize(64, 64, 32)).toEqual({ width: 32, height: 32 });
    expect(shortestEdgeSize(100, 50, 32)).toEqual({ width: 64, height: 32 });
    expect(shortestEdgeSize(50, 77, 32)).toEqual({ width: 32, height: 49 });
  });

  it("center-crops with floor offsets and pads a small image with zeros", () => {
    const rgb = Uint8Array.from({ length: 3 * 3 * 3 }, (_, i) => i + 1);
    const cropped = centerCrop({ width: 3, height: 3, rgb }, { width: 2, height: 2 });
    // (3 − 2) // 2 = 0: the top-left 2×2 block.
    expect(Array.from(cropped.rgb)).toEqual([1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15]);
    const padded = centerCrop(
      { width: 1, height: 1, rgb: Uint8Array.from([9, 9, 9]) },
      { width: 2, height: 2 },
    );
    // ceil((2 − 1) / 2) = 1 row and column of zeros before the pixel.
    expect(Array.from(padded.rgb)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9]);
  });

  it("refuses a resample filter it cannot reproduce, naming it", () => {
    expect(() => parseClipProcessorConfig({ resample: 0 })).toThrow(/resample 0/);
    expect(() => parseClipProcessorConfig({ size: { longest_edge: 3 } })).toThrow(/size/);
  });
});
