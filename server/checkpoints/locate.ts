/**
 * From a model id to a checkpoint folder holding model_index.json, looked up in order: the models directory
 * (`<modelsDir>/<id>`), the Hugging Face cache (`<hfHubCache>/models--org--name/snapshots/<commit>`, following
 * `refs/main` or `refs/<revision>`, so checkpoints Python already downloaded are found), and, only when downloads
 * are allowed, the Hub itself, into that same cache. Ids are checked by `validateModelId` before any path is built,
 * and every path is resolved with `fs.realpath` and refused when it leads outside its root; errors name the id and
 * the places searched, never a server path.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.ts";
import { AutopipeError, InvalidInputError, ModelNotFoundError } from "../errors.ts";
import { type DownloadFn, downloadDiffusersCheckpoint } from "./hub.ts";
import { cacheFolderName, MODEL_ID_ALLOWED, repoFromCacheFolder, validateModelId } from "./model-id.ts";
import { readModelIndex } from "./model-index.ts";
import { PathEscapeError, readCapped, realRoot, resolveInside } from "./paths.ts";
import {
  type LocatedSingleFile,
  listSingleFiles,
  locateSingleFile,
} from "./single-file/locate-single-file.ts";
import { singleFileClass } from "./single-file/model-type.ts";
import type { SingleFileCheckpoint } from "./single-file/single-file-checkpoint.ts";

export type { DownloadFn, DownloadRequest } from "./hub.ts";
export { validateModelId } from "./model-id.ts";
export { checkpointFile } from "./paths.ts";

/** Where a checkpoint was found: the models directory, the Hugging Face cache, or downloaded from the Hub. */
export type CheckpointSource = "MODELS_DIR" | "HF_CACHE" | "HUB";

/** A checkpoint folder holding model_index.json. */
export interface LocatedCheckpoint {
  /** The model id as the user gave it, e.g. "tiny-sd" or "org/name@fp16". */
  readonly id: string;
  /** Real path of the checkpoint folder (for the cache: of the snapshot folder). */
  readonly dir: string;
  readonly source: CheckpointSource;
  /** The snapshot's commit (cache folder name) for cache and Hub checkpoints; null for the models directory. */
  readonly revision: string | null;
  /**
   * Real path of the root no file of this checkpoint may resolve outside of (the models directory or the cache);
   * set by `locate`. When absent, `checkpointFile` confines files to `dir` (cache: to the repo's cache folder).
   */
  readonly root?: string;
  /**
   * The weights variant to load from a diffusers-layout checkpoint (`"fp16"` → `*.fp16.safetensors`), as
   * diffusers' `from_pretrained(variant=…)`; absent or null: the plain files. Part of the loaded-pipeline key.
   */
  readonly variant?: string | null;
  /**
   * Set for a single-file checkpoint (`name.safetensors`): the file its UNet, VAE and text encoders are read from;
   * `dir` is then the diffusers-layout checkpoint its configs, scheduler and tokenizers come from.
   */
  readonly singleFile?: SingleFileCheckpoint;
}

/** One entry of `CheckpointLocator.list()`. */
export interface ListedCheckpoint {
  readonly id: string;
  readonly source: CheckpointSource;
  /** model_index.json's `_class_name` (a single file: the class its keys make), or null when it cannot be read. */
  readonly sourceClass: string | null;
}

export type LocatorConfig = Pick<Config, "modelsDir" | "hfHubCache" | "allowDownload" | "hfToken">;

const OUTSIDE_ALLOWED = `${MODEL_ID_ALLOWED}, naming a checkpoint whose files stay inside the models directory or the Hugging Face cache`;
const REF_MAX_BYTES = 256;
// What a refs/<revision> file may name as its snapshot folder: the Hub writes a commit hash.
const SNAPSHOT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const COMMIT_HASH = /^[0-9a-f]{40}$/;

/**
 * Finds checkpoints by model id. Stateless apart from de-duplicating concurrent downloads of one repo, so files
 * added to the models directory or the cache are found without a restart.
 *
 * @example
 * const locator = new CheckpointLocator(loadConfig());
 * const checkpoint = await locator.locate("org/sd-onnx"); // { id, dir, source: "HF_CACHE", revision: "<commit>" }
 * // Tests inject the download: new CheckpointLocator(config, { download: async (request) => { ... } })
 */
export class CheckpointLocator {
  private readonly download: DownloadFn;
  private readonly downloads = new Map<string, Promise<unknown>>();
  private readonly revalidateMs: number;
  /** Checkpoints found, by id, with when: reused for `revalidateMs` before the id is looked up again. */
  private readonly found = new Map<string, { checkpoint: LocatedCheckpoint; at: number }>();

