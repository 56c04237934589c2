/**
 * Validation of generation requests, once and up front, as diffusers' `check_inputs` does: every failure is an
 * InvalidInputError naming the field, the value received and what is allowed.
 */
import type { Config } from "../config.ts";
import { InvalidInputError, showValue } from "../errors.ts";
import type { ComponentFacts } from "./components.ts";

export const MAX_PROMPT_CHARS = 10_000;
export const MAX_IMAGES_PER_PROMPT = 8;
export const MAX_SEED = 2n ** 64n - 1n;

export interface GenerationRequest {
  readonly prompt: string;
  readonly negativePrompt?: string | null;
  readonly width?: number | null;
  readonly height?: number | null;
  readonly numInferenceSteps?: number | null;
  readonly guidanceScale?: number | null;
  readonly numImagesPerPrompt?: number | null;
  readonly seed?: bigint | null;
}

export interface ValidGeneration {
  readonly prompt: string;
  readonly negativePrompt: string | null;
  readonly width: number;
  readonly height: number;
  readonly numInferenceSteps: number;
  readonly guidanceScale: number;
  readonly numImagesPerPrompt: number;
  readonly seed: bigint;
}

/** Checks what needs no checkpoint (prompt, steps, guidance, count, seed). */
export function validateCommon(
  input: GenerationRequest,
  config: Pick<Config, "maxSteps">,
  prefix: string,
): Omit<ValidGeneration, "width" | "height"> {
  for (const field of ["prompt", "negativePrompt"] as const) {
    const value = input[field];
    if (typeof value === "string" && value.length > MAX_PROMPT_CHARS) {
      throw new InvalidInputError(
        `${prefix}.${field}`,
        showValue(value),
        `at most ${MAX_PROMPT_CHARS} characters`,
      );
    }
  }
  const steps = input.numInferenceSteps ?? 50;
  if (!Number.isInteger(steps) || steps < 1 || steps > config.maxSteps) {
    throw new InvalidInputError(
      `${prefix}.numInferenceSteps`,
      String(steps),
      `an integer from 1 to ${config.maxSteps}`,
    );
  }
  const guidanceScale = input.guidanceScale ?? 7.5;
  if (!Number.isFinite(guidanceScale) || guidanceScale < 0) {
    throw new InvalidInputError(`${prefix}.guidanceScale`, String(guidanceScale), "a finite number >= 0");
  }
  const count = input.numImagesPerPrompt ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_IMAGES_PER_PROMPT) {
    throw new InvalidInputError(
      `${prefix}.numImagesPerPrompt`,
      String(count),
      `an integer from 1 to ${MAX_IMAGES_PER_PROMPT}`,
    );
  }
  const seed = input.seed ?? randomSeed();
  if (seed < 0n || seed > MAX_SEED) {
    throw new InvalidInputError(`${prefix}.seed`, seed.toString(), `an integer from 0 to ${MAX_SEED}`);
  }
  return {
    prompt: input.prompt,
    negativePrompt: input.negativePrompt ?? null,
    numInferenceSteps: steps,
    guidanceScale,
    numImagesPerPrompt: count,
    seed,
  };
}

/** Checks width and height against the checkpoint (multiples the UNet and VAE need) and the pixel budget. */
export function validateSize(
  input: Pick<GenerationRequest, "width" | "height">,
  facts: ComponentFacts,
  config: Pick<Config, "maxPixels">,
  prefix: string,
  defaults?: { width: number; height: number },
): { width: number; height: number } {
  const fallback = facts.sampleSize * facts.vaeScaleFactor;
  const multiple = facts.sizeMultiple;
  const width = input.width ?? defaults?.width ?? fallback;
  const height = input.height ?? defaults?.height ?? fallback;
  for (const [field, value] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0 || value % multiple !== 0) {
      throw new InvalidInputError(`${prefix}.${field}`, String(value), `a positive multiple of ${multiple}`);
    }
  }
  if (width * height > config.maxPixels) {
    throw new InvalidInputError(
      `${prefix}.width×height`,
      `${width}×${height} = ${width * height} pixels`,
      `at most ${config.maxPixels} pixels (AUTOPIPE_MAX_PIXELS)`,
    );
  }
  return { width, height };
}

/** A uniformly random seed in 0 … 2^64 − 1, for requests that give none. */
export function randomSeed(): bigint {
  const words = crypto.getRandomValues(new BigUint64Array(1));
  return words[0]!;
}
