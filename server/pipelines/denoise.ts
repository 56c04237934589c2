/**
 * Stage 3: the denoising loop, shared by every task. Each step follows diffusers' StableDiffusion pipelines:
 * duplicate the latents for classifier-free guidance, let the scheduler scale them, append the inpainting
 * channels if the UNet takes nine, predict the noise, combine the two halves with the guidance scale, and let the
 * scheduler step (drawing noise from the request's generator where diffusers does). Task-specific work between
 * steps — the 4-channel inpainting blend — comes in through `afterStep`.
 */
import type { Graph } from "../runtime/graph.ts";
import { asFloat, type FloatTensor, floatTensor, type HostTensor } from "../runtime/tensor.ts";
import type { Scheduler } from "../schedulers/scheduler.ts";
import { predictedOriginal } from "./preview.ts";
import { type RunContext, throwIfAborted } from "./run-context.ts";

export interface DenoiseOptions {
  readonly unet: Graph;
  readonly scheduler: Scheduler;
  /** The timesteps to run (all of the scheduler's, or the tail that img2img strength leaves). */
  readonly timesteps: readonly number[];
  readonly latents: FloatTensor;
  /** [negative; positive] with guidance, else positive only. */
  readonly promptEmbeds: FloatTensor;
  readonly guidanceScale: number;
  readonly guidance: boolean;
  /** More UNet inputs, fed as they are at every step (SDXL's text_embeds and time_ids). */
  readonly extraInputs?: Readonly<Record<string, HostTensor>>;
  /** 9-channel inpainting: [mask, masked_image_latents] appended to the scaled latents (already CFG-doubled). */
  readonly extraChannels?: FloatTensor;
  /** Called after each scheduler step; may return replacement latents (4-channel inpainting blend). */
  readonly afterStep?: (latents: FloatTensor, index: number) => FloatTensor;
}

/** Runs the loop and returns the final latents. */
export async function denoise(options: DenoiseOptions, run: RunContext): Promise<FloatTensor> {
  const { unet, scheduler, timesteps, promptEmbeds, guidance, guidanceScale } = options;
  let latents = options.latents;
  const batch = latents.dims[0] ?? 1;
  const modelBatch = guidance ? 2 * batch : batch;
  const timestepSpec = unet.input("timestep");
  const scale = Math.fround(guidanceScale);

  for (let i = 0; i < timesteps.length; i++) {
    throwIfAborted(run.signal);
    const t = timesteps[i]!;
    // 1. The UNet sees [latents; latents] with guidance, scaled by the scheduler (a no-op for DDPM-style ones).
    const doubled = guidance ? repeatBatch(latents.data, 2) : latents.data;
    const scaled = floatTensor(scheduler.scaleModelInput(doubled, t), [modelBatch, ...latents.dims.slice(1)]);
    let sample = scaled;
    // 2. Inpainting UNets take 9 channels: [latents(4), mask(1), masked image latents(4)].
    if (options.extraChannels) sample = concatChannels(sample, options.extraChannels);
    // 3. Predict the noise (or v) for the whole batch in one call — or, under a memory budget, the two guidance
    //    halves one after the other (the UNet's attention memory grows with the batch); and where one call would
    //    run long, in smaller parts, so that a cancelled request stops between them rather than at the step's end.
    const extra = options.extraInputs ?? {};
    const predict = async (start: number, count: number) => {
      const pick = (x: FloatTensor) => (count === modelBatch ? x : rows(x, start, count, modelBatch));
      const x = pick(sample);
      const feeds: Record<string, HostTensor> = {
        sample: x,
        timestep: timestepTensor(t, count, timestepSpec?.type, timestepSpec?.shape.length ?? 1),
        encoder_hidden_states: pick(promptEmbeds),
      };
      // SDXL's text_embeds and time_ids are batched like the prompt embeddings.
      for (const [name, tensor] of Object.entries(extra)) feeds[name] = pick(asFloat(tensor, name));
      const outputs = await unet.run(feeds, run.timer);
      return asFloat(outputs.out_sample ?? Object.values(outputs)[0], "unet out_sample");
    };
    const part = Math.min(
      guidance && run.memory?.splitGuidance ? batch : modelBatch,
      Math.max(1, run.unetChunk ?? modelBatch),
    );
    const parts: FloatTensor[] = [];
    for (let start = 0; start < modelBatch; start += part) {
      if (start > 0) throwIfAborted(run.signal);
      parts.push(await predict(start, Math.min(part, modelBatch - start)));
    }
    const prediction = parts.length === 1 ? (parts[0] as FloatTensor) : concatBatches(parts);
    // 4. Classifier-free guidance: uncond + scale · (cond − uncond), in float32 as torch computes it.
    const noisePred = guidance ? applyGuidance(prediction.data, scale) : prediction.data;
    // 5. One scheduler step (it may draw noise from the request's generator).
    const next = scheduler.step(noisePred, t, latents.data, latents.dims, run.generator);
    latents = floatTensor(next, latents.dims);
    if (options.afterStep) latents = options.afterStep(latents, i);
    // 6. Report the step; a preview (x̂₀ of the first image) is computed only if someone asks for it.
    run.onStep?.({
      step: i + 1,
      totalSteps: timesteps.length,
      predictedLatents: () => predictedOriginal(scheduler, noisePred, scaled.data, latents.dims, t),
    });
  }
  return latents;
}

