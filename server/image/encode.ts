/**
 * Pipeline images to PNG bytes. The only other place (with decode.ts) that imports sharp. Float images in [0, 1]
 * become uint8 exactly as diffusers' `numpy_to_pil` does — `(image * 255).round()` in float32 with numpy's
 * round-half-to-even — because sharp would render a Float32Array as black.
 */
import sharp from "sharp";
import type { FloatTensor } from "../runtime/tensor.ts";

/** NHWC float [0, 1] → one uint8 RGB buffer per image. */
export function toUint8Images(images: FloatTensor): Uint8Array[] {
  const [batch = 1, height = 0, width = 0, channels = 3] = images.dims;
  const size = height * width * channels;
  const out: Uint8Array[] = [];
  for (let n = 0; n < batch; n++) {
    const pixels = new Uint8Array(size);
    const src = images.data.subarray(n * size, (n + 1) * size);
    for (let i = 0; i < size; i++) pixels[i] = roundHalfEven(Math.fround(src[i]! * 255));
    out.push(pixels);
  }
  return out;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  const r = diff > 0.5 || (diff === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return Math.min(255, Math.max(0, r));
}

/** Encodes NHWC float images as PNG files. */
export async function encodePngs(images: FloatTensor): Promise<Buffer[]> {
  const [, height = 0, width = 0, channels = 3] = images.dims;
  return Promise.all(
    toUint8Images(images).map((pixels) =>
      sharp(pixels, { raw: { width, height, channels: channels as 3 } })
        .png()
        .toBuffer(),
    ),
  );
}
