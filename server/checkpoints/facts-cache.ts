/**
 * The control plane's memory of checkpoint files: what was read from a checkpoint (model_index.json, component
 * configs, which graphs exist) is kept and served again without touching the disk, and revalidated at most every
 * `revalidateMs` by the identity of the files it came from (device, inode, size, modification time, or absence).
 * A file replaced, rewritten, created or deleted changes that identity, so the facts are read again; an unchanged
 * checkpoint costs one `stat` per file per interval, not a read and a parse per request. The promise is cached,
 * so concurrent first requests share one read, and a failed read is forgotten.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { LocatedCheckpoint } from "./locate.ts";

interface Entry {
  readonly promise: Promise<unknown>;
  readonly signature: string;
  checkedAt: number;
  /** A revalidation in progress, shared by the requests that find the entry due. */
  revalidating?: Promise<unknown>;
}

/** Most entries kept (checkpoints × kinds of facts); past it the oldest is dropped. */
const MAX_ENTRIES = 1024;

/**
 * @example
 * const facts = new CheckpointFactsCache(1000);
 * const index = await facts.get(checkpoint, "model-index", ["model_index.json"], () => readModelIndex(checkpoint));
 */
export class CheckpointFactsCache {
  private readonly entries = new Map<string, Entry>();
  /** First reads in progress (no entry yet), shared by concurrent requests. */
  private readonly firstReads = new Map<string, Promise<unknown>>();

  /** `revalidateMs` 0 checks the files' identity on every call (still no read while they are unchanged). */
  constructor(private readonly revalidateMs: number) {}

  /**
   * The facts of kind `kind` for `checkpoint`, read by `read` from `files` (relative to the checkpoint folder):
   * served from memory while those files keep their identity.
   */
  get<T>(
    checkpoint: LocatedCheckpoint,
    kind: string,
    files: readonly string[],
    read: () => Promise<T>,
  ): Promise<T> {
    const key = `${checkpoint.dir}\u0000${checkpoint.revision ?? ""}\u0000${kind}`;
    const entry = this.entries.get(key);
    if (entry && performance.now() - entry.checkedAt < this.revalidateMs) return entry.promise as Promise<T>;
    const pending = entry ? entry.revalidating : this.firstReads.get(key);
    if (pending) return pending as Promise<T>;
    const revalidated = this.revalidate(key, entry, checkpoint, files, read);
    if (entry) entry.revalidating = revalidated;
    else this.firstReads.set(key, revalidated);
    const settle = () => {
      if (entry) delete entry.revalidating;
      else if (this.firstReads.get(key) === revalidated) this.firstReads.delete(key);
    };
    revalidated.then(settle, settle);
    return revalidated;
  }

  /** Forgets everything known about a checkpoint (e.g. after it was unloaded for replacement). */
  forget(checkpoint: LocatedCheckpoint): void {
    for (const key of this.entries.keys())
      if (key.startsWith(`${checkpoint.dir}\u0000`)) this.entries.delete(key);
  }

  private async revalidate<T>(
    key: string,
    entry: Entry | undefined,
    checkpoint: LocatedCheckpoint,
    files: readonly string[],
    read: () => Promise<T>,
  ): Promise<T> {
    const signature = await signatureOf(checkpoint.dir, files);
    if (entry && entry.signature === signature && this.entries.get(key) === entry) {
      entry.checkedAt = performance.now();
      return entry.promise as Promise<T>;
    }
    const promise = read();
    const fresh: Entry = { promise, signature, checkedAt: performance.now() };
    this.entries.delete(key);
    this.entries.set(key, fresh);
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    promise.catch(() => {
      // A failed read is not remembered: the next request reads again.
      if (this.entries.get(key) === fresh) this.entries.delete(key);
    });
    return promise;
  }
}

/** The identity of each file (following links, as reads do), or its absence, as one string. */
async function signatureOf(dir: string, files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (file) => {
      try {
        const s = await fs.stat(path.join(dir, file), { bigint: true });
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch (error) {
        return `-${(error as NodeJS.ErrnoException).code ?? "?"}`;
      }
    }),
  );
  return parts.join("|");
}
