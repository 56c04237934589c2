/**
 * Live previews of a running generation without running the VAE: the model's guess of the clean latents at the
 * current step (x̂₀, from its noise or v prediction and the scheduler's ᾱ), mapped to RGB by a fixed linear
 * projection of the four SD latent channels. The result is a latent-resolution RGB image: a few thousand
 * multiply-adds per step, against a UNet call that costs millions.
 */
import { type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import type { PredictionType } from "../schedulers/config.ts";
import { vpOriginalSample } from "../schedulers/prediction.ts";
import type { Scheduler } from "../schedulers/scheduler.ts";

/**
 * Latent channel → RGB weights of Stable Diffusion's VAE latent space (rows: latent channels 0-3; columns: R, G,
 * B), a least-squares fit widely used for latent previews.
 */
const LATENT_RGB: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/**
 * x̂₀ of the first image from a step's model input (already scaled to the variance-preserving form the UNet
 * sees) and its guided prediction, using ᾱ at `timestep` (interpolated for fractional timesteps). Falls back to
 * the model input itself for a scheduler without ᾱ.
 */
export function predictedOriginal(
  scheduler: Scheduler,
  prediction: Float32Array,
  modelInput: Float32Array,
  dims: readonly number[],
  timestep: number,
): FloatTensor {
  const [, channels = 4, height = 0, width = 0] = dims;
  const size = channels * height * width;
  const input = modelInput.subarray(0, size);
  const alphas = (scheduler as Partial<{ alphasCumprod: Float32Array }>).alphasCumprod;
  if (!alphas || alphas.length === 0)
    return floatTensor(Float32Array.from(input), [1, channels, height, width]);
  const a = alphaAt(alphas, timestep);
  const type = (scheduler.config.prediction_type as PredictionType | undefined) ?? "epsilon";
  const x0 = vpOriginalSample(type, prediction.subarray(0, size), input, Math.sqrt(a), Math.sqrt(1 - a));
  return floatTensor(x0, [1, channels, height, width]);
}

function alphaAt(alphas: Float32Array, timestep: number): number {
  const t = Math.min(Math.max(timestep, 0), alphas.length - 1);
  const lo = Math.floor(t);
  const hi = Math.min(lo + 1, alphas.length - 1);
  return alphas[lo]! + (alphas[hi]! - alphas[lo]!) * (t - lo);
}

/**
 * Latents [1, ≥4, h, w] → RGB uint8 [h, w, 3]: the linear projection, then [−1, 1] → [0, 255]. Latents are taken
 * as the UNet sees them (scaled by the VAE's scaling factor), which is the space the weights were fitted in.
 */
export function latentsToRgb(latents: FloatTensor): { pixels: Uint8Array; width: number; height: number } {
  const [, channels = 4, height = 0, width = 0] = latents.dims;
  const plane = height * width;
  const pixels = new Uint8Array(plane * 3);
  const used = Math.min(channels, LATENT_RGB.length);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < used; k++) v += latents.data[k * plane + p]! * LATENT_RGB[k]![c]!;
      pixels[p * 3 + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
    }
  }
  return { pixels, width, height };
}
