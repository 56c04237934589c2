/**
 * The VAE encoder stage of image-to-image and inpainting: image in [−1, 1] → latents × scaling_factor. Encoders
 * that return the latent distribution's parameters (optimum's `latent_parameters`, or a `moments` output: mean |
 * logvar) are sampled here with the request's generator, exactly as diffusers' `DiagonalGaussianDistribution
 * .sample(generator)`, so results reproduce from the seed. An encoder that samples inside its graph (diffusers'
 * ONNX export ends in RandomNormalLike) still works, but its draw is onnxruntime's, not the seed's.
 */
import { asFloat, type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import type { SdComponents } from "./components.ts";
import type { RunContext } from "./run-context.ts";

export interface EncodedImage {
  /** scaling_factor · sample of the latent distribution, [B, 4, h, w]. */
  readonly latents: FloatTensor;
  /** False when the encoder drew its own noise inside the graph. */
  readonly seedReproducible: boolean;
}

export async function encodeImage(
  c: SdComponents,
  image: FloatTensor,
  run: RunContext,
): Promise<EncodedImage> {
  const encoder = await c.graph("vae_encoder");
  const { scalingFactor } = await c.facts();
  const name = encoder.inputs[0]?.name ?? "sample";
  const outputs = await encoder.run({ [name]: image }, run.timer);
  const parameters = outputs.latent_parameters ?? outputs.moments;
  let sample: Float32Array;
  let dims: readonly number[];
  let seedReproducible = true;
  if (parameters) {
    const moments = asFloat(parameters, "vae_encoder moments");
    ({ sample, dims } = sampleLatentDistribution(moments, run));
  } else {
    const drawn = asFloat(outputs.latent_sample ?? Object.values(outputs)[0], "vae_encoder latent_sample");
    sample = drawn.data;
    dims = drawn.dims;
    seedReproducible = false;
  }
  const factor = Math.fround(scalingFactor);
  const latents = new Float32Array(sample.length);
  for (let i = 0; i < latents.length; i++) latents[i] = Math.fround(factor * sample[i]!);
  return { latents: floatTensor(latents, dims), seedReproducible };
}

/**
 * mean + exp(0.5 · clamp(logvar, −30, 20)) · randn(mean.shape), in float32 like torch. `moments` is
 * [B, 2C, h, w]: the first C channels are the mean, the last C the log-variance.
 */
export function sampleLatentDistribution(
  moments: FloatTensor,
  run: Pick<RunContext, "generator">,
): { sample: Float32Array; dims: readonly number[] } {
  const [batch = 1, channels2 = 8, h = 0, w = 0] = moments.dims;
  const channels = channels2 / 2;
  const plane = h * w;
  const dims = [batch, channels, h, w];
  // One draw of the mean's shape, as diffusers' randn_tensor(self.mean.shape, generator).
  const noise = run.generator.randn(dims);
  const sample = new Float32Array(batch * channels * plane);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const meanAt = (n * channels2 + c) * plane;
      const logvarAt = (n * channels2 + channels + c) * plane;
      const out = (n * channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const logvar = Math.min(20, Math.max(-30, moments.data[logvarAt + p]!));
        const std = Math.fround(Math.exp(Math.fround(0.5 * logvar)));
        sample[out + p] = Math.fround(moments.data[meanAt + p]! + Math.fround(std * noise[out + p]!));
      }
    }
  }
  return { sample, dims };
}
