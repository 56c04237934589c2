/**
 * Loaded checkpoints, one per resolved snapshot and execution provider, shared by every task and request (the
 * from_pipe idea: no second copy of the weights). The promise is cached, so concurrent first requests share one
 * load; a failed load is evicted so that a retry can succeed.
 */
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { ModelIndex } from "../checkpoints/model-index.ts";
import type { Config } from "../config.ts";
import { SdComponents } from "./components.ts";

export class PipelineCache {
  private readonly entries = new Map<string, Promise<SdComponents>>();

  constructor(private readonly config: Pick<Config, "executionProvider" | "threads">) {}

  /** The loaded components of a checkpoint, loading them on first use. */
  get(checkpoint: LocatedCheckpoint, modelIndex: ModelIndex): Promise<SdComponents> {
    const key = `${checkpoint.dir}\0${checkpoint.revision ?? ""}\0${this.config.executionProvider}\0float32`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = SdComponents.open(checkpoint, modelIndex, this.config);
      this.entries.set(key, entry);
      entry.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    return entry;
  }

  async dispose(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map(async (e) => (await e.catch(() => undefined))?.dispose()));
  }
}
