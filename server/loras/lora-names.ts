/**
 * The key conventions of LoRA files, as data. An adapter's keys name, for each layer it patches, a component and a
 * module plus the part (down / up factor, alpha):
 *
 * - diffusers / PEFT: `<component>.<module>.lora_A.weight` (down) and `.lora_B.weight` (up); diffusers' older
 *   spellings `.lora.down.weight` / `.lora.up.weight`, `.lora_linear_layer.down.weight` (text encoders) and the
 *   attention processors' `attn1.processor.to_q_lora.down.weight`; an optional `<module>.alpha` tensor. Keys
 *   without a component prefix are the UNet's (`unet.save_attn_procs`).
 * - kohya / A1111: `<prefix><module with '.' → '_'>.lora_down.weight`, `.lora_up.weight`, `.alpha`, with prefixes
 *   `lora_unet_`, `lora_te_` (SD 1.x/2.x's text encoder), `lora_te1_` / `lora_te2_` (SDXL's two). SDXL files name
 *   UNet modules by the original (SGM/LDM) block names (`input_blocks.4.1.…`, `middle_block.1.…`).
 *
 * A kohya name cannot be turned back into a module name by string surgery alone ('_' is both the separator and
 * part of names like `down_blocks`); diffusers' `_convert_unet_lora_key` patches the result with a list of
 * replacements (huggingface/diffusers src/diffusers/loaders/lora_conversion_utils.py at commit
 * 019c4962f0bbfc90cd1ac86ced68fb8676e5a5f7). Here the direction is reversed: every layer of the checkpoint that
 * takes a LoRA is given its kohya spellings (`kohyaNames`) — the diffusers module name with '.' → '_', and for the
 * UNet also its original-layout name from the single-file key map (server/checkpoints/single-file/key-map-ldm.ts,
 * the same block arithmetic as diffusers' `_maybe_map_sgm_blocks_to_diffusers` in the file above: input block
 * `1 + level·(layers_per_block + 1) + j`, output block `level·(layers_per_block + 1) + j`, middle block 0 / 1 / 2,
 * in_layers.2 = conv1, out_layers.3 = conv2, emb_layers.1 = time_emb_proj, skip_connection = conv_shortcut) — and
 * an adapter's names are looked up in that table: a name no layer has is reported, never guessed.
 */
import type { ComponentKeyMap } from "../checkpoints/single-file/key-map.ts";

/** The components adapters patch. */
export type LoraComponent = "unet" | "text_encoder" | "text_encoder_2";

export const LORA_COMPONENTS: readonly LoraComponent[] = ["unet", "text_encoder", "text_encoder_2"];

/** What a key of an adapter file holds. */
export type LoraPart = "down" | "up" | "alpha";

/** One key, split: the component, the module as the file names it, the part. */
export interface LoraKey {
  readonly component: LoraComponent;
  /** diffusers: the module name; kohya: the name after the prefix (underscores). */
  readonly module: string;
  readonly part: LoraPart;
}

/** kohya prefixes → component. */
export const KOHYA_PREFIXES: readonly (readonly [prefix: string, component: LoraComponent])[] = Object.freeze(
  [
    ["lora_unet_", "unet"],
    ["lora_te1_", "text_encoder"],
    ["lora_te2_", "text_encoder_2"],
    ["lora_te_", "text_encoder"],
  ],
);

/** kohya suffixes → part. */
const KOHYA_SUFFIXES: readonly (readonly [suffix: string, part: LoraPart])[] = Object.freeze([
  [".lora_down.weight", "down"],
  [".lora_up.weight", "up"],
  [".alpha", "alpha"],
]);

/** diffusers / PEFT suffixes → part (PEFT's first, then diffusers' older spellings). */
const DIFFUSERS_SUFFIXES: readonly (readonly [suffix: string, part: LoraPart])[] = Object.freeze([
  [".lora_A.weight", "down"],
  [".lora_B.weight", "up"],
  [".lora.down.weight", "down"],
  [".lora.up.weight", "up"],
  [".lora_linear_layer.down.weight", "down"],
  [".lora_linear_layer.up.weight", "up"],
  ["_lora.down.weight", "down"],
  ["_lora.up.weight", "up"],
  [".alpha", "alpha"],
]);

/**
 * diffusers' attention-processor spellings (`attn1.processor.to_q_lora.down.weight`, text encoders'
 * `self_attn.to_q_lora.down.weight`, once the `_lora.down.weight` suffix is off) → the module they patch.
 */
const PROCESSOR_MODULES: readonly (readonly [from: RegExp, to: string])[] = Object.freeze([
  [/\.processor\.to_(q|k|v)$/, ".to_$1"],
  [/\.processor\.to_out$/, ".to_out.0"],
  [/\.self_attn\.to_(q|k|v)$/, ".self_attn.$1_proj"],
  [/\.self_attn\.to_out$/, ".self_attn.out_proj"],
]);

const DIFFUSERS_COMPONENT = /^(unet|text_encoder|text_encoder_2)\.(.+)$/;

/** The key of a kohya file, split; null when it is not one of the three parts under a known prefix. */
export function parseKohyaKey(key: string): LoraKey | null {
  const prefix = KOHYA_PREFIXES.find(([p]) => key.startsWith(p));
  const suffix = KOHYA_SUFFIXES.find(([s]) => key.endsWith(s));
  if (!prefix || !suffix) return null;
  const module = key.slice(prefix[0].length, key.length - suffix[0].length);
  return module && !module.includes(".") ? { component: prefix[1], module, part: suffix[1] } : null;
}

/** The key of a diffusers / PEFT file, split; null when it is not a LoRA factor or alpha. */
export function parseDiffusersKey(key: string): LoraKey | null {
  const suffix = DIFFUSERS_SUFFIXES.find(([s]) => key.endsWith(s));
  if (!suffix) return null;
  let rest = key.slice(0, key.length - suffix[0].length);
  const prefixed = DIFFUSERS_COMPONENT.exec(rest);
  const component = (prefixed?.[1] ?? "unet") as LoraComponent;
  rest = prefixed?.[2] ?? rest;
  for (const [from, to] of PROCESSOR_MODULES) rest = rest.replace(from, to);
  return rest ? { component, module: rest, part: suffix[1] } : null;
}

/** Whether a file's keys are kohya's (any key under a kohya prefix). */
export function isKohyaKey(key: string): boolean {
  return KOHYA_PREFIXES.some(([p]) => key.startsWith(p));
}

/**
 * The kohya spellings of one layer (module name without component, e.g. `down_blocks.0.resnets.0.conv1`):
 * its diffusers name with '.' → '_', and where `original` (the UNet's LDM key map) knows it, the original name.
 */
export function kohyaNames(module: string, original?: ComponentKeyMap): string[] {
  const names = [module.replaceAll(".", "_")];
  const ldm = original?.toOriginal(`${module}.weight`);
  if (ldm?.endsWith(".weight")) {
    const name = ldm.slice(original!.prefix.length, -".weight".length).replaceAll(".", "_");
    if (!names.includes(name)) names.push(name);
  }
  return names;
}
