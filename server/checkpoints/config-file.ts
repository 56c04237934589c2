/**
 * A component's JSON config inside a checkpoint (`unet/config.json`, `scheduler/scheduler_config.json`, …), read as
 * Python writes it, for callers for which a missing or unreadable config just means "use the defaults".
 */
import { readFile } from "node:fs/promises";
import type { LocatedCheckpoint } from "./locate.ts";
import { checkpointFile } from "./paths.ts";
import { parsePythonJson } from "./python-json.ts";

/** The config's object, or null when the file is missing, unreadable, or not a JSON object. */
export async function readConfigFile(
  checkpoint: LocatedCheckpoint,
  relative: string,
): Promise<Record<string, unknown> | null> {
  try {
    const value = parsePythonJson(await readFile(await checkpointFile(checkpoint, relative), "utf8"));
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
