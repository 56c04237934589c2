/**
 * Downloads from the Hugging Face Hub into the Hugging Face cache layout (`models--org--name/blobs`, `snapshots/
 * <commit>`, `refs/<revision>`), so that Python and this server share one cache. Only what a diffusers checkpoint
 * needs is fetched: model_index.json first, then, in the component folders it names, the `.json` and `.txt` files
 * and the weights — an ONNX export's `.onnx`, `.pb` and `.onnx_data` where the folder has one, otherwise the
 * safetensors files `from_pretrained(use_safetensors=True, variant=…)` reads (the variant's where the folder has
 * them, else the plain ones, with their shards) — never pickle weights (`.bin`, `.ckpt`, `.pt`) or sample images. `refs/<revision>` is written
 * last, so an interrupted download is never mistaken for a complete checkpoint and is resumed by the next one.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { downloadFileToCacheDir, listFiles, modelInfo } from "@huggingface/hub";
import { cacheFolderName } from "./model-id.ts";
import { readModelIndexFile } from "./model-index.ts";
import { isPlainRelativePath, realRoot, resolveInside } from "./paths.ts";

/** What the locator asks a download function for. */
export interface DownloadRequest {
  /** `name` or `org/name`, already validated. */
  readonly repo: string;
  /** Branch, tag or commit hash (default "main"). */
  readonly revision: string;
  /** The Hugging Face cache root to download into (`config.hfHubCache`). */
  readonly cacheDir: string;
  /** `config.hfToken`, for gated or private repos. */
  readonly accessToken: string | undefined;
  /** The weights variant asked for (`fp16`): its safetensors files are fetched where a folder has them. */
  readonly variant?: string | null;
}

/**
 * Downloads a checkpoint into the cache layout, writing `refs/<revision>` once it is complete. Injectable so
 * tests can stand in for the network; the default is `downloadDiffusersCheckpoint`.
 */
export type DownloadFn = (request: DownloadRequest) => Promise<unknown>;

/** The few Hub calls a download makes; `huggingFaceHub` is the real one, tests pass fakes. */
export interface HubClient {
  /** The commit hash `revision` points to. */
  commitOf(repo: string, revision: string, accessToken: string | undefined): Promise<string>;
  /** Every file and folder of the repo at `commit`, recursively. */
  listFiles(
    repo: string,
    commit: string,
    accessToken: string | undefined,
  ): AsyncIterable<{ type: string; path: string }>;
  /** Downloads one file into `<cacheDir>/models--…/snapshots/<commit>/<file>` (a link to `blobs/`); its path. */
  downloadFile(
    repo: string,
    commit: string,
    file: string,
    cacheDir: string,
    accessToken: string | undefined,
  ): Promise<string>;
}

/** The real Hub, through `@huggingface/hub`. */
export const huggingFaceHub: HubClient = {
  async commitOf(repo, revision, accessToken) {
    const info = await modelInfo({ name: repo, revision, additionalFields: ["sha"], accessToken });
    return info.sha;
  },
  listFiles(repo, commit, accessToken) {
    return listFiles({ repo: { type: "model", name: repo }, recursive: true, revision: commit, accessToken });
  },
  downloadFile(repo, commit, file, cacheDir, accessToken) {
    return downloadFileToCacheDir({
      repo: { type: "model", name: repo },
      path: file,
      revision: commit,
      cacheDir,
      accessToken,
    });
  },
};

/** Extensions fetched inside component folders: configs, tokenizer files, ONNX graphs and external weights. */
export const CHECKPOINT_FILE_EXTENSIONS: readonly string[] = [".json", ".txt", ".onnx", ".pb", ".onnx_data"];

const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** diffusers' / transformers' safetensors weight names: `stem[.variant][-0000k-of-0000n].safetensors`. */
const SAFETENSORS_WEIGHTS =
  /^(?:diffusion_pytorch_model|model)(?:\.([A-Za-z0-9_-]+))?(?:-\d+-of-\d+)?\.safetensors$/;

/**
 * The files of a repo listing a download fetches: `isCheckpointFile` ones, plus, in component folders without an
 * ONNX graph, the safetensors weights of `variant` where the folder has them, else the plain ones.
 *
 * @example
 * checkpointFiles(["unet/config.json", "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors"], new Set(["unet"]), "fp16");
 * // → ["unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors"]
 */
