/**
 * The transformer shared by transformers' CLIP text and vision towers, as graph functions over the weights under
 * the prefix transformers gives them: `CLIPAttention` (q/k/v/out projections with biases, fused attention with scale
 * head_dim^−0.5 and an optional additive mask), `CLIPMLP` (fc1 → activation → fc2), `CLIPEncoderLayer`
 * (pre-LayerNorm residual blocks) and the config fields both towers read (`CLIPTextConfig` / `CLIPVisionConfig`).
 *
 * Read from huggingface/transformers: src/transformers/models/clip/modeling_clip.py at 000f1ffdbf1c (CLIPAttention,
 * CLIPMLP, CLIPEncoderLayer: x + attn(layer_norm1(x)), then x + mlp(layer_norm2(x))); activations as `ACT2FN`
 * names them: `quick_gelu` x·σ(1.702x), `gelu` (erf), `gelu_new` (tanh).
 */
import type { GraphBuilder, Value } from "../graph-builder/graph-builder.ts";
import { gelu, geluTanh, layerNorm, linear, multiHeadAttention, quickGelu } from "../graph-builder/nn.ts";
import type { ConfigFields } from "./config-fields.ts";

export type ClipActivation = "quick_gelu" | "gelu" | "gelu_new";

export interface ClipEncoderConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly hiddenAct: ClipActivation;
  readonly layerNormEps: number;
}

/**
 * PretrainedConfig keys that describe generation, training or bookkeeping and never change a CLIP tower's forward
 * pass (transformers writes many of them into every saved config).
 */
export const PRETRAINED_CONFIG_KEYS = [
  "architectures",
  "model_type",
  "torch_dtype",
  "transformers_version",
  "return_dict",
  "output_hidden_states",
  "output_attentions",
  "torchscript",
  "use_bfloat16",
  "tf_legacy_loss",
  "tie_word_embeddings",
  "chunk_size_feed_forward",
  "is_encoder_decoder",
  "is_decoder",
  "cross_attention_hidden_size",
  "add_cross_attention",
  "tie_encoder_decoder",
  "max_length",
  "min_length",
  "do_sample",
  "early_stopping",
  "num_beams",
  "num_beam_groups",
  "diversity_penalty",
  "temperature",
  "top_k",
  "top_p",
  "typical_p",
  "repetition_penalty",
  "length_penalty",
  "no_repeat_ngram_size",
  "encoder_no_repeat_ngram_size",
  "bad_words_ids",
  "num_return_sequences",
  "output_scores",
  "return_dict_in_generate",
  "forced_bos_token_id",
  "forced_eos_token_id",
  "remove_invalid_values",
  "exponential_decay_length_penalty",
  "suppress_tokens",
  "begin_suppress_tokens",
  "finetuning_task",
  "id2label",
  "label2id",
  "num_labels",
  "tokenizer_class",
  "prefix",
  "bos_token_id",
  "eos_token_id",
  "pad_token_id",
  "sep_token_id",
  "decoder_start_token_id",
  "task_specific_params",
  "problem_type",
  "gradient_checkpointing",
  "use_cache",
  // Dropouts and initialisation: no effect at inference.
  "dropout",
  "attention_dropout",
  "initializer_range",
  "initializer_factor",
  // Checked by the caller where it matters.
  "pruned_heads",
  "projection_dim",
];

/** The fields every CLIP tower reads, with `defaults` from its config class. */
export function parseClipEncoderConfig(
  f: ConfigFields,
  defaults: Omit<ClipEncoderConfig, "hiddenAct" | "layerNormEps">,
): ClipEncoderConfig {
  const pruned = f.raw.pruned_heads;
  if (pruned !== undefined && pruned !== null && Object.keys(pruned as object).length > 0) {
    f.refuse("pruned_heads", pruned, "not supported (pruned attention heads)");
  }
  const hiddenSize = f.int("hidden_size", defaults.hiddenSize);
  const numAttentionHeads = f.int("num_attention_heads", defaults.numAttentionHeads);
  if (hiddenSize % numAttentionHeads !== 0) {
    f.refuse("num_attention_heads", numAttentionHeads, `not a divisor of hidden_size ${hiddenSize}`);
  }
  return {
    hiddenSize,
    numAttentionHeads,
    intermediateSize: f.int("intermediate_size", defaults.intermediateSize),
    numHiddenLayers: f.int("num_hidden_layers", defaults.numHiddenLayers, 0),
    hiddenAct: f.oneOf<ClipActivation>("hidden_act", ["quick_gelu", "gelu", "gelu_new"], "quick_gelu"),
    layerNormEps: f.positive("layer_norm_eps", 1e-5),
  };
}

function activation(g: GraphBuilder, x: Value, act: ClipActivation): Value {
  if (act === "quick_gelu") return quickGelu(g, x);
  if (act === "gelu") return gelu(g, x);
  return geluTanh(g, x);
}

/** CLIPAttention: self-attention over [B, S, hidden]; `mask` is an additive [1, 1, S, S] bias (causal) or none. */
export function clipAttention(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  config: ClipEncoderConfig,
  mask?: Value,
): Value {
  const d = config.hiddenSize;
  const q = linear(g, x, `${prefix}.q_proj`, d, d);
  const k = linear(g, x, `${prefix}.k_proj`, d, d);
  const v = linear(g, x, `${prefix}.v_proj`, d, d);
  const attended = multiHeadAttention(g, q, k, v, config.numAttentionHeads, mask ? { bias: mask } : {});
  return linear(g, attended, `${prefix}.out_proj`, d, d);
}

/** CLIPMLP: fc2(act(fc1(x))). */
export function clipMlp(g: GraphBuilder, x: Value, prefix: string, config: ClipEncoderConfig): Value {
  const h = linear(g, x, `${prefix}.fc1`, config.hiddenSize, config.intermediateSize);
  return linear(
    g,
    activation(g, h, config.hiddenAct),
    `${prefix}.fc2`,
    config.intermediateSize,
    config.hiddenSize,
  );
}

/** CLIPEncoderLayer: x + self_attn(layer_norm1(x)), then + mlp(layer_norm2(·)). */
export function clipEncoderLayer(
  g: GraphBuilder,
  x: Value,
  prefix: string,
  config: ClipEncoderConfig,
  mask?: Value,
): Value {
  const d = config.hiddenSize;
  const eps = config.layerNormEps;
  const attn = clipAttention(
    g,
    layerNorm(g, x, `${prefix}.layer_norm1`, d, eps),
    `${prefix}.self_attn`,
    config,
    mask,
  );
  const h = g.op("Add", [x, attn]);
  const mlp = clipMlp(g, layerNorm(g, h, `${prefix}.layer_norm2`, d, eps), `${prefix}.mlp`, config);
  return g.op("Add", [h, mlp]);
}

/**
 * CLIPEncoder: the layers in order; returns every hidden state (index 0 = the input embeddings, i = output of
 * layer i), as transformers' `output_hidden_states=True` does.
 */
export function clipEncoder(
  g: GraphBuilder,
  embeddings: Value,
  prefix: string,
  config: ClipEncoderConfig,
  mask?: Value,
): Value[] {
  const states = [embeddings];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    states.push(clipEncoderLayer(g, states[i]!, `${prefix}.layers.${i}`, config, mask));
  }
  return states;
}
