/**
 * What a single file is, from its keys alone: diffusers' `infer_diffusers_model_type` (read in
 * `src/diffusers/loaders/single_file_utils.py` at commit 11307ce964724348c940e4461f187c884135f7f3:
 * `CHECKPOINT_KEY_NAMES`, `DIFFUSERS_DEFAULT_PIPELINE_PATHS`), then where each diffusers component's tensors sit
 * in the file (`SINGLE_FILE_LAYOUTS`), and which keys are training state to ignore.
 *
 * diffusers decides by a few marker keys and shapes, in this order: a 9-channel `input_blocks.0.0` is inpainting
 * (`inpainting_v2` when the cross-attention width is OpenCLIP-H's 1024); cross-attention width 1024 is SD 2.x;
 * `edm_mean` Playground v2.5; OpenCLIP-bigG's resblock 9 at `conditioner.embedders.1.model.` SDXL base, at
 * `conditioner.embedders.0.model.` the SDXL refiner; then upscalers, ControlNets, Stable Cascade, SD3, AnimateDiff;
 * anything else "v1". Two additions, both ours: a file whose marker keys are absent (small models such as the test
 * fixtures, whose encoders have fewer than 10 resblocks) is placed by its text-encoder prefixes, which are
 * unambiguous; and a file with no UNet under `model.diffusion_model.` is unknown, not "v1".
 */
import { SafetensorsFile } from "../../safetensors/safetensors-file.ts";

export type SingleFileType =
  | "v1"
  | "v2"
  | "inpainting"
  | "inpainting_v2"
  | "xl_base"
  | "xl_refiner"
  | "xl_inpaint";

/** diffusers' marker keys (`CHECKPOINT_KEY_NAMES`) for the families this server runs, and those it names only. */
export const CHECKPOINT_KEY_NAMES = {
  v2: "model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight",
  xl_base: "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias",
  xl_refiner: "conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias",
  inpainting: "model.diffusion_model.input_blocks.0.0.weight",
} as const;

/** Families diffusers knows by a marker key that this server does not run. */
const OTHER_FAMILIES: readonly (readonly [key: string, family: string])[] = [
  ["edm_mean", "Playground v2.5"],
  ["model.diffusion_model.input_blocks.10.0.skip_connection.bias", "Stable Diffusion x4 upscaler"],
  ["control_model.time_embed.0.weight", "ControlNet"],
  ["clip_txt_mapper.weight", "Stable Cascade (stage C)"],
  ["down_blocks.1.0.channelwise.0.weight", "Stable Cascade (stage B)"],
  ["model.diffusion_model.joint_blocks.0.context_block.adaLN_modulation.1.bias", "Stable Diffusion 3"],
  [
    "down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.1.pos_encoder.pe",
    "AnimateDiff",
  ],
];

/** Where the text encoders of a type sit in the file, and how they are stored. */
export interface TextEncoderPlace {
  readonly component: "text_encoder" | "text_encoder_2";
  readonly prefix: string;
  readonly style: "clip" | "open_clip";
}

export interface SingleFileLayout {
  /** The pipeline class `from_single_file` builds for this type (`sourceClass`). */
  readonly pipelineClass: string;
  /** The reference repo diffusers takes configs, scheduler and tokenizers from (`DIFFUSERS_DEFAULT_PIPELINE_PATHS`). */
  readonly defaultRepo: string;
  readonly textEncoders: readonly TextEncoderPlace[];
}

const CLIP_SD: TextEncoderPlace = {
  component: "text_encoder",
  prefix: "cond_stage_model.transformer.",
  style: "clip",
};
const OPEN_CLIP_SD2: TextEncoderPlace = {
  component: "text_encoder",
  prefix: "cond_stage_model.model.",
  style: "open_clip",
};
const CLIP_XL: TextEncoderPlace = {
  component: "text_encoder",
  prefix: "conditioner.embedders.0.transformer.",
  style: "clip",
};
const OPEN_CLIP_XL: TextEncoderPlace = {
  component: "text_encoder_2",
  prefix: "conditioner.embedders.1.model.",
  style: "open_clip",
};
const OPEN_CLIP_XL_REFINER: TextEncoderPlace = {
  component: "text_encoder_2",
  prefix: "conditioner.embedders.0.model.",
  style: "open_clip",
};

