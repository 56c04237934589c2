/**
 * The numeric building blocks against the libraries diffusers runs on: PyTorch's float32 linspace and cumprod
 * (through the reference sigmas, which they must reproduce bit for bit), NumPy's rounding, arange and linspace,
 * SciPy's `quad` (values from SciPy 1.17), and SLEEF's float32 exp.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DPMSolverMultistepScheduler } from "../../server/schedulers/dpm-solver-multistep.ts";
import { EulerDiscreteScheduler } from "../../server/schedulers/euler-discrete.ts";
import { LMSDiscreteScheduler } from "../../server/schedulers/lms-discrete.ts";
import {
  cumprodF32,
  f32,
  fmaF32,
  npArange,
  npInterp,
  npLinspace,
  roundHalfEven,
  sleefExpF32,
  torchLinspaceF32,
} from "../../server/schedulers/numerics.ts";
import { gaussKronrod21, quad } from "../../server/schedulers/quadrature.ts";
import { CHECKPOINT_SCHEDULER_CONFIG, ReferenceCase } from "./reference.ts";

const expected = JSON.parse(
  readFileSync(new URL("./numpy-schedules.json", import.meta.url), "utf8"),
) as Record<string, unknown>;

describe("PyTorch float32 emulation", () => {
  it.each(["t2i_euler", "t2i_euler_ancestral", "t2i_lms", "t2i_dpmpp_2m"])(
    "reproduces the sigmas of %s bit for bit",
    (id) => {
      const c = new ReferenceCase(id);
      const scheduler = new (
        id === "t2i_dpmpp_2m"
          ? DPMSolverMultistepScheduler
          : id === "t2i_lms"
            ? LMSDiscreteScheduler
            : EulerDiscreteScheduler
      )(CHECKPOINT_SCHEDULER_CONFIG);
      scheduler.setTimesteps(10);
      expect([...scheduler.sigmas]).toEqual(c.manifest.scheduler.sigmas);
    },
  );

  it("linspace keeps both ends exact and is monotone", () => {
    const x = torchLinspaceF32(0.1, 0.7, 1000);
    expect(x[0]).toBe(f32(0.1));
    expect(x[999]).toBe(f32(0.7));
    for (let i = 1; i < x.length; i++) expect(x[i]!).toBeGreaterThanOrEqual(x[i - 1]!);
    expect([...torchLinspaceF32(2, 3, 1)]).toEqual([2]);
    expect([...torchLinspaceF32(0, 1, 5)]).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it("cumprod accumulates in float64 and rounds each output", () => {
    const v = Float32Array.from([0.9, 0.9, 0.9]);
    const exact = [f32(0.9), f32(0.9) * f32(0.9), f32(0.9) * f32(0.9) * f32(0.9)].map(f32);
    expect([...cumprodF32(v)]).toEqual(exact);
  });

  it("fmaF32 rounds once", () => {
    // (1 + 2^-12)² − 1 = 2^-11 + 2^-24: rounding the product first would lose the 2^-24.
    const a = f32(1 + 2 ** -12);
    expect(f32(f32(a * a) - 1)).toBe(2 ** -11);
    expect(fmaF32(a, a, -1)).toBe(2 ** -11 + 2 ** -24);
    expect(fmaF32(3, 0.5, 1)).toBe(2.5);
  });

  it("SLEEF expf stays within one ulp of exp and matches the cases diffusers hit", () => {
    for (let x = -20; x <= 20; x += 0.0137) {
      const ours = sleefExpF32(x);
      const exact = Math.exp(f32(x));
      expect(Math.abs(ours - exact) / exact).toBeLessThan(1.2e-7);
    }
    expect(sleefExpF32(0)).toBe(1);
    expect(sleefExpF32(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(sleefExpF32(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("NumPy emulation", () => {
  it("rounds half to even", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
  });

  it("linspace and arange", () => {
    expect(npLinspace(0, 999, 4)).toEqual([0, 333, 666, 999]);
    expect(npLinspace(0, 50, 4, false)).toEqual([0, 12.5, 25, 37.5]);
    expect(npArange(1000, 0, -1000 / 3).map(roundHalfEven)).toEqual([1000, 667, 333]);
  });

  it("interp is exact at the nodes and clamps outside", () => {
    const fp = [1, 3, 7];
    expect([0, 1, 2, 0.5, -1, 5].map((x) => npInterp(x, [0, 1, 2], fp))).toEqual([1, 3, 7, 2, 1, 7]);
  });
});

describe("QUADPACK quadrature", () => {
  const values = expected["QUAD"] as Record<string, number>;

  it("matches scipy.integrate.quad (epsrel 1e-4) bit for bit", () => {
    expect(quad((x) => x ** 3 - 2 * x + 1, 0.3, 1.7, { epsrel: 1e-4 })).toBe(values["cubic"]);
    expect(quad(Math.sqrt, 0, 1, { epsrel: 1e-4 })).toBe(values["sqrt"]);
  });

  it("integrates cubics exactly in one 21-point pass", () => {
    const r = gaussKronrod21((x) => 4 * x ** 3, 0, 2);
    expect(r.result).toBeCloseTo(16, 12);
    expect(r.abserr).toBeLessThan(1e-12);
  });

  it("falls back to adaptive bisection for hard integrands", () => {
    expect(quad((x) => 1 / Math.sqrt(x), 0, 1)).toBeCloseTo(2, 3);
  });

  it("gives diffusers' LMS coefficients bit for bit", () => {
    const table = expected["LMS_COEFFICIENTS/t2i_lms"] as number[][];
    const lms = new LMSDiscreteScheduler(CHECKPOINT_SCHEDULER_CONFIG);
    lms.setTimesteps(10);
    table.forEach((row, t) => {
      row.forEach((coefficient, j) => {
        expect(lms.lmsCoefficient(row.length, t, j)).toBe(coefficient);
      });
    });
  });
});