export function checkpointFiles(
  listing: readonly string[],
  components: ReadonlySet<string>,
  variant: string | null = null,
): string[] {
  const onnxFolders = new Set(listing.filter((f) => f.endsWith(".onnx")).map((f) => f.split("/")[0]));
  const weights = new Map<string, { plain: string[]; variant: string[] }>();
  for (const file of listing) {
    const [folder, name, ...deeper] = file.split("/");
    if (!folder || !name || deeper.length > 0 || !components.has(folder) || onnxFolders.has(folder)) continue;
    const match = SAFETENSORS_WEIGHTS.exec(name);
    if (!match || !isPlainRelativePath(file)) continue;
    const entry = weights.get(folder) ?? { plain: [], variant: [] };
    if (match[1] === undefined) entry.plain.push(file);
    else if (match[1] === variant) entry.variant.push(file);
    weights.set(folder, entry);
  }
  const picked = new Set<string>();
  for (const { plain, variant: own } of weights.values())
    for (const f of own.length > 0 ? own : plain) picked.add(f);
  return listing.filter((f) => isCheckpointFile(f, components) || picked.has(f));
}

/**
 * Whether a repo file belongs to an ONNX diffusers checkpoint with these components: inside one of their
 * folders, with one of `CHECKPOINT_FILE_EXTENSIONS`.
 *
 * @example
 * isCheckpointFile("unet/model.onnx", new Set(["unet"])); // true
 * isCheckpointFile("unet/diffusion_pytorch_model.safetensors", new Set(["unet"])); // false
 */
export function isCheckpointFile(file: string, components: ReadonlySet<string>): boolean {
  const [folder, ...rest] = file.split("/");
  if (folder === undefined || rest.length === 0 || !components.has(folder) || !isPlainRelativePath(file)) {
    return false;
  }
  return CHECKPOINT_FILE_EXTENSIONS.some((extension) => file.endsWith(extension));
}

/**
 * Downloads a diffusers checkpoint (ONNX export or safetensors) from the Hub into the cache layout under `request.cacheDir`, and
 * returns its snapshot folder. Files already in the cache are not fetched again.
 *
 * @example
 * await downloadDiffusersCheckpoint({ repo: "org/sd-onnx", revision: "main", cacheDir, accessToken: undefined });
 * // → "<cacheDir>/models--org--sd-onnx/snapshots/<commit>", and refs/main holds <commit>
 */
export async function downloadDiffusersCheckpoint(
  request: DownloadRequest,
  hub: HubClient = huggingFaceHub,
): Promise<string> {
  const { repo, revision, cacheDir, accessToken } = request;
  const commit = await hub.commitOf(repo, revision, accessToken);
  // The commit becomes a folder name: accept only what the Hub really returns.
  if (!COMMIT_HASH.test(commit)) throw new Error(`The Hub returned an unexpected commit id for '${repo}'`);

  const indexPath = await hub.downloadFile(repo, commit, "model_index.json", cacheDir, accessToken);
  // Read it only where the cache really is, like every other checkpoint file.
  const root = await realRoot(cacheDir);
  const indexReal = root && (await resolveInside(root, indexPath));
  if (!indexReal) throw new Error(`model_index.json of '${repo}' did not arrive in the cache`);
  const index = await readModelIndexFile(repo, indexReal);
  const components = new Set(index.components.map((component) => component.name));

  const listing: string[] = [];
  for await (const entry of hub.listFiles(repo, commit, accessToken)) {
    if (entry.type === "file") listing.push(entry.path);
  }
  const files = checkpointFiles(listing, components, request.variant ?? null);
  // One at a time: the big files dominate, and each already streams at full speed.
  for (const file of files) await hub.downloadFile(repo, commit, file, cacheDir, accessToken);

  const storage = path.join(cacheDir, cacheFolderName(repo));
  if (revision !== commit) {
    const ref = path.join(storage, "refs", revision);
    await fs.mkdir(path.dirname(ref), { recursive: true });
    await fs.writeFile(ref, commit);
  }
  return path.join(storage, "snapshots", commit);
}