/** Per type: the class `from_single_file` builds, the repo diffusers fetches configs from, the text encoders. */
export const SINGLE_FILE_LAYOUTS: Readonly<Record<SingleFileType, SingleFileLayout>> = Object.freeze({
  v1: {
    pipelineClass: "StableDiffusionPipeline",
    defaultRepo: "runwayml/stable-diffusion-v1-5",
    textEncoders: [CLIP_SD],
  },
  v2: {
    pipelineClass: "StableDiffusionPipeline",
    defaultRepo: "stabilityai/stable-diffusion-2-1",
    textEncoders: [OPEN_CLIP_SD2],
  },
  inpainting: {
    pipelineClass: "StableDiffusionInpaintPipeline",
    defaultRepo: "runwayml/stable-diffusion-inpainting",
    textEncoders: [CLIP_SD],
  },
  inpainting_v2: {
    pipelineClass: "StableDiffusionInpaintPipeline",
    defaultRepo: "stabilityai/stable-diffusion-2-inpainting",
    textEncoders: [OPEN_CLIP_SD2],
  },
  xl_base: {
    pipelineClass: "StableDiffusionXLPipeline",
    defaultRepo: "stabilityai/stable-diffusion-xl-base-1.0",
    textEncoders: [CLIP_XL, OPEN_CLIP_XL],
  },
  xl_refiner: {
    pipelineClass: "StableDiffusionXLImg2ImgPipeline",
    defaultRepo: "stabilityai/stable-diffusion-xl-refiner-1.0",
    textEncoders: [OPEN_CLIP_XL_REFINER],
  },
  xl_inpaint: {
    pipelineClass: "StableDiffusionXLInpaintPipeline",
    defaultRepo: "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    textEncoders: [CLIP_XL, OPEN_CLIP_XL],
  },
});

/**
 * Keys that are training state, not model weights: EMA copies, the diffusion schedule buffers LDM saves, CLIP's
 * `position_ids` buffer. Ignored (neither used nor reported unused).
 */
const IGNORED_KEY =
  /^(?:model_ema\.|betas$|alphas_cumprod(?:_prev)?$|sqrt_|log_one_minus_alphas_cumprod$|posterior_|logvar$|lvlb_weights$|scale_factor$)|(?:^|\.)position_ids$/;

export function isIgnoredKey(key: string): boolean {
  return IGNORED_KEY.test(key);
}

/** Opens a single file: training-state tensors (int64 `position_ids` included) are validated and set aside. */
export function openSingleFile(file: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(file, { nonWeights: isIgnoredKey });
}

export type Inference =
  | { readonly kind: "known"; readonly type: SingleFileType }
  | { readonly kind: "unknown"; readonly reason: string };

/** The type of a file from its tensor names and stored shapes. */
export function inferSingleFileType(shapes: ReadonlyMap<string, readonly number[]>): Inference {
  for (const [key, family] of OTHER_FAMILIES) {
    if (shapes.has(key)) return { kind: "unknown", reason: `a ${family} checkpoint (it has '${key}')` };
  }
  if (![...shapes.keys()].some((k) => k.startsWith("model.diffusion_model."))) {
    return {
      kind: "unknown",
      reason: `no Stable Diffusion UNet under 'model.diffusion_model.' (${sample(shapes)})`,
    };
  }
  const inChannels = shapes.get(CHECKPOINT_KEY_NAMES.inpainting)?.[1];
  const crossWidth = shapes.get(CHECKPOINT_KEY_NAMES.v2)?.at(-1);
  const has = (prefix: string) => [...shapes.keys()].some((k) => k.startsWith(prefix));
  const xl = shapes.has(CHECKPOINT_KEY_NAMES.xl_base) || has(OPEN_CLIP_XL.prefix);
  const refiner = !xl && (shapes.has(CHECKPOINT_KEY_NAMES.xl_refiner) || has(OPEN_CLIP_XL_REFINER.prefix));
  const v2 = crossWidth === 1024 || (!xl && !refiner && has(OPEN_CLIP_SD2.prefix));
  if (inChannels === 9) {
    if (xl) return { kind: "known", type: "xl_inpaint" };
    return { kind: "known", type: v2 ? "inpainting_v2" : "inpainting" };
  }
  if (crossWidth === 1024) return { kind: "known", type: "v2" };
  if (xl) return { kind: "known", type: "xl_base" };
  if (refiner) return { kind: "known", type: "xl_refiner" };
  if (v2) return { kind: "known", type: "v2" };
  if (has(CLIP_SD.prefix) || !has("conditioner.")) return { kind: "known", type: "v1" };
  return { kind: "unknown", reason: `text encoders of no known layout (${sample(shapes)})` };
}

/** The pipeline class a file's keys make (what `models` lists), or null when unreadable or unknown. */
export async function singleFileClass(file: string): Promise<string | null> {
  try {
    const opened = await openSingleFile(file);
    const shapes = new Map(opened.names().map((name) => [name, opened.tensor(name)!.shape] as const));
    const inferred = inferSingleFileType(shapes);
    return inferred.kind === "known" ? SINGLE_FILE_LAYOUTS[inferred.type].pipelineClass : null;
  } catch {
    return null;
  }
}

/** A few of the file's top-level key groups, for messages. */
export function sample(shapes: ReadonlyMap<string, readonly number[]>): string {
  const groups = new Set<string>();
  for (const key of shapes.keys()) groups.add(key.split(".").slice(0, 2).join("."));
  const list = [...groups].sort();
  const shown = list.slice(0, 6).map((g) => `'${g}.…'`);
  return `keys found: ${shown.join(", ")}${list.length > 6 ? ` and ${list.length - 6} more groups` : ""}${
    list.length === 0 ? "none" : ""
  }`;
}
