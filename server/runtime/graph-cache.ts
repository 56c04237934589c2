/**
 * The optimized-graph cache (`AUTOPIPE_CACHE_DIR`): for every graph a checkpoint loads, onnxruntime's optimized
 * form of it (after the project's attention fusion) is saved once, with all its initializers in a file of the
 * cache's own, and later loads read that instead of optimizing again.
 *
 * An entry's key hashes the source folder's identity (name, size, modification time, inode of model.onnx and of
 * every data file beside it), the onnxruntime version, the CPU model and this rewriter's version, so an edited,
 * replaced or re-downloaded checkpoint, an upgraded onnxruntime or another machine never meets a stale entry; its
 * manifest (written last) repeats the identity and the sizes of the cached files, which are checked again before
 * use. Entries are built in a private temporary folder and renamed into place, so readers see whole entries only.
 *
 * Serving from the cache's copy is also what keeps a server alive when a checkpoint's files change under it:
 * onnxruntime memory-maps external weights, so truncating a mapped file would kill the process (SIGBUS) on the
 * next read of a lost page. The cache's files are written once and never modified.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Bumped whenever the rewriting changes what it writes: older entries are then never read. */
export const REWRITE_VERSION = 2;

export const CACHED_MODEL = "model.onnx";
export const CACHED_DATA = "model.onnx.data";
const MANIFEST = "manifest.json";

export interface FileIdentity {
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export interface Manifest {
  readonly key: string;
  /** The folder the graph was loaded from: a newer entry for it replaces this one. */
  readonly sourceDir: string;
  /**
   * Which graph of `sourceDir` a built graph is (e.g. "vae_encoder", "unet.fp16"): graphs built from one folder
   * (the VAE's encoder and decoder, two variants) are entries side by side. Absent for ONNX files.
   */
  readonly graph?: string;
  readonly source: readonly FileIdentity[];
  /** Sizes of the cached files, checked before every use. */
  readonly files: Readonly<Record<string, number>>;
  /** Attention blocks fused into MultiHeadAttention (0: the original graph, optimized). */
  readonly fusedAttention: number;
  /** Largest |fused − original| on the verification input, relative to max(1, max |original|). */
  readonly verifiedDiff: number | null;
  readonly createdAt: string;
}

/** The identity of a graph file and of every non-JSON file beside it (external data), sorted by name. */
export async function sourceIdentity(modelFile: string): Promise<FileIdentity[]> {
  const dir = path.dirname(modelFile);
  const names = (await readdir(dir)).filter((n) => !n.endsWith(".json")).sort();
  const out: FileIdentity[] = [];
  for (const name of names) {
    // stat follows links: a Hugging Face snapshot's links identify their blobs.
    const info = await stat(path.join(dir, name));
    if (info.isFile()) out.push({ name, size: info.size, mtimeMs: info.mtimeMs, ino: info.ino });
  }
  return out;
}

export function cacheKey(source: readonly FileIdentity[], runtimeVersion: string): string {
  const hash = createHash("sha256");
  hash.update(
    JSON.stringify({
      source,
      runtimeVersion,
      rewrite: REWRITE_VERSION,
      cpu: os.cpus()[0]?.model ?? "",
      arch: process.arch,
    }),
  );
  return hash.digest("hex").slice(0, 32);
}

export function entryDir(cacheDir: string, key: string): string {
  return path.join(cacheDir, "graphs", key);
}

/** The entry for `key` when it is whole and was made from exactly `source`; undefined otherwise. */
export async function readEntry(
  cacheDir: string,
  key: string,
  source: readonly FileIdentity[],
): Promise<Manifest | undefined> {
  const dir = entryDir(cacheDir, key);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
  if (manifest.key !== key || JSON.stringify(manifest.source) !== JSON.stringify(source)) return undefined;
  for (const [name, size] of Object.entries(manifest.files)) {
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info?.size !== size) return undefined;
  }
  return manifest;
}

/** A fresh private folder to build an entry in. */
export async function stagingDir(cacheDir: string, key: string): Promise<string> {
  const dir = path.join(cacheDir, "graphs", `.${key}.${process.pid}.${Date.now()}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes the manifest last and renames the staging folder into place (replacing a broken entry). */
export async function commitEntry(
  cacheDir: string,
  staging: string,
  manifest: Omit<Manifest, "files" | "createdAt">,
): Promise<void> {
  const files: Record<string, number> = {};
  for (const name of await readdir(staging)) files[name] = (await stat(path.join(staging, name))).size;
  const whole: Manifest = { ...manifest, files, createdAt: new Date().toISOString() };
  await writeFile(path.join(staging, MANIFEST), `${JSON.stringify(whole, null, 2)}\n`);
  const target = entryDir(cacheDir, manifest.key);
  await rm(target, { recursive: true, force: true });
  try {
    await rename(staging, target);
  } catch (error) {
    // Another process committed the same entry first: theirs is as good as ours.
    await rm(staging, { recursive: true, force: true });
    if (!(await readEntry(cacheDir, manifest.key, manifest.source))) throw error;
  }
  await pruneEntries(cacheDir, whole);
}

/**
 * Removes the entries `current` supersedes (same source folder, other identity) and those whose source folder is
 * gone. Removing is unlinking: a process still serving from a removed entry keeps its mapped pages.
 */
async function pruneEntries(cacheDir: string, current: Manifest): Promise<void> {
  const root = path.join(cacheDir, "graphs");
  for (const name of await readdir(root)) {
    if (name === current.key || name.startsWith(".")) continue;
    let other: Manifest;
    try {
      other = JSON.parse(await readFile(path.join(root, name, MANIFEST), "utf8")) as Manifest;
    } catch {
      continue; // not an entry of ours, or one being replaced: leave it
    }
    const gone = !(await stat(other.sourceDir ?? "").catch(() => undefined));
    if (gone || (other.sourceDir === current.sourceDir && other.graph === current.graph)) {
      await rm(path.join(root, name), { recursive: true, force: true });
    }
  }
}
