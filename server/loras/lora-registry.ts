/**
 * Where adapters come from and the cache that holds them. An adapter id is
 *
 * - `name` or `folder/name` (up to 4 parts): `<AUTOPIPE_LORAS_DIR>/name.safetensors` (default `./loras`);
 * - `org/repo/file.safetensors`: that file of the repo's `refs/main` snapshot in the Hugging Face cache, or
 *   `org/repo`: the repo's one `.safetensors` file at the top of its snapshot.
 *
 * Ids follow the single-file grammar (letters, digits, '.', '_', '-'; no part starting or ending with '.' or '-',
 * no '..'), are checked before any path is built, and every path is resolved with `fs.realpath` and refused when a
 * link leads outside its root. Pickle files (`.ckpt`, `.pt`, `.pth`, `.bin`) are never loaded. Nothing is
 * downloaded.
 *
 * Loaded factors are cached by file identity (real path, size, modification time, inode): each adapter is read
 * once however many requests and combinations use it; a changed file is read again. The promise is cached; a
 * failed load is forgotten.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { cacheFolderName, isValidRepo } from "../checkpoints/model-id.ts";
import { PathEscapeError, realRoot, resolveInside } from "../checkpoints/paths.ts";
import { cacheSnapshots, readMainRef } from "../checkpoints/single-file/locate-single-file.ts";
import type { Config } from "../config.ts";
import { InvalidInputError, SafetensorsError } from "../errors.ts";
import { inspectLoraFile, type LoadedLora, type LoraFileInfo, loadLoraFile } from "./lora-file.ts";

export type LoraRegistryConfig = Pick<Config, "lorasDir" | "hfHubCache">;

/** What the `loras` query lists. */
export interface LoraSummary extends Omit<LoraFileInfo, "layers" | "ignoredKeys"> {
  readonly id: string;
}

export const LORA_ID_ALLOWED =
  "'name' or 'folder/name' for <AUTOPIPE_LORAS_DIR>/name.safetensors, or 'org/repo' / 'org/repo/file.safetensors' " +
  "in the Hugging Face cache; parts of letters, digits, '.', '_' and '-' only, none starting or ending with '.' or " +
  "'-', no '..'";

const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const PICKLE = /\.(ckpt|pt|pth|bin)$/;
const SAFETENSORS = /\.safetensors$/;
const MAX_ID_LENGTH = 200;
const MAX_DEPTH = 4;
/** Adapters kept loaded at once (least recently used ones are dropped past this). */
const MAX_LOADED = 16;

const registries = new WeakMap<object, LoraRegistry>();

/** The registry of a configuration (one per server). */
export function loraRegistry(config: LoraRegistryConfig): LoraRegistry {
  let registry = registries.get(config);
  if (!registry) {
    registry = new LoraRegistry(config);
    registries.set(config, registry);
  }
  return registry;
}

export class LoraRegistry {
  private readonly loaded = new Map<string, Promise<LoadedLora>>();
  private readonly inspected = new Map<string, Promise<LoraFileInfo>>();

  constructor(private readonly config: LoraRegistryConfig) {}

  /** The file an id names; InvalidInputError on `field` for a malformed or unknown id or a pickle file. */
  async locate(id: string, field: string): Promise<string> {
    const parts = id.split("/");
    if (
      id.length > MAX_ID_LENGTH ||
      parts.length > MAX_DEPTH ||
      !parts.every((p) => PART.test(p)) ||
      id.includes("..")
    ) {
      throw new InvalidInputError(field, id.slice(0, MAX_ID_LENGTH), LORA_ID_ALLOWED);
    }
    if (PICKLE.test(id)) {
      throw new InvalidInputError(
        field,
        id,
        `a .safetensors adapter (pickle files run code and are never loaded)`,
      );
    }
    try {
      const found = await this.find(parts);
      if (found) return found;
    } catch (error) {
      if (error instanceof PathEscapeError) {
        throw new InvalidInputError(field, id, `${LORA_ID_ALLOWED}, whose file stays inside its root`);
      }
      throw error;
    }
    throw new InvalidInputError(
      field,
      id,
      "the id of an adapter in AUTOPIPE_LORAS_DIR or the Hugging Face cache (see the `loras` query)",
    );
  }

  /** The header facts of adapter `id` (cached by file identity). */
  async info(id: string, field: string): Promise<LoraFileInfo> {
    const file = await this.locate(id, field);
    return this.cached(this.inspected, await identity(file), () =>
      this.read(id, field, file, inspectLoraFile),
    );
  }

