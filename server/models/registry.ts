/**
 * The model module that builds each graph of a diffusers-layout checkpoint, and the config check that decides
 * runnability without building anything.
 */
import { UnsupportedComponentError } from "../errors.ts";
import {
  buildAutoencoderKLDecoder,
  buildAutoencoderKLEncoder,
  parseAutoencoderKLConfig,
} from "./autoencoder-kl.ts";
import type { ComponentBuilder } from "./build-component.ts";
import { buildClipTextModel, parseClipTextConfig } from "./clip-text-model.ts";
import {
  buildStableDiffusionSafetyChecker,
  parseStableDiffusionSafetyCheckerConfig,
} from "./safety-checker.ts";
import { buildUNet2DConditionModel } from "./unet-2d-condition.ts";
import { parseUNet2DConditionConfig } from "./unet-2d-condition-config.ts";

interface ModelModule {
  /** diffusers / transformers class names this module builds (`_class_name` or `architectures[0]`). */
  readonly classes: readonly string[];
  /** Throws `UnsupportedComponentError` naming the key and value it cannot build faithfully. */
  readonly check: (config: Readonly<Record<string, unknown>>) => void;
  readonly build: ComponentBuilder;
}

const VAE_CLASSES = ["AutoencoderKL"];
const TEXT_CLASSES = ["CLIPTextModel", "CLIPTextModelWithProjection"];
const checkVae = (config: Readonly<Record<string, unknown>>) => void parseAutoencoderKLConfig(config);
const checkText = (config: Readonly<Record<string, unknown>>) => void parseClipTextConfig(config);

const MODULES: Readonly<Record<string, ModelModule>> = {
  vae_encoder: { classes: VAE_CLASSES, check: checkVae, build: buildAutoencoderKLEncoder },
  vae_decoder: { classes: VAE_CLASSES, check: checkVae, build: buildAutoencoderKLDecoder },
  text_encoder: { classes: TEXT_CLASSES, check: checkText, build: buildClipTextModel },
  text_encoder_2: { classes: TEXT_CLASSES, check: checkText, build: buildClipTextModel },
  safety_checker: {
    classes: ["StableDiffusionSafetyChecker"],
    check: (config) => void parseStableDiffusionSafetyCheckerConfig(config),
    build: buildStableDiffusionSafetyChecker,
  },
  unet: {
    classes: ["UNet2DConditionModel"],
    check: (config) => void parseUNet2DConditionConfig(config),
    build: buildUNet2DConditionModel,
  },
};

/** The module building `graph` ("unet", "vae_decoder", …); throws when none does. */
export function modelModule(graph: string): ModelModule {
  const module = MODULES[graph];
  if (!module) throw new UnsupportedComponentError(graph, "graph", graph, "not built by this server");
  return module;
}

/** The class a component config names: diffusers' `_class_name`, transformers' `architectures[0]`. */
export function configClass(config: Readonly<Record<string, unknown>>): string | null {
  if (typeof config._class_name === "string") return config._class_name;
  const arch = config.architectures;
  return Array.isArray(arch) && typeof arch[0] === "string" ? arch[0] : null;
}

/** Checks that `graph` can be built from `config` (class and every key); throws `UnsupportedComponentError`. */
export function checkComponentConfig(
  graph: string,
  folder: string,
  config: Readonly<Record<string, unknown>>,
): void {
  const module = modelModule(graph);
  const cls = configClass(config);
  if (cls !== null && !module.classes.includes(cls)) {
    throw new UnsupportedComponentError(
      folder,
      "class",
      cls,
      `not built by this server (built: ${module.classes.join(", ")})`,
    );
  }
  module.check(config);
}
