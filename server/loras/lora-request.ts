/**
 * A request's `loras`, from the arguments to the bound feeds: `planLoras` checks each entry up front (id known,
 * scale finite, adapter fitting the checkpoint: ./lora-match.ts) from the adapters' headers and the checkpoint's
 * layer table, before any graph loads or any slot is taken; `bindLoras`, when the request runs, loads the factors
 * (once per file, ./lora-registry.ts), combines them (./lora-feeds.ts) and sends them to the inference thread for
 * the request's life.
 */
import type { Config } from "../config.ts";
import { InvalidInputError } from "../errors.ts";
import type { SdComponents } from "../pipelines/components.ts";
import { type BoundFeeds, bindFeeds } from "../runtime/graph.ts";
import { type AppliedAdapter, composeLoraFeeds } from "./lora-feeds.ts";
import { type MatchedLayer, matchAdapter } from "./lora-match.ts";
import { loraRegistry } from "./lora-registry.ts";

/** One entry of a request's `loras` (GraphQL `LoraInput`). */
export interface LoraInputValue {
  readonly id: string;
  /** Default 1.0. */
  readonly scale?: number;
}

/** An adapter of a planned request. */
export interface PlannedLora {
  readonly id: string;
  readonly field: string;
  readonly scale: number;
  readonly layers: readonly MatchedLayer[];
}

/** Most adapters one request may combine. */
export const MAX_LORAS = 8;

/** Checks `loras` against the checkpoint; throws InvalidInputError naming `${prefix}.loras[i]…`. */
export async function planLoras(
  config: Pick<Config, "lorasDir" | "hfHubCache">,
  components: SdComponents,
  loras: readonly LoraInputValue[] | null | undefined,
  prefix: string,
): Promise<{ adapters: PlannedLora[]; notes: string[]; bytes: number }> {
  if (!loras || loras.length === 0) return { adapters: [], notes: [], bytes: 0 };
  if (loras.length > MAX_LORAS) {
    throw new InvalidInputError(
      `${prefix}.loras`,
      `${loras.length} adapters`,
      `at most ${MAX_LORAS} adapters`,
    );
  }
  const registry = loraRegistry(config);
  const targets = await components.loraTargets();
  const adapters: PlannedLora[] = [];
  const notes: string[] = [];
  let bytes = 0;
  for (const [i, entry] of loras.entries()) {
    const field = `${prefix}.loras[${i}]`;
    const scale = entry.scale ?? 1;
    if (!Number.isFinite(scale))
      throw new InvalidInputError(`${field}.scale`, String(scale), "a finite number");
    const info = await registry.info(entry.id, `${field}.id`);
    const matched = matchAdapter(`${field}.id`, entry.id, info, targets, components.id);
    notes.push(...matched.notes);
    for (const l of matched.layers) bytes += 4 * (size(l.entry.down.shape) + size(l.entry.up.shape));
    adapters.push({ id: entry.id, field: `${field}.id`, scale, layers: matched.layers });
  }
  return { adapters, notes, bytes };
}

/** The request's adapters bound on the inference thread, by graph; `release` when the request ends. */
export async function bindLoras(
  config: Pick<Config, "lorasDir" | "hfHubCache">,
  components: SdComponents,
  adapters: readonly PlannedLora[],
): Promise<{ feeds: Map<string, BoundFeeds>; release(): Promise<void> }> {
  const feeds = new Map<string, BoundFeeds>();
  const release = async () => {
    await Promise.all([...feeds.values()].map((b) => b.release()));
  };
  if (adapters.length === 0) return { feeds, release };
  const registry = loraRegistry(config);
  const applied: AppliedAdapter[] = [];
  for (const a of adapters) {
    const loaded = await registry.load(a.id, a.field);
    applied.push({ layers: a.layers, data: loaded.data, scale: a.scale });
  }
  try {
    for (const [component, tensors] of composeLoraFeeds(applied)) {
      // On top of the graph's zero factors: the layers no adapter patches keep them.
      const graph = await components.graph(component);
      feeds.set(component, await bindFeeds(tensors, graph.bound));
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { feeds, release };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