  /** Adapter `id` with its factors, read once per file identity. */
  async load(id: string, field: string): Promise<LoadedLora> {
    const file = await this.locate(id, field);
    return this.cached(this.loaded, await identity(file), () => this.read(id, field, file, loadLoraFile));
  }

  /** Bytes of the factors loaded now (float32). */
  async loadedBytes(): Promise<number> {
    let total = 0;
    for (const p of this.loaded.values()) {
      const lora = await p.catch(() => undefined);
      for (const d of lora?.data.values() ?? []) total += d.down.byteLength + d.up.byteLength;
    }
    return total;
  }

  /** Every adapter found without the network; files that are not LoRA adapters are left out. */
  async list(): Promise<LoraSummary[]> {
    const ids: string[] = [];
    const root = await realRoot(this.config.lorasDir);
    if (root) await walk(root, [], ids);
    const cache = await realRoot(this.config.hfHubCache);
    if (cache) {
      for (const { repo, snapshot } of await cacheSnapshots(cache)) {
        if (await exists(path.join(snapshot, "model_index.json"))) continue;
        for (const name of await names(snapshot)) if (SAFETENSORS.test(name)) ids.push(`${repo}/${name}`);
      }
    }
    const out: LoraSummary[] = [];
    for (const id of ids) {
      const info = await this.info(id, "id").catch(() => undefined);
      if (!info) continue;
      const { layers: _layers, ignoredKeys: _ignored, ...summary } = info;
      out.push({ id, ...summary });
    }
    return out;
  }

  private async find(parts: string[]): Promise<string | null> {
    const id = parts.join("/");
    const root = await realRoot(this.config.lorasDir);
    if (root && !SAFETENSORS.test(id)) {
      const file = await fileInside(root, path.join(root, ...parts) + ".safetensors");
      if (file) return file;
    }
    const cache = await realRoot(this.config.hfHubCache);
    const repo = parts.slice(0, 2).join("/");
    if (!cache || parts.length < 2 || !isValidRepo(repo)) return null;
    const storage = path.join(cache, cacheFolderName(repo));
    const commit = await readMainRef(cache, storage);
    if (!commit) return null;
    const snapshot = path.join(storage, "snapshots", commit);
    if (parts.length > 2) {
      return SAFETENSORS.test(id) ? fileInside(cache, path.join(snapshot, ...parts.slice(2))) : null;
    }
    const files = (await names(snapshot)).filter((n) => SAFETENSORS.test(n));
    return files.length === 1 ? fileInside(cache, path.join(snapshot, files[0]!)) : null;
  }

  private async read<T>(
    id: string,
    field: string,
    file: string,
    reader: (file: string, name: string) => Promise<T>,
  ): Promise<T> {
    try {
      return await reader(file, id);
    } catch (error) {
      if (error instanceof SafetensorsError) {
        throw new InvalidInputError(field, id, `a LoRA adapter file: ${error.message}`);
      }
      throw error;
    }
  }

  private cached<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let promise = cache.get(key);
    if (promise) {
      // Most recently used last.
      cache.delete(key);
      cache.set(key, promise);
      return promise;
    }
    promise = load();
    cache.set(key, promise);
    promise.catch(() => {
      if (cache.get(key) === promise) cache.delete(key);
    });
    while (cache.size > MAX_LOADED) cache.delete(cache.keys().next().value!);
    return promise;
  }
}

async function identity(file: string): Promise<string> {
  const info = await fs.stat(file);
  return `${file}\u0000${info.size}\u0000${info.mtimeMs}\u0000${info.ino}`;
}

async function walk(folder: string, prefix: string[], out: string[]): Promise<void> {
  if (prefix.length >= MAX_DEPTH) return;
  for (const name of await names(folder)) {
    const full = path.join(folder, name);
    const info = await fs.stat(full).catch(() => null);
    if (info?.isDirectory() && PART.test(name)) await walk(full, [...prefix, name], out);
    else if (info?.isFile() && SAFETENSORS.test(name)) {
      const stem = name.slice(0, -".safetensors".length);
      if (PART.test(stem)) out.push([...prefix, stem].join("/"));
    }
  }
}

async function fileInside(root: string, candidate: string): Promise<string | null> {
  const real = await resolveInside(root, candidate);
  return real && (await fs.stat(real)).isFile() ? real : null;
}

async function names(folder: string): Promise<string[]> {
  return (await fs.readdir(folder).catch(() => [])).sort();
}

async function exists(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => null)) !== null;
}
