/**
 * diffusers' `StableDiffusionSafetyChecker` as one graph: transformers' CLIPVisionModel (CLIPVisionEmbeddings —
 * class token, patch convolution, position embedding —, `pre_layrnorm`, the encoder layers, `post_layernorm` on the
 * class token), `visual_projection` (no bias), cosine similarity to the 17 `concept_embeds` and 3
 * `special_care_embeds`, their thresholds, and the images with flagged ones zeroed.
 *
 * The decision is the one the pipelines' `forward` makes, vectorised as `forward_onnx` is: a score is
 * cos − threshold + adjustment with adjustment 0.0, raised by 0.01 for every concept of an image that has any
 * special-care score above 0; `forward` rounds each score to 3 decimals before comparing it with 0 (`forward_onnx`
 * does not), so it is rounded here too (Round(score·1000) > 0; float32 here, float64 in numpy, which can differ only
 * for a score within about 1e-7 of ±0.0005).
 *
 * Read from huggingface/diffusers: src/diffusers/pipelines/stable_diffusion/safety_checker.py at 9e3f45101d6a
 * (cosine_distance = normalize(a)·normalize(b)ᵀ, `forward`, `forward_onnx`), and huggingface/transformers:
 * src/transformers/models/clip/modeling_clip.py at 000f1ffdbf1c (CLIPVisionEmbeddings; pooled output =
 * post_layernorm(last_hidden_state[:, 0])).
 *
 * @example
 * const built = await buildComponentGraph(files, buildStableDiffusionSafetyChecker);
 * // inputs: clip_input [batch, 3, 224, 224], images [batch, height, width, 3]
 * // outputs: out_images (flagged images zeroed), has_nsfw_concepts bool [batch]
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { layerNorm, linear, toTokens } from "../graph-builder/nn.ts";
import type { ComponentBuilder } from "./build-component.ts";
import {
  type ClipEncoderConfig,
  clipEncoder,
  PRETRAINED_CONFIG_KEYS,
  parseClipEncoderConfig,
} from "./clip-encoder.ts";
import { ConfigFields } from "./config-fields.ts";

export interface ClipVisionConfig extends ClipEncoderConfig {
  readonly numChannels: number;
  readonly imageSize: number;
  readonly patchSize: number;
}

export interface SafetyCheckerConfig {
  readonly vision: ClipVisionConfig;
  readonly projectionDim: number;
}

/** The sizes diffusers' constructor gives the concept tables. */
const CONCEPTS = 17;
const SPECIAL_CARE = 3;

const TOP_KEYS = [
  ...PRETRAINED_CONFIG_KEYS,
  "text_config",
  "vision_config",
  "text_config_dict",
  "vision_config_dict",
  "logit_scale_init_value",
];

const VISION_KEYS = [
  ...PRETRAINED_CONFIG_KEYS,
  "hidden_size",
  "intermediate_size",
  "num_hidden_layers",
  "num_attention_heads",
  "num_channels",
  "image_size",
  "patch_size",
  "hidden_act",
  "layer_norm_eps",
];

function objectOrEmpty(f: ConfigFields, key: string): Record<string, unknown> {
  const v = f.raw[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) f.refuse(key, v, "not an object");
  return v as Record<string, unknown>;
}

/**
 * Reads the safety checker's CLIPConfig: `vision_config` (overridden by a legacy `vision_config_dict`, as
 * transformers' CLIPConfig does) with CLIPVisionConfig's defaults, and `projection_dim`; `text_config` is unused.
 */
export function parseStableDiffusionSafetyCheckerConfig(
  raw: Readonly<Record<string, unknown>>,
  component = "safety_checker",
): SafetyCheckerConfig {
  const f = new ConfigFields(component, raw, TOP_KEYS);
  const architectures = raw.architectures;
  if (
    architectures !== undefined &&
    architectures !== null &&
    !(
      Array.isArray(architectures) &&
      architectures.length === 1 &&
      architectures[0] === "StableDiffusionSafetyChecker"
    )
  ) {
    f.refuse("architectures", architectures, "not StableDiffusionSafetyChecker");
  }
  if (raw.model_type !== undefined && raw.model_type !== "clip")
    f.refuse("model_type", raw.model_type, "not 'clip'");
  const visionRaw = { ...objectOrEmpty(f, "vision_config"), ...objectOrEmpty(f, "vision_config_dict") };
  const v = new ConfigFields(`${component} vision_config`, visionRaw, VISION_KEYS);
  if (visionRaw.model_type !== undefined && visionRaw.model_type !== "clip_vision_model") {
    v.refuse("model_type", visionRaw.model_type, "not 'clip_vision_model'");
  }
  const imageSize = v.int("image_size", 224);
  const patchSize = v.int("patch_size", 32);
  if (imageSize % patchSize !== 0)
    v.refuse("patch_size", patchSize, `not a divisor of image_size ${imageSize}`);
  const vision: ClipVisionConfig = {
    ...parseClipEncoderConfig(v, {
      hiddenSize: 768,
      intermediateSize: 3072,
      numHiddenLayers: 12,
      numAttentionHeads: 12,
    }),
    numChannels: v.int("num_channels", 3),
    imageSize,
    patchSize,
  };
  return { vision, projectionDim: f.int("projection_dim", 512) };
}

