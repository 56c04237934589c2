/**
 * Tiled VAE decoding, as diffusers' `AutoencoderKL.tiled_decode` (`enable_vae_tiling`): the latent is cut into
 * tiles of `tile_latent_min_size` cells overlapping by a quarter, each tile is decoded alone (so the decoder's
 * full-resolution activations and mid-block attention stay tile-sized), and neighbouring tiles are blended
 * linearly across `blend_extent` pixels, top neighbour first, then left, each blend written into the tile in place
 * in diffusers' order; the first `row_limit` pixels of each tile are kept. Arithmetic in float32 as torch's.
 */
import { type FloatTensor, floatTensor } from "../runtime/tensor.ts";

export interface TileOptions {
  /** diffusers' tile_latent_min_size: the VAE config's sample_size / VAE factor. */
  readonly tileLatent: number;
  /** Pixels per latent cell. */
  readonly vaeScaleFactor: number;
  /** diffusers' tile_overlap_factor (0.25). */
  readonly overlap?: number;
}

/** Whether diffusers would tile this latent (either side larger than a tile). */
export function needsTiling(latentDims: readonly number[], tileLatent: number): boolean {
  return (latentDims[2] ?? 0) > tileLatent || (latentDims[3] ?? 0) > tileLatent;
}

/**
 * Decodes a [1, C, h, w] latent tile by tile with `decodeTile` ([1, C, th, tw] → [1, 3, th·f, tw·f]) and returns
 * the blended [1, 3, h·f, w·f] image.
 */
export async function tiledDecode(
  latent: FloatTensor,
  options: TileOptions,
  decodeTile: (tile: FloatTensor) => Promise<FloatTensor>,
): Promise<FloatTensor> {
  const [, channels = 4, h = 0, w = 0] = latent.dims;
  const tileLatent = options.tileLatent;
  const tileSample = tileLatent * options.vaeScaleFactor;
  const overlap = options.overlap ?? 0.25;
  const overlapSize = Math.trunc(tileLatent * (1 - overlap));
  const blendExtent = Math.trunc(tileSample * overlap);
  const rowLimit = tileSample - blendExtent;

  const rows: FloatTensor[][] = [];
  for (let i = 0; i < h; i += overlapSize) {
    const row: FloatTensor[] = [];
    for (let j = 0; j < w; j += overlapSize) {
      row.push(await decodeTile(crop(latent, channels, h, w, i, j, tileLatent)));
    }
    rows.push(row);
  }
  const outH = h * options.vaeScaleFactor;
  const outW = w * options.vaeScaleFactor;
  const out = new Float32Array(3 * outH * outW);
  let y0 = 0;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    let x0 = 0;
    let keptH = 0;
    for (let j = 0; j < row.length; j++) {
      const tile = row[j]!;
      if (i > 0) blendVertical(rows[i - 1]![j]!, tile, blendExtent);
      if (j > 0) blendHorizontal(row[j - 1]!, tile, blendExtent);
      const [, , th = 0, tw = 0] = tile.dims;
      keptH = Math.min(th, rowLimit);
      const keptW = Math.min(tw, rowLimit);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < keptH; y++) {
          const src = (c * th + y) * tw;
          out.set(tile.data.subarray(src, src + keptW), (c * outH + y0 + y) * outW + x0);
        }
      }
      x0 += keptW;
    }
    y0 += keptH;
  }
  return floatTensor(out, [1, 3, outH, outW]);
}

function crop(
  latent: FloatTensor,
  channels: number,
  h: number,
  w: number,
  i: number,
  j: number,
  size: number,
) {
  const th = Math.min(size, h - i);
  const tw = Math.min(size, w - j);
  const data = new Float32Array(channels * th * tw);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < th; y++) {
      const src = (c * h + i + y) * w + j;
      data.set(latent.data.subarray(src, src + tw), (c * th + y) * tw);
    }
  }
  return floatTensor(data, [1, channels, th, tw]);
}

/** diffusers' blend_v: b's first rows fade in from a's last rows (b is written in place). */
function blendVertical(a: FloatTensor, b: FloatTensor, extent: number): void {
  const [, ch = 3, ah = 0, aw = 0] = a.dims;
  const [, , bh = 0, bw = 0] = b.dims;
  const e = Math.min(ah, bh, extent);
  const width = Math.min(aw, bw);
  for (let c = 0; c < ch; c++) {
    for (let y = 0; y < e; y++) {
      const [keep, take] = weights(y, e);
      const ar = (c * ah + ah - e + y) * aw;
      const br = (c * bh + y) * bw;
      for (let x = 0; x < width; x++) {
        b.data[br + x] = Math.fround(
          Math.fround(a.data[ar + x]! * keep) + Math.fround(b.data[br + x]! * take),
        );
      }
    }
  }
}

/** diffusers' blend_h: b's first columns fade in from a's last columns (b is written in place). */
function blendHorizontal(a: FloatTensor, b: FloatTensor, extent: number): void {
  const [, ch = 3, ah = 0, aw = 0] = a.dims;
  const [, , bh = 0, bw = 0] = b.dims;
  const e = Math.min(aw, bw, extent);
  const height = Math.min(ah, bh);
  for (let c = 0; c < ch; c++) {
    for (let y = 0; y < height; y++) {
      const ar = (c * ah + y) * aw + aw - e;
      const br = (c * bh + y) * bw;
      for (let x = 0; x < e; x++) {
        const [keep, take] = weights(x, e);
        b.data[br + x] = Math.fround(
          Math.fround(a.data[ar + x]! * keep) + Math.fround(b.data[br + x]! * take),
        );
      }
    }
  }
}

/** (1 − t/e, t/e) as the float32 scalars torch multiplies by. */
function weights(t: number, e: number): [number, number] {
  return [Math.fround(1 - t / e), Math.fround(t / e)];
}
