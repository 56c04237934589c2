/**
 * Stage 1: prompt → text-encoder hidden states, as diffusers' `encode_prompt` builds them: the prompt and the
 * negative prompt ("" when absent) are tokenized to `model_max_length`, encoded separately, each repeated
 * `numImagesPerPrompt` times, and — with classifier-free guidance — stacked as `[negative; positive]`.
 *
 * SDXL (`encodePromptXl`) runs the prompt through both text encoders, each with its own tokenizer: the UNet's
 * `encoder_hidden_states` are their penultimate hidden states concatenated on the feature axis, and its
 * `text_embeds` the pooled projection of `text_encoder_2`. With `force_zeros_for_empty_prompt` and no negative
 * prompt the negative half is zeros and the encoders do not run for it.
 */

import { ModelLoadError } from "../errors.ts";
import type { Graph } from "../runtime/graph.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import { asFloat, concatBatch, type FloatTensor, floatTensor, repeatInterleave } from "../runtime/tensor.ts";
import type { ClipTokenizer } from "../tokenizer/clip-tokenizer.ts";
import type { SdComponents } from "./components.ts";
import type { RunContext } from "./run-context.ts";

export interface PromptOptions {
  readonly prompt: string;
  readonly negativePrompt: string | null;
  readonly numImagesPerPrompt: number;
  /** Classifier-free guidance: also encode the negative prompt. */
  readonly guidance: boolean;
}

/** Returns `encoder_hidden_states` for the UNet: [(guidance ? 2 : 1) · n, seq, dim]. */
export async function encodePrompt(
  c: SdComponents,
  options: PromptOptions,
  run: RunContext,
): Promise<FloatTensor> {
  const positive = repeatInterleave(await encodeText(c, options.prompt, run), options.numImagesPerPrompt);
  if (!options.guidance) return positive;
  const negative = repeatInterleave(
    await encodeText(c, options.negativePrompt ?? "", run),
    options.numImagesPerPrompt,
  );
  return concatBatch([negative, positive]);
}

/** One text-encoder call: the `last_hidden_state` [1, seq, dim] of one prompt. */
export async function encodeText(c: SdComponents, text: string, run: RunContext): Promise<FloatTensor> {
  const encoder = await c.graphFor("text_encoder", run);
  const outputs = await encoder.run(tokenFeeds(encoder, c.tokenizer, text), run.timer);
  const hidden = asFloat(
    outputs.last_hidden_state ?? Object.values(outputs)[0],
    "text_encoder last_hidden_state",
  );
  return floatTensor(hidden.data, hidden.dims);
}

/** The ids of one prompt as the graph's first input: diffusers' exporter declares int32, optimum's int64. */
function tokenFeeds(encoder: Graph, tokenizer: ClipTokenizer, text: string): Record<string, HostTensor> {
  const ids = tokenizer.encode(text);
  const spec = encoder.inputs[0];
  const name = spec?.name ?? "input_ids";
  const input: HostTensor =
    spec?.type === "int64"
      ? { type: "int64", data: BigInt64Array.from(ids, (id: number) => BigInt(id)), dims: [1, ids.length] }
      : { type: "int32", data: Int32Array.from(ids), dims: [1, ids.length] };
  return { [name]: input };
}

/** SDXL's two conditioning tensors, batch `[negative; positive]` with guidance. */
export interface XlPromptEmbeddings {
  /** `encoder_hidden_states`: [(guidance ? 2 : 1) · n, seq, Σ encoder widths]. */
  readonly promptEmbeds: FloatTensor;
  /** `text_embeds`: text_encoder_2's pooled projection, [(guidance ? 2 : 1) · n, projection_dim]. */
  readonly pooledEmbeds: FloatTensor;
}

/**
 * SDXL's `encode_prompt` (no `prompt_2`, no clip skip): each prompt through every text encoder of the checkpoint.
 * The negative half is zeros when `forceZerosForEmptyPrompt` holds and no negative prompt was given.
 */
