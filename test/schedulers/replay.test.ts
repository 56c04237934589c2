/**
 * Replay parity with diffusers 0.27.2: each reference case is re-run through our scheduler with the recorded UNet
 * outputs and noise draws. Starting from the recorded initial latents we check the model input of every UNet call,
 * the latents after every step and the final latents, all within 1e-4 of the reference's max-abs, and that the
 * scheduler asked for exactly the recorded noise tensors. Image-to-image and inpainting cases also check the
 * strength-sliced timesteps and `addNoise` against the latents the pipeline started from.
 */
import { afterAll, describe, expect, it } from "vitest";
import { f32 } from "../../server/schedulers/numerics.ts";
import { createScheduler, schedulerNameOf } from "../../server/schedulers/registry.ts";
import type { Scheduler } from "../../server/schedulers/scheduler.ts";
import {
  CASE_IDS,
  CHECKPOINT_SCHEDULER_CONFIG,
  ReferenceCase,
  ReplayNoise,
  relDiff,
  slice0,
  type Tensor,
} from "./reference.ts";

const TOLERANCE = 1e-4;
const VAE_SCALING_FACTOR = 0.18215;
const report = new Map<string, { steps: number; modelInput: number; final: number }>();

afterAll(() => {
  const lines = [...report].map(
    ([id, r]) =>
      `${id.padEnd(26)} step ${r.steps.toExponential(2)}  model input ${r.modelInput.toExponential(2)}  final ${r.final.toExponential(2)}`,
  );
  console.log(`max |ours − diffusers| / max |diffusers|:\n${lines.join("\n")}`);
});

/** The scheduler a case used: the checkpoint's config swapped to the case's class, plus its extra kwargs. */
function schedulerFor(c: ReferenceCase): Scheduler {
  const name = schedulerNameOf(c.manifest.scheduler.class);
  if (name === undefined) throw new Error(`no scheduler for ${c.manifest.scheduler.class}`);
  return createScheduler({ ...CHECKPOINT_SCHEDULER_CONFIG, ...c.manifest.scheduler.extra_kwargs }, name);
}

/** diffusers' img2img `get_timesteps`: skip the first (1 − strength) part of the schedule. */
function startIndex(c: ReferenceCase, scheduler: Scheduler): number {
  const { num_inference_steps: n, strength } = c.manifest.params;
  if (strength === null) return 0;
  const initTimestep = Math.min(Math.trunc(n * strength), n);
  return Math.max(n - initTimestep, 0) * scheduler.order;
}

/** Classifier-free guidance in float32: uncond + g·(cond − uncond) over the two halves of the batch. */
function guide(out: Tensor, cfg: boolean, scale: number): Float32Array {
  if (!cfg) return Float32Array.from(out.data);
  const half = out.data.length / 2;
  const g = f32(scale);
  const res = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const u = out.data[i]!;
    res[i] = u + f32(g * f32(out.data[half + i]! - u));
  }
  return res;
}

/** Relative diff of our model input against the first four channels of each item of the recorded UNet input. */
function modelInputDiff(ours: Float32Array, latentShape: number[], trace: Tensor): number {
  const [batch, channels, h, w] = latentShape as [number, number, number, number];
  const plane = h * w;
  const traceChannels = trace.shape[1]!;
  const actual: number[] = [];
  const expected: number[] = [];
  for (let bt = 0; bt < trace.shape[0]!; bt++) {
    const b = bt % batch;
    for (let ch = 0; ch < channels; ch++) {
      for (let p = 0; p < plane; p++) {
        actual.push(ours[(b * channels + ch) * plane + p]!);
        expected.push(trace.data[(bt * traceChannels + ch) * plane + p]!);
      }
    }
  }
  return relDiff(actual, expected);
}

/** 0.18215 · (mean + std · ε) of the K-th VAE encode: the latents `latent_dist.sample()` gave. */
function encodedLatents(c: ReferenceCase, k: number, eps: Float32Array): Float32Array {
  const moments = c.array(`vae_encode_${k}_moments`);
  const std = c.array(`vae_encode_${k}_std`).data;
  const out = new Float32Array(std.length);
  for (let i = 0; i < out.length; i++) {
    // moments = [mean(4) | logvar(4)] per batch item; with batch 1 the mean is the first half.
    out[i] = f32(f32(VAE_SCALING_FACTOR) * f32(moments.data[i]! + f32(std[i]! * eps[i]!)));
  }
  return out;
}

const cases = CASE_IDS.map((id) => new ReferenceCase(id));

