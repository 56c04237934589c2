/**
 * The PIL ports against Pillow 9.4's own output (fixtures/pil, written by fixtures/make-pil-fixtures.py):
 * LANCZOS resizes up, down and along one axis, in RGB and L, and convert("L").
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../../server/image/decode.ts";
import { resizeLanczos, rgbToLuma } from "../../server/image/pil.ts";

const PIL = new URL("./fixtures/pil/", import.meta.url);
const INIT = new URL(
  "../fixtures/diffusers-reference/reference/inputs/init_image_64x64.png",
  import.meta.url,
);
const MASK = new URL("../fixtures/diffusers-reference/reference/inputs/mask_64x64.png", import.meta.url);

interface Manifest {
  pillow: string;
  noise: { file: string; width: number; height: number; luma: string };
  init_luma: string;
  cases: {
    name: string;
    source: string;
    op: string;
    mode: "RGB" | "L";
    width: number;
    height: number;
    file: string;
  }[];
}

const manifest = JSON.parse(readFileSync(new URL("manifest.json", PIL), "utf8")) as Manifest;
const bytes = (file: string) => new Uint8Array(readFileSync(new URL(file, PIL)));

async function source(name: string) {
  const limits = { field: "image", maxPixels: 1 << 20 };
  if (name === "init_image_64x64.png") return decodeImage(readFileSync(INIT), limits);
  if (name === "mask_64x64.png") return decodeImage(readFileSync(MASK), limits);
  return { width: manifest.noise.width, height: manifest.noise.height, rgb: bytes(manifest.noise.file) };
}

describe("PIL ports", () => {
  it("fixtures come from the Pillow version of the diffusers reference", () => {
    expect(manifest.pillow).toBe("9.4.0");
  });

  for (const c of manifest.cases) {
    it(`${c.name}: ${c.op} equals Pillow`, async () => {
      const src = await source(c.source);
      let out: Uint8Array;
      if (c.op === "resize LANCZOS" && c.mode === "RGB") {
        out = resizeLanczos(src.rgb, src.width, src.height, 3, c.width, c.height);
      } else if (c.op === "resize LANCZOS") {
        const luma = rgbToLuma(src).luma;
        out = resizeLanczos(luma, src.width, src.height, 1, c.width, c.height);
      } else {
        const rgb = resizeLanczos(src.rgb, src.width, src.height, 3, c.width, c.height);
        out = rgbToLuma({ width: c.width, height: c.height, rgb }).luma;
      }
      expect(Buffer.from(out).equals(Buffer.from(bytes(c.file)))).toBe(true);
    });
  }

  it("convert('L') equals Pillow on noise and on the init image", async () => {
    const noise = await source("noise");
    expect(Buffer.from(rgbToLuma(noise).luma).equals(Buffer.from(bytes(manifest.noise.luma)))).toBe(true);
    const init = await source("init_image_64x64.png");
    expect(Buffer.from(rgbToLuma(init).luma).equals(Buffer.from(bytes(manifest.init_luma)))).toBe(true);
  });

  it("convert('L') rounds the 601-2 weights as Pillow does", () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 7, 7, 7, 255, 255, 255]);
    expect(Array.from(rgbToLuma({ width: 5, height: 1, rgb }).luma)).toEqual([76, 150, 29, 7, 255]);
  });

  it("same size is a copy; bad shapes throw", () => {
    const px = Uint8Array.from([1, 2, 3, 4]);
    const out = resizeLanczos(px, 2, 2, 1, 2, 2);
    expect(out).toEqual(px);
    expect(out).not.toBe(px);
    expect(() => resizeLanczos(px, 3, 2, 1, 2, 2)).toThrow();
    expect(() => resizeLanczos(px, 2, 2, 1, 0, 2)).toThrow();
  });
});
