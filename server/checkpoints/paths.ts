/**
 * Safe paths inside a root folder. Every file of a checkpoint is opened through `resolveInside`, which resolves
 * symlinks with `fs.realpath` and refuses anything whose real location is outside the root (the models directory
 * or the Hugging Face cache), so a symlink planted in a checkpoint can never make the server read elsewhere. The
 * cache's own symlinks (snapshot files → `../../blobs/<hash>`) stay inside the cache root and keep working.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { ModelLoadError, showValue } from "../errors.ts";
import type { LocatedCheckpoint } from "./locate.ts";

/** Thrown by `resolveInside` when a path's real location is outside its root; callers turn it into an error. */
export class PathEscapeError extends Error {
  override name = "PathEscapeError";
}

/** Whether `target` is `root` or below it (both absolute and already real). */
export function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return (
    relative === "" ||
    (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative))
  );
}

/**
 * The real path of `target`, which must lie inside `root` (a real path itself, see `realRoot`), or null when it
 * does not exist. Throws `PathEscapeError` when symlinks lead outside `root`.
 */
export async function resolveInside(root: string, target: string): Promise<string | null> {
  // Lexical check first: nothing outside the root is even resolved.
  if (!isInside(root, path.resolve(target))) throw new PathEscapeError("outside its root");
  let real: string;
  try {
    real = await fs.realpath(target);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  if (!isInside(root, real)) throw new PathEscapeError("resolves outside its root");
  return real;
}

/** The real path of a root folder, or null when it does not exist. */
export async function realRoot(folder: string): Promise<string | null> {
  try {
    const real = await fs.realpath(folder);
    return (await fs.stat(real)).isDirectory() ? real : null;
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
}

/** Whether a filesystem error means "there is nothing usable there". */
export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  // ELOOP: a symlink cycle is as good as absent; ENOTDIR: a path through a file.
  return code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP";
}

/**
 * The folder no file of `checkpoint` may resolve outside of: its `root` when `locate` set one, otherwise the
 * checkpoint folder itself, or for cache snapshots the repo's cache folder (`models--org--name`, which holds the
 * `blobs/` the snapshot files point to).
 */
export function checkpointRoot(checkpoint: LocatedCheckpoint): string {
  if (checkpoint.root !== undefined) return checkpoint.root;
  return checkpoint.source === "MODELS_DIR" ? checkpoint.dir : path.dirname(path.dirname(checkpoint.dir));
}

/**
 * Whether `relative` is a plain relative path of a checkpoint file: `/`-separated, no empty, `.` or `..` part,
 * no backslash or NUL.
 */
export function isPlainRelativePath(relative: string): boolean {
  if (relative.length === 0 || relative.includes("\\") || relative.includes("\0")) return false;
  return relative.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/**
 * Resolves a file or folder inside a checkpoint (component subpaths like `"unet/model.onnx"`) to its real path.
 * Refuses absolute paths, `..`, backslashes and NUL, and anything whose symlinks lead outside the checkpoint's
 * root; a missing file is a `ModelLoadError` naming the component (the path's first part) and never a server path.
 *
 * @example
 * const onnx = await checkpointFile(checkpoint, "unet/model.onnx");
 * // → "<real path of the snapshot>/unet/model.onnx" (or of the blob it links to)
 */
export async function checkpointFile(checkpoint: LocatedCheckpoint, relative: string): Promise<string> {
  const component = relative.split("/")[0] || relative;
  if (!isPlainRelativePath(relative)) {
    throw new ModelLoadError(checkpoint.id, component, `refused file path ${showValue(relative)}`);
  }
  let real: string | null;
  try {
    real = await resolveInside(checkpointRoot(checkpoint), path.join(checkpoint.dir, relative));
  } catch (error) {
    if (!(error instanceof PathEscapeError)) throw error;
    throw new ModelLoadError(
      checkpoint.id,
      component,
      `file ${showValue(relative)} links outside the checkpoint`,
    );
  }
  if (real === null)
    throw new ModelLoadError(checkpoint.id, component, `file ${showValue(relative)} is missing`);
  return real;
}

/** Reads at most `maxBytes` of a file: the bytes, or why not (too large is decided from its size, unread). */
export async function readCapped(
  file: string,
  maxBytes: number,
): Promise<Buffer | "too-large" | "not-a-file"> {
  // stat before open: opening a FIFO or device planted under the expected name could block or never end.
  if (!(await fs.stat(file)).isFile()) return "not-a-file";
  const handle = await fs.open(file, "r");
  try {
    // fstat on the open handle: the size we check is the size of the file we read.
    const stat = await handle.stat();
    if (!stat.isFile()) return "not-a-file";
    if (stat.size > maxBytes) return "too-large";
    // Room for one byte more than allowed tells a file that grew since the stat.
    const buffer = Buffer.allocUnsafe(maxBytes + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) return "too-large";
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
