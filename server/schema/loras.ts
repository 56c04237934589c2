/**
 * LoRA adapters over GraphQL: `query loras` (what AUTOPIPE_LORAS_DIR and the Hugging Face cache hold, read from
 * the files' headers), `input LoraInput` (what a generation input and a pipeline config name), and `LoraSetting`
 * (a config's adapters as they are set).
 */
import type { LoraFamily, LoraFormat } from "../loras/lora-file.ts";
import { type LoraSummary, loraRegistry } from "../loras/lora-registry.ts";
import type { LoraInputValue } from "../loras/lora-request.ts";
import { builder } from "./builder.ts";

export const LoraFormatEnum = builder.enumType("LoraFormat", {
  description: "The key convention of an adapter file.",
  values: {
    DIFFUSERS: {
      description:
        "diffusers / PEFT: `unet.<module>.lora_A.weight` / `lora_B.weight` (and diffusers' older `lora.down` / `lora.up` spellings); alphas from the header's `lora_adapter_metadata`.",
    },
    KOHYA: {
      description:
        "kohya / A1111: `lora_unet_…` / `lora_te_…` (`lora_te1_` / `lora_te2_` for SDXL) with `lora_down` / `lora_up` and an `alpha` per layer.",
    },
  } satisfies Record<LoraFormat, unknown>,
});

export const LoraFamilyEnum = builder.enumType("LoraFamily", {
  description: "The model family an adapter was made for, as far as its keys and shapes tell.",
  values: {
    SD1: { description: "Stable Diffusion 1.x (768-wide text encoder)." },
    SD2: { description: "Stable Diffusion 2.x (1024-wide text encoder)." },
    SDXL: { description: "Stable Diffusion XL (two text encoders, 2048-wide cross-attention)." },
  } satisfies Record<LoraFamily, unknown>,
});

const LoraType = builder.objectRef<LoraSummary>("Lora").implement({
  description: "A LoRA adapter file a generation can apply (`loras` of its input).",
  fields: (t) => ({
    id: t.exposeString("id", {
      description:
        "`name` / `folder/name` for AUTOPIPE_LORAS_DIR/name.safetensors, or `org/repo/file.safetensors` in the Hugging Face cache.",
    }),
    format: t.field({ type: LoraFormatEnum, resolve: (l) => l.format }),
    family: t.field({
      type: LoraFamilyEnum,
      nullable: true,
      description: "Null when the keys do not tell (adapters of small test models).",
      resolve: (l) => l.family,
    }),
    rank: t.exposeInt("rank", { description: "The largest rank of its layers." }),
    components: t.stringList({
      description: "The components it patches: `unet`, `text_encoder`, `text_encoder_2`.",
      resolve: (l) => [...l.components],
    }),
    bytes: t.exposeFloat("bytes", { description: "Size of the file." }),
  }),
});

builder.queryField("loras", (t) =>
  t.field({
    type: [LoraType],
    description:
      "LoRA adapters in AUTOPIPE_LORAS_DIR (`.safetensors` files, subfolders included) and the Hugging Face cache, sorted by id. Pickle files are never listed or loaded.",
    resolve: async (_root, _args, { services }) =>
      (await loraRegistry(services.config).list()).sort((a, b) => a.id.localeCompare(b.id)),
  }),
);

export const LoraInput = builder.inputType("LoraInput", {
  description:
    "One adapter of a generation. Several combine like diffusers' `set_adapters(names, adapter_weights)`: each layer gets Σ scale × alpha / rank × up·down of the adapters that patch it, in the UNet and the text encoders alike.",
  fields: (t) => ({
    id: t.string({ required: true, description: "An id of the `loras` query." }),
    scale: t.float({ required: true, defaultValue: 1.0, description: "Any finite number; 0 turns it off." }),
  }),
});

export const LoraSettingType = builder.objectRef<LoraInputValue>("LoraSetting").implement({
  description: "An adapter a pipeline config applies, with its scale.",
  fields: (t) => ({
    id: t.exposeString("id"),
    scale: t.float({ resolve: (l) => l.scale ?? 1 }),
  }),
});
