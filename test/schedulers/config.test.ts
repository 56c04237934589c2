/**
 * Configuration and registry: diffusers' `from_config` semantics (each reference scheduler was made with
 * `X.from_config(pndm.config)`, and its saved config is the target), default tracking across swaps, validation,
 * Python-style JSON, and `createScheduler`'s class resolution.
 */
import { describe, expect, it } from "vitest";
import { betasForAlphaBar, fromConfig, SchedulerConfigError } from "../../server/schedulers/config.ts";
import { DDIMScheduler } from "../../server/schedulers/ddim.ts";
import { PNDM_DEFAULTS } from "../../server/schedulers/pndm.ts";
import { createScheduler, SCHEDULERS, schedulerNameOf } from "../../server/schedulers/registry.ts";
import { CASE_IDS, CHECKPOINT_SCHEDULER_CONFIG, ReferenceCase } from "./reference.ts";

/** What `save_config` writes: the config without the in-memory `_use_default_values`. */
function saved(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { _use_default_values: _, ...rest } = config;
  return rest;
}

describe("from_config", () => {
  it.each(CASE_IDS)("reproduces the saved scheduler config of %s", (id) => {
    const c = new ReferenceCase(id);
    const name = schedulerNameOf(c.manifest.scheduler.class)!;
    const scheduler = createScheduler(
      { ...CHECKPOINT_SCHEDULER_CONFIG, ...c.manifest.scheduler.extra_kwargs },
      name,
    );
    expect(saved(scheduler.config)).toEqual(c.schedulerConfig);
  });

  it("every registered scheduler takes the checkpoint's keys and its own defaults", () => {
    for (const [name, entry] of SCHEDULERS) {
      const config = createScheduler(CHECKPOINT_SCHEDULER_CONFIG, name).config;
      expect(config._class_name).toBe(entry.className);
      expect(config.beta_schedule).toBe("scaled_linear");
      expect(config.steps_offset).toBe(1);
      expect(config.timestep_spacing).toBe("leading");
      // A PNDM-only key rides along as a hidden entry, as in diffusers.
      expect(config["skip_prk_steps"]).toBe(true);
    }
  });

  it("does not carry over values that were only defaults", () => {
    // DDIM defaults set_alpha_to_one to true; PNDM's default is false and must win after a swap.
    const ddim = createScheduler({ _class_name: "DDIMScheduler", beta_schedule: "scaled_linear" });
    expect(ddim.config["set_alpha_to_one"]).toBe(true);
    expect(ddim.config["_use_default_values"]).toContain("set_alpha_to_one");
    const pndm = createScheduler({ ...ddim.config }, "PNDM");
    expect(pndm.config["set_alpha_to_one"]).toBe(false);
    expect(pndm.config.beta_schedule).toBe("scaled_linear");
  });

  it("ignores unknown keys, keeps them hidden, and shares nothing with its source", () => {
    const source: Record<string, unknown> = {
      ...CHECKPOINT_SCHEDULER_CONFIG,
      some_future_key: { nested: [1, 2] },
      trained_betas: Array.from({ length: 1000 }, (_, i) => 0.0001 + i * 1e-5),
    };
    const scheduler = new DDIMScheduler(source);
    (source["trained_betas"] as number[])[0] = 0.5;
    expect(scheduler.config["some_future_key"]).toEqual({ nested: [1, 2] });
    expect(scheduler.config.trained_betas![0]).toBeCloseTo(0.0001, 12);
    expect(Object.isFrozen(scheduler.config)).toBe(true);
    expect(Object.isFrozen(scheduler.config.trained_betas)).toBe(true);
    expect(scheduler.betas[0]).toBe(Math.fround(0.0001));
  });

  it("fills every parameter with its default", () => {
    const config = fromConfig("PNDMScheduler", PNDM_DEFAULTS, {});
    expect(saved(config)).toEqual({ ...PNDM_DEFAULTS, _class_name: "PNDMScheduler" });
  });

  it.each([
    [{ beta_schedule: "cosine" }, "beta_schedule"],
    [{ prediction_type: "x0" }, "prediction_type"],
    [{ timestep_spacing: "middle" }, "timestep_spacing"],
    [{ num_train_timesteps: "1000" }, "num_train_timesteps"],
    [{ steps_offset: 1.5 }, "steps_offset"],
    [{ trained_betas: [0.1, "x"] }, "trained_betas"],
  ])("rejects %j naming the key", (bad, key) => {
    expect(() => new DDIMScheduler(bad)).toThrow(SchedulerConfigError);
    expect(() => new DDIMScheduler(bad)).toThrow(key);
  });

  it("applies scheduler-specific checks", () => {
    expect(() => createScheduler({ algorithm_type: "dpmsolver" }, "DPM_SOLVER_MULTISTEP")).toThrow(
      /final_sigmas_type/,
    );
    expect(() => createScheduler({ variance_type: "learned_range" }, "DPM_SOLVER_MULTISTEP")).toThrow(
      /variance_type/,
    );
    expect(createScheduler({ algorithm_type: "deis" }, "DPM_SOLVER_MULTISTEP").config).toBeDefined();
    expect(() => createScheduler({ prediction_type: "sample" }, "EULER_ANCESTRAL_DISCRETE")).toThrow(
      /prediction_type/,
    );
    expect(() => createScheduler({ interpolation_type: "cubic" }, "EULER_DISCRETE")).toThrow(
      /interpolation_type/,
    );
  });

  it("rescales betas to zero terminal SNR where the class supports it", () => {
    const config = { ...CHECKPOINT_SCHEDULER_CONFIG, rescale_betas_zero_snr: true };
    const ddim = new DDIMScheduler(config);
    expect(ddim.alphasCumprod[999]).toBe(0);
    expect(ddim.alphasCumprod[0]).toBeCloseTo(
      new DDIMScheduler(CHECKPOINT_SCHEDULER_CONFIG).alphasCumprod[0]!,
      6,
    );
    // Euler-type schedulers replace the zero by 2^-24 so the largest sigma stays finite.
    const euler = createScheduler(config, "EULER_DISCRETE");
    euler.setTimesteps(10);
    expect(Number.isFinite(euler.initNoiseSigma)).toBe(true);
    // PNDM has no such parameter: the key is carried but ignored, as in diffusers.
    expect(createScheduler(config, "PNDM").config["rescale_betas_zero_snr"]).toBe(true);
  });

  it("builds the cosine (squaredcos_cap_v2) schedule", () => {
    const betas = betasForAlphaBar(1000);
    expect(betas[0]).toBeGreaterThan(0);
    expect(betas[999]).toBe(Math.fround(0.999));
    const ddim = new DDIMScheduler({ beta_schedule: "squaredcos_cap_v2" });
    expect([...ddim.betas]).toEqual([...betas]);
  });
});

describe("createScheduler", () => {
  it("uses the checkpoint's class without an override", () => {
    const scheduler = createScheduler(CHECKPOINT_SCHEDULER_CONFIG);
    expect(scheduler.config._class_name).toBe("PNDMScheduler");
  });

  it("throws naming an unsupported class, unless overridden", () => {
    const heun = { ...CHECKPOINT_SCHEDULER_CONFIG, _class_name: "HeunDiscreteScheduler" };
    expect(() => createScheduler(heun)).toThrow(/HeunDiscreteScheduler/);
    expect(() => createScheduler({})).toThrow(/undefined/);
    expect(createScheduler(heun, "EULER_DISCRETE").config._class_name).toBe("EulerDiscreteScheduler");
  });

  it("returns a fresh instance every time", () => {
    const a = createScheduler(CHECKPOINT_SCHEDULER_CONFIG, "DDIM");
    const b = createScheduler(CHECKPOINT_SCHEDULER_CONFIG, "DDIM");
    expect(a).not.toBe(b);
    expect(a.config).toEqual(b.config);
  });
});
