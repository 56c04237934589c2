/**
 * Loaded checkpoints, one per resolved snapshot + revision + execution provider + dtype, shared by every task and
 * request (diffusers' `from_pipe`, without a second copy of the weights and without touching any component's
 * dtype). Concurrent first requests share one load (the promise is cached); a failed load is evicted so a retry
 * can succeed. Requests hold a lease while they run; least-recently-used checkpoints are evicted when the weight
 * bytes or the number of checkpoints pass their budgets, but never while a lease is out — a checkpoint unloaded
 * while in use is released when its last request ends.
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { ModelIndex } from "../checkpoints/model-index.ts";
import type { Config } from "../config.ts";
import { SdComponents } from "../pipelines/components.ts";

export interface CacheEntryInfo {
  /** The model id the checkpoint was first requested by. */
  readonly model: string;
  readonly tasks: readonly Task[];
  /** Graphs loaded so far (the VAE encoder waits for the first image task). */
  readonly components: readonly string[];
  readonly bytes: number;
  /**
   * Growth of the server's resident memory while this checkpoint's graphs loaded (weights as onnxruntime holds
   * them, prepacked copies, session state); null before any graph loaded.
   */
  readonly residentBytesAfterLoad: number | null;
  /**
   * `residentBytesAfterLoad` plus what the process kept after this checkpoint's last generation (activation
   * buffers its sessions retain); null until a generation ran alone (concurrent requests cannot be told apart).
   */
  readonly residentBytes: number | null;
  /** How many times this checkpoint was loaded since the server started. */
  readonly loads: number;
  readonly lastUsedAt: Date;
  readonly inUse: number;
}

/** A request's hold on a loaded checkpoint; `release` exactly once when the request ends. */
export interface Lease {
  readonly components: SdComponents;
  release(): void;
}

interface Entry {
  readonly key: string;
  readonly model: string;
  readonly promise: Promise<SdComponents>;
  components?: SdComponents;
  readonly tasks: Set<Task>;
  lastUsedAt: Date;
  inUse: number;
  /** Removed from the cache while in use: dispose when the last lease ends. */
  retired: boolean;
  /** Resident memory kept over the last generation that ran alone (see `CacheEntryInfo.residentBytes`). */
  retainedByGeneration: number | null;
}

export type CacheConfig = Pick<
  Config,
  "executionProvider" | "threads" | "cacheMaxBytes" | "cacheMaxModels" | "graphCacheDir"
>;

