/**
 * `AUTOPIPE_PIPELINES_FILE`: named pipelines declared at start-up, read into a `PipelineVariants` with the same
 * checks `fromPipe` makes (names, tasks, config values), each refusal naming the entry and the field.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Task } from "../auto-pipeline/resolve.ts";
import { cacheFolderName } from "../checkpoints/model-id.ts";
import type { Config } from "../config.ts";
import { ConfigError, InvalidInputError, showValue } from "../errors.ts";
import { mergeOverrides } from "./pipeline-config.ts";
import { checkName, NAME_ALLOWED, PipelineVariants, TASKS, validateOverrides } from "./pipeline-variants.ts";

/**
 * Reads the start-up file: `{ "pipelines": [{ "name", "from", "task", "config"? }, ...] }` (or the array alone),
 * entries in order, so that one may be made from an earlier one. Checked here: shape, names (no checkpoint of the
 * models directory or the Hugging Face cache, no duplicate), tasks and config values; the checkpoint itself is
 * resolved when the pipeline is first used. Throws an Error naming the entry and the field.
 *
 * @example
 * // pipelines.json
 * { "pipelines": [{ "name": "sd-img2img", "from": "tiny-sd", "task": "IMAGE_TO_IMAGE",
 *                   "config": { "requiresSafetyChecker": true, "strength": 0.3 } }] }
 */
export function loadPipelinesFile(
  file: string,
  config: Pick<Config, "maxSteps" | "modelsDir" | "hfHubCache">,
): PipelineVariants {
  const variants = new PipelineVariants();
  const where = `AUTOPIPE_PIPELINES_FILE (${path.basename(file)})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`${where}: cannot read it as JSON: ${oneLine((error as Error).message)}`);
  }
  const entries = Array.isArray(parsed) ? parsed : (parsed as { pipelines?: unknown } | null)?.pipelines;
  if (!Array.isArray(entries))
    throw new ConfigError(`${where}: expected {"pipelines": [...]} or an array of entries`);
  entries.forEach((entry: unknown, i) => {
    const e = (entry ?? {}) as Record<string, unknown>;
    const label = `${where}: entry ${i}${typeof e.name === "string" ? ` ('${e.name}')` : ""}`;
    try {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw new InvalidInputError("entry", showValue(entry), "an object with name, from, task and config");
      }
      for (const key of Object.keys(e)) {
        if (!["name", "from", "task", "config"].includes(key)) {
          throw new InvalidInputError(key, showValue(e[key]), "only the fields name, from, task, config");
        }
      }
      if (typeof e.name !== "string") throw new InvalidInputError("name", showValue(e.name), NAME_ALLOWED);
      checkName(e.name, "name");
      if (variants.get(e.name)) {
        throw new InvalidInputError("name", showValue(e.name), "a name not used by an earlier entry");
      }
      if (namesLocalCheckpoint(e.name, config)) {
        throw new InvalidInputError(
          "name",
          showValue(e.name),
          `${NAME_ALLOWED} ('${e.name}' is a checkpoint)`,
        );
      }
      if (typeof e.from !== "string" || e.from.length === 0) {
        throw new InvalidInputError(
          "from",
          showValue(e.from),
          "a checkpoint id or the name of an earlier entry",
        );
      }
      if (typeof e.task !== "string" || !TASKS.includes(e.task as Task)) {
        throw new InvalidInputError("task", showValue(e.task), TASKS.join(", "));
      }
      if (
        e.config !== undefined &&
        (typeof e.config !== "object" || e.config === null || Array.isArray(e.config))
      ) {
        throw new InvalidInputError("config", showValue(e.config), "an object of PipelineConfigInput fields");
      }
      const overrides = validateOverrides((e.config ?? {}) as Record<string, unknown>, config, "config");
      const parent = variants.get(e.from);
      variants.add({
        name: e.name,
        from: e.from,
        model: parent?.model ?? e.from,
        task: e.task as Task,
        config: mergeOverrides(parent?.config ?? {}, overrides),
      });
    } catch (error) {
      if (error instanceof InvalidInputError) {
        throw new ConfigError(`${label}, field ${error.field}: ${error.value} (allowed: ${error.allowed})`);
      }
      throw error;
    }
  });
  return variants;
}

/** A message on one line (JSON.parse's may quote a fragment of the file with its line breaks). */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ");
}

/** Whether `name` is a checkpoint id of the models directory or the Hugging Face cache (checked synchronously). */
function namesLocalCheckpoint(name: string, config: Pick<Config, "modelsDir" | "hfHubCache">): boolean {
  return (
    existsSync(path.join(config.modelsDir, name, "model_index.json")) ||
    existsSync(path.join(config.hfHubCache, cacheFolderName(name)))
  );
}
