/**
 * The scheduler contract, checked on every registered scheduler: timesteps after `setTimesteps` equal diffusers'
 * (the reference case of that class), model inputs and steps keep the sample's shape, runs are deterministic,
 * noise is drawn exactly where diffusers draws it, `setTimesteps` resets a run, and instances share no state.
 */
import { describe, expect, it } from "vitest";
import { createScheduler, SCHEDULERS, type SchedulerName } from "../../server/schedulers/registry.ts";
import type { NoiseSource, Scheduler } from "../../server/schedulers/scheduler.ts";
import { CASE_IDS, CHECKPOINT_SCHEDULER_CONFIG, ReferenceCase, SeededNoise } from "./reference.ts";

const SHAPE = [2, 4, 8, 8] as const;
const SIZE = SHAPE.reduce((a, b) => a * b, 1);

/** Noise draws per run of n steps, as diffusers makes them. */
const DRAWS: Record<SchedulerName, (steps: number) => number> = {
  PNDM: () => 0,
  DDIM: () => 0,
  EULER_DISCRETE: (n) => n,
  EULER_ANCESTRAL_DISCRETE: (n) => n,
  DPM_SOLVER_MULTISTEP: () => 0,
  LMS_DISCRETE: () => 0,
  LCM: (n) => n - 1,
};

/** A fake denoiser: a fixed, timestep-dependent function of the sample. */
function fakeModel(sample: Float32Array, t: number): Float32Array {
  return sample.map((x, i) => Math.sin(0.01 * t + i) * 0.5 + 0.1 * x);
}

/** Runs the whole schedule from seeded initial noise; returns every intermediate sample. */
function run(scheduler: Scheduler, steps: number, noise: NoiseSource = new SeededNoise(7)): Float32Array[] {
  scheduler.setTimesteps(steps);
  const init = new SeededNoise(3).randn(SHAPE);
  let latents: Float32Array = init.map((x) => x * scheduler.initNoiseSigma);
  const trace: Float32Array[] = [];
  for (const t of scheduler.timesteps) {
    const input = scheduler.scaleModelInput(latents, t);
    expect(input.length).toBe(SIZE);
    latents = scheduler.step(fakeModel(input, t), t, latents, SHAPE, noise);
    expect(latents.length).toBe(SIZE);
    trace.push(latents);
  }
  return trace;
}

const referenceByClass = new Map(
  CASE_IDS.filter((id) => id.startsWith("t2i_")).map((id) => {
    const c = new ReferenceCase(id);
    return [c.manifest.scheduler.class, c] as const;
  }),
);

describe.each([...SCHEDULERS].map(([name, entry]) => ({ name, entry })))("$name", ({ name, entry }) => {
  const reference = referenceByClass.get(entry.className)!;
  const steps = reference.manifest.params.num_inference_steps;
  const make = (): Scheduler => createScheduler(CHECKPOINT_SCHEDULER_CONFIG, name);

  it(`timesteps after setTimesteps(${steps}) equal diffusers'`, () => {
    const scheduler = make();
    scheduler.setTimesteps(steps);
    expect([...scheduler.timesteps]).toEqual(reference.manifest.scheduler.timesteps_after_set_timesteps);
    expect(scheduler.initNoiseSigma).toBe(reference.manifest.scheduler.init_noise_sigma);
    expect(scheduler.order).toBe(1);
    expect(scheduler.config._class_name).toBe(entry.className);
  });

  it("keeps shapes, never mutates its inputs, and draws noise where diffusers does", () => {
    const scheduler = make();
    scheduler.setTimesteps(steps);
    const noise = new SeededNoise(11);
    const sample = new SeededNoise(5).randn(SHAPE);
    const before = Float32Array.from(sample);
    const t = scheduler.timesteps[0]!;
    const input = scheduler.scaleModelInput(sample, t);
    expect(input).toBeInstanceOf(Float32Array);
    expect(input.length).toBe(SIZE);
    const output = fakeModel(input, t);
    const outputBefore = Float32Array.from(output);
    const next = scheduler.step(output, t, sample, SHAPE, noise);
    expect(next).toBeInstanceOf(Float32Array);
    expect(next.length).toBe(SIZE);
    expect(next.every(Number.isFinite)).toBe(true);
    expect(sample).toEqual(before);
    expect(output).toEqual(outputBefore);

    const counting = new SeededNoise(11);
    run(make(), steps, counting);
    expect(counting.requested).toEqual(Array.from({ length: DRAWS[name](steps) }, () => [...SHAPE]));
  });

  it("rejects tensors that do not match the shape, and steps before setTimesteps", () => {
    const scheduler = make();
    const x = new Float32Array(SIZE);
    expect(() => scheduler.step(x, 1, x, SHAPE, new SeededNoise())).toThrow(/setTimesteps/);
    scheduler.setTimesteps(steps);
    const t = scheduler.timesteps[0]!;
    expect(() => scheduler.step(new Float32Array(3), t, x, SHAPE, new SeededNoise())).toThrow(RangeError);
  });

  it("is deterministic", () => {
    const a = run(make(), steps);
    const b = run(make(), steps);
    expect(b).toEqual(a);
    expect(a.at(-1)!.every(Number.isFinite)).toBe(true);
  });

  it("setTimesteps resets a run", () => {
    const scheduler = make();
    const first = run(scheduler, steps);
    // A half-finished run, then a fresh schedule on the same instance.
    scheduler.setTimesteps(steps);
    const t0 = scheduler.timesteps[0]!;
    const x = new SeededNoise(9).randn(SHAPE);
    scheduler.step(fakeModel(x, t0), t0, x, SHAPE, new SeededNoise(1));
    expect(run(scheduler, steps)).toEqual(first);
  });

  it("keeps no references to the caller's buffers", () => {
    const normal = run(make(), steps);
    const scheduler = make();
    scheduler.setTimesteps(steps);
    const noise = new SeededNoise(7);
    let latents: Float32Array = new SeededNoise(3).randn(SHAPE).map((v) => v * scheduler.initNoiseSigma);
    const output = new Float32Array(SIZE);
    const trace: Float32Array[] = [];
    for (const t of scheduler.timesteps) {
      output.set(fakeModel(scheduler.scaleModelInput(latents, t), t));
      const next = scheduler.step(output, t, latents, SHAPE, noise);
      // Reuse (here: clobber) the buffers handed in, as a caller recycling tensors would.
      output.fill(Number.NaN);
      latents.fill(Number.NaN);
      latents = Float32Array.from(next);
      trace.push(next);
    }
    expect(trace).toEqual(normal);
  });

  it("fresh instances share no state", () => {
    const pristine = run(make(), steps);
    // Interleave two instances step by step: neither may see the other's history.
    const a = make();
    const b = make();
    a.setTimesteps(steps);
    b.setTimesteps(steps);
    const noiseA = new SeededNoise(7);
    const noiseB = new SeededNoise(7);
    let xa: Float32Array = new SeededNoise(3).randn(SHAPE).map((v) => v * a.initNoiseSigma);
    let xb: Float32Array = new SeededNoise(3).randn(SHAPE).map((v) => v * b.initNoiseSigma);
    const traceB: Float32Array[] = [];
    for (const t of a.timesteps) {
      xa = a.step(fakeModel(a.scaleModelInput(xa, t), t), t, xa, SHAPE, noiseA);
      xb = b.step(fakeModel(b.scaleModelInput(xb, t), t), t, xb, SHAPE, noiseB);
      traceB.push(xb);
    }
    expect(traceB).toEqual(pristine);
    expect(a.config).not.toBe(b.config);
    expect(Object.isFrozen(a.config)).toBe(true);
  });
});
