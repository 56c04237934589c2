/**
 * Single-file ids: a checkpoint named by its file. `name.safetensors` or `folder/name.safetensors` inside the models
 * directory, or `org/repo/file.safetensors` (the file in the repo's `refs/main` snapshot) in the Hugging Face cache.
 * Pickle files (`.ckpt`, `.pt`, `.pth`, `.bin`) are found the same way so that the answer can say why they are
 * never loaded. Ids are checked against their grammar before any path is built, and every path is resolved with
 * `fs.realpath` and refused when a link leads outside its root, as for folder checkpoints. Nothing is downloaded.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { InvalidInputError } from "../../errors.ts";
import type { CheckpointSource, LocatorConfig } from "../locate.ts";
import { cacheFolderName, isValidRepo } from "../model-id.ts";
import { PathEscapeError, readCapped, realRoot, resolveInside } from "../paths.ts";

/** A single file found by id. */
export interface LocatedSingleFile {
  readonly id: string;
  /** Real path of the file (for the cache: of the blob the snapshot links to). */
  readonly file: string;
  readonly source: CheckpointSource;
  /** The snapshot's commit for cache files; null for the models directory. */
  readonly revision: string | null;
  /** Real path of the root the file lies in. */
  readonly root: string;
  /** Whether the file is pickle (never loaded). */
  readonly pickle: boolean;
}

const SAFETENSORS = /\.safetensors$/;
const PICKLE = /\.(ckpt|pt|pth|bin)$/;
// One path part: letters, digits, '.', '_', '-'; not starting or ending with '.' or '-' (so never "." or "..").
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const MAX_ID_LENGTH = 200;
const MAX_DEPTH = 4;

export const SINGLE_FILE_ID_ALLOWED =
  "'file.safetensors' or 'folder/file.safetensors' in the models directory, or 'org/repo/file.safetensors' in the Hugging Face cache; parts of letters, digits, '.', '_' and '-' only, none starting or ending with '.' or '-', no '..'";

/** Whether `id` names a file (its last part ends in `.safetensors` or a pickle extension) rather than a folder. */
export function isSingleFileId(id: string): boolean {
  const last = id.split("/").pop() ?? "";
  return SAFETENSORS.test(last) || PICKLE.test(last);
}

/** Checks a single-file id's grammar; throws `InvalidInputError("model", …)`. */
export function validateSingleFileId(id: string): string[] {
  const parts = id.split("/");
  if (
    id.length > MAX_ID_LENGTH ||
    parts.length > MAX_DEPTH ||
    !parts.every((p) => PART.test(p)) ||
    id.includes("..") ||
    !isSingleFileId(id)
  ) {
    throw new InvalidInputError("model", id.slice(0, MAX_ID_LENGTH), SINGLE_FILE_ID_ALLOWED);
  }
  return parts;
}

/**
 * Finds the file `id` names: the models directory first, then (for `org/repo/…`) the Hugging Face cache. Null when
 * neither has it; `InvalidInputError` for a malformed id or a link leading outside its root.
 */
export async function locateSingleFile(config: LocatorConfig, id: string): Promise<LocatedSingleFile | null> {
  const parts = validateSingleFileId(id);
  const pickle = PICKLE.test(id);
  try {
    const models = await realRoot(config.modelsDir);
    if (models) {
      const file = await fileInside(models, path.join(models, ...parts));
      if (file) return { id, file, source: "MODELS_DIR", revision: null, root: models, pickle };
    }
    const repo = parts.slice(0, 2).join("/");
    const cache = await realRoot(config.hfHubCache);
    if (cache && parts.length >= 3 && isValidRepo(repo)) {
      const storage = path.join(cache, cacheFolderName(repo));
      const commit = await readMainRef(cache, storage);
      if (commit) {
        const file = await fileInside(cache, path.join(storage, "snapshots", commit, ...parts.slice(2)));
        if (file) return { id, file, source: "HF_CACHE", revision: commit, root: cache, pickle };
      }
    }
  } catch (error) {
    if (error instanceof PathEscapeError) {
      throw new InvalidInputError("model", id, `${SINGLE_FILE_ID_ALLOWED}, whose file stays inside its root`);
    }
    throw error;
  }
  return null;
}

/** Single-file ids found without the network: `.safetensors` files at the top of the models directory and of its
 * folders that are not checkpoints, and at the top of each cache repo's `refs/main` snapshot. */
export async function listSingleFiles(config: LocatorConfig): Promise<LocatedSingleFile[]> {
  const out: LocatedSingleFile[] = [];
  const models = await realRoot(config.modelsDir);
  if (models) {
    for (const name of await names(models)) {
      if (SAFETENSORS.test(name)) out.push(...(await quietly(config, name)));
      else if (PART.test(name) && (await isPlainFolder(path.join(models, name)))) {
        for (const child of await names(path.join(models, name))) {
          if (SAFETENSORS.test(child)) out.push(...(await quietly(config, `${name}/${child}`)));
        }
      }
    }
  }
  const cache = await realRoot(config.hfHubCache);
  if (cache) {
    for (const { repo, snapshot } of await cacheSnapshots(cache)) {
      for (const name of await names(snapshot)) {
        if (SAFETENSORS.test(name)) out.push(...(await quietly(config, `${repo}/${name}`)));
      }
    }
  }
  return out;
}

async function quietly(config: LocatorConfig, id: string): Promise<LocatedSingleFile[]> {
  try {
    const found = await locateSingleFile(config, id);
    return found ? [found] : [];
  } catch {
    return [];
  }
}

/** A folder (not a checkpoint: no model_index.json) that may hold single files. */
async function isPlainFolder(folder: string): Promise<boolean> {
  const info = await fs.stat(folder).catch(() => null);
  if (!info?.isDirectory()) return false;
  return (await fs.stat(path.join(folder, "model_index.json")).catch(() => null)) === null;
}

async function fileInside(root: string, candidate: string): Promise<string | null> {
  const real = await resolveInside(root, candidate);
  return real && (await fs.stat(real)).isFile() ? real : null;
}

/** The `org/name` model repos of an HF cache (its real root) with the snapshot folder their `refs/main` names. */
export async function cacheSnapshots(cache: string): Promise<{ repo: string; snapshot: string }[]> {
  const out: { repo: string; snapshot: string }[] = [];
  for (const folder of await names(cache)) {
    if (!folder.startsWith("models--")) continue;
    const repo = folder.slice("models--".length).split("--").join("/");
    if (!isValidRepo(repo) || !repo.includes("/")) continue;
    const commit = await readMainRef(cache, path.join(cache, folder)).catch(() => null);
    if (commit) out.push({ repo, snapshot: path.join(cache, folder, "snapshots", commit) });
  }
  return out;
}

/** The commit `refs/main` of a cache repo names (null: none, or not a plain name). */
export async function readMainRef(root: string, storage: string): Promise<string | null> {
  const ref = await resolveInside(root, path.join(storage, "refs", "main"));
  if (!ref) return null;
  const bytes = await readCapped(ref, 256);
  if (typeof bytes === "string") return null;
  const commit = bytes.toString("utf8").trim();
  return /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(commit) ? commit : null;
}

async function names(folder: string): Promise<string[]> {
  return fs.readdir(folder).catch(() => []);
}