export class PipelineCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loadCounts = new Map<string, number>();
  /** Leases out across all checkpoints. */
  private leases = 0;

  constructor(private readonly config: CacheConfig) {}

  /** The cache key: one entry per snapshot, revision, variant, single file, provider and dtype. */
  keyOf(checkpoint: LocatedCheckpoint): string {
    return [
      checkpoint.dir,
      checkpoint.revision ?? "",
      checkpoint.variant ?? "",
      checkpoint.singleFile?.file ?? "",
      this.config.executionProvider,
      "float32",
    ].join("\u0000");
  }

  /** Whether the checkpoint is loaded (a load still in progress does not count). */
  has(checkpoint: LocatedCheckpoint): boolean {
    return this.entries.get(this.keyOf(checkpoint))?.components !== undefined;
  }

  /**
   * Takes a lease on the checkpoint's components, loading them on first use. `task` is recorded for `info`; a lease with a task is a generation, whose retained memory `info` reports.
   * The caller must `release()` the lease when its request ends.
   */
  async acquire(checkpoint: LocatedCheckpoint, modelIndex: ModelIndex, task?: Task): Promise<Lease> {
    const entry = this.entryFor(checkpoint, modelIndex);
    entry.inUse += 1;
    this.leases += 1;
    entry.lastUsedAt = new Date();
    // Resident memory is measured around a generation (a lease with a task; warm-up has none) only when it is
    // the only request running anywhere.
    let alone = this.leases === 1 && task !== undefined;
    const residentBefore = process.memoryUsage.rss();
    const loadedBefore = entry.components?.residentBytesAfterLoad() ?? 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      alone &&= this.leases === 1;
      this.leases -= 1;
      if (alone && entry.components) {
        const loaded = entry.components.residentBytesAfterLoad() - loadedBefore;
        entry.retainedByGeneration = Math.max(0, process.memoryUsage.rss() - residentBefore - loaded);
      }
      entry.inUse -= 1;
      entry.lastUsedAt = new Date();
      if (entry.retired && entry.inUse === 0) this.disposeLater(entry);
      else this.evict();
    };
    try {
      const components = await entry.promise;
      if (task) entry.tasks.add(task);
      return { components, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Removes a checkpoint; its sessions are released now, or when its last running request ends. */
  async unload(checkpoint: LocatedCheckpoint): Promise<boolean> {
    const entry = this.entries.get(this.keyOf(checkpoint));
    if (!entry) return false;
    this.entries.delete(entry.key);
    entry.retired = true;
    if (entry.inUse === 0) await this.disposeEntry(entry);
    return true;
  }

  /** What is loaded, most recently used first. */
  info(): CacheEntryInfo[] {
    return [...this.entries.values()]
      .filter((entry) => entry.components)
      .sort((a, b) => b.lastUsedAt.getTime() - a.lastUsedAt.getTime())
      .map((entry) => this.describe(entry));
  }

  infoOf(checkpoint: LocatedCheckpoint): CacheEntryInfo | null {
    const entry = this.entries.get(this.keyOf(checkpoint));
    return entry?.components ? this.describe(entry) : null;
  }

  /** Weight bytes of every loaded checkpoint. */
  totalBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.components?.weightBytes() ?? 0;
    return total;
  }

  /**
   * Enforces the budgets: while over `cacheMaxModels` checkpoints or `cacheMaxBytes` weight bytes, releases the
   * least recently used checkpoint that no request is using. Called before a new checkpoint loads (making room
   * for it), and after every request and load.
   */
  evict(room = 0): void {
    const idle = () =>
      [...this.entries.values()]
        .filter((entry) => entry.inUse === 0 && entry.components)
        .sort((a, b) => a.lastUsedAt.getTime() - b.lastUsedAt.getTime());
    while (
      this.entries.size + room > this.config.cacheMaxModels ||
      this.totalBytes() > this.config.cacheMaxBytes
    ) {
      const victim = idle()[0];
      if (!victim) return; // everything is in use: over budget until a request ends
      this.entries.delete(victim.key);
      this.disposeLater(victim);
    }
  }

  async dispose(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((entry) => this.disposeEntry(entry)));
  }

  private entryFor(checkpoint: LocatedCheckpoint, modelIndex: ModelIndex): Entry {
    const key = this.keyOf(checkpoint);
    const existing = this.entries.get(key);
    if (existing) return existing;
    // Make room first, so that the peak is the budget rather than the budget plus the newcomer.
    this.evict(1);
    this.loadCounts.set(key, (this.loadCounts.get(key) ?? 0) + 1);
    const promise = SdComponents.open(checkpoint, modelIndex, this.config);
    const entry: Entry = {
      key,
      model: checkpoint.id,
      promise,
      tasks: new Set(),
      lastUsedAt: new Date(),
      inUse: 0,
      retired: false,
      retainedByGeneration: null,
    };
    this.entries.set(key, entry);
    promise.then(
      (components) => {
        entry.components = components;
        this.evict();
      },
      () => {
        // A failed load is forgotten so that the next request loads again.
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry;
  }

  private describe(entry: Entry): CacheEntryInfo {
    const loaded = entry.components?.loadedGraphs().length ? entry.components.residentBytesAfterLoad() : null;
    return {
      model: entry.model,
      tasks: [...entry.tasks],
      components: entry.components?.loadedGraphs() ?? [],
      bytes: entry.components?.weightBytes() ?? 0,
      residentBytesAfterLoad: loaded,
      residentBytes:
        loaded === null || entry.retainedByGeneration === null ? null : loaded + entry.retainedByGeneration,
      loads: this.loadCounts.get(entry.key) ?? 0,
      lastUsedAt: entry.lastUsedAt,
      inUse: entry.inUse,
    };
  }

  /** Disposes in the background; a failing release is logged, never an unhandled rejection. */
  private disposeLater(entry: Entry): void {
    this.disposeEntry(entry).catch((error) =>
      console.warn(`autopipe: releasing '${entry.model}' failed:`, error),
    );
  }

  private async disposeEntry(entry: Entry): Promise<void> {
    const components = await entry.promise.catch(() => undefined);
    await components?.dispose();
  }
}
