import type { Task } from "../auto-pipeline/resolve.ts";
import { MODEL_ID_ALLOWED, validateModelId } from "../checkpoints/model-id.ts";
import type { Config } from "../config.ts";
import type { Services } from "../context.ts";
import { InvalidInputError, showValue } from "../errors.ts";
import { type LoraInputValue, MAX_LORAS } from "../loras/lora-request.ts";
import { MAX_PROMPT_CHARS } from "../pipelines/validate.ts";
import { SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";
import { CONFIG_FIELDS, mergeOverrides, type PipelineConfigOverrides } from "./pipeline-config.ts";
import { type CheckpointResolution, resolveCheckpoint } from "./resolve-checkpoint.ts";

/** A named pipeline. */
export interface PipelineVariant {
  readonly name: string;
  /** What it was made from: a checkpoint id or another pipeline's name. */
  readonly from: string;
  /** The checkpoint id it runs on (at the end of the chain). */
  readonly model: string;
  readonly task: Task;
  /** Its own overrides merged over those of the pipeline it was made from. */
  readonly config: PipelineConfigOverrides;
}

export const TASKS: readonly Task[] = ["TEXT_TO_IMAGE", "IMAGE_TO_IMAGE", "INPAINTING"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const NAME_ALLOWED =
  "1-100 letters, digits, '.', '_' or '-' (no '/' or '@'), starting with a letter or digit, naming no checkpoint";

/** The named pipelines of one server. */
export class PipelineVariants {
  private readonly variants = new Map<string, PipelineVariant>();

  get(name: string): PipelineVariant | undefined {
    return this.variants.get(name);
  }

  /** In creation order. */
  list(): PipelineVariant[] {
    return [...this.variants.values()];
  }

  add(variant: PipelineVariant): void {
    this.variants.set(variant.name, variant);
  }

  remove(name: string): PipelineVariant | undefined {
    const variant = this.variants.get(name);
    this.variants.delete(name);
    return variant;
  }
}

/** A resolution of a request's `model`, with the named pipeline's overrides (none for a checkpoint id). */
export type ResolvedPipeline = CheckpointResolution & { readonly overrides?: PipelineConfigOverrides };

/** What a request's `model` names: the checkpoint to run and the named pipeline's overrides (empty for an id). */
export interface RequestTarget {
  /** The checkpoint id. */
  readonly model: string;
  readonly variant: PipelineVariant | null;
  readonly overrides: PipelineConfigOverrides;
}

/**
 * Turns a request's `model` into a checkpoint id and overrides. A named pipeline serves only its own task: any
 * other is an InvalidInputError on `field` (make another with fromPipe). `task` null accepts any.
 */
export function targetOf(
  services: Pick<Services, "variants">,
  model: string,
  task: Task | null,
  field: string,
): RequestTarget {
  const variant = services.variants.get(model);
  if (!variant) return { model, variant: null, overrides: {} };
  if (task && variant.task !== task) {
    throw new InvalidInputError(
      field,
      showValue(model),
      `a checkpoint id, or a named pipeline for ${task} ('${model}' is for ${variant.task}; make one for ${task} with fromPipe)`,
    );
  }
  return { model: variant.model, variant, overrides: variant.config };
}

/** A named pipeline and how it resolves. */
export interface CreatedVariant {
  readonly variant: PipelineVariant;
  readonly resolution: CheckpointResolution;
}

/**
 * `fromPipe`: validates the name (not a checkpoint id, not taken) and config, resolves the checkpoint for `task`
 * exactly as `resolvePipeline` does (same errors), and registers the pipeline.
 */
export async function fromPipe(
  services: Pick<Services, "config" | "locator" | "variants">,
  args: { name: string; from: string; task: Task; config?: PipelineConfigOverrides | null },
): Promise<CreatedVariant> {
  checkName(args.name, "name");
  if (services.variants.get(args.name)) {
    throw new InvalidInputError(
      "name",
      showValue(args.name),
      `a name not in use (remove '${args.name}' first)`,
    );
  }
  const listed = await services.locator.list();
  if (listed.some((c) => c.id === args.name)) {
    throw new InvalidInputError(
      "name",
      showValue(args.name),
      `${NAME_ALLOWED} ('${args.name}' is a checkpoint)`,
    );
  }
  const overrides = validateOverrides({ ...args.config }, services.config, "config");
  const parent = services.variants.get(args.from);
  const model = parent?.model ?? args.from;
  const config = mergeOverrides(parent?.config ?? {}, overrides);
  const resolution = await resolveCheckpoint(
    services,
    model,
    args.task,
    {},
    config.variant ?? null,
    config.configFrom ?? null,
  );
  const variant: PipelineVariant = {
    name: args.name,
    from: args.from,
    model,
    task: args.task,
    config,
  };
  services.variants.add(variant);
  return { variant, resolution };
}

/** Removes a named pipeline (its checkpoint stays loaded); InvalidInputError when there is none. */
export function removeVariant(services: Pick<Services, "variants">, name: string): PipelineVariant {
  const removed = services.variants.remove(name);
  if (!removed) {
    const names = services.variants.list().map((v) => v.name);
    throw new InvalidInputError(
      "name",
      showValue(name),
      names.length
        ? `one of ${names.join(", ")}`
        : "the name of a pipeline made with fromPipe (there are none)",
    );
  }
  return removed;
}

export function checkName(name: string, field: string): void {
  if (!NAME.test(name)) throw new InvalidInputError(field, showValue(name), NAME_ALLOWED);
}

/** Weight variant names as diffusers writes them into file names (`fp16`, `bf16`, `ema`, `non_ema`). */
const VARIANT_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/** A `variant` argument: null/absent, or a variant name (InvalidInputError naming `field` otherwise). */
export function validateVariantArg(value: string | null | undefined, field = "variant"): string | null {
  if (value === null || value === undefined) return null;
  if (!VARIANT_NAME.test(value)) {
    throw new InvalidInputError(
      field,
      showValue(value),
      "a variant name: 1 to 32 letters, digits, '_' or '-' (e.g. fp16)",
    );
  }
  return value;
}

/** Checks a config's values (what needs no checkpoint); throws InvalidInputError naming `${prefix}.field`. */
export function validateOverrides(
  config: Record<string, unknown>,
  limits: Pick<Config, "maxSteps">,
  prefix: string,
): PipelineConfigOverrides {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const field = `${prefix}.${key}`;
    if (!(CONFIG_FIELDS as readonly string[]).includes(key)) {
      throw new InvalidInputError(field, showValue(value), `one of the fields ${CONFIG_FIELDS.join(", ")}`);
    }
    if (value === null || value === undefined) continue;
    const bad = (allowed: string) => new InvalidInputError(field, showValue(value), allowed);
    switch (key) {
      case "requiresSafetyChecker":
        if (typeof value !== "boolean") throw bad("true or false");
        break;
      case "scheduler":
        if (typeof value !== "string" || !SCHEDULERS.has(value as SchedulerName)) {
          throw bad(`one of ${[...SCHEDULERS.keys()].join(", ")}`);
        }
        break;
      case "numInferenceSteps":
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > limits.maxSteps) {
          throw bad(`an integer from 1 to ${limits.maxSteps}`);
        }
        break;
      case "guidanceScale":
        if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
          throw bad("a finite number >= 0");
        break;
      case "strength":
        if (typeof value !== "number" || !(value > 0 && value <= 1)) throw bad("a number in (0, 1]");
        break;
      case "variant":
        if (typeof value !== "string" || !VARIANT_NAME.test(value)) {
          throw bad("a variant name: 1 to 32 letters, digits, '_' or '-' (e.g. fp16)");
        }
        break;
      case "configFrom":
        // A checkpoint id, checked by the id grammar (InvalidInputError names the field).
        if (typeof value !== "string") throw bad(MODEL_ID_ALLOWED);
        try {
          validateModelId(value);
        } catch {
          throw bad(MODEL_ID_ALLOWED);
        }
        break;
      case "loras":
        out[key] = validateLoraList(value, field);
        continue;
      case "negativePrompt":
        if (typeof value !== "string" || value.length > MAX_PROMPT_CHARS) {
          throw bad(`a string of at most ${MAX_PROMPT_CHARS} characters`);
        }
        break;
      default: // width, height
        if (!Number.isInteger(value) || (value as number) < 1) throw bad("a positive integer");
    }
    out[key] = value;
  }
  return out as PipelineConfigOverrides;
}

/** A config's `loras`: a list of `{ id, scale? }` with string ids and finite scales (ids are resolved per request). */
function validateLoraList(value: unknown, field: string): LoraInputValue[] {
  const allowed = `a list of at most ${MAX_LORAS} { id: String, scale: Float (finite, default 1.0) }`;
  if (!Array.isArray(value) || value.length > MAX_LORAS)
    throw new InvalidInputError(field, showValue(value), allowed);
  return value.map((entry: unknown, i) => {
    const e = (entry ?? {}) as Record<string, unknown>;
    if (typeof entry !== "object" || entry === null || typeof e.id !== "string") {
      throw new InvalidInputError(
        `${field}[${i}].id`,
        showValue(e.id),
        "an adapter id (see the `loras` query)",
      );
    }
    const scale = e.scale ?? 1;
    if (typeof scale !== "number" || !Number.isFinite(scale)) {
      throw new InvalidInputError(`${field}[${i}].scale`, showValue(scale), "a finite number");
    }
    return { id: e.id, scale };
  });
}