  constructor(
    private readonly config: LocatorConfig,
    /**
     * `download` defaults to `downloadDiffusersCheckpoint` (the real Hub); only called when `allowDownload`.
     * `revalidateMs` (default 0: every call looks) reuses a found checkpoint that long before looking again.
     */
    options: { download?: DownloadFn; revalidateMs?: number } = {},
  ) {
    this.download = options.download ?? ((request) => downloadDiffusersCheckpoint(request));
    this.revalidateMs = options.revalidateMs ?? 0;
  }

  /**
   * Finds the checkpoint `id` names: models directory, then Hugging Face cache, then (when allowed) the Hub. An
   * id with `@revision` skips the models directory, which has no revisions. Throws `InvalidInputError` for a
   * malformed id or one resolving outside its root, `ModelNotFoundError` when no place has it.
   */
  async locate(id: string, options: { readonly variant?: string | null } = {}): Promise<LocatedCheckpoint> {
    const known = this.found.get(id);
    if (known && performance.now() - known.at < this.revalidateMs) return known.checkpoint;
    const checkpoint = await this.lookUp(id, options.variant ?? null);
    if (this.revalidateMs > 0) {
      // Only ids that name a checkpoint are kept, so the map is as small as what is on disk.
      this.found.delete(id);
      this.found.set(id, { checkpoint, at: performance.now() });
      if (this.found.size > 1024) this.found.delete(this.found.keys().next().value as string);
    }
    return checkpoint;
  }

  /**
   * Finds the file a single-file id names (`name.safetensors`, `folder/name.safetensors`, `org/repo/file.safetensors`),
   * never downloading. Throws `InvalidInputError` for a malformed id or a link leading outside its root,
   * `ModelNotFoundError` when neither place has it.
   */
  async locateSingleFile(id: string): Promise<LocatedSingleFile> {
    const found = await locateSingleFile(this.config, id);
    if (!found) throw new ModelNotFoundError(id, ["models directory", "Hugging Face cache (refs/main)"]);
    return found;
  }

  /** `locate` without the Hub: null when neither the models directory nor the cache has `id`. */
  async locateLocal(id: string): Promise<LocatedCheckpoint | null> {
    try {
      return await this.lookUp(id, null, false);
    } catch (error) {
      if (error instanceof ModelNotFoundError) return null;
      throw error;
    }
  }

  private async lookUp(id: string, variant: string | null, mayDownload = true): Promise<LocatedCheckpoint> {
    const { repo, revision } = validateModelId(id);
    const searched: string[] = [];
    if (revision === null) {
      const local = await this.guard(id, () => this.fromModelsDir(id, repo));
      if (local) return local;
      searched.push("models directory");
    }
    const cached = await this.guard(id, () => this.fromCache(id, repo, revision, "HF_CACHE"));
    if (cached) return cached;
    searched.push("Hugging Face cache");
    if (!this.config.allowDownload || !mayDownload) {
      throw new ModelNotFoundError(id, [...searched, "Hugging Face Hub (downloads disabled)"]);
    }
    await this.downloadOnce(id, repo, revision ?? "main", searched, variant);
    const downloaded = await this.guard(id, () => this.fromCache(id, repo, revision, "HUB"));
    if (downloaded) return downloaded;
    throw new ModelNotFoundError(id, [...searched, "Hugging Face Hub (no model_index.json)"]);
  }

