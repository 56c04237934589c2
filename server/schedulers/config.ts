/**
 * Scheduler configuration as diffusers keeps it: the `scheduler_config.json` keys, the beta schedules they
 * describe, and `from_config` semantics. A scheduler built from a checkpoint's config takes every key its own
 * constructor knows from that config, fills the rest with its own defaults, and keeps the remaining keys as
 * "hidden" entries (so `EulerDiscreteScheduler.from_config(pndm.config).config` still says `skip_prk_steps`).
 * Betas are computed exactly as diffusers 0.27 does in PyTorch float32 (`linear`, `scaled_linear`,
 * `squaredcos_cap_v2`, `trained_betas`, plus zero-terminal-SNR rescaling).
 */
import { cumprodF32, f32, torchLinspaceF32 } from "./numerics.ts";

/** How betas grow over the training timesteps. */
export type BetaSchedule = "linear" | "scaled_linear" | "squaredcos_cap_v2";
/** What the denoising model predicts: the noise, the velocity (Salimans & Ho) or the clean sample. */
export type PredictionType = "epsilon" | "v_prediction" | "sample";
/** How inference timesteps are spread over the training range (Table 2 of arXiv:2305.08891). */
export type TimestepSpacing = "linspace" | "leading" | "trailing";

/** Constructor parameters every scheduler here shares, with diffusers' names. */
export interface BaseSchedulerParams {
  /** Training timesteps (diffusers default 1000). */
  readonly num_train_timesteps: number;
  /** First beta. */
  readonly beta_start: number;
  /** Last beta. */
  readonly beta_end: number;
  /** Beta schedule; ignored when `trained_betas` is set. */
  readonly beta_schedule: BetaSchedule;
  /** Explicit betas, overriding the schedule (default null). */
  readonly trained_betas: readonly number[] | null;
  /** Model parameterization (default "epsilon"). */
  readonly prediction_type: PredictionType;
  /** Inference timestep spacing (default depends on the scheduler). */
  readonly timestep_spacing: TimestepSpacing;
  /** Added to "leading" timesteps (default 0; SD 1.x checkpoints use 1). */
  readonly steps_offset: number;
}

/**
 * A scheduler's resolved configuration: its own parameters `P`, its class name, and whatever other keys the source
 * config carried (diffusers' hidden config entries, and `_use_default_values`: the parameters that fell back to
 * this class's defaults, which a later `from_config` to another class will not carry over).
 */
export type SchedulerConfig<P extends object = BaseSchedulerParams> = Readonly<P> & {
  readonly _class_name: string;
  readonly [key: string]: unknown;
};

