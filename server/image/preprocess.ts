/**
 * diffusers' `VaeImageProcessor.preprocess` for decoded images, as StableDiffusionImg2ImgPipeline and
 * StableDiffusionInpaintPipeline (0.27) run it: target size rounded down to multiples of the VAE factor
 * (`get_default_height_width`), PIL LANCZOS resize when the size differs (ported bit for bit in pil.ts), then
 * `np.array(img).astype(float32) / 255` and `2 * x - 1` in float32 into NCHW. Masks go through the mask
 * processor (`do_normalize=False, do_binarize=True, do_convert_grayscale=True`: resize, convert("L"), / 255,
 * `< 0.5 → 0, ≥ 0.5 → 1`); the masked image is `image * (mask < 0.5)` and the latent-size mask is torch's
 * `F.interpolate(mode="nearest")`. With the reference fixtures, every output here equals diffusers' tensors
 * bit for bit, resized or not.
 */
import { InvalidInputError } from "../errors.ts";
import { type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import { type LumaImage, type RgbImage, resizeLanczos, rgbToLuma } from "./pil.ts";

/**
 * diffusers' `get_default_height_width`: each side rounded down to a multiple of `vaeScaleFactor`
 * (`x - x % factor`). Pass a requested size, or the image's own size when none was requested.
 */
export function defaultSize(
  width: number,
  height: number,
  vaeScaleFactor: number,
): { width: number; height: number } {
  return { width: width - (width % vaeScaleFactor), height: height - (height % vaeScaleFactor) };
}

export interface PreprocessOptions {
  /** VAE downscale factor: 2 ** (len(vae.block_out_channels) − 1), 8 for Stable Diffusion. */
  vaeScaleFactor: number;
  /** Requested width (rounded down to a multiple of the factor, as diffusers does). Default: the image's. */
  width?: number | null;
  /** Requested height (rounded down likewise). Default: the image's. */
  height?: number | null;
  /** Argument named in errors. Default `"image"`. */
  field?: string;
}

export interface PreprocessedImage {
  /** `[1, 3, height, width]` float32 in [-1, 1]: the VAE encoder's input. */
  readonly tensor: FloatTensor;
  readonly width: number;
  readonly height: number;
  /** Whether the pixels were resampled (LANCZOS) to reach the size. */
  readonly resized: boolean;
}

export interface PreprocessedMask {
  /** `[1, 1, height, width]` float32, exactly 0 (keep) or 1 (repaint). */
  readonly tensor: FloatTensor;
  readonly width: number;
  readonly height: number;
  readonly resized: boolean;
}

/** `float32(v / 255)` for every byte, computed once: float32 division is correctly rounded from double. */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => Math.fround(v / 255));
/** `2 * x - 1` of the above in float32 (the doubling is exact; the subtraction rounds once). */
const SIGNED = Float32Array.from(UNIT, (x) => Math.fround(2 * x - 1));

function target(source: { width: number; height: number }, options: PreprocessOptions) {
  const f = options.vaeScaleFactor;
  if (!Number.isInteger(f) || f < 1) throw new Error(`invalid VAE scale factor ${f}`);
  const size = defaultSize(options.width ?? source.width, options.height ?? source.height, f);
  if (size.width < 1 || size.height < 1) {
    throw new InvalidInputError(
      options.field ?? "image",
      `a target size of ${options.width ?? source.width}×${options.height ?? source.height} pixels`,
      `a width and height of at least ${f} (multiples of ${f} are used)`,
    );
  }
  return size;
}

/** RGB bytes (HWC) → `[1, 3, H, W]` float32 in [-1, 1], as `pil_to_numpy` + `numpy_to_pt` + `normalize`. */
export function normalizeRgb(image: RgbImage): FloatTensor {
  const { width, height, rgb } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    out[p] = SIGNED[rgb[p * 3]!]!;
    out[plane + p] = SIGNED[rgb[p * 3 + 1]!]!;
    out[2 * plane + p] = SIGNED[rgb[p * 3 + 2]!]!;
  }
  return floatTensor(out, [1, 3, height, width]);
}

/**
 * `VaeImageProcessor(vae_scale_factor).preprocess(image, height, width)` for one RGB image: resize (PIL LANCZOS)
 * to the factor-rounded size when it differs, then normalize to [-1, 1] NCHW float32.
 */
export function preprocessImage(image: RgbImage, options: PreprocessOptions): PreprocessedImage {
  const { width, height } = target(image, options);
  const resized = width !== image.width || height !== image.height;
  const pixels = resized ? resizeLanczos(image.rgb, image.width, image.height, 3, width, height) : image.rgb;
  return { tensor: normalizeRgb({ width, height, rgb: pixels }), width, height, resized };
}

/**
 * The inpainting mask processor's `preprocess(mask, height, width)`: resize (PIL LANCZOS) to the target size,
 * PIL convert("L"), `/ 255` in float32 and binarize at 0.5. Given RGB (what diffusers' `load_image` yields),
 * it resizes before the luma conversion exactly as diffusers does; given grayscale, it resizes the gray plane.
 */
