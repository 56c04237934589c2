/**
 * The files of a checkpoint's component folders as the loader reads them: tokenizer folders and JSON configs read
 * inside the checkpoint, weight files vetted (inside its root, bounded in size) and weighed, and library error
 * messages scrubbed of server paths.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import { checkpointFile } from "../checkpoints/paths.ts";
import { parsePythonJson } from "../checkpoints/python-json.ts";
import { ModelLoadError } from "../errors.ts";
import { SafetensorsFile } from "../safetensors/safetensors-file.ts";
import { type ClipTokenizer, loadClipTokenizer } from "../tokenizer/clip-tokenizer.ts";

/** Loads one tokenizer folder; every failure is a ModelLoadError naming it. */
export async function loadTokenizer(checkpoint: LocatedCheckpoint, folder: string): Promise<ClipTokenizer> {
  try {
    // The tokenizer reads its folder itself: vet every file first (no link out of the checkpoint, no giant).
    await vetComponentFiles(checkpoint, folder, MAX_TOKENIZER_FILE_BYTES);
    return await loadClipTokenizer(path.join(checkpoint.dir, folder));
  } catch (error) {
    if (error instanceof ModelLoadError) throw error;
    throw new ModelLoadError(checkpoint.id, folder, scrubPaths(String((error as Error).message), checkpoint));
  }
}

export async function readJson(
  checkpoint: LocatedCheckpoint,
  relative: string,
): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(await checkpointFile(checkpoint, relative), "utf8");
  } catch {
    return null;
  }
  try {
    const value = parsePythonJson(text) as Record<string, unknown> | null;
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    throw new ModelLoadError(
      checkpoint.id,
      relative.split("/")[0] ?? relative,
      `${relative} is not valid JSON`,
    );
  }
}

/**
 * Bytes a built graph's weights take once loaded: every tensor as float32 (what the CPU computes in), so fp16
 * files count double their size on disk, as they weigh in memory.
 */
export async function weightFileBytes(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) {
    const st = await SafetensorsFile.open(file);
    for (const name of st.names()) total += 4 * st.tensor(name)!.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

/** Largest tokenizer file read (vocab.json of large vocabularies is a few MB). */
const MAX_TOKENIZER_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Checks every file of a component folder: each must resolve inside the checkpoint's root and be at most
 * `maxBytes`. Returns the bytes of its weight files (everything but JSON configs), sizes followed through links.
 */
export async function vetComponentFiles(
  checkpoint: LocatedCheckpoint,
  component: string,
  maxBytes: number,
): Promise<number> {
  let total = 0;
  let entries: string[];
  try {
    entries = await readdir(path.join(checkpoint.dir, component));
  } catch {
    throw new ModelLoadError(checkpoint.id, component, `the folder ${component}/ is missing`);
  }
  for (const name of entries) {
    const info = await stat(await checkpointFile(checkpoint, `${component}/${name}`));
    if (!info.isFile()) continue;
    if (info.size > maxBytes) {
      throw new ModelLoadError(
        checkpoint.id,
        component,
        `${component}/${name} is larger than ${maxBytes} bytes`,
      );
    }
    if (!name.endsWith(".json")) total += info.size;
  }
  return total;
}

/** Removes server paths from a library's error message: the checkpoint's folders, then any absolute path. */
export function scrubPaths(message: string, checkpoint: LocatedCheckpoint): string {
  let out = message;
  for (const dir of [checkpoint.dir, checkpoint.root].filter((d): d is string => Boolean(d))) {
    out = out.replaceAll(`${dir}/`, "").replaceAll(dir, ".");
  }
  // Whatever absolute path is left (a realpath, a blob): keep its last component only.
  return out.replace(/(?:\/[^\s/"'`:]+){2,}/g, (p) => `…/${path.basename(p)}`);
}
