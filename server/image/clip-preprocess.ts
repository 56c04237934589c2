/**
 * transformers' `CLIPImageProcessor` as the safety checker's feature extractor runs it on a pipeline image
 * (`feature_extractor(numpy_to_pil(image), return_tensors="np").pixel_values`): shortest-edge resize with the PIL
 * filter the config's `resample` names (ported bit for bit in pil.ts), center crop (zero padding when the image is
 * smaller), rescale (`uint8 → float64 × rescale_factor → float32`) and normalize (`(x − mean) / std` in float32),
 * then HWC → CHW. The config is read from `feature_extractor/preprocessor_config.json`, with transformers' defaults
 * for what it leaves out (an int `size` means `shortest_edge`, an int `crop_size` a square).
 */
import { PIL_RESAMPLE, type PilFilter, type RgbImage, resizePil } from "./pil.ts";

export interface ClipProcessorConfig {
  readonly doResize: boolean;
  /** `size.shortest_edge`, or an exact `{ height, width }`. */
  readonly size: { readonly shortestEdge: number } | { readonly height: number; readonly width: number };
  readonly resample: PilFilter;
  readonly doCenterCrop: boolean;
  readonly cropSize: { readonly height: number; readonly width: number };
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly imageMean: readonly [number, number, number];
  readonly imageStd: readonly [number, number, number];
}

const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/**
 * Reads a preprocessor_config.json object with CLIPImageProcessor's defaults (resize to shortest edge 224 with
 * BICUBIC, crop 224×224, rescale 1/255, normalize with OpenAI's CLIP mean and std). Throws an Error naming the
 * key that cannot be used.
 *
 * @example
 * const config = parseClipProcessorConfig(JSON.parse(text));
 * const { data, width, height } = clipPreprocess(image, config); // CHW float32 [3, 32, 32] here
 */
export function parseClipProcessorConfig(raw: Record<string, unknown>): ClipProcessorConfig {
  const flag = (key: string, fallback: boolean) => {
    const value = raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") throw new Error(`${key} must be true or false`);
    return value;
  };
  const positive = (value: unknown, key: string) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new Error(`${key} must be a positive integer`);
    }
    return value;
  };
  const size = (() => {
    const value = raw.size ?? { shortest_edge: 224 };
    if (typeof value === "number") return { shortestEdge: positive(value, "size") };
    const s = value as Record<string, unknown>;
    if (typeof s === "object" && s && "shortest_edge" in s) {
      return { shortestEdge: positive(s.shortest_edge, "size.shortest_edge") };
    }
    if (typeof s === "object" && s && "height" in s && "width" in s) {
      return { height: positive(s.height, "size.height"), width: positive(s.width, "size.width") };
    }
    throw new Error("size must be {shortest_edge} or {height, width}");
  })();
  const crop = raw.crop_size ?? { height: 224, width: 224 };
  const cropSize =
    typeof crop === "number"
      ? { height: positive(crop, "crop_size"), width: positive(crop, "crop_size") }
      : {
          height: positive((crop as Record<string, unknown>).height, "crop_size.height"),
          width: positive((crop as Record<string, unknown>).width, "crop_size.width"),
        };
  const resampleCode = raw.resample ?? 3;
  const resample = typeof resampleCode === "number" ? PIL_RESAMPLE[resampleCode] : undefined;
  if (!resample) {
    throw new Error(
      `resample ${JSON.stringify(resampleCode)} is not supported (1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)`,
    );
  }
  const rescaleFactor = raw.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== "number" || !Number.isFinite(rescaleFactor)) {
    throw new Error("rescale_factor must be a number");
  }
  return {
    doResize: flag("do_resize", true),
    size,
    resample,
    doCenterCrop: flag("do_center_crop", true),
    cropSize,
    doRescale: flag("do_rescale", true),
    rescaleFactor,
    doNormalize: flag("do_normalize", true),
    imageMean: triple(raw.image_mean ?? OPENAI_CLIP_MEAN, "image_mean"),
    imageStd: triple(raw.image_std ?? OPENAI_CLIP_STD, "image_std"),
  };
}

function triple(value: unknown, key: string): [number, number, number] {
  const list = typeof value === "number" ? [value, value, value] : value;
  if (!Array.isArray(list) || list.length !== 3 || !list.every((v) => typeof v === "number")) {
    throw new Error(`${key} must be a number or 3 numbers`);
  }
  const [a, b, c] = list as [number, number, number];
  return [a, b, c];
}

/** transformers' `get_resize_output_image_size(default_to_square=False)`: the short side becomes `edge`. */
export function shortestEdgeSize(
  width: number,
  height: number,
  edge: number,
): { width: number; height: number } {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((edge * long) / short);
  return width <= height ? { width: edge, height: newLong } : { width: newLong, height: edge };
}

/** One preprocessed image: `pixel_values[0]`, float32 CHW `[3, height, width]`. */
export interface ClipPixelValues {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/**
 * `CLIPImageProcessor.preprocess` for one RGB image: `pixel_values[0]`, float32 CHW of the crop size (or of the
 * resized size without a crop).
 */
export function clipPreprocess(image: RgbImage, config: ClipProcessorConfig): ClipPixelValues {
  let { width, height, rgb } = image;
  if (config.doResize) {
    const out =
      "shortestEdge" in config.size
        ? shortestEdgeSize(width, height, config.size.shortestEdge)
        : { width: config.size.width, height: config.size.height };
    if (out.width !== width || out.height !== height) {
      rgb = resizePil(rgb, width, height, 3, out.width, out.height, config.resample);
      ({ width, height } = out);
    }
  }
  if (config.doCenterCrop) ({ width, height, rgb } = centerCrop({ width, height, rgb }, config.cropSize));
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const mean = config.imageMean.map(Math.fround);
  const std = config.imageStd.map(Math.fround);
  for (let c = 0; c < 3; c++) {
    // Per byte value: rescale in float64 then round to float32; normalize in float32 (numpy's dtypes).
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = config.doRescale ? Math.fround(v * config.rescaleFactor) : v;
      if (config.doNormalize) x = Math.fround(Math.fround(x - mean[c]!) / std[c]!);
      lut[v] = x;
    }
    for (let p = 0; p < plane; p++) out[c * plane + p] = lut[rgb[p * 3 + c]!]!;
  }
  return { data: out, width, height };
}

/**
 * transformers' `center_crop`: top/left offsets `(orig − crop) // 2`; an image smaller than the crop is first
 * padded with zeros, `ceil((new − orig) / 2)` before it.
 */
export function centerCrop(image: RgbImage, crop: { height: number; width: number }): RgbImage {
  const { width, height, rgb } = image;
  if (crop.width === width && crop.height === height) return image;
  const padTop = Math.ceil((Math.max(crop.height, height) - height) / 2);
  const padLeft = Math.ceil((Math.max(crop.width, width) - width) / 2);
  // Crop window in the padded image.
  const top = Math.floor((height - crop.height) / 2) + padTop;
  const left = Math.floor((width - crop.width) / 2) + padLeft;
  const out = new Uint8Array(crop.width * crop.height * 3);
  for (let y = 0; y < crop.height; y++) {
    const sy = y + top - padTop;
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < crop.width; x++) {
      const sx = x + left - padLeft;
      if (sx < 0 || sx >= width) continue;
      const s = (sy * width + sx) * 3;
      const d = (y * crop.width + x) * 3;
      out[d] = rgb[s]!;
      out[d + 1] = rgb[s + 1]!;
      out[d + 2] = rgb[s + 2]!;
    }
  }
  return { width: crop.width, height: crop.height, rgb: out };
}
