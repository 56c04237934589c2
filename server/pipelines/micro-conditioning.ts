/**
 * SDXL's micro-conditioning: the `time_ids` the UNet takes next to the pooled `text_embeds`, as diffusers'
 * `_get_add_time_ids` builds them. Text-to-image (and image tasks on base checkpoints) pass
 * `[original h, original w, crop top, crop left, target h, target w]`; refiner-style checkpoints
 * (`requires_aesthetics_score`) pass `[original h, original w, crop top, crop left, aesthetic score]` to the image
 * tasks. Sizes default to the output size, the crop to (0, 0), the scores to 6.0 / 2.5. The request fields are
 * named (`SizeInput { width, height }`, `PointInput { x, y }`) where diffusers takes `(height, width)` and
 * `(top, left)` tuples; fields a checkpoint does not use are ignored with a note.
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import { InvalidInputError, ModelLoadError } from "../errors.ts";
import type { Graph } from "../runtime/graph.ts";
import { type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import type { XlFacts } from "./components.ts";

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** The optional SDXL inputs of a request, as validated. */
export interface XlConditioning {
  /** diffusers' `original_size` (default: the output size). */
  readonly originalSize?: Size;
  /** diffusers' `target_size` (default: the output size). */
  readonly targetSize?: Size;
  /** diffusers' `crops_coords_top_left` as { x: left, y: top } (default (0, 0)). */
  readonly cropsCoordsTopLeft?: Point;
  /** Refiners' image tasks only (default 6.0). */
  readonly aestheticScore?: number;
  /** Refiners' image tasks only (default 2.5). */
  readonly negativeAestheticScore?: number;
}

export interface XlConditioningRequest {
  readonly originalSize?: Size | null;
  readonly targetSize?: Size | null;
  readonly cropsCoordsTopLeft?: Point | null;
  readonly aestheticScore?: number | null;
  readonly negativeAestheticScore?: number | null;
}

/** Largest size or crop coordinate accepted (diffusers takes any int; SDXL was trained up to 4096). */
const MAX_COORDINATE = 1 << 16;

/** Checks the SDXL fields (sizes positive, crops non-negative, scores finite); each error names its field. */
export function validateXlConditioning(input: XlConditioningRequest, prefix: string): XlConditioning {
  const out: { -readonly [K in keyof XlConditioning]: XlConditioning[K] } = {};
  for (const field of ["originalSize", "targetSize"] as const) {
    const size = input[field];
    if (!size) continue;
    for (const axis of ["width", "height"] as const) {
      const value = size[axis];
      if (!Number.isInteger(value) || value < 1 || value > MAX_COORDINATE) {
        throw new InvalidInputError(
          `${prefix}.${field}.${axis}`,
          String(value),
          `an integer from 1 to ${MAX_COORDINATE}`,
        );
      }
    }
    out[field] = { width: size.width, height: size.height };
  }
  const crop = input.cropsCoordsTopLeft;
  if (crop) {
    for (const axis of ["x", "y"] as const) {
      const value = crop[axis];
      if (!Number.isInteger(value) || value < 0 || value > MAX_COORDINATE) {
        throw new InvalidInputError(
          `${prefix}.cropsCoordsTopLeft.${axis}`,
          String(value),
          `an integer from 0 to ${MAX_COORDINATE}`,
        );
      }
    }
    out.cropsCoordsTopLeft = { x: crop.x, y: crop.y };
  }
  for (const field of ["aestheticScore", "negativeAestheticScore"] as const) {
    const value = input[field];
    if (value === null || value === undefined) continue;
    if (!Number.isFinite(value))
      throw new InvalidInputError(`${prefix}.${field}`, String(value), "a finite number");
    out[field] = value;
  }
  return out;
}

/** Which of the given SDXL fields the checkpoint and task use. */
function usedFields(task: Task, xl: XlFacts | null): ReadonlySet<keyof XlConditioning> {
  if (!xl) return new Set();
  if (task !== "TEXT_TO_IMAGE" && xl.requiresAestheticsScore) {
    return new Set(["originalSize", "cropsCoordsTopLeft", "aestheticScore", "negativeAestheticScore"]);
  }
  return new Set(["originalSize", "targetSize", "cropsCoordsTopLeft"]);
}

/** One note per given field that this checkpoint and task ignore, saying why. */
export function xlConditioningNotes(task: Task, xl: XlFacts | null, given: XlConditioning): string[] {
  const used = usedFields(task, xl);
  const why = !xl
    ? "only Stable Diffusion XL checkpoints use it"
    : task === "TEXT_TO_IMAGE"
      ? "StableDiffusionXLPipeline takes no aesthetic score"
      : xl.requiresAestheticsScore
        ? "this checkpoint (requires_aesthetics_score) conditions on aesthetic scores instead"
        : "only checkpoints with requires_aesthetics_score use it";
  return (Object.keys(given) as (keyof XlConditioning)[])
    .filter((field) => given[field] !== undefined && !used.has(field))
    .map((field) => `${field} was ignored: ${why}.`);
}

/**
 * `time_ids` for the UNet: one row per batch item, `[negative rows; positive rows]` with guidance. `size` is the
 * output size; `batch` the images per prompt.
 */
export function addTimeIds(
  task: Task,
  xl: XlFacts,
  given: XlConditioning,
  size: Size,
  batch: number,
  guidance: boolean,
): FloatTensor {
  const original = given.originalSize ?? size;
  const crop = given.cropsCoordsTopLeft ?? { x: 0, y: 0 };
  const target = given.targetSize ?? size;
  let positive: number[];
  let negative: number[];
  if (task !== "TEXT_TO_IMAGE" && xl.requiresAestheticsScore) {
    positive = [original.height, original.width, crop.y, crop.x, given.aestheticScore ?? 6.0];
    // diffusers' negative_crops_coords_top_left defaults to (0, 0), not to the positive crop.
    negative = [original.height, original.width, 0, 0, given.negativeAestheticScore ?? 2.5];
  } else {
    positive = [original.height, original.width, crop.y, crop.x, target.height, target.width];
    negative = positive;
  }
  const rows = [
    ...(guidance ? Array(batch).fill(negative) : []),
    ...Array(batch).fill(positive),
  ] as number[][];
  return floatTensor(Float32Array.from(rows.flat()), [rows.length, positive.length]);
}

/** Fails clearly when the UNet graph declares a time-ids width other than the pipeline passes. */
export function checkTimeIds(unet: Graph, timeIds: FloatTensor, id: string, xl: XlFacts): void {
  const spec = unet.input("time_ids");
  if (!spec)
    throw new ModelLoadError(id, "unet", "the UNet graph has no `time_ids` input (not an SDXL UNet)");
  const width = spec.shape[1];
  const passed = timeIds.dims[1];
  if (typeof width === "number" && width !== passed) {
    throw new ModelLoadError(
      id,
      "unet",
      `the UNet expects ${width} time ids but the pipeline passes ${passed} (requires_aesthetics_score is ${xl.requiresAestheticsScore} in model_index.json)`,
    );
  }
}
