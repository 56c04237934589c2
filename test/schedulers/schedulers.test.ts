/**
 * Scheduler behaviour beyond the reference runs. Timesteps for every spacing and step count (and PRK, Karras
 * sigmas) against NumPy evaluations of diffusers' formulas; each prediction type, solver order and variant
 * against an oracle denoiser that knows the clean sample, with which an exact solver lands on the clean sample
 * (or on its trajectory); DDIM's η noise.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DDIMScheduler } from "../../server/schedulers/ddim.ts";
import { DPMSolverMultistepScheduler } from "../../server/schedulers/dpm-solver-multistep.ts";
import { EulerAncestralDiscreteScheduler } from "../../server/schedulers/euler-ancestral-discrete.ts";
import { EulerDiscreteScheduler } from "../../server/schedulers/euler-discrete.ts";
import { LCMScheduler } from "../../server/schedulers/lcm.ts";
import { LMSDiscreteScheduler } from "../../server/schedulers/lms-discrete.ts";
import { PNDMScheduler } from "../../server/schedulers/pndm.ts";
import { createScheduler, type SchedulerName } from "../../server/schedulers/registry.ts";
import type { Scheduler } from "../../server/schedulers/scheduler.ts";
import { CHECKPOINT_SCHEDULER_CONFIG, relDiff, SeededNoise } from "./reference.ts";

const expected = JSON.parse(
  readFileSync(new URL("./numpy-schedules.json", import.meta.url), "utf8"),
) as Record<string, unknown>;
const SD = CHECKPOINT_SCHEDULER_CONFIG;
const SPACINGS = ["linspace", "leading", "trailing"] as const;
const COUNTS = [1, 3, 7, 25, 30, 51];

describe("timesteps match NumPy for every spacing", () => {
  const grid = SPACINGS.flatMap((spacing) => COUNTS.map((n) => ({ spacing, n })));

  it.each(grid)("$spacing, $n steps", ({ spacing, n }) => {
    const config = { ...SD, timestep_spacing: spacing };
    const ts = (s: Scheduler): number[] => {
      s.setTimesteps(n);
      return [...s.timesteps];
    };
    expect(ts(new DDIMScheduler(config))).toEqual(expected[`DDIM/${spacing}/${n}`]);
    expect(ts(new PNDMScheduler(config))).toEqual(expected[`PNDM/${spacing}/${n}/skip`]);
    if (n >= 4) {
      expect(ts(new PNDMScheduler({ ...config, skip_prk_steps: false }))).toEqual(
        expected[`PNDM/${spacing}/${n}/prk`],
      );
    }
    expect(ts(new EulerDiscreteScheduler(config))).toEqual(expected[`EULER/${spacing}/${n}`]);
    expect(ts(new EulerAncestralDiscreteScheduler(config))).toEqual(expected[`EULER/${spacing}/${n}`]);
    expect(ts(new LMSDiscreteScheduler(config))).toEqual(expected[`EULER/${spacing}/${n}`]);
    expect(ts(new DPMSolverMultistepScheduler(config))).toEqual(expected[`DPM/${spacing}/${n}`]);
  });

  it.each([1, 2, 4, 8, 50])("LCM, %i steps", (n) => {
    const lcm = new LCMScheduler(SD);
    lcm.setTimesteps(n);
    expect([...lcm.timesteps]).toEqual(expected[`LCM/${n}`]);
    expect(() => lcm.setTimesteps(51)).toThrow(/original_inference_steps/);
  });
});

describe("Karras sigmas match NumPy", () => {
  const karras = { ...SD, use_karras_sigmas: true };
  const closeTo = (actual: readonly number[], wanted: readonly number[], tol: number): void => {
    expect(actual.length).toBe(wanted.length);
    actual.forEach((v, i) => {
      expect(Math.abs(v - wanted[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(wanted[i]!)));
    });
  };

  it.each([
    ["EULER_KARRAS", () => new EulerDiscreteScheduler(karras)],
    ["LMS_KARRAS", () => new LMSDiscreteScheduler(karras)],
    ["DPM_KARRAS", () => new DPMSolverMultistepScheduler(karras)],
  ] as const)("%s", (key, make) => {
    const s = make();
    s.setTimesteps(10);
    const want = expected[`${key}/leading/10`] as { sigmas: number[]; timesteps: number[] };
    closeTo([...s.sigmas], want.sigmas, 1e-6);
    // NumPy's float32 log may differ from the correctly rounded one by an ulp: timesteps agree to ~1e-5.
    if (key === "DPM_KARRAS") expect([...s.timesteps]).toEqual(want.timesteps);
    else closeTo([...s.timesteps], want.timesteps, 1e-5);
  });
});

/** How a scheduler's samples relate to the clean sample x₀ and the noise ε. */
type Space = "vp-alpha" | "vp-sigma" | "ve";

