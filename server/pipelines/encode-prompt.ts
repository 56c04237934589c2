/**
 * Stage 1: prompt → text-encoder hidden states, as diffusers' `encode_prompt` builds them: the prompt and the
 * negative prompt ("" when absent) are tokenized to `model_max_length`, encoded separately, each repeated
 * `numImagesPerPrompt` times, and — with classifier-free guidance — stacked as `[negative; positive]`.
 */

import type { HostTensor } from "../runtime/tensor.ts";
import { asFloat, concatBatch, type FloatTensor, floatTensor, repeatInterleave } from "../runtime/tensor.ts";
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
  const encoder = await c.graph("text_encoder");
  const ids = c.tokenizer.encode(text);
  const spec = encoder.inputs[0];
  const name = spec?.name ?? "input_ids";
  // diffusers' exporter declares int32 ids, optimum's int64: feed what the graph asks for.
  const input: HostTensor =
    spec?.type === "int64"
      ? { type: "int64", data: BigInt64Array.from(ids, (id: number) => BigInt(id)), dims: [1, ids.length] }
      : { type: "int32", data: Int32Array.from(ids), dims: [1, ids.length] };
  const outputs = await encoder.run({ [name]: input }, run.timer);
  const hidden = asFloat(
    outputs.last_hidden_state ?? Object.values(outputs)[0],
    "text_encoder last_hidden_state",
  );
  return floatTensor(hidden.data, hidden.dims);
}
