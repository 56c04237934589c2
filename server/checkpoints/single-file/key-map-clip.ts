/**
 * Text-encoder names of single files against transformers' `CLIPTextModel` / `CLIPTextModelWithProjection`, as
 * tables computed from the text encoder's config (its `num_hidden_layers`). Rules read in diffusers'
 * `src/diffusers/loaders/single_file_utils.py` at commit 11307ce964724348c940e4461f187c884135f7f3
 * (`LDM_CLIP_PREFIX_TO_REMOVE`, `DIFFUSERS_TO_LDM_MAPPING["openclip"]`, `convert_open_clip_checkpoint`,
 * `SD_2_TEXT_ENCODER_KEYS_TO_IGNORE`):
 *
 * - CLIP ViT-L (SD 1.x `cond_stage_model.transformer.`, SDXL `conditioner.embedders.0.transformer.`): transformers'
 *   own names below the prefix (`text_model.…`). Layers past the config's `num_hidden_layers` are not read. Some
 *   SD 1.x files lack the `text_model.` level (`cond_stage_model.transformer.encoder.…`); those names are read too,
 *   as ComfyUI's `load_clip_weights` reads them.
 * - OpenCLIP (SD 2.x `cond_stage_model.model.`, SDXL `conditioner.embedders.1.model.`, the SDXL refiner's
 *   `conditioner.embedders.0.model.`): `transformer.resblocks.{n}` = `text_model.encoder.layers.{n}` with `ln_1/ln_2`
 *   = layer_norm1/2, `mlp.c_fc/c_proj` = mlp.fc1/fc2, `attn.out_proj` = self_attn.out_proj and the fused
 *   `attn.in_proj_weight` `[3H, H]` / `in_proj_bias` `[3H]` = q, k, v stacked on dim 0 (rows [0,H), [H,2H),
 *   [2H,3H)); `token_embedding.weight`, `positional_embedding` (no `.weight`) = position_embedding.weight,
 *   `ln_final` = final_layer_norm, and `text_projection` = the transpose of diffusers' `text_projection.weight`
 *   (`x @ text_projection`), read only for a model with projection.
 * - SD 2.x conditions on the penultimate layer: diffusers' text_encoder config says 23 of OpenCLIP's 24 layers, so
 *   the last resblock (and SD 2.x's unused `text_projection`) is not read — it is reported unused, not missing.
 */
import { ComponentKeyMap, type ModulePair, type Part } from "./key-map.ts";

type Config = Readonly<Record<string, unknown>>;

/** The parts of one OpenCLIP resblock. */
const OPEN_CLIP_LAYER_PARTS: readonly Part[] = [
  {
    original: "attn.in_proj_",
    diffusers: ["self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."],
  },
  { original: "attn.out_proj.", diffusers: "self_attn.out_proj." },
  { original: "ln_1.", diffusers: "layer_norm1." },
  { original: "ln_2.", diffusers: "layer_norm2." },
  { original: "mlp.c_fc.", diffusers: "mlp.fc1." },
  { original: "mlp.c_proj.", diffusers: "mlp.fc2." },
];

/** OpenCLIP modules outside the resblocks (`text_projection` only with a projection). */
const OPEN_CLIP_LAYERS: readonly ModulePair[] = [
  { original: "token_embedding.weight", diffusers: "text_model.embeddings.token_embedding.weight" },
  { original: "positional_embedding", diffusers: "text_model.embeddings.position_embedding.weight" },
  { original: "ln_final.", diffusers: "text_model.final_layer_norm." },
];
const OPEN_CLIP_PROJECTION: ModulePair = {
  original: "text_projection",
  diffusers: "text_projection.weight",
  transpose: true,
};

/** CLIP ViT-L below `prefix`: transformers' names, the config's layers only. */
export function clipKeyMap(config: Config, component: string, prefix: string): ComponentKeyMap {
  const pairs: ModulePair[] = [
    {
      original: "text_model.embeddings.token_embedding.",
      diffusers: "text_model.embeddings.token_embedding.",
    },
    {
      original: "text_model.embeddings.position_embedding.",
      diffusers: "text_model.embeddings.position_embedding.",
    },
    { original: "text_model.final_layer_norm.", diffusers: "text_model.final_layer_norm." },
    // CLIPTextModelWithProjection stored with transformers' names (not in SD/SDXL files, cheap to accept).
    { original: "text_projection.", diffusers: "text_projection." },
  ];
  for (let n = 0; n < layerCount(config); n++) {
    const layer = `text_model.encoder.layers.${n}.`;
    pairs.push({ original: layer, diffusers: layer });
  }
  const aliases = pairs
    .filter((p) => p.original.startsWith("text_model."))
    .map((p) => ({ ...p, original: p.original.slice("text_model.".length), alias: true }));
  return new ComponentKeyMap(component, prefix, [...pairs, ...aliases]);
}

/** OpenCLIP below `prefix`, converted to CLIPTextModel(WithProjection) names; the config's layers only. */
export function openClipKeyMap(config: Config, component: string, prefix: string): ComponentKeyMap {
  const pairs: ModulePair[] = [...OPEN_CLIP_LAYERS];
  if (hasProjection(config)) pairs.push(OPEN_CLIP_PROJECTION);
  for (let n = 0; n < layerCount(config); n++) {
    pairs.push({
      original: `transformer.resblocks.${n}.`,
      diffusers: `text_model.encoder.layers.${n}.`,
      parts: OPEN_CLIP_LAYER_PARTS,
    });
  }
  return new ComponentKeyMap(component, prefix, pairs);
}

function layerCount(config: Config): number {
  const n = config.num_hidden_layers;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : 12;
}

function hasProjection(config: Config): boolean {
  const arch = config.architectures;
  return Array.isArray(arch) && arch[0] === "CLIPTextModelWithProjection";
}