/** `count` items from `start` of a tensor whose first axis holds `total` items (the rest of a row follows it). */
function rows(x: FloatTensor, start: number, count: number, total: number): FloatTensor {
  const [batch = total, ...rest] = x.dims;
  const size = x.data.length / batch;
  return floatTensor(x.data.slice(start * size, (start + count) * size), [count, ...rest]);
}

function concatBatches(parts: readonly FloatTensor[]): FloatTensor {
  const out = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  let batch = 0;
  for (const p of parts) {
    out.set(p.data, offset);
    offset += p.data.length;
    batch += p.dims[0] ?? 1;
  }
  return floatTensor(out, [batch, ...(parts[0]?.dims.slice(1) ?? [])]);
}

function repeatBatch(data: Float32Array, times: number): Float32Array {
  const out = new Float32Array(data.length * times);
  for (let r = 0; r < times; r++) out.set(data, r * data.length);
  return out;
}

function applyGuidance(prediction: Float32Array, scale: number): Float32Array {
  const half = prediction.length / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const uncond = prediction[i]!;
    const cond = prediction[half + i]!;
    out[i] = Math.fround(uncond + Math.fround(scale * Math.fround(cond - uncond)));
  }
  return out;
}

/** The timestep as the graph declares it: float or int, scalar or one per batch item. */
function timestepTensor(t: number, batch: number, type: string | undefined, rank: number): HostTensor {
  const dims = rank === 0 ? [] : [batch];
  const count = rank === 0 ? 1 : batch;
  if (type === "int64")
    return { type: "int64", data: new BigInt64Array(count).fill(BigInt(Math.round(t))), dims };
  if (type === "int32") return { type: "int32", data: new Int32Array(count).fill(Math.round(t)), dims };
  return { type: "float32", data: new Float32Array(count).fill(t), dims };
}

/** Concatenates two NCHW tensors of one batch and spatial size along the channel axis. */
export function concatChannels(a: FloatTensor, b: FloatTensor): FloatTensor {
  const [batch = 1, ca = 0, h = 0, w = 0] = a.dims;
  const cb = b.dims[1] ?? 0;
  const plane = h * w;
  const out = new Float32Array(batch * (ca + cb) * plane);
  for (let n = 0; n < batch; n++) {
    out.set(a.data.subarray(n * ca * plane, (n + 1) * ca * plane), n * (ca + cb) * plane);
    out.set(b.data.subarray(n * cb * plane, (n + 1) * cb * plane), (n * (ca + cb) + ca) * plane);
  }
  return floatTensor(out, [batch, ca + cb, h, w]);
}
