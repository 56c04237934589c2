/**
 * Downloads from the Hugging Face Hub into the Hugging Face cache layout (`models--org--name/blobs`, `snapshots/
 * <commit>`, `refs/<revision>`), so that Python and this server share one cache. Only what an ONNX diffusers
 * checkpoint needs is fetched: model_index.json first, then the `.json`, `.txt`, `.onnx`, `.pb` and `.onnx_data`
 * files of the component folders it names — never PyTorch weights or sample images. `refs/<revision>` is written
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
 * Downloads an ONNX diffusers checkpoint from the Hub into the cache layout under `request.cacheDir`, and
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

  const files: string[] = [];
  for await (const entry of hub.listFiles(repo, commit, accessToken)) {
    if (entry.type === "file" && isCheckpointFile(entry.path, components)) files.push(entry.path);
  }
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