/** A scheduler configuration that cannot be used: a wrong type or an unsupported value, named by key. */
export class SchedulerConfigError extends Error {
  override name = "SchedulerConfigError";
  constructor(
    readonly className: string,
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${className}: invalid ${key} ${JSON.stringify(value) ?? String(value)} (allowed: ${allowed})`);
  }
}

/** Parameters whose default is null but which take a value of the given kind. */
const NULLABLE_KINDS: Readonly<Record<string, "number" | "string" | "numbers">> = {
  trained_betas: "numbers",
  sigma_min: "number",
  sigma_max: "number",
  variance_type: "string",
};

function checkKind(className: string, key: string, value: unknown, fallback: unknown): void {
  if (value === null && (fallback === null || key in NULLABLE_KINDS)) return;
  const kind = fallback === null ? NULLABLE_KINDS[key] : typeof fallback;
  const ok =
    kind === "numbers"
      ? Array.isArray(value) && value.every((v) => typeof v === "number" && Number.isFinite(v))
      : kind === undefined || typeof value === kind;
  if (!ok)
    throw new SchedulerConfigError(
      className,
      key,
      value,
      kind === "numbers" ? "number[] or null" : `${kind}`,
    );
}

/** Throws unless `value` is one of `allowed` (diffusers raises NotImplementedError/ValueError there). */
export function checkChoice<T extends string>(
  className: string,
  key: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!allowed.includes(value as T))
    throw new SchedulerConfigError(className, key, value, allowed.join(", "));
}

/** Throws unless `value` is an integer ≥ `min`. */
export function checkInteger(className: string, key: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new SchedulerConfigError(className, key, value, `an integer >= ${min}`);
  }
}

function deepFreeze<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
    return Object.freeze(value);
  }
  if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) deepFreeze(item);
    return Object.freeze(value);
  }
  return value;
}

function clone(value: unknown): unknown {
  return value === undefined ? undefined : structuredClone(value);
}

/**
 * diffusers' `SchedulerClass.from_config(source)`: parameters of `defaults` present in `source` are taken from it
 * (keys the source marked `_use_default_values` excepted), the others keep the defaults, and every other source
 * key is kept as a hidden entry. `_class_name` becomes `className`. Values are type-checked against the
 * defaults; the result is frozen and shares nothing with `source`.
 */
export function fromConfig<P extends object>(
  className: string,
  defaults: P,
  source: Readonly<Record<string, unknown>>,
): SchedulerConfig<P> {
  const usedDefaults = Array.isArray(source["_use_default_values"]) ? source["_use_default_values"] : [];
  const original: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key !== "_use_default_values" && !usedDefaults.includes(key)) original[key] = clone(value);
  }
  const params = Object.keys(defaults);
  const init: Record<string, unknown> = {};
  for (const key of params) {
    if (Object.hasOwn(original, key)) init[key] = original[key];
  }
  const hidden: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(original)) {
    if (!Object.hasOwn(init, key)) hidden[key] = value;
  }
  const missing = params.filter((key) => !Object.hasOwn(init, key));
  const defaultsRecord = defaults as Readonly<Record<string, unknown>>;
  for (const [key, value] of Object.entries(init)) checkKind(className, key, value, defaultsRecord[key]);
  const config: Record<string, unknown> = {
    ...(clone(defaults) as Record<string, unknown>),
    ...init,
    ...(missing.length > 0 ? { _use_default_values: missing } : {}),
    ...hidden,
    _class_name: className,
  };
  return deepFreeze(config) as SchedulerConfig<P>;
}

/**
 * diffusers' `betas_for_alpha_bar` with the cosine ᾱ(t) of Nichol & Dhariwal (`squaredcos_cap_v2`): betas from
 * consecutive ratios of ᾱ, capped at `maxBeta`, in float64 and then stored as float32.
 */
export function betasForAlphaBar(numDiffusionTimesteps: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
  const betas = new Float32Array(numDiffusionTimesteps);
  for (let i = 0; i < numDiffusionTimesteps; i++) {
    const t1 = i / numDiffusionTimesteps;
    const t2 = (i + 1) / numDiffusionTimesteps;
    betas[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return betas;
}

/** The betas a config describes, as diffusers' constructors compute them (float32). */
export function betasFromConfig(className: string, config: BaseSchedulerParams): Float32Array {
  if (config.trained_betas !== null) return Float32Array.from(config.trained_betas);
  const n = config.num_train_timesteps;
  checkInteger(className, "num_train_timesteps", n, 1);
  switch (config.beta_schedule) {
    case "linear":
      return torchLinspaceF32(config.beta_start, config.beta_end, n);
    case "scaled_linear": {
      // Linear in sqrt(beta), then squared in float32: the latent-diffusion schedule.
      const roots = torchLinspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n);
      return roots.map((r) => f32(r * r));
    }
    case "squaredcos_cap_v2":
      return betasForAlphaBar(n);
    default:
      throw new SchedulerConfigError(
        className,
        "beta_schedule",
        config.beta_schedule,
        "linear, scaled_linear, squaredcos_cap_v2",
      );
  }
}

/**
 * diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1) in float32: shift and scale sqrt(ᾱ) so the
 * last timestep has zero signal while the first keeps its value, then turn it back into betas.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const alphasCumprod = cumprodF32(betas.map((b) => f32(1 - b)));
  const sqrtBar = alphasCumprod.map((a) => Math.sqrt(a));
  const first = sqrtBar[0]!;
  const last = sqrtBar[sqrtBar.length - 1]!;
  const scale = f32(first / f32(first - last));
  const bar = sqrtBar.map((s) => {
    const shifted = f32(f32(s - last) * scale);
    return f32(shifted * shifted);
  });
  const out = new Float32Array(bar.length);
  for (let i = 0; i < bar.length; i++) {
    const alpha = i === 0 ? bar[0]! : f32(bar[i]! / bar[i - 1]!);
    out[i] = f32(1 - alpha);
  }
  return out;
}

/** ᾱ_t = ∏(1 − β) over the training timesteps, as `torch.cumprod(1.0 - betas, 0)`. */
export function alphasCumprodOf(betas: Float32Array): Float32Array {
  return cumprodF32(betas.map((b) => f32(1 - b)));
}