interface OracleCase {
  readonly label: string;
  readonly name: SchedulerName;
  readonly config: Record<string, unknown>;
  readonly space: Space;
  /**
   * Where the run must end: at x₀ ("clean"), at the schedule's last noise level on the initial noise's trajectory
   * (an ODE solver that stops short of σ = 0), or at that noise level with fresh noise (an SDE solver). The
   * noise-prediction SDE solver holds ε̂ constant over a step, which inflates the noise on the coarse schedules
   * used here (by 3 − 4eʰ + 2e²ʰ per step), so for it only finiteness is checked.
   */
  readonly ends: "clean" | "trajectory" | "fresh-noise" | "finite";
}

const ORACLE_CASES: OracleCase[] = [];
for (const prediction of ["epsilon", "v_prediction", "sample"] as const) {
  const p = { ...SD, prediction_type: prediction, set_alpha_to_one: true };
  ORACLE_CASES.push({
    label: `DDIM ${prediction}`,
    name: "DDIM",
    config: p,
    space: "vp-alpha",
    ends: "clean",
  });
  ORACLE_CASES.push({ label: `LCM ${prediction}`, name: "LCM", config: p, space: "vp-alpha", ends: "clean" });
  // PNDM combines raw v-predictions of different timesteps before converting them (as diffusers does), which
  // no oracle can make exact; its epsilon path is checked here and its float32 arithmetic by the replays.
  if (prediction === "epsilon") {
    for (const skip of [true, false]) {
      ORACLE_CASES.push({
        label: `PNDM ${skip ? "PLMS" : "PRK"} ${prediction}`,
        name: "PNDM",
        config: { ...p, skip_prk_steps: skip },
        space: "vp-alpha",
        ends: "clean",
      });
    }
  }
  if (prediction !== "sample") {
    ORACLE_CASES.push({
      label: `Euler ancestral ${prediction}`,
      name: "EULER_ANCESTRAL_DISCRETE",
      config: p,
      space: "ve",
      ends: "clean",
    });
  }
  for (const spacing of SPACINGS) {
    for (const karrasSigmas of [false, true]) {
      const q = { ...p, timestep_spacing: spacing, use_karras_sigmas: karrasSigmas };
      const tag = `${prediction} ${spacing}${karrasSigmas ? " karras" : ""}`;
      ORACLE_CASES.push({
        label: `Euler ${tag}`,
        name: "EULER_DISCRETE",
        config: q,
        space: "ve",
        ends: "clean",
      });
      ORACLE_CASES.push({ label: `LMS ${tag}`, name: "LMS_DISCRETE", config: q, space: "ve", ends: "clean" });
    }
  }
  for (const order of [1, 2, 3]) {
    for (const solver of ["midpoint", "heun"]) {
      for (const algorithm of ["dpmsolver++", "dpmsolver", "sde-dpmsolver++", "sde-dpmsolver"]) {
        if (algorithm.startsWith("sde") && order === 3) continue;
        const plus = algorithm.endsWith("++");
        const karrasSigmas = order === 3;
        // Only "zero" final sigmas end clean, and Karras sigmas end on a repeated σ_min instead (diffusers 0.27).
        const ends =
          plus && !karrasSigmas
            ? "clean"
            : algorithm === "sde-dpmsolver"
              ? "finite"
              : algorithm.startsWith("sde")
                ? "fresh-noise"
                : "trajectory";
        ORACLE_CASES.push({
          label: `DPM ${algorithm} order ${order} ${solver} ${prediction}${karrasSigmas ? " karras" : ""}`,
          name: "DPM_SOLVER_MULTISTEP",
          config: {
            ...p,
            algorithm_type: algorithm,
            solver_order: order,
            solver_type: solver,
            final_sigmas_type: plus ? "zero" : "sigma_min",
            use_karras_sigmas: karrasSigmas,
          },
          space: "vp-sigma",
          ends,
        });
      }
    }
  }
}

