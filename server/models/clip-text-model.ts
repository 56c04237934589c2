/**
 * transformers' `CLIPTextModel` and `CLIPTextModelWithProjection` as one graph each: CLIPTextEmbeddings (token
 * embedding + position embedding of positions 0..S−1), the causal CLIPEncoder, `final_layer_norm`, the pooled
 * output at the end-of-text position and, with projection, `text_projection` (no bias). Every hidden state is an
 * output, as `output_hidden_states=True` returns them (before `final_layer_norm`): SD uses `last_hidden_state`,
 * SDXL `hidden_states.{L−1}` of both encoders and the second encoder's `text_embeds`.
 *
 * The end-of-text position follows transformers: configs with the legacy `eos_token_id` 2 pool at
 * argmax(input_ids) (the end token has the largest id in CLIP's vocabulary); others at the first position whose id
 * is `eos_token_id` (position 0 when there is none, as torch's argmax of all zeros).
 *
 * Read from huggingface/transformers: src/transformers/models/clip/modeling_clip.py at 679021a6b0de
 * (CLIPTextTransformer.forward with its causal mask, final_layer_norm and the `eos_token_id == 2` rule, the rule of
 * transformers 4.38 that made the reference outputs; CLIPEncoder's hidden states, the input embeddings first) and
 * at 000f1ffdbf1c (CLIPTextEmbeddings). That later file pools at argmax when every sequence's largest id is 49407
 * rather than when `eos_token_id` is 2; the earlier rule is kept, as the reference outputs follow it.
 * `text_embeds` = text_projection(pooled output), as the reference pairs' manifest states.
 *
 * @example
 * const built = await buildComponentGraph(files, buildClipTextModel);
 * // inputs: input_ids int64 [batch, sequence]
 * // outputs: last_hidden_state, hidden_states.0 … hidden_states.L, pooler_output | text_embeds
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { layerNorm, linear } from "../graph-builder/nn.ts";
import type { ComponentBuilder } from "./build-component.ts";
import {
  type ClipEncoderConfig,
  clipEncoder,
  PRETRAINED_CONFIG_KEYS,
  parseClipEncoderConfig,
} from "./clip-encoder.ts";
import { ConfigFields } from "./config-fields.ts";

export interface ClipTextConfig extends ClipEncoderConfig {
  readonly vocabSize: number;
  readonly maxPositionEmbeddings: number;
  readonly eosTokenId: number;
  readonly projectionDim: number;
  /** From `architectures`: CLIPTextModelWithProjection (the weights may also say so, see `buildClipTextModel`). */
  readonly withProjection: boolean;
}

const ARCHITECTURES = ["CLIPTextModel", "CLIPTextModelWithProjection"];

const KNOWN_KEYS = [
  ...PRETRAINED_CONFIG_KEYS,
  "vocab_size",
  "hidden_size",
  "intermediate_size",
  "num_hidden_layers",
  "num_attention_heads",
  "max_position_embeddings",
  "hidden_act",
  "layer_norm_eps",
];

/** Reads a CLIPTextConfig `config.json` with transformers' defaults; refuses what the builder does not implement. */
export function parseClipTextConfig(
  raw: Readonly<Record<string, unknown>>,
  component = "text_encoder",
): ClipTextConfig {
  const f = new ConfigFields(component, raw, KNOWN_KEYS);
  const modelType = raw.model_type;
  if (modelType !== undefined && modelType !== "clip_text_model") {
    f.refuse("model_type", modelType, "not a CLIP text model ('clip_text_model')");
  }
  const architectures = raw.architectures;
  let withProjection = false;
  if (architectures !== undefined && architectures !== null) {
    if (
      !Array.isArray(architectures) ||
      architectures.length !== 1 ||
      !ARCHITECTURES.includes(architectures[0] as string)
    ) {
      f.refuse(
        "architectures",
        architectures,
        "not supported (CLIPTextModel or CLIPTextModelWithProjection)",
      );
    }
    withProjection = (architectures as unknown[])[0] === "CLIPTextModelWithProjection";
  }
  return {
    ...parseClipEncoderConfig(f, {
      hiddenSize: 512,
      intermediateSize: 2048,
      numHiddenLayers: 12,
      numAttentionHeads: 8,
    }),
    vocabSize: f.int("vocab_size", 49408),
    maxPositionEmbeddings: f.int("max_position_embeddings", 77),
    eosTokenId: f.int("eos_token_id", 49407, 0),
    projectionDim: f.int("projection_dim", 512),
    withProjection,
  };
}

