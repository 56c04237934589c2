/**
 * Stage 4: latents → images. Divides by the VAE scaling factor, decodes image by image, and maps the decoder's
 * [−1, 1] NCHW output to NHWC in [0, 1] exactly as diffusers' `VaeImageProcessor.postprocess(output_type="np")`
 * does (`(x / 2 + 0.5).clamp(0, 1)` in float32).
 */
import { asFloat, concatBatch, type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import type { SdComponents } from "./components.ts";
import { type RunContext, throwIfAborted } from "./run-context.ts";
import { needsTiling, tiledDecode } from "./vae-tiling.ts";

/**
 * Returns NHWC float32 images in [0, 1]. Images are decoded one at a time (as diffusers' ONNX pipelines do): the
 * decoder's activations at full resolution dominate peak memory, and a batch of eight would multiply it by eight.
 */
export async function decodeLatents(
  c: SdComponents,
  latents: FloatTensor,
  run: RunContext,
): Promise<FloatTensor> {
  const decoder = await c.graph("vae_decoder");
  const facts = await c.facts();
  const { scalingFactor } = facts;
  const factor = Math.fround(scalingFactor);
  const name = decoder.inputs[0]?.name ?? "latent_sample";
  const [batch = 1, ...rest] = latents.dims;
  const item = latents.data.length / batch;
  const decoded: FloatTensor[] = [];
  for (let b = 0; b < batch; b++) {
    throwIfAborted(run.signal);
    const scaled = new Float32Array(item);
    for (let i = 0; i < item; i++) scaled[i] = Math.fround(latents.data[b * item + i]! / factor);
    const decodeOne = async (latent: FloatTensor) => {
      // Tiles are runs of their own: a cancelled request stops between them.
      throwIfAborted(run.signal);
      const outputs = await decoder.run({ [name]: latent }, run.timer);
      return asFloat(outputs.sample ?? Object.values(outputs)[0], "vae_decoder sample");
    };
    const latent = floatTensor(scaled, [1, ...rest]);
    // Large images under a memory budget: overlapping tiles, blended (diffusers' enable_vae_tiling).
    const tiling = run.memory?.vaeTiling ? run.memory.vaeTileLatent : undefined;
    decoded.push(
      tiling && needsTiling(latent.dims, tiling)
        ? await tiledDecode(latent, { tileLatent: tiling, vaeScaleFactor: facts.vaeScaleFactor }, decodeOne)
        : await decodeOne(latent),
    );
  }
  return toNhwcUnit(concatBatch(decoded));
}

/** NCHW in [−1, 1] → NHWC in [0, 1]. */
export function toNhwcUnit(decoded: FloatTensor): FloatTensor {
  const [batch = 1, channels = 3, height = 0, width = 0] = decoded.dims;
  const plane = height * width;
  const out = new Float32Array(decoded.data.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const src = (n * channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = Math.fround(Math.fround(decoded.data[src + p]! / 2) + 0.5);
        out[(n * plane + p) * channels + c] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return floatTensor(out, [batch, height, width, channels]);
}