/** CLIPVisionTransformer's pooled output: post_layernorm(encoder(pre_layrnorm(embeddings))[:, 0]). */
export function clipVisionPooled(
  g: GraphBuilder,
  pixels: Value,
  prefix: string,
  config: ClipVisionConfig,
): Value {
  const d = config.hiddenSize;
  const p = config.patchSize;
  const patches = g.op(
    "Conv",
    [pixels, g.weight(`${prefix}.embeddings.patch_embedding.weight`, [d, config.numChannels, p, p])],
    { kernel_shape: [p, p], strides: [p, p] },
  );
  const tokens = toTokens(g, patches, d);
  // The class token, one per image, in front of the patch tokens.
  const batch = g.op("Slice", [g.op("Shape", [pixels]), g.int64s([0]), g.int64s([1])]);
  const classShape = g.op("Concat", [batch, g.int64s([1, d])], { axis: 0 });
  const classToken = g.op("Expand", [
    g.op("Reshape", [g.weight(`${prefix}.embeddings.class_embedding`, [d]), g.int64s([1, 1, d])]),
    classShape,
  ]);
  const positions = (config.imageSize / p) ** 2 + 1;
  const embeddings = g.op("Add", [
    g.op("Concat", [classToken, tokens], { axis: 1 }),
    g.weight(`${prefix}.embeddings.position_embedding.weight`, [positions, d]),
  ]);
  const states = clipEncoder(
    g,
    layerNorm(g, embeddings, `${prefix}.pre_layrnorm`, d, config.layerNormEps),
    `${prefix}.encoder`,
    config,
  );
  const classState = g.op("Gather", [states[states.length - 1]!, g.int64s([0], [])], { axis: 1 });
  return layerNorm(g, classState, `${prefix}.post_layernorm`, d, config.layerNormEps);
}

/** nn.functional.normalize over the last axis: x / max(‖x‖₂, 1e-12). */
function normalize(g: GraphBuilder, x: Value): Value {
  const norm = g.op("Sqrt", [g.op("ReduceSumSquare", [x], { axes: [-1], keepdims: 1 })]);
  return g.op("Div", [x, g.op("Max", [norm, g.scalar(1e-12)])]);
}

/** cosine_distance(image_embeds, table): [B, P] × [N, P] → [B, N]. */
function cosineDistance(g: GraphBuilder, embeds: Value, table: Value): Value {
  return g.op("MatMul", [normalize(g, embeds), g.op("Transpose", [normalize(g, table)], { perm: [1, 0] })]);
}

/** Whether any of the [B, N] scores, rounded to 3 decimals, is above 0: float 1/0, [B, 1]. */
function anyAboveZero(g: GraphBuilder, scores: Value): Value {
  const rounded = g.op("Round", [g.op("Mul", [scores, g.scalar(1000)])]);
  const hits = g.op("Cast", [g.op("Greater", [rounded, g.scalar(0)])], { to: FLOAT });
  return g.op("ReduceMax", [hits], { axes: [1], keepdims: 1 });
}

const FLOAT = 1;
const BOOL = 9;

export interface SafetyCheckerValues {
  readonly imageEmbeds: Value;
  readonly conceptCos: Value;
  readonly specialCareCos: Value;
  /** bool [B]. */
  readonly hasNsfwConcepts: Value;
}

/** The checker's values from `clip_input` (the decision only; the images are zeroed by the builder). */
export function stableDiffusionSafetyChecker(
  g: GraphBuilder,
  clipInput: Value,
  config: SafetyCheckerConfig,
): SafetyCheckerValues {
  const proj = config.projectionDim;
  const pooled = clipVisionPooled(g, clipInput, "vision_model.vision_model", config.vision);
  const imageEmbeds = linear(g, pooled, "visual_projection", config.vision.hiddenSize, proj, false);
  const specialCareCos = cosineDistance(
    g,
    imageEmbeds,
    g.weight("special_care_embeds", [SPECIAL_CARE, proj]),
  );
  const conceptCos = cosineDistance(g, imageEmbeds, g.weight("concept_embeds", [CONCEPTS, proj]));
  // adjustment = 0.0; an image with any special-care hit gets +0.01 on every concept score.
  const specialScores = g.op("Sub", [
    specialCareCos,
    g.weight("special_care_embeds_weights", [SPECIAL_CARE]),
  ]);
  const specialAdjustment = g.op("Mul", [anyAboveZero(g, specialScores), g.scalar(0.01)]);
  const conceptScores = g.op("Add", [
    g.op("Sub", [conceptCos, g.weight("concept_embeds_weights", [CONCEPTS])]),
    specialAdjustment,
  ]);
  const flagged = g.op("Cast", [g.op("Squeeze", [anyAboveZero(g, conceptScores), g.int64s([1])])], {
    to: BOOL,
  });
  return { imageEmbeds, conceptCos, specialCareCos, hasNsfwConcepts: flagged };
}

/**
 * StableDiffusionSafetyChecker. Inputs `clip_input` float32 [batch, num_channels, image_size, image_size] (the
 * feature extractor's pixels) and `images` float32 [batch, height, width, 3]; outputs `out_images` (the images,
 * flagged ones all zeros) and `has_nsfw_concepts` bool [batch].
 */
export const buildStableDiffusionSafetyChecker: ComponentBuilder = (g: GraphBuilder, raw) => {
  const config = parseStableDiffusionSafetyCheckerConfig(raw, g.options.component);
  const size = config.vision.imageSize;
  const clipInput = g.input("clip_input", "float32", ["batch", config.vision.numChannels, size, size]);
  const images = g.input("images", "float32", ["batch", "height", "width", 3]);
  const { hasNsfwConcepts } = stableDiffusionSafetyChecker(g, clipInput, config);
  const perImage = g.op("Reshape", [hasNsfwConcepts, g.int64s([-1, 1, 1, 1])]);
  g.output(g.op("Where", [perImage, g.scalar(0), images]), "out_images", "float32", [
    "batch",
    "height",
    "width",
    3,
  ]);
  g.output(hasNsfwConcepts, "has_nsfw_concepts", "bool", ["batch"]);
};
