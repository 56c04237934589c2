/**
 * An adapter against one checkpoint: each of its layers found among the checkpoint's LoRA-capable layers (the ones
 * its built graphs give a side branch, ./lora-names.ts for kohya spellings) and its factors checked against the
 * layer's shape. What cannot apply is refused up front, by name (diffusers' `check_inputs` habit):
 *
 * - a checkpoint whose graphs are exported ONNX (no side branches to feed);
 * - a component the checkpoint lacks (an SDXL adapter's `text_encoder_2` on SD 1.5);
 * - a factor whose shape does not fit its layer (another architecture, or another width): the first such key and
 *   both shapes are named;
 * - an adapter none of whose layers is a layer of the checkpoint.
 *
 * Layers that match nothing while others do are reported in `notes` (diffusers warns about them too), as are keys
 * that are not LoRA factors (LyCORIS, DoRA): they are not applied.
 */

import { InvalidInputError } from "../errors.ts";
import type { LoraLayer } from "../graph-builder/graph-builder.ts";
import type { LoraFileInfo, LoraLayerEntry } from "./lora-file.ts";
import type { LoraComponent } from "./lora-names.ts";

/** A component's LoRA-capable layers and the kohya spellings that name them. */
export interface ComponentTargets {
  readonly layers: ReadonlyMap<string, LoraLayer>;
  /** kohya name (no prefix) → module. */
  readonly byKohya: ReadonlyMap<string, string>;
}

/**
 * The checkpoint's targets by component: absent = the checkpoint has no such component; null = the component's
 * graph is an ONNX export (takes no adapter).
 */
export type CheckpointTargets = ReadonlyMap<LoraComponent, ComponentTargets | null>;

/** One layer of an adapter matched to the checkpoint's layer. */
export interface MatchedLayer {
  readonly component: LoraComponent;
  readonly module: string;
  readonly layer: LoraLayer;
  readonly entry: LoraLayerEntry;
}

/** Matches `adapter` (id `id`, argument `field`) to `targets` of checkpoint `model`; throws InvalidInputError. */
export function matchAdapter(
  field: string,
  id: string,
  adapter: LoraFileInfo,
  targets: CheckpointTargets,
  model: string,
): { layers: MatchedLayer[]; notes: string[] } {
  const refuse = (why: string): never => {
    throw new InvalidInputError(field, id, `an adapter that fits '${model}': ${why}`);
  };
  for (const component of adapter.components) {
    const t = targets.get(component);
    if (t === undefined) {
      refuse(
        `it patches ${component}, which '${model}' does not have` +
          (adapter.family ? ` (the adapter was made for ${FAMILY_NAMES[adapter.family]})` : ""),
      );
    }
    if (t === null) {
      refuse(
        `its ${component} is an exported ONNX graph, which takes no adapter (adapters apply to checkpoints in ` +
          "diffusers layout or single files, whose graphs are built here)",
      );
    }
  }
  const layers: MatchedLayer[] = [];
  const unmatched: string[] = [];
  for (const entry of adapter.layers) {
    const t = targets.get(entry.component)!;
    const module = adapter.format === "KOHYA" ? t.byKohya.get(entry.module) : entry.module;
    const layer = module === undefined ? undefined : t.layers.get(module);
    if (module === undefined || layer === undefined) {
      unmatched.push(entry.downKey);
      continue;
    }
    const misfit = shapeMisfit(entry, layer);
    if (misfit) {
      refuse(
        `key '${entry.downKey}' has down [${entry.down.shape.join(", ")}] and up [${entry.up.shape.join(", ")}], ` +
          `but layer ${entry.component}.${module} ${misfit}`,
      );
    }
    layers.push({ component: entry.component, module, layer, entry });
  }
  if (layers.length === 0) {
    refuse(
      `none of its ${adapter.layers.length} layers is a layer of '${model}' (first: '${unmatched[0]}')` +
        (adapter.family ? `; it was made for ${FAMILY_NAMES[adapter.family]}` : ""),
    );
  }
  const notes: string[] = [];
  if (unmatched.length > 0) {
    notes.push(
      `LoRA '${id}': ${unmatched.length} of ${adapter.layers.length} layers match no layer of '${model}' and ` +
        `were not applied (first: '${unmatched[0]}').`,
    );
  }
  if (adapter.ignoredKeys.length > 0) {
    notes.push(
      `LoRA '${id}': ${adapter.ignoredKeys.length} keys are not LoRA factors (lora_A/lora_B, lora_down/lora_up, ` +
        `alpha) and were not applied (first: '${adapter.ignoredKeys[0]}').`,
    );
  }
  return { layers, notes };
}

const FAMILY_NAMES = {
  SD1: "Stable Diffusion 1.x",
  SD2: "Stable Diffusion 2.x",
  SDXL: "Stable Diffusion XL",
};

/** Why `entry`'s factors do not fit `layer` ("takes …"), or null when they do. */
function shapeMisfit(entry: LoraLayerEntry, layer: LoraLayer): string | null {
  const down = entry.down.shape;
  const up = entry.up.shape;
  const ones = (dims: readonly number[]) => dims.every((d) => d === 1);
  if (layer.kind === "linear") {
    const fits =
      down[1] === layer.inFeatures && ones(down.slice(2)) && up[0] === layer.outFeatures && ones(up.slice(2));
    return fits ? null : `is a Linear ${layer.inFeatures} → ${layer.outFeatures}`;
  }
  const k = layer.kernel;
  const fits =
    down.length === 4 &&
    down[1] === layer.inChannels &&
    down[2] === k &&
    down[3] === k &&
    up[0] === layer.outChannels &&
    ones(up.slice(2));
  return fits ? null : `is a ${k}×${k} Conv2d ${layer.inChannels} → ${layer.outChannels}`;
}