/** float32's lowest value: transformers fills the causal mask with torch.finfo(dtype).min. */
const FLOAT32_MIN = -3.4028234663852886e38;

/** The additive causal mask [1, 1, S, S]: 0 on and below the diagonal, float32's lowest value above it. */
function causalMask(g: GraphBuilder, sequence: Value): Value {
  const shape = g.op("Concat", [g.int64s([1, 1]), sequence, sequence], { axis: 0 });
  const full = g.op("Expand", [g.scalar(FLOAT32_MIN), shape]);
  return g.op("Trilu", [full, g.int64s([1], [])], { upper: 1 });
}

/** CLIPTextEmbeddings: token_embedding(input_ids) + position_embedding(0..S−1). */
function clipTextEmbeddings(
  g: GraphBuilder,
  ids: Value,
  sequence: Value,
  prefix: string,
  config: ClipTextConfig,
): Value {
  const d = config.hiddenSize;
  const tokens = g.op("Gather", [g.weight(`${prefix}.token_embedding.weight`, [config.vocabSize, d]), ids]);
  const table = g.weight(`${prefix}.position_embedding.weight`, [config.maxPositionEmbeddings, d]);
  const positions = g.op("Slice", [table, g.int64s([0]), sequence, g.int64s([0])]);
  return g.op("Add", [tokens, positions]);
}

/** The index of the end-of-text token per sequence: [B] int64. */
function eosPosition(g: GraphBuilder, ids: Value, eosTokenId: number): Value {
  // ArgMax over int32 as transformers casts (`input_ids.to(torch.int)`); both pick the first maximum.
  const scores =
    eosTokenId === 2
      ? g.op("Cast", [ids], { to: INT32 })
      : g.op("Cast", [g.op("Equal", [ids, g.int64s([eosTokenId], [])])], { to: INT32 });
  return g.op("ArgMax", [scores], { axis: 1, keepdims: 0 });
}

const INT32 = 6;

/**
 * CLIPTextModel / CLIPTextModelWithProjection. Input `input_ids` int64 [batch, sequence] (sequence ≤
 * max_position_embeddings). Outputs `last_hidden_state` [batch, sequence, hidden] (after final_layer_norm),
 * `hidden_states.0` … `hidden_states.L` (before it), and `pooler_output` [batch, hidden] or, with projection,
 * `text_embeds` [batch, projection_dim]. WithProjection is chosen by `architectures` or by the presence of
 * `text_projection.weight`.
 */
export const buildClipTextModel: ComponentBuilder = (g: GraphBuilder, raw) => {
  const config = parseClipTextConfig(raw, g.options.component);
  const withProjection = config.withProjection || g.hasWeight("text_projection.weight");
  const d = config.hiddenSize;
  const ids = g.input("input_ids", "int64", ["batch", "sequence"]);
  const sequence = g.op("Slice", [g.op("Shape", [ids]), g.int64s([1]), g.int64s([2])]);

  const embeddings = clipTextEmbeddings(g, ids, sequence, "text_model.embeddings", config);
  const states = clipEncoder(g, embeddings, "text_model.encoder", config, causalMask(g, sequence));
  states.forEach((state, i) => {
    g.output(state, `hidden_states.${i}`, "float32", ["batch", "sequence", d]);
  });
  const last = layerNorm(
    g,
    states[states.length - 1]!,
    "text_model.final_layer_norm",
    d,
    config.layerNormEps,
  );
  g.output(last, "last_hidden_state", "float32", ["batch", "sequence", d]);

  const index = g.op("Unsqueeze", [eosPosition(g, ids, config.eosTokenId), g.int64s([1])]);
  const pooled = g.op("GatherND", [last, index], { batch_dims: 1 });
  if (withProjection) {
    const embeds = linear(g, pooled, "text_projection", d, config.projectionDim, false);
    g.output(embeds, "text_embeds", "float32", ["batch", config.projectionDim]);
  } else {
    g.output(pooled, "pooler_output", "float32", ["batch", d]);
  }
};
