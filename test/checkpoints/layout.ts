/**
 * Builders for the checkpoint tests: a temp folder per test holding a models directory, a Hugging Face cache laid
 * out as huggingface_hub writes it (`models--org--name/{blobs,refs,snapshots}`, snapshot files linking to blobs),
 * and a folder "outside" both roots that escape attempts point at.
 */
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { LocatorConfig } from "../../server/checkpoints/locate.ts";

/** A model_index.json text for a small ONNX pipeline of the given class. */
export function modelIndexText(className = "OnnxStableDiffusionPipeline"): string {
  return JSON.stringify({
    _class_name: className,
    _diffusers_version: "0.27.2",
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ["diffusers", "PNDMScheduler"],
    unet: ["diffusers", "OnnxRuntimeModel"],
  });
}

export interface Layout {
  readonly base: string;
  readonly modelsDir: string;
  readonly cache: string;
  readonly outside: string;
  config(overrides?: Partial<LocatorConfig>): LocatorConfig;
  cleanup(): Promise<void>;
}

/** A fresh temp layout; `modelsDir`, `cache` and `outside` exist and are empty. */
export async function makeLayout(): Promise<Layout> {
  const base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "autopipe-checkpoints-")));
  const modelsDir = path.join(base, "models");
  const cache = path.join(base, "hub");
  const outside = path.join(base, "outside");
  await Promise.all([modelsDir, cache, outside].map((dir) => fs.mkdir(dir)));
  return {
    base,
    modelsDir,
    cache,
    outside,
    config: (overrides = {}) => ({
      modelsDir,
      hfHubCache: cache,
      allowDownload: false,
      hfToken: undefined,
      ...overrides,
    }),
    cleanup: () => fs.rm(base, { recursive: true, force: true }),
  };
}

/** Writes files (relative path → content) below `dir`. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
  }
}

/** A models-directory checkpoint `<modelsDir>/<id>` with a model_index.json; its folder. */
export async function addLocalCheckpoint(layout: Layout, id: string, className?: string): Promise<string> {
  const dir = path.join(layout.modelsDir, id);
  await writeFiles(dir, { "model_index.json": modelIndexText(className), "unet/model.onnx": "onnx" });
  return dir;
}

/** A 40-hex commit id derived from a label, so tests read well and stay deterministic. */
export function commitOf(label: string): string {
  return createHash("sha1").update(label).digest("hex");
}

/**
 * A cache snapshot as huggingface_hub writes it: each file's bytes in `blobs/<hash>`, the snapshot file a relative
 * symlink to it, and `refs/<ref>` holding the commit when `ref` is given. Returns the snapshot folder.
 */
export async function addCacheSnapshot(
  cache: string,
  repo: string,
  commit: string,
  files: Record<string, string>,
  ref?: string,
): Promise<string> {
  const storage = path.join(cache, `models--${repo.split("/").join("--")}`);
  const snapshot = path.join(storage, "snapshots", commit);
  for (const [relative, content] of Object.entries(files)) {
    const blob = path.join(storage, "blobs", createHash("sha256").update(content).digest("hex"));
    await fs.mkdir(path.dirname(blob), { recursive: true });
    await fs.writeFile(blob, content);
    const link = path.join(snapshot, relative);
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.rm(link, { force: true });
    await fs.symlink(path.relative(path.dirname(link), blob), link);
  }
  if (ref !== undefined) await writeFiles(path.join(storage, "refs"), { [ref]: commit });
  return snapshot;
}
