/**
 * Stage 2: the starting latents. Text-to-image draws Gaussian noise of the latent shape from the request's
 * generator (one draw for the whole batch, as diffusers' `randn_tensor`) and scales it by the scheduler's
 * `init_noise_sigma`.
 */
import { type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import type { Scheduler } from "../schedulers/scheduler.ts";
import type { RunContext } from "./run-context.ts";

export function latentShape(batch: number, channels: number, height: number, width: number, factor: number) {
  return [batch, channels, Math.floor(height / factor), Math.floor(width / factor)] as const;
}

/** `randn(shape) * init_noise_sigma`, in float32 like torch. */
export function noiseLatents(shape: readonly number[], scheduler: Scheduler, run: RunContext): FloatTensor {
  return scaleByInitSigma(floatTensor(run.generator.randn(shape), shape), scheduler);
}

/** `noise * init_noise_sigma` as a new tensor (the noise itself is kept by inpainting's blend). */
export function scaleByInitSigma(noise: FloatTensor, scheduler: Scheduler): FloatTensor {
  const sigma = Math.fround(scheduler.initNoiseSigma);
  if (sigma === 1) return noise;
  return floatTensor(
    noise.data.map((x) => Math.fround(x * sigma)),
    noise.dims,
  );
}

/** img2img: `scheduler.add_noise(imageLatents, randn(shape), t)` with one fresh draw for the whole batch. */
export function noisedLatents(
  imageLatents: FloatTensor,
  scheduler: Scheduler,
  timestep: number,
  run: RunContext,
): FloatTensor {
  const noise = run.generator.randn(imageLatents.dims);
  return floatTensor(scheduler.addNoise(imageLatents.data, noise, timestep), imageLatents.dims);
}
