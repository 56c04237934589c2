/**
 * The PIL (Pillow) pixel operations that diffusers' and transformers' image preprocessing run on 8-bit images,
 * reproduced bit for bit: `Image.convert("L")` (ITU-R 601-2 luma in 16-bit fixed point) and `Image.resize(size,
 * filter)` for the convolution filters (LANCZOS, BICUBIC, BILINEAR, HAMMING, BOX: the two-pass separable
 * resampler of Pillow's Resample.c with 22-bit fixed-point coefficients). sharp is not used
 * for either: libvips' greyscale is computed in linear light with Rec. 709 weights, and its `lanczos3` kernel
 * is centred, windowed and rounded differently, so both would drift from diffusers by a few levels per pixel.
 * Checked against Pillow 9.4 (the version the reference fixtures were made with) on random images and sizes.
 */

/** 8-bit RGB pixels, row-major, 3 interleaved channels (HWC), as PIL's "RGB" mode holds them. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** `width * height * 3` bytes: R, G, B of the top-left pixel first. */
  readonly rgb: Uint8Array;
}

/** 8-bit grayscale pixels, row-major, as PIL's "L" mode holds them. */
export interface LumaImage {
  readonly width: number;
  readonly height: number;
  /** `width * height` bytes. */
  readonly luma: Uint8Array;
}

/**
 * PIL's RGB → "L" conversion: `L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16`, the 16-bit fixed-point form of
 * R·299/1000 + G·587/1000 + B·114/1000 with rounding that Pillow uses (Convert.c `rgb2l`). Gray pixels
 * (R = G = B) keep their value exactly.
 */
export function rgbToLuma(image: RgbImage): LumaImage {
  const { width, height, rgb } = image;
  const luma = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < luma.length; i++, j += 3) {
    luma[i] = (rgb[j]! * 19595 + rgb[j + 1]! * 38470 + rgb[j + 2]! * 7471 + 0x8000) >>> 16;
  }
  return { width, height, luma };
}

/** Pillow's `PRECISION_BITS` for 8-bit images: 32 − 8 − 2 (two bits of headroom for negative lobes). */
const PRECISION_BITS = 22;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** A Pillow resampling filter: its support (taps on each side of the centre at scale 1) and kernel. */
export interface PilFilter {
  readonly name: string;
  readonly support: number;
  readonly kernel: (x: number) => number;
}

