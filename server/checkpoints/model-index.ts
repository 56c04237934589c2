/**
 * model_index.json: the file that makes a folder a diffusers checkpoint. It names the pipeline class
 * (`_class_name`) and each component with its `[library, class]`; other keys starting with `_` are metadata and
 * the rest (e.g. `requires_safety_checker`) is pipeline config. It is read with a size cap decided from the file's
 * size before reading, and every way it can be unusable becomes an `InvalidModelIndexError` saying which.
 */
import path from "node:path";
import { InvalidModelIndexError, showValue } from "../errors.ts";
import type { LocatedCheckpoint } from "./locate.ts";
import { checkpointRoot, isMissing, PathEscapeError, readCapped, resolveInside } from "./paths.ts";

/** Largest model_index.json read (1 MiB); real ones are under 1 KiB. */
export const MODEL_INDEX_MAX_BYTES = 1024 * 1024;

/** One component of a pipeline: `"unet": ["diffusers", "UNet2DConditionModel"]`; `[null, null]` when absent. */
export interface ModelIndexComponent {
  readonly name: string;
  readonly library: string | null;
  readonly className: string | null;
}

/** A parsed model_index.json. */
export interface ModelIndex {
  /** `_class_name`, e.g. "StableDiffusionPipeline" or "OnnxStableDiffusionPipeline". */
  readonly className: string;
  /** `_diffusers_version`, or null when absent. */
  readonly diffusersVersion: string | null;
  /** The entries whose value is `[library, class]`, in file order. */
  readonly components: readonly ModelIndexComponent[];
  /** The whole file, deeply frozen. */
  readonly raw: Readonly<Record<string, unknown>>;
}

// Components become folder names and constructor arguments: diffusers uses them as Python identifiers.
const COMPONENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads and parses the model_index.json of a located checkpoint. Throws `InvalidModelIndexError` when it is
 * missing, larger than `MODEL_INDEX_MAX_BYTES` (1 MiB, refused unread), not UTF-8 JSON, not an object, or lacks a
 * string `_class_name`.
 *
 * @example
 * const index = await readModelIndex(await locator.locate("tiny-sd"));
 * index.className; // "OnnxStableDiffusionPipeline"
 * index.components.find((c) => c.name === "unet"); // { name: "unet", library: "diffusers", className: "OnnxRuntimeModel" }
 */
export async function readModelIndex(checkpoint: LocatedCheckpoint): Promise<ModelIndex> {
  let file: string | null;
  try {
    file = await resolveInside(checkpointRoot(checkpoint), path.join(checkpoint.dir, "model_index.json"));
  } catch (error) {
    if (!(error instanceof PathEscapeError)) throw error;
    throw new InvalidModelIndexError(checkpoint.id, "model_index.json links outside the checkpoint");
  }
  if (file === null) throw new InvalidModelIndexError(checkpoint.id, "model_index.json is missing");
  return readModelIndexFile(checkpoint.id, file);
}

/**
 * Reads and parses a model_index.json at a path already known to be safe (see `readModelIndex`), naming `id` in
 * errors. Used as well right after a Hub download, to learn which component folders to fetch.
 */
export async function readModelIndexFile(id: string, file: string): Promise<ModelIndex> {
  let bytes: Awaited<ReturnType<typeof readCapped>>;
  try {
    bytes = await readCapped(file, MODEL_INDEX_MAX_BYTES);
  } catch (error) {
    // The error's own message would hold the server path; say what happened instead.
    const what = isMissing(error) ? "is missing" : "cannot be read";
    throw new InvalidModelIndexError(id, `model_index.json ${what}`);
  }
  if (bytes === "not-a-file") throw new InvalidModelIndexError(id, "model_index.json is not a regular file");
  if (bytes === "too-large") {
    throw new InvalidModelIndexError(id, `model_index.json is larger than ${MODEL_INDEX_MAX_BYTES} bytes`);
  }
  let text: string;
  try {
    // fatal: bad bytes are an error, not U+FFFD; a leading BOM is dropped.
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidModelIndexError(id, "model_index.json is not valid UTF-8");
  }
  return parseModelIndex(id, text);
}

/**
 * Parses the text of a model_index.json, naming `id` in errors.
 *
 * @example
 * parseModelIndex("x", '{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}');
 */
export function parseModelIndex(id: string, text: string): ModelIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidModelIndexError(
      id,
      `not valid JSON (${showValue(String((error as Error).message), 120)})`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidModelIndexError(id, `expected a JSON object, got ${kindOf(parsed)}`);
  }
  const raw = deepFreeze(parsed as Record<string, unknown>);
  const className = raw["_class_name"];
  if (typeof className !== "string" || className.length === 0) {
    const got =
      className === undefined ? "missing" : className === "" ? "an empty string" : kindOf(className);
    throw new InvalidModelIndexError(id, `lacks a string _class_name (got ${got})`);
  }
  const version = raw["_diffusers_version"];
  const components: ModelIndexComponent[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith("_") || !isComponentValue(value)) continue;
    if (!COMPONENT_NAME.test(name)) {
      throw new InvalidModelIndexError(id, `component name ${showValue(name, 40)} is not an identifier`);
    }
    components.push(Object.freeze({ name, library: value[0], className: value[1] }));
  }
  return Object.freeze({
    className,
    diffusersVersion: typeof version === "string" ? version : null,
    components: Object.freeze(components),
    raw,
  });
}

/** `[library, class]`, each a string or null: a component; anything else is config. */
function isComponentValue(value: unknown): value is [string | null, string | null] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((part) => part === null || typeof part === "string")
  );
}

/** "an array", "null", "a number", … for error messages. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
