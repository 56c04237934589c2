/**
 * The shape of a single-file key conversion: for one diffusers component, a table of module pairs (an original
 * module prefix and the diffusers one it becomes), each with the table of its parts when the two layouts name a
 * module's parameters differently. The tables are data computed from the component's config
 * (key-map-ldm.ts, key-map-clip.ts); this file only reads them, in both directions: an original key to the
 * diffusers key(s) and layout change it holds, and a diffusers key back to its original name (for messages).
 *
 * Lookup is by longest matching module prefix, then by the first part whose original prefix starts the rest.
 */

/** How a stored tensor becomes the diffusers one (the graph builder emits the Reshape/Transpose/Slice). */
export type KeyTransform =
  | { readonly kind: "reshape" }
  | { readonly kind: "transpose" }
  | { readonly kind: "rows"; readonly begin: number; readonly end: number };

/** One diffusers tensor an original key holds (several for a stacked q/k/v projection). */
export interface KeyTarget {
  readonly component: string;
  readonly key: string;
  readonly transform?: KeyTransform;
}

/** Parameters of a module named differently in the two layouts (`in_layers.0.` → `norm1.`). */
export interface Part {
  readonly original: string;
  /** One diffusers prefix, or several that split the stored rows equally in order (q, k, v). */
  readonly diffusers: string | readonly string[];
  /** The stored `weight` is a 1×1 convolution ([out, in, 1, 1]) of a diffusers Linear: reshape when 4-D. */
  readonly convAsLinear?: boolean;
}

/** An original module and the diffusers module it becomes. */
export interface ModulePair {
  /** Original module prefix ending in ".", or an exact key. */
  readonly original: string;
  readonly diffusers: string;
  /** Absent: the parameter names inside the module are the same in both layouts. */
  readonly parts?: readonly Part[];
  /** Exact keys only: the stored tensor is the transpose of the diffusers one. */
  readonly transpose?: boolean;
  /** Another original spelling of a module already paired: read, but never given as the original name. */
  readonly alias?: boolean;
}

/** One component's conversion: the keys below `prefix` in the single file, by the module pairs. */
export class ComponentKeyMap {
  private readonly byOriginal = new Map<string, ModulePair>();
  private readonly byDiffusers = new Map<string, ModulePair>();

  constructor(
    readonly component: string,
    /** The component's prefix in the single file, e.g. `model.diffusion_model.`. */
    readonly prefix: string,
    readonly pairs: readonly ModulePair[],
  ) {
    for (const pair of pairs) {
      this.byOriginal.set(pair.original, pair);
      if (!pair.alias) this.byDiffusers.set(pair.diffusers, pair);
    }
  }

  /**
   * The diffusers tensor(s) `key` (with the component prefix) holds; null when the tables do not know it.
   * `shape` is the stored shape (it decides row splits and whether a 1×1 convolution needs its reshape).
   */
  toDiffusers(key: string, shape: readonly number[]): KeyTarget[] | null {
    if (!key.startsWith(this.prefix)) return null;
    const local = key.slice(this.prefix.length);
    const found = longestPrefix(local, this.byOriginal);
    if (!found) return null;
    const { pair, rest } = found;
    const target = (k: string, transform?: KeyTransform): KeyTarget =>
      transform ? { component: this.component, key: k, transform } : { component: this.component, key: k };
    if (rest === "") return [target(pair.diffusers, pair.transpose ? { kind: "transpose" } : undefined)];
    if (!pair.parts) return [target(pair.diffusers + rest)];
    const part = pair.parts.find((p) => rest.startsWith(p.original));
    if (!part) return null;
    const param = rest.slice(part.original.length);
    if (typeof part.diffusers === "string") {
      const reshape = part.convAsLinear && param === "weight" && shape.length === 4;
      return [target(pair.diffusers + part.diffusers + param, reshape ? { kind: "reshape" } : undefined)];
    }
    const count = part.diffusers.length;
    const rows = shape[0] ?? 0;
    if (rows % count !== 0) return null;
    const each = rows / count;
    return part.diffusers.map((d, i) =>
      target(pair.diffusers + d + param, { kind: "rows", begin: i * each, end: (i + 1) * each }),
    );
  }

  /** The original key (with prefix) a diffusers key of this component comes from; null when none does. */
  toOriginal(key: string): string | null {
    const found = longestPrefix(key, this.byDiffusers);
    if (!found) return null;
    const { pair, rest } = found;
    if (rest === "") return this.prefix + pair.original;
    if (!pair.parts) return this.prefix + pair.original + rest;
    for (const part of pair.parts) {
      const names = typeof part.diffusers === "string" ? [part.diffusers] : part.diffusers;
      const name = names.find((d) => rest.startsWith(d));
      if (name !== undefined) return this.prefix + pair.original + part.original + rest.slice(name.length);
    }
    return null;
  }
}

/** The entry of `table` whose key is the longest module prefix of `key` (or `key` itself), and what follows. */
function longestPrefix(
  key: string,
  table: ReadonlyMap<string, ModulePair>,
): { pair: ModulePair; rest: string } | null {
  const exact = table.get(key);
  if (exact) return { pair: exact, rest: "" };
  for (let end = key.lastIndexOf("."); end > 0; end = key.lastIndexOf(".", end - 1)) {
    const pair = table.get(key.slice(0, end + 1));
    if (pair) return { pair, rest: key.slice(end + 1) };
  }
  return null;
}