export function preprocessMask(mask: RgbImage | LumaImage, options: PreprocessOptions): PreprocessedMask {
  const { width, height } = target(mask, { field: "maskImage", ...options });
  const resized = width !== mask.width || height !== mask.height;
  let luma: Uint8Array;
  if ("rgb" in mask) {
    const rgb = resized ? resizeLanczos(mask.rgb, mask.width, mask.height, 3, width, height) : mask.rgb;
    luma = rgbToLuma({ width, height, rgb }).luma;
  } else {
    luma = resized ? resizeLanczos(mask.luma, mask.width, mask.height, 1, width, height) : mask.luma;
  }
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = UNIT[luma[i]!]! < 0.5 ? 0 : 1;
  return { tensor: floatTensor(out, [1, 1, height, width]), width, height, resized };
}

/**
 * `image * (mask < 0.5)`: the image with the repaint region zeroed (keeps torch's signed zeros). `image` is
 * `[N, C, H, W]`, `mask` `[N or 1, 1, H, W]`.
 */
export function maskedImage(image: FloatTensor, mask: FloatTensor): FloatTensor {
  const [n = 1, c = 1, h = 0, w = 0] = image.dims;
  const [mn = 1, mc = 1, mh = 0, mw = 0] = mask.dims;
  if (mc !== 1 || mh !== h || mw !== w || (mn !== 1 && mn !== n)) {
    throw new Error(`mask [${mask.dims}] does not fit image [${image.dims}]`);
  }
  const plane = h * w;
  const out = new Float32Array(image.data.length);
  for (let b = 0; b < n; b++) {
    const m = mask.data.subarray((mn === 1 ? 0 : b) * plane, (mn === 1 ? 1 : b + 1) * plane);
    for (let ch = 0; ch < c; ch++) {
      const base = (b * c + ch) * plane;
      for (let p = 0; p < plane; p++) out[base + p] = image.data[base + p]! * (m[p]! < 0.5 ? 1 : 0);
    }
  }
  return floatTensor(out, image.dims);
}

/**
 * torch `F.interpolate(mask, size=(height, width), mode="nearest")` on an `[N, C, H, W]` tensor (as
 * `prepare_mask_latents` shrinks the mask to latent size): source index `min(floor(dst · (in / out)), in − 1)`
 * with the scale and the product in float32, as ATen's `nearest_idx` computes it.
 */
export function resizeMaskNearest(mask: FloatTensor, height: number, width: number): FloatTensor {
  const [n = 1, c = 1, inH = 0, inW = 0] = mask.dims;
  const rows = nearestIndices(inH, height);
  const cols = nearestIndices(inW, width);
  const out = new Float32Array(n * c * height * width);
  for (let plane = 0; plane < n * c; plane++) {
    const src = plane * inH * inW;
    const dst = plane * height * width;
    for (let y = 0; y < height; y++) {
      const row = src + rows[y]! * inW;
      for (let x = 0; x < width; x++) out[dst + y * width + x] = mask.data[row + cols[x]!]!;
    }
  }
  return floatTensor(out, [n, c, height, width]);
}

function nearestIndices(inSize: number, outSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  const scale = Math.fround(inSize / outSize);
  // ATen's fast paths (same size, exact 2× upscale) give the same indices as this general formula.
  for (let i = 0; i < outSize; i++) idx[i] = Math.min(Math.floor(Math.fround(i * scale)), inSize - 1);
  return idx;
}

/**
 * A note for the result when the mask's aspect ratio differs from the image's by more than 1 %: diffusers
 * stretches the mask to the image's size anyway, which may not be what the caller meant. `null` otherwise.
 */
export function maskAspectNote(
  image: { width: number; height: number },
  mask: { width: number; height: number },
): string | null {
  const ratio = (mask.width * image.height) / (mask.height * image.width);
  if (Math.abs(ratio - 1) <= 0.01) return null;
  return (
    `The mask (${mask.width}×${mask.height}) and the image (${image.width}×${image.height}) have different ` +
    "aspect ratios; the mask was stretched to the image's size."
  );
}

export interface InpaintInputs {
  /** The init image for the VAE (`[1, 3, H, W]`, [-1, 1]). */
  readonly image: PreprocessedImage;
  /** The binarized mask at image size (`[1, 1, H, W]`). */
  readonly mask: PreprocessedMask;
  /** `image * (mask < 0.5)`: the second VAE input of the inpainting pipeline. */
  readonly maskedImage: FloatTensor;
  readonly width: number;
  readonly height: number;
  /** Things the caller should be told (mask aspect ratio). */
  readonly notes: readonly string[];
}

/**
 * The inpainting pipeline's preprocessing of (image, mask) for a target size: both resized to the same
 * factor-rounded size (the image's own, unless `width`/`height` are given), the mask binarized and the masked
 * image formed. The latent-size mask is `resizeMaskNearest(mask.tensor, height / f, width / f)`.
 */
export function preprocessInpaint(
  image: RgbImage,
  mask: RgbImage | LumaImage,
  options: PreprocessOptions,
): InpaintInputs {
  const pre = preprocessImage(image, options);
  const m = preprocessMask(mask, { ...options, field: "maskImage", width: pre.width, height: pre.height });
  const note = maskAspectNote(image, mask);
  return {
    image: pre,
    mask: m,
    maskedImage: maskedImage(pre.tensor, m.tensor),
    width: pre.width,
    height: pre.height,
    notes: note ? [note] : [],
  };
}