/** Pillow's convolution filters (Resample.c), kernels evaluated in double precision as there. */
export const PIL_FILTERS = {
  // Truncated sinc.
  LANCZOS: { name: "LANCZOS", support: 3, kernel: (x) => (-3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  // Keys' cubic with a = −0.5.
  BICUBIC: {
    name: "BICUBIC",
    support: 2,
    kernel: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  BILINEAR: { name: "BILINEAR", support: 1, kernel: (x) => Math.max(0, 1 - Math.abs(x)) },
  HAMMING: {
    name: "HAMMING",
    support: 1,
    kernel: (x) => {
      const t = Math.abs(x);
      if (t === 0) return 1;
      if (t >= 1) return 0;
      const px = t * Math.PI;
      // Pillow writes the window's constants as C floats (0.54f, 0.46f).
      return (Math.sin(px) / px) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(px));
    },
  },
  BOX: { name: "BOX", support: 0.5, kernel: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
} as const satisfies Record<string, PilFilter>;

/** Pillow's `Image.Resampling` numbers (what `resample` holds in a preprocessor_config.json). */
export const PIL_RESAMPLE: Readonly<Record<number, PilFilter | undefined>> = Object.freeze({
  1: PIL_FILTERS.LANCZOS,
  2: PIL_FILTERS.BILINEAR,
  3: PIL_FILTERS.BICUBIC,
  4: PIL_FILTERS.BOX,
  5: PIL_FILTERS.HAMMING,
});

interface Coefficients {
  /** Per output pixel: first input index and number of taps. */
  readonly bounds: Int32Array;
  /** Per output pixel: `ksize` fixed-point weights (only the first `taps` are used). */
  readonly weights: Int32Array;
  readonly ksize: number;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis (box = the whole axis). */
function coefficients(inSize: number, outSize: number, filter: PilFilter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const invScale = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; the clamps make that equal to flooring here.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const taps = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < taps; x++) {
      const w = filter.kernel((x + xmin - center + 0.5) * invScale);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < taps; x++) {
      const w = sum !== 0 ? k[x]! / sum : k[x]!;
      // Round half away from zero into 22-bit fixed point, as normalize_coeffs_8bpc does.
      weights[xx * ksize + x] =
        w < 0 ? Math.trunc(-0.5 + w * 2 ** PRECISION_BITS) : Math.trunc(0.5 + w * 2 ** PRECISION_BITS);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = taps;
  }
  return { bounds, weights, ksize };
}

/** `clip8(ss)` of Pillow: drop the fraction bits (arithmetic shift) and clamp to 0…255. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return Math.min(Math.max(v, 0), 255);
}

/** `Image.resize((outWidth, outHeight), Image.LANCZOS)`: see `resizePil`. */
export function resizeLanczos(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  return resizePil(pixels, width, height, channels, outWidth, outHeight, PIL_FILTERS.LANCZOS);
}

/**
 * Resizes 8-bit interleaved pixels with `channels` channels (1 for "L", 3 for "RGB") exactly as Pillow's
 * `Image.resize((outWidth, outHeight), filter)` does for those modes: horizontal pass (only over the rows the
 * vertical pass will read), then vertical pass, each skipped when that axis keeps its size. Returns a copy when
 * the size does not change.
 */
export function resizePil(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: PilFilter,
): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new Error(`${pixels.length} bytes cannot be a ${width}×${height}×${channels} image`);
  }
  if (!(outWidth >= 1 && outHeight >= 1)) throw new Error(`cannot resize to ${outWidth}×${outHeight}`);
  const half = 1 << (PRECISION_BITS - 1);
  const vertical = coefficients(height, outHeight, filter);
  const vb = vertical.bounds;
  let src = pixels;
  let srcWidth = width;
  let rowOffset = 0;

  if (outWidth !== width) {
    // Pillow resamples horizontally only the source rows the vertical pass uses.
    const firstRow = vb[0]!;
    const lastRow = vb[(outHeight - 1) * 2]! + vb[(outHeight - 1) * 2 + 1]!;
    const rows = lastRow - firstRow;
    const { bounds, weights, ksize } = coefficients(width, outWidth, filter);
    const tmp = new Uint8Array(outWidth * rows * channels);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + firstRow) * width * channels;
      const outRow = y * outWidth * channels;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2]!;
        const taps = bounds[xx * 2 + 1]!;
        const kOffset = xx * ksize;
        for (let c = 0; c < channels; c++) {
          let ss = half;
          for (let x = 0; x < taps; x++)
            ss += pixels[inRow + (x + xmin) * channels + c]! * weights[kOffset + x]!;
          tmp[outRow + xx * channels + c] = clip8(ss);
        }
      }
    }
    src = tmp;
    srcWidth = outWidth;
    rowOffset = firstRow;
  }

  if (outHeight === height) return src === pixels ? pixels.slice() : src;

  const { weights, ksize } = vertical;
  const out = new Uint8Array(srcWidth * outHeight * channels);
  const stride = srcWidth * channels;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = vb[yy * 2]! - rowOffset;
    const taps = vb[yy * 2 + 1]!;
    const kOffset = yy * ksize;
    const outRow = yy * stride;
    for (let i = 0; i < stride; i++) {
      let ss = half;
      for (let y = 0; y < taps; y++) ss += src[(y + ymin) * stride + i]! * weights[kOffset + y]!;
      out[outRow + i] = clip8(ss);
    }
  }
  return out;
}
