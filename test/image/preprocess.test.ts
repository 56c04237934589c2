/**
 * Preprocessing parity with diffusers 0.27.2: the reference init image and mask, decoded and preprocessed here,
 * equal the tensors the reference pipelines fed to the VAE and the UNet bit for bit (signed zeros included);
 * resized inputs equal Pillow 9.4's LANCZOS output; plus the size rules, the nearest-neighbour mask shrink and
 * the aspect-ratio note.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../server/errors.ts";
import { decodeImage, decodeMask } from "../../server/image/decode.ts";
import {
  defaultSize,
  maskAspectNote,
  maskedImage,
  normalizeRgb,
  preprocessImage,
  preprocessInpaint,
  preprocessMask,
  resizeMaskNearest,
} from "../../server/image/preprocess.ts";
import { floatTensor } from "../../server/runtime/tensor.ts";
import { ReferenceCase } from "../helpers/reference.ts";

const INPUTS = new URL("../fixtures/diffusers-reference/reference/inputs/", import.meta.url);
const PIL = new URL("./fixtures/pil/", import.meta.url);
const initBytes = readFileSync(new URL("init_image_64x64.png", INPUTS));
const maskBytes = readFileSync(new URL("mask_64x64.png", INPUTS));
const LIMITS = { field: "image", maxPixels: 1024 * 1024 };
/** The tiny reference checkpoints' VAE has two blocks: factor 2. */
const F = 2;

/** Bitwise equality of float32 arrays (distinguishes −0 from +0, unlike a numeric comparison). */
function expectBitwiseEqual(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  expect({ mismatches, first }).toEqual({ mismatches: 0, first: -1 });
}

function pilFixture(file: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(file, PIL)));
}

describe("preprocessing matches diffusers' tensors", () => {
  it("img2img: the init image equals vae_encode_0_input", async () => {
    const ref = new ReferenceCase("i2i_pndm_s0.75");
    const pre = preprocessImage(await decodeImage(initBytes, LIMITS), { vaeScaleFactor: F });
    expect(pre.tensor.dims).toEqual(ref.shape("vae_encode_0_input"));
    expect(pre.resized).toBe(false);
    expectBitwiseEqual(pre.tensor.data, ref.array("vae_encode_0_input"));
  });

  it("inpaint (4-ch, s0.8): init image = vae_encode_0_input, masked image = vae_encode_1_input", async () => {
    const ref = new ReferenceCase("inpaint4_pndm_s0.8");
    // The noise log puts the init image's VAE sample first (prepare_latents), the masked image's second.
    expect(ref.manifest.noise.map((n) => n.site)).toEqual([
      "vae.sample",
      "pipeline_stable_diffusion_inpaint.prepare_latents",
      "vae.sample",
    ]);
    const image = await decodeImage(initBytes, LIMITS);
    const mask = await decodeImage(maskBytes, { ...LIMITS, field: "maskImage" });
    const inputs = preprocessInpaint(image, mask, { vaeScaleFactor: F, width: 64, height: 64 });
    expect(inputs.notes).toEqual([]);
    expectBitwiseEqual(inputs.image.tensor.data, ref.array("vae_encode_0_input"));
    expectBitwiseEqual(inputs.maskedImage.data, ref.array("vae_encode_1_input"));
  });

  it("inpaint (9-ch, s1.0): the only VAE encode is the masked image", async () => {
    const ref = new ReferenceCase("inpaint9_pndm_s1.0");
    const inputs = preprocessInpaint(
      await decodeImage(initBytes, LIMITS),
      await decodeMask(maskBytes, LIMITS),
      { vaeScaleFactor: F },
    );
    const expected = ref.array("vae_encode_0_input");
    expectBitwiseEqual(inputs.maskedImage.data, expected);
    // torch's `image * (mask < 0.5)` leaves −0 where negative values were masked; so must we.
    expect(expected.some((v) => Object.is(v, -0))).toBe(true);
  });

  for (const id of ["inpaint9_pndm_s1.0", "inpaint4_pndm_s0.8"]) {
    it(`${id}: the mask shrunk to latent size equals mask_latents (first CFG half)`, async () => {
      const ref = new ReferenceCase(id);
      const [, , h = 0, w = 0] = ref.shape("mask_latents");
      const mask = preprocessMask(await decodeMask(maskBytes, LIMITS), { vaeScaleFactor: F });
      const latents = resizeMaskNearest(mask.tensor, 64 / F, 64 / F);
      expect(latents.dims).toEqual([1, 1, h, w]);
      const expected = ref.array("mask_latents");
      expectBitwiseEqual(latents.data, expected.subarray(0, h * w));
      expectBitwiseEqual(latents.data, expected.subarray(h * w)); // CFG duplicate
    });
  }

  it("the RGB mask route (resize RGB, then L) and the gray route agree for a gray mask", async () => {
    const rgb = await decodeImage(maskBytes, LIMITS);
    const luma = await decodeMask(maskBytes, LIMITS);
    for (const size of [{}, { width: 40, height: 48 }]) {
      const a = preprocessMask(rgb, { vaeScaleFactor: F, ...size });
      const b = preprocessMask(luma, { vaeScaleFactor: F, ...size });
      expectBitwiseEqual(a.tensor.data, b.tensor.data);
    }
  });
});