describe.each(cases)("$id", (c) => {
  const m = c.manifest;
  const latentsShape = c.array("initial_latents").shape;

  it("timesteps match diffusers after setTimesteps and strength slicing", () => {
    const scheduler = schedulerFor(c);
    scheduler.setTimesteps(m.params.num_inference_steps);
    expect([...scheduler.timesteps]).toEqual(m.scheduler.timesteps_after_set_timesteps);
    expect(scheduler.initNoiseSigma).toBe(m.scheduler.init_noise_sigma);
    const start = startIndex(c, scheduler);
    expect(scheduler.timesteps.slice(start)).toEqual(m.trace_step_timesteps);
    expect(scheduler.timesteps.slice(start)).toEqual(m.trace_unet_timesteps);
  });

  it("replays the recorded run step for step", () => {
    const scheduler = schedulerFor(c);
    scheduler.setTimesteps(m.params.num_inference_steps);
    const start = startIndex(c, scheduler);
    scheduler.setBeginIndex?.(start);
    const timesteps = scheduler.timesteps.slice(start);
    const allNoise = c.noise();
    // Only the scheduler's own draws are replayed; prepare_latents and the VAE drew theirs before the loop.
    const stepNoise = allNoise.filter((n) => n.site.endsWith(".step"));
    const noise = new ReplayNoise(stepNoise);
    const traceSample = c.array("trace_unet_sample");
    const traceOut = c.array("trace_unet_out");
    const traceLatents = c.array("trace_latents_after_step");
    const inpaint4 = c.id.startsWith("inpaint4");
    const imageLatents = inpaint4 ? c.array("image_latents").data : null;
    const mask = inpaint4 ? slice0(c.array("mask_latents"), 0).data : null;
    const prepareNoise = allNoise.find((n) => n.site.endsWith("prepare_latents"))!;

    let latents: Float32Array = Float32Array.from(c.array("initial_latents").data);
    let worstStep = 0;
    let worstInput = 0;
    expect(timesteps.length).toBe(traceOut.shape[0]);
    timesteps.forEach((t, i) => {
      const input = scheduler.scaleModelInput(latents, t);
      expect(input.length).toBe(latents.length);
      worstInput = Math.max(worstInput, modelInputDiff(input, latentsShape, slice0(traceSample, i)));
      const noisePred = guide(slice0(traceOut, i), c.cfg, m.params.guidance_scale);
      latents = scheduler.step(noisePred, t, latents, latentsShape, noise);
      if (imageLatents !== null && mask !== null) {
        // 4-channel inpainting keeps the unmasked region on the noised original.
        const proper =
          i < timesteps.length - 1
            ? scheduler.addNoise(imageLatents, prepareNoise.data, timesteps[i + 1]!)
            : imageLatents;
        const plane = mask.length;
        latents = latents.map((x, j) => {
          const w = mask[j % plane]!;
          return f32(f32(1 - w) * proper[j]!) + f32(w * x);
        });
      }
      worstStep = Math.max(worstStep, relDiff(latents, slice0(traceLatents, i).data));
    });
    const final = relDiff(latents, c.array("final_latents").data);
    report.set(c.id, { steps: worstStep, modelInput: worstInput, final });

    expect(noise.requested).toEqual(stepNoise.map((n) => n.shape));
    expect(noise.remaining).toBe(0);
    expect(worstInput).toBeLessThan(TOLERANCE);
    expect(worstStep).toBeLessThan(TOLERANCE);
    expect(final).toBeLessThan(TOLERANCE);
  });

  if (m.params.strength !== null && m.params.strength < 1) {
    it("addNoise reproduces the initial latents from the encoded image", () => {
      const scheduler = schedulerFor(c);
      scheduler.setTimesteps(m.params.num_inference_steps);
      const start = startIndex(c, scheduler);
      scheduler.setBeginIndex?.(start);
      const noise = c.noise();
      let image: Float32Array;
      if (c.id.startsWith("inpaint4")) {
        image = c.array("image_latents").data;
      } else {
        // The first VAE draw is the image's latent_dist.sample(): rebuild 0.18215·(mean + std·ε).
        const vaeNoise = noise.find((n) => n.site === "vae.sample")!;
        image = encodedLatents(c, 0, vaeNoise.data);
      }
      const eps = noise.find((n) => n.site.endsWith("prepare_latents"))!.data;
      const noised = scheduler.addNoise(image, eps, scheduler.timesteps[start]!);
      const diff = relDiff(noised, c.array("initial_latents").data);
      expect(diff).toBeLessThan(1e-6);
    });
  }
});