export async function encodePromptXl(
  c: SdComponents,
  options: PromptOptions & { readonly forceZerosForEmptyPrompt: boolean },
  run: RunContext,
): Promise<XlPromptEmbeddings> {
  const n = options.numImagesPerPrompt;
  const positive = repeatXl(await encodeTextXl(c, options.prompt, run), n);
  if (!options.guidance) return positive;
  // diffusers: zero_out_negative_prompt = negative_prompt is None and force_zeros_for_empty_prompt.
  const negative =
    options.negativePrompt === null && options.forceZerosForEmptyPrompt
      ? { promptEmbeds: zerosLike(positive.promptEmbeds), pooledEmbeds: zerosLike(positive.pooledEmbeds) }
      : repeatXl(await encodeTextXl(c, options.negativePrompt ?? "", run), n);
  return {
    promptEmbeds: concatBatch([negative.promptEmbeds, positive.promptEmbeds]),
    pooledEmbeds: concatBatch([negative.pooledEmbeds, positive.pooledEmbeds]),
  };
}

/** Each prompt's embeddings `n` times (diffusers' `repeat(1, n, 1).view(...)`). */
function repeatXl(embeddings: XlPromptEmbeddings, n: number): XlPromptEmbeddings {
  return {
    promptEmbeds: repeatInterleave(embeddings.promptEmbeds, n),
    pooledEmbeds: repeatInterleave(embeddings.pooledEmbeds, n),
  };
}

/**
 * One prompt through every text encoder: the penultimate hidden states ([1, seq, d_k], ONNX output
 * `hidden_states.{L−1}` of L layers) concatenated on the last axis, and the pooled `text_embeds` [1, proj] of the
 * last encoder that has them (text_encoder_2, a CLIPTextModelWithProjection).
 */
export async function encodeTextXl(
  c: SdComponents,
  text: string,
  run: RunContext,
): Promise<XlPromptEmbeddings> {
  const hidden: FloatTensor[] = [];
  let pooled: FloatTensor | undefined;
  for (const slot of c.textEncoders) {
    const encoder = await c.graphFor(slot.graph, run);
    const penultimate = penultimateOutput(encoder, c.id, slot.graph);
    const wanted = encoder.outputs.some((o) => o.name === "text_embeds")
      ? [penultimate, "text_embeds"]
      : [penultimate];
    const outputs = await encoder.run(tokenFeeds(encoder, slot.tokenizerModel, text), run.timer, wanted);
    hidden.push(asFloat(outputs[penultimate], `${slot.graph} ${penultimate}`));
    if (outputs.text_embeds) pooled = asFloat(outputs.text_embeds, `${slot.graph} text_embeds`);
  }
  if (!pooled) {
    throw new ModelLoadError(
      c.id,
      "text_encoder_2",
      "no text encoder returns `text_embeds` (pooled projection)",
    );
  }
  // The graph may declare text_embeds [batch, sequence_length]; the data is [1, projection_dim].
  return {
    promptEmbeds: concatFeatures(hidden),
    pooledEmbeds: floatTensor(pooled.data, [1, pooled.data.length]),
  };
}

/** `hidden_states.{L−1}`: the second to last of the L+1 hidden states (embeddings, then one per layer). */
function penultimateOutput(encoder: Graph, id: string, graph: string): string {
  const layers = encoder.outputs
    .map((o) => /^hidden_states\.(\d+)$/.exec(o.name)?.[1])
    .filter((k): k is string => k !== undefined)
    .map(Number);
  if (layers.length < 2) {
    throw new ModelLoadError(
      id,
      graph,
      "the graph exports no hidden_states outputs; SDXL needs the penultimate layer (export with output_hidden_states)",
    );
  }
  return `hidden_states.${Math.max(...layers) - 1}`;
}

/** Concatenates [1, seq, d_k] tensors on the last axis. */
function concatFeatures(parts: readonly FloatTensor[]): FloatTensor {
  if (parts.length === 1) return floatTensor(parts[0]!.data, parts[0]!.dims);
  const [batch = 1, seq = 1] = parts[0]!.dims;
  const widths = parts.map((p) => p.dims[2] ?? 0);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(batch * seq * total);
  for (let row = 0; row < batch * seq; row++) {
    let offset = row * total;
    parts.forEach((part, k) => {
      const w = widths[k]!;
      out.set(part.data.subarray(row * w, (row + 1) * w), offset);
      offset += w;
    });
  }
  return floatTensor(out, [batch, seq, total]);
}

function zerosLike(tensor: FloatTensor): FloatTensor {
  return floatTensor(new Float32Array(tensor.data.length), tensor.dims);
}
