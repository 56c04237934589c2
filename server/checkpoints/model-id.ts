/**
 * Model ids: the one grammar a user may name a checkpoint by, checked before any path is built from it. An id is
 * `name` or `org/name`, optionally followed by `@revision`; it follows the Hugging Face Hub's own repo-id rules
 * (letters, digits, `.`, `_`, `-`; no `--` or `..`; parts neither start nor end with `.` or `-`), which makes it
 * safe to join onto a root folder and maps it one-to-one onto the cache's `models--org--name` folders. Anything
 * else — absolute paths, `..`, backslashes, NUL, `%` escapes — is refused here, before the filesystem is touched.
 */
import { InvalidInputError } from "../errors.ts";

/** Longest accepted model id, revision included. */
export const MAX_MODEL_ID_LENGTH = 200;

/** What `InvalidInputError.allowed` says when an id is refused. */
export const MODEL_ID_ALLOWED =
  "'name' or 'org/name', optionally followed by '@revision'; letters, digits, '.', '_' and '-' only, " +
  `no part starting or ending with '.' or '-', no '--' or '..', at most ${MAX_MODEL_ID_LENGTH} characters`;

// One repo part, as the Hub allows it: no leading/trailing '.' or '-' (so never "." or ".." either).
const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
// One revision part: branch and tag names may hold '/' (e.g. "refs/pr/1"), each part must not start with '.'
// or '-' so that it can never be "." or ".." once joined onto `refs/`.
const REVISION_PART = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** The cache folder prefix of model repos (`models--org--name`). */
const CACHE_PREFIX = "models--";

/**
 * Checks a model id and splits it into its repo and revision parts. Throws `InvalidInputError("model", id, …)`
 * for anything outside the grammar; never touches the filesystem.
 *
 * @example
 * validateModelId("tiny-sd"); // { repo: "tiny-sd", revision: null }
 * validateModelId("org/sd-onnx@fp16"); // { repo: "org/sd-onnx", revision: "fp16" }
 * validateModelId("../etc"); // throws InvalidInputError
 */
export function validateModelId(id: string): { repo: string; revision: string | null } {
  const refuse = (): never => {
    // Keep a hostile multi-megabyte id out of logs and responses.
    const shown = id.length > MAX_MODEL_ID_LENGTH + 20 ? `${id.slice(0, MAX_MODEL_ID_LENGTH)}…` : id;
    throw new InvalidInputError("model", shown, MODEL_ID_ALLOWED);
  };
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_MODEL_ID_LENGTH) return refuse();
  const at = id.indexOf("@");
  const repo = at === -1 ? id : id.slice(0, at);
  const revision = at === -1 ? null : id.slice(at + 1);
  if (!isValidRepo(repo)) return refuse();
  if (revision !== null) {
    const parts = revision.split("/");
    if (!parts.every((part) => REVISION_PART.test(part)) || revision.includes("..")) return refuse();
  }
  return { repo, revision };
}

/** Whether `repo` is `name` or `org/name` under the Hub's rules (no revision). */
export function isValidRepo(repo: string): boolean {
  const parts = repo.split("/");
  if (parts.length > 2 || !parts.every((part) => REPO_PART.test(part))) return false;
  // "--" would make `models--a--b--c` ambiguous; ".." is refused even inside a part ("a..b"), as the Hub does.
  return !repo.includes("--") && !repo.includes("..");
}

/** The Hugging Face cache folder of a model repo: `org/name` → `models--org--name`. */
export function cacheFolderName(repo: string): string {
  return CACHE_PREFIX + repo.split("/").join("--");
}

/** The repo a cache folder holds (`models--org--name` → `org/name`), or null when it is no valid model folder. */
export function repoFromCacheFolder(folder: string): string | null {
  if (!folder.startsWith(CACHE_PREFIX)) return null;
  const repo = folder.slice(CACHE_PREFIX.length).split("--").join("/");
  return isValidRepo(repo) ? repo : null;
}