  /**
   * Every checkpoint found without the network, sorted by id: models-directory folders (`name` and `org/name`)
   * holding a model_index.json, and cache repos whose `refs/main` snapshot holds one. The models directory wins
   * when both have an id; entries that fail the id grammar or lead outside their root are left out.
   */
  async list(): Promise<ListedCheckpoint[]> {
    const found = new Map<string, LocatedCheckpoint>();
    const add = (checkpoints: (LocatedCheckpoint | null)[]) => {
      for (const c of checkpoints) if (c && !found.has(c.id)) found.set(c.id, c);
    };
    const quietly = (lookup: () => Promise<LocatedCheckpoint | null>) => lookup().catch(() => null);

    const modelsIds = await this.modelsDirCandidates();
    add(await Promise.all(modelsIds.map((id) => quietly(() => this.fromModelsDir(id, id)))));
    const cacheRoot = await realRoot(this.config.hfHubCache);
    const folders = cacheRoot ? await readNames(cacheRoot) : [];
    const repos = folders.map(repoFromCacheFolder).filter((repo): repo is string => repo !== null);
    add(await Promise.all(repos.map((repo) => quietly(() => this.fromCache(repo, repo, null, "HF_CACHE")))));

    const listed: ListedCheckpoint[] = await Promise.all(
      [...found.values()].map(async (c) => ({
        id: c.id,
        source: c.source,
        sourceClass: await readModelIndex(c).then(
          (index) => index.className,
          () => null,
        ),
      })),
    );
    for (const file of await listSingleFiles(this.config)) {
      if (found.has(file.id)) continue;
      listed.push({ id: file.id, source: file.source, sourceClass: await singleFileClass(file.file) });
    }
    return listed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Runs a lookup, turning a path that leads outside its root into the user-facing `InvalidInputError`. */
  private async guard<T>(id: string, lookup: () => Promise<T>): Promise<T> {
    try {
      return await lookup();
    } catch (error) {
      if (error instanceof PathEscapeError) throw new InvalidInputError("model", id, OUTSIDE_ALLOWED);
      throw error;
    }
  }

  /** `<modelsDir>/<repo>` when it is a folder holding model_index.json; null otherwise. */
  private async fromModelsDir(id: string, repo: string): Promise<LocatedCheckpoint | null> {
    const root = await realRoot(this.config.modelsDir);
    if (!root) return null;
    const dir = await checkpointDir(root, path.join(root, repo));
    return dir ? { id, dir, source: "MODELS_DIR", revision: null, root } : null;
  }

  /** The cache snapshot `refs/<revision ?? "main">` (or the commit `revision`) names, when it holds model_index.json. */
  private async fromCache(
    id: string,
    repo: string,
    revision: string | null,
    source: "HF_CACHE" | "HUB",
  ): Promise<LocatedCheckpoint | null> {
    const root = await realRoot(this.config.hfHubCache);
    if (!root) return null;
    const storage = path.join(root, cacheFolderName(repo));
    const wanted = revision ?? "main";
    // Like huggingface_hub: a ref of that name first, then the revision as a commit hash.
    const snapshot =
      (await readRef(root, path.join(storage, "refs", wanted))) ?? (COMMIT_HASH.test(wanted) ? wanted : null);
    if (snapshot === null) return null;
    const dir = await checkpointDir(root, path.join(storage, "snapshots", snapshot));
    return dir ? { id, dir, source, revision: snapshot, root } : null;
  }

  /** Downloads `repo@revision` unless the same download is already running, then waits for it. */
  private async downloadOnce(
    id: string,
    repo: string,
    revision: string,
    searched: string[],
    variant: string | null,
  ): Promise<void> {
    const key = `${repo}@${revision}#${variant ?? ""}`;
    let running = this.downloads.get(key);
    if (!running) {
      running = this.download({
        repo,
        revision,
        cacheDir: this.config.hfHubCache,
        accessToken: this.config.hfToken,
        variant,
      }).finally(() => this.downloads.delete(key));
      this.downloads.set(key, running);
    }
    try {
      await running;
    } catch (error) {
      // Our own errors (e.g. an invalid model_index.json on the Hub) already say what is wrong.
      if (error instanceof AutopipeError) throw error;
      const status = (error as { statusCode?: unknown } | null)?.statusCode;
      const where =
        status === 401 || status === 403 || status === 404
          ? "Hugging Face Hub (no such repository or revision, or no access to it)"
          : "Hugging Face Hub (download failed)";
      // The original error (URLs, cache paths) stays on `cause` for logs, out of the message.
      throw Object.assign(new ModelNotFoundError(id, [...searched, where]), { cause: error });
    }
  }

  /** Candidate ids of the models directory: `name` folders, and `org/name` below folders without model_index.json. */
  private async modelsDirCandidates(): Promise<string[]> {
    const root = await realRoot(this.config.modelsDir);
    if (!root) return [];
    const ids: string[] = [];
    for (const name of await readNames(root)) {
      if (!isId(name)) continue;
      ids.push(name);
      const folder = await resolveInside(root, path.join(root, name)).catch(() => null);
      // A checkpoint's own subfolders (unet/, …) are components, not checkpoints: only org folders are entered.
      if (!folder || (await fs.stat(path.join(folder, "model_index.json")).catch(() => null))) continue;
      for (const child of await readNames(folder)) if (isId(`${name}/${child}`)) ids.push(`${name}/${child}`);
    }
    return ids;
  }
}

/** The real path of `candidate` when it is a folder inside `root` holding a model_index.json file inside `root`. */
async function checkpointDir(root: string, candidate: string): Promise<string | null> {
  const dir = await resolveInside(root, candidate);
  if (!dir || !(await fs.stat(dir)).isDirectory()) return null;
  const index = await resolveInside(root, path.join(dir, "model_index.json"));
  return index && (await fs.stat(index)).isFile() ? dir : null;
}

/** The snapshot name a refs file holds, or null when there is no usable one. */
async function readRef(root: string, refFile: string): Promise<string | null> {
  const real = await resolveInside(root, refFile);
  if (!real) return null;
  const bytes = await readCapped(real, REF_MAX_BYTES);
  if (typeof bytes === "string") return null;
  const snapshot = bytes.toString("utf8").trim();
  // The ref's content is joined onto snapshots/: only a plain folder name may come out of it.
  return SNAPSHOT_NAME.test(snapshot) ? snapshot : null;
}

/** The entries of a folder, or none when it cannot be listed. */
async function readNames(folder: string): Promise<string[]> {
  return fs.readdir(folder).catch(() => []);
}

function isId(id: string): boolean {
  try {
    return validateModelId(id).revision === null;
  } catch {
    return false;
  }
}
