/**
 * A single file read as diffusers components: for one component, the key map its config gives
 * (key-map-ldm.ts, key-map-clip.ts) turns the file's original names into a `WeightSource` under diffusers' names,
 * each entry pointing at the stored tensor with the layout change the graph builder undoes (reshape, transpose,
 * rows of a stacked q/k/v). Nothing is rewritten on disk. `convertSingleFile` runs every key through every
 * component's map at once, for the report of unused keys and for the key-map tests.
 *
 * A nested `state_dict` (what diffusers unwraps in `load_single_file_checkpoint`) exists only in pickle files,
 * which are never read; a safetensors file is flat.
 */
import {
  GraphBuilder,
  type Value,
  type WeightRef,
  type WeightSource,
} from "../../graph-builder/graph-builder.ts";
import type { SafetensorsFile } from "../../safetensors/safetensors-file.ts";
import type { ComponentKeyMap, KeyTarget } from "./key-map.ts";
import { clipKeyMap, openClipKeyMap } from "./key-map-clip.ts";
import { ldmUnetKeyMap, ldmVaeKeyMap } from "./key-map-ldm.ts";
import { isIgnoredKey, openSingleFile, SINGLE_FILE_LAYOUTS, type SingleFileType } from "./model-type.ts";

/** diffusers component folders a single file holds. */
export type SingleFileComponent = "unet" | "vae" | "text_encoder" | "text_encoder_2";

type Config = Readonly<Record<string, unknown>>;

/** The key map of `component` in a file of `type`, from the component's config; null when the type has none. */
export function componentKeyMap(
  type: SingleFileType,
  component: string,
  config: Config,
): ComponentKeyMap | null {
  if (component === "unet") return ldmUnetKeyMap(config);
  if (component === "vae") return ldmVaeKeyMap(config);
  const place = SINGLE_FILE_LAYOUTS[type].textEncoders.find((t) => t.component === component);
  if (!place) return null;
  return place.style === "clip"
    ? clipKeyMap(config, component, place.prefix)
    : openClipKeyMap(config, component, place.prefix);
}

export interface ConvertedKeys {
  /** Every original key the maps convert, with the diffusers tensor(s) it holds. */
  readonly targets: ReadonlyMap<string, readonly KeyTarget[]>;
  /** Keys no map converts and that are not training state: reported, never an error. */
  readonly unused: readonly string[];
  /** Training-state keys skipped (EMA, schedule buffers, position_ids). */
  readonly ignored: number;
}

/** Runs every key of a file (name → stored shape) through `maps`. */
export function convertSingleFile(
  shapes: ReadonlyMap<string, readonly number[]>,
  maps: readonly ComponentKeyMap[],
): ConvertedKeys {
  const targets = new Map<string, readonly KeyTarget[]>();
  const unused: string[] = [];
  let ignored = 0;
  for (const [key, shape] of shapes) {
    if (isIgnoredKey(key)) {
      ignored++;
      continue;
    }
    let found: KeyTarget[] | null = null;
    for (const map of maps) {
      found = map.toDiffusers(key, shape);
      if (found) break;
    }
    if (found) targets.set(key, found);
    else unused.push(key);
  }
  return { targets, unused, ignored };
}

/** Stored shapes of an opened file, by name. */
export function shapesOf(file: SafetensorsFile): Map<string, readonly number[]> {
  return new Map(file.names().map((name) => [name, file.tensor(name)!.shape] as const));
}

/** One component of an opened single file as a `WeightSource` under diffusers' names. */
export function singleFileSource(
  file: SafetensorsFile,
  map: ComponentKeyMap,
): { source: WeightSource; names: string[]; originalOf: (name: string) => string | null } {
  const byName = new Map<string, WeightRef>();
  for (const key of file.names()) {
    if (!key.startsWith(map.prefix) || isIgnoredKey(key)) continue;
    const t = file.tensor(key)!;
    for (const target of map.toDiffusers(key, t.shape) ?? []) {
      byName.set(target.key, {
        file: file.realPath,
        dtype: t.dtype,
        shape: t.shape,
        byteOffset: t.byteOffset,
        byteLength: t.byteLength,
        ...(target.transform ? { transform: target.transform } : {}),
      });
    }
  }
  return {
    source: { get: (name) => byName.get(name) },
    names: [...byName.keys()],
    originalOf: (n) => map.toOriginal(n),
  };
}

/** Opens `file` and gives the `WeightSource` of `component` (a file of `type`, the component's `config`). */
export async function openSingleFileWeights(
  file: string,
  type: SingleFileType,
  component: string,
  config: Config,
): Promise<{
  source: WeightSource;
  names: string[];
  folder: string;
  originalOf: (name: string) => string | null;
}> {
  const opened = await openSingleFile(file);
  const map = componentKeyMap(type, component, config);
  if (!map)
    return {
      source: { get: () => undefined },
      names: [],
      folder: dirOf(opened.realPath),
      originalOf: () => null,
    };
  return { ...singleFileSource(opened, map), folder: dirOf(opened.realPath) };
}

function dirOf(file: string): string {
  const i = file.lastIndexOf("/");
  return i <= 0 ? "/" : file.slice(0, i);
}

/**
 * A graph builder that records the weights a build asks for and the source lacks, instead of stopping at the
 * first: a dry build with it names every missing weight of a component (wrong shapes still throw).
 */
export class MissingWeightProbe extends GraphBuilder {
  readonly missing: string[] = [];

  override weight(name: string, shape: readonly number[]): Value {
    if (!this.hasWeight(name)) {
      this.missing.push(name);
      return `missing:${name}`;
    }
    return super.weight(name, shape);
  }
}
