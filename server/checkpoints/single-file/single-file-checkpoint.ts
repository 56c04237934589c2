/**
 * A single-file checkpoint once resolved: the file, its type (model-type.ts) and the diffusers-layout checkpoint
 * its component configs, scheduler and tokenizers come from (`configFrom`, as diffusers' `from_single_file(…,
 * config=…)`, or the type's reference repo when that is on disk). Here: where each graph's weights come from
 * (the single file, through the key map of the component's config; the safety checker, which no single file holds,
 * from the config checkpoint as diffusers loads components missing from the file), and a dry build of each graph
 * that names every weight the file lacks and every key it holds that nothing reads.
 */
import { readFile } from "node:fs/promises";
import { AutopipeError, UnsupportedComponentError } from "../../errors.ts";
import { modelModule } from "../../models/registry.ts";
import type { GraphSource } from "../component-weights.ts";
import type { LocatedCheckpoint } from "../locate.ts";
import { checkpointFile } from "../paths.ts";
import type { ComponentKeyMap } from "./key-map.ts";
import { LDM_UNET_PREFIX, LDM_VAE_PREFIX } from "./key-map-ldm.ts";
import { openSingleFile, SINGLE_FILE_LAYOUTS, type SingleFileType } from "./model-type.ts";
import {
  componentKeyMap,
  convertSingleFile,
  MissingWeightProbe,
  type SingleFileComponent,
  shapesOf,
  singleFileSource,
} from "./single-file-weights.ts";

export interface SingleFileCheckpoint {
  /** Real path of the `.safetensors` file. */
  readonly file: string;
  readonly type: SingleFileType;
  /** The diffusers-layout checkpoint id its configs, scheduler and tokenizers come from. */
  readonly configFrom: string;
}

/** The diffusers component folder each graph reads from a single file (the safety checker: none). */
const FILE_COMPONENT: Readonly<Record<string, SingleFileComponent>> = {
  unet: "unet",
  vae_encoder: "vae",
  vae_decoder: "vae",
  text_encoder: "text_encoder",
  text_encoder_2: "text_encoder_2",
};

/** Whether a file of `type` holds `component` (text encoders depend on the type). */
function holds(type: SingleFileType, component: SingleFileComponent): boolean {
  if (component === "unet" || component === "vae") return true;
  return SINGLE_FILE_LAYOUTS[type].textEncoders.some((t) => t.component === component);
}

/**
 * Where `graph` of a single-file checkpoint comes from; null when the file holds no such component (the graph then
 * comes from the config checkpoint, as any diffusers-layout graph).
 */
export async function singleFileGraphSource(
  checkpoint: LocatedCheckpoint & { readonly singleFile: SingleFileCheckpoint },
  graph: string,
): Promise<GraphSource | null> {
  const component = FILE_COMPONENT[graph];
  if (!component) return null;
  const { type, file } = checkpoint.singleFile;
  if (!holds(type, component)) {
    return {
      kind: "missing",
      reason: `a ${type} single file holds no ${component} (its ${SINGLE_FILE_LAYOUTS[type].pipelineClass} has none)`,
    };
  }
  let configFile: string;
  try {
    configFile = await checkpointFile(checkpoint, `${component}/config.json`);
  } catch {
    return {
      kind: "missing",
      reason: `the config checkpoint '${checkpoint.singleFile.configFrom}' has no ${component}/config.json`,
    };
  }
  const opened = await openSingleFile(file);
  const prefixes = prefixesOf(type, component);
  let weightBytes = 0;
  for (const name of opened.names()) {
    // Counted as the fp32 bytes the built graph holds (fp16/bf16 weights are cast up), as for diffusers folders.
    if (prefixes.some((p) => name.startsWith(p))) weightBytes += 4 * elements(opened.tensor(name)!.shape);
  }
  return {
    kind: "built",
    folder: component,
    configFile,
    weightFiles: [file],
    singleFile: { type },
    weightBytes,
  };
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The key prefixes of `component` in a file of `type`. */
function prefixesOf(type: SingleFileType, component: SingleFileComponent): string[] {
  if (component === "unet") return [LDM_UNET_PREFIX];
  if (component === "vae") return [LDM_VAE_PREFIX];
  return SINGLE_FILE_LAYOUTS[type].textEncoders.filter((t) => t.component === component).map((t) => t.prefix);
}

/** What a dry build of the file's components found. */
export interface SingleFileCheck {
  /** Per graph: why it cannot be built (missing weights named, wrong shapes, config keys); absent: it can. */
  readonly graphReasons: Readonly<Record<string, string>>;
  /** Keys of the file that no graph reads (training state excluded). */
  readonly unused: readonly string[];
  /** Training-state keys skipped (EMA, schedule buffers, position_ids). */
  readonly ignored: number;
}

/** Dry-builds every graph the file holds against it (no weight is read), collecting what is missing and unused. */
export async function checkSingleFile(
  checkpoint: LocatedCheckpoint & { readonly singleFile: SingleFileCheckpoint },
): Promise<SingleFileCheck> {
  const { type, file } = checkpoint.singleFile;
  const opened = await openSingleFile(file);
  const graphReasons: Record<string, string> = {};
  const maps = new Map<string, ComponentKeyMap>();
  const used = new Set<string>();
  for (const [graph, component] of Object.entries(FILE_COMPONENT)) {
    if (!holds(type, component)) continue;
    try {
      const config = await readConfig(checkpoint, component);
      const map = componentKeyMap(type, component, config);
      if (!map) continue;
      maps.set(component, map);
      const { source, originalOf } = singleFileSource(opened, map);
      const probe = new MissingWeightProbe(source, { component, dataFolder: "/" });
      modelModule(graph).check(config);
      modelModule(graph).build(probe, config);
      for (const name of probe.usedWeights) used.add(`${component}:${name}`);
      if (probe.missing.length > 0) {
        const shown = probe.missing
          .slice(0, 5)
          .map((name) => `'${originalOf(name) ?? name}' (${component} ${name})`);
        const more = probe.missing.length > 5 ? ` and ${probe.missing.length - 5} more` : "";
        graphReasons[graph] =
          `the single file lacks ${probe.missing.length} weight(s) of ${graph}: ${shown.join(", ")}${more}`;
      }
    } catch (error) {
      if (!(error instanceof AutopipeError)) throw error;
      graphReasons[graph] = error.message;
    }
  }
  const converted = convertSingleFile(shapesOf(opened), [...maps.values()]);
  const unused = [...converted.unused];
  for (const [key, targets] of converted.targets) {
    if (!targets.some((t) => used.has(`${t.component}:${t.key}`))) unused.push(key);
  }
  return { graphReasons, unused: unused.sort(), ignored: converted.ignored + opened.nonWeights.length };
}

async function readConfig(
  checkpoint: LocatedCheckpoint,
  component: string,
): Promise<Record<string, unknown>> {
  const file = await checkpointFile(checkpoint, `${component}/config.json`);
  let config: unknown;
  try {
    config = JSON.parse(await readFile(file, "utf8"));
  } catch {
    throw new UnsupportedComponentError(component, "config.json", "unreadable", "missing or not JSON");
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new UnsupportedComponentError(component, "config.json", "not an object");
  }
  return config as Record<string, unknown>;
}