describe("resizing reproduces PIL LANCZOS", () => {
  const manifest = JSON.parse(readFileSync(new URL("manifest.json", PIL), "utf8")) as {
    cases: { name: string; source: string; op: string; width: number; height: number; file: string }[];
  };

  it("init image resized and normalized = Pillow's resize, then / 255 and 2x − 1 in float32", async () => {
    const image = await decodeImage(initBytes, LIMITS);
    for (const c of manifest.cases.filter(
      (c) => c.source === "init_image_64x64.png" && c.op === "resize LANCZOS",
    )) {
      const pre = preprocessImage(image, { vaeScaleFactor: 1, width: c.width, height: c.height });
      expect(pre.resized).toBe(true);
      const expected = normalizeRgb({ width: c.width, height: c.height, rgb: pilFixture(c.file) });
      expectBitwiseEqual(pre.tensor.data, expected.data);
    }
  });

  it("a colour mask is resized in RGB before the luma conversion, as diffusers does", async () => {
    const image = await decodeImage(initBytes, LIMITS);
    const c = manifest.cases.find((c) => c.name === "init_48x40_luma")!;
    const mask = preprocessMask(image, { vaeScaleFactor: 8, width: 48, height: 40 });
    const expected = Float32Array.from(pilFixture(c.file), (v) => (Math.fround(v / 255) < 0.5 ? 0 : 1));
    expectBitwiseEqual(mask.tensor.data, expected);
  });

  it("a gray mask resized = Pillow's L resize, binarized", async () => {
    const c = manifest.cases.find((c) => c.name === "mask_40x48")!;
    const mask = preprocessMask(await decodeMask(maskBytes, LIMITS), {
      vaeScaleFactor: 8,
      width: 40,
      height: 48,
    });
    const expected = Float32Array.from(pilFixture(c.file), (v) => (v >= 128 ? 1 : 0));
    expectBitwiseEqual(mask.tensor.data, expected);
  });
});

describe("sizes", () => {
  it("defaultSize rounds each side down to a multiple of the factor", () => {
    expect(defaultSize(64, 64, 8)).toEqual({ width: 64, height: 64 });
    expect(defaultSize(1000, 750, 8)).toEqual({ width: 1000, height: 744 });
    expect(defaultSize(517, 389, 8)).toEqual({ width: 512, height: 384 });
    expect(defaultSize(65, 63, 2)).toEqual({ width: 64, height: 62 });
  });

  it("an image whose sides are not multiples of the factor is resized down to them", () => {
    const rgb = new Uint8Array(13 * 11 * 3).fill(200);
    const pre = preprocessImage({ width: 13, height: 11, rgb }, { vaeScaleFactor: 8 });
    expect(pre).toMatchObject({ width: 8, height: 8, resized: true });
    expect(pre.tensor.dims).toEqual([1, 3, 8, 8]);
    // A flat image stays flat through LANCZOS.
    expect(new Set(pre.tensor.data)).toEqual(new Set([Math.fround(2 * Math.fround(200 / 255) - 1)]));
  });

  it("requested sizes are rounded down too; too small a target is an InvalidInputError", () => {
    const rgb = new Uint8Array(16 * 16 * 3);
    expect(
      preprocessImage({ width: 16, height: 16, rgb }, { vaeScaleFactor: 8, width: 23, height: 17 }),
    ).toMatchObject({ width: 16, height: 16, resized: false });
    const err = (() => {
      try {
        preprocessImage(
          { width: 7, height: 16, rgb: new Uint8Array(7 * 16 * 3) },
          { vaeScaleFactor: 8, field: "f" },
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).field).toBe("f");
  });
});

describe("masks", () => {
  it("binarizes at 0.5: 127 → 0, 128 → 1", () => {
    const luma = Uint8Array.from([0, 127, 128, 255]);
    const mask = preprocessMask({ width: 4, height: 1, luma }, { vaeScaleFactor: 1 });
    expect(Array.from(mask.tensor.data)).toEqual([0, 0, 1, 1]);
  });

  it("maskedImage zeroes the repaint region (mask ≥ 0.5) and keeps the rest", () => {
    const image = floatTensor(Float32Array.from([0.5, -0.5, 1, -1, 0.25, -0.25, 0, 0.75]), [1, 2, 2, 2]);
    const mask = floatTensor(Float32Array.from([0, 1, 1, 0]), [1, 1, 2, 2]);
    const out = maskedImage(image, mask);
    expect(Array.from(out.data)).toEqual([0.5, -0, 0, -1, 0.25, -0, 0, 0.75]);
    expect(Object.is(out.data[1], -0)).toBe(true);
    expect(() => maskedImage(image, floatTensor(new Float32Array(9), [1, 1, 3, 3]))).toThrow();
  });

  it("resizeMaskNearest picks floor(dst · in/out) like torch's nearest mode", () => {
    const mask = floatTensor(
      Float32Array.from({ length: 5 }, (_, i) => i),
      [1, 1, 1, 5],
    );
    expect(Array.from(resizeMaskNearest(mask, 1, 3).data)).toEqual([0, 1, 3]);
    expect(Array.from(resizeMaskNearest(mask, 1, 2).data)).toEqual([0, 2]);
    expect(Array.from(resizeMaskNearest(mask, 1, 10).data)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(Array.from(resizeMaskNearest(mask, 1, 7).data)).toEqual([0, 0, 1, 2, 2, 3, 4]);
  });

  it("a mask of another aspect ratio is stretched to the image size, with a note", () => {
    const image = { width: 64, height: 32, rgb: new Uint8Array(64 * 32 * 3) };
    const mask = { width: 16, height: 16, luma: new Uint8Array(16 * 16).fill(255) };
    const inputs = preprocessInpaint(image, mask, { vaeScaleFactor: 8 });
    expect(inputs.mask.tensor.dims).toEqual([1, 1, 32, 64]);
    expect(inputs.mask.resized).toBe(true);
    expect(inputs.notes).toHaveLength(1);
    expect(inputs.notes[0]).toMatch(/aspect ratio/);
    expect(maskAspectNote({ width: 1000, height: 750 }, { width: 500, height: 375 })).toBeNull();
  });
});