describe("an oracle denoiser leads every solver to the clean sample", () => {
  it.each(ORACLE_CASES)("$label", ({ name, config, space, ends }) => {
    const shape = [1, 4, 6, 6];
    const x0 = new SeededNoise(21).randn(shape).map((v) => 0.5 * v);
    const eps0 = new SeededNoise(22).randn(shape);
    const scheduler = createScheduler(config, name);
    // An even step ratio keeps PRK's half steps on the timesteps it evaluates the model at.
    const steps = name === "LCM" ? 4 : 10;
    scheduler.setTimesteps(steps);
    const prediction = scheduler.config.prediction_type;
    const sigmas = (scheduler as unknown as { sigmas?: Float32Array }).sigmas;
    const alphas = (scheduler as unknown as { alphasCumprod: Float32Array }).alphasCumprod;
    // The VP noise level (α, σ) of step i at timestep t.
    const level = (i: number, t: number): [number, number] => {
      if (space === "vp-alpha") return [Math.sqrt(alphas[t]!), Math.sqrt(1 - alphas[t]!)];
      const s = sigmas![i]!;
      const a = 1 / Math.sqrt(s * s + 1);
      return [a, s * a];
    };
    // A sample of the schedule's own space at step i (VE samples are x₀ + σε).
    const toSample = (i: number, t: number, eps: Float32Array): Float32Array => {
      if (space === "ve") return x0.map((x, j) => x + sigmas![i]! * eps[j]!);
      const [a, s] = level(i, t);
      return x0.map((x, j) => a * x + s * eps[j]!);
    };
    let latents = toSample(0, scheduler.timesteps[0]!, eps0);
    const noise = new SeededNoise(5);
    scheduler.timesteps.forEach((t, i) => {
      const input = scheduler.scaleModelInput(latents, t);
      const [a, s] = level(i, t);
      // The oracle: ε implied by the model input and the known x₀, then the requested parameterization.
      const eps = input.map((x, j) => (x - a * x0[j]!) / s);
      const out =
        prediction === "epsilon"
          ? eps
          : prediction === "sample"
            ? Float32Array.from(x0)
            : eps.map((e, j) => a * e - s * x0[j]!);
      latents = scheduler.step(out, t, latents, shape, noise);
    });
    const drawsPerStep = scheduler.config["algorithm_type"]?.toString().startsWith("sde") ? 1 : 0;
    if (name === "DPM_SOLVER_MULTISTEP") expect(noise.requested.length).toBe(drawsPerStep * steps);
    if (ends === "finite") {
      expect(latents.every(Number.isFinite)).toBe(true);
      return;
    }
    if (ends === "fresh-noise") {
      // σ_min-level noise drawn by the solver: the implied ε must look standard normal.
      const [a, s] = level(sigmas!.length - 1, 0);
      const implied = latents.map((x, j) => (x - a * x0[j]!) / s);
      const meanSquare = implied.reduce((acc, e) => acc + e * e, 0) / implied.length;
      expect(meanSquare).toBeGreaterThan(0.5);
      expect(meanSquare).toBeLessThan(2);
      return;
    }
    const want = ends === "clean" ? x0 : toSample(sigmas!.length - 1, 0, eps0);
    expect(relDiff(latents, want)).toBeLessThan(2e-5);
  });
});

describe("DDIM η", () => {
  it("η = 0 is deterministic and draws nothing; η > 0 adds σ_t(η)·z from one draw per step", () => {
    const shape = [1, 4, 2, 2];
    const sample = new SeededNoise(1).randn(shape);
    const output = new SeededNoise(2).randn(shape);
    const quiet = new DDIMScheduler(SD);
    quiet.setTimesteps(10);
    const none = new SeededNoise(3);
    const base = quiet.step(output, 901, sample, shape, none);
    expect(none.requested).toEqual([]);

    const noisy = new DDIMScheduler(SD);
    noisy.setTimesteps(10);
    const draws = new SeededNoise(3);
    const withEta = noisy.step(output, 901, sample, shape, draws, { eta: 1 });
    expect(draws.requested).toEqual([shape]);
    const z = new SeededNoise(3).randn(shape);
    // σ_t(1) between t = 901 and 801, and the shrunk direction term.
    const a = noisy.alphasCumprod;
    const at = a[901]!;
    const ap = a[801]!;
    const variance = ((1 - ap) / (1 - at)) * (1 - at / ap);
    const std = Math.sqrt(variance);
    for (let j = 0; j < sample.length; j++) {
      const x0 = (sample[j]! - Math.sqrt(1 - at) * output[j]!) / Math.sqrt(at);
      const want = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap - variance) * output[j]! + std * z[j]!;
      expect(withEta[j]!).toBeCloseTo(want, 5);
    }
    expect(withEta).not.toEqual(base);
  });
});

describe("img2img entry points", () => {
  it("Euler-type add_noise uses the begin index, DDPM-type the timestep's ᾱ", () => {
    const x = Float32Array.from([1, -2]);
    const n = Float32Array.from([0.5, 0.25]);
    const euler = new EulerDiscreteScheduler(SD);
    euler.setTimesteps(10);
    euler.setBeginIndex(3);
    const sigma = euler.sigmas[3]!;
    expect([...euler.addNoise(x, n, 601)]).toEqual([
      Math.fround(1 + Math.fround(0.5 * sigma)),
      Math.fround(-2 + Math.fround(0.25 * sigma)),
    ]);
    const ddim = new DDIMScheduler(SD);
    ddim.setTimesteps(10);
    const a = ddim.alphasCumprod[601]!;
    const noised = ddim.addNoise(x, n, 601);
    expect(noised[0]!).toBeCloseTo(Math.sqrt(a) * 1 + Math.sqrt(1 - a) * 0.5, 6);
    expect(() => ddim.addNoise(x, n, 1000)).toThrow(RangeError);
  });
});
