/**
 * SDXL's two tokenizers (tiny-sdxl's `tokenizer` and `tokenizer_2`) against diffusers: the ids each text encoder
 * received in the reference runs, and the 11 reference prompts (both tokenizers are the tiny CLIP BPE tokenizer
 * of the first reference set, so its ids apply to each).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadClipTokenizer } from "../../server/tokenizer/clip-tokenizer.ts";

const MODEL = fileURLToPath(new URL("../../models/tiny-sdxl/", import.meta.url));
const CASES = new URL("../fixtures/diffusers-reference-next/reference/cases/", import.meta.url);
const PROMPTS = JSON.parse(
  readFileSync(
    new URL("../fixtures/diffusers-reference/reference/tokenizer/manifest.json", import.meta.url),
    "utf8",
  ),
) as { prompts: { name: string; prompt: string; ids_77: number[] }[] };

interface Call {
  encoder: "text_encoder" | "text_encoder_2";
  input_ids: number[][];
}

const FOLDER = { text_encoder: "tokenizer", text_encoder_2: "tokenizer_2" } as const;

describe.each(["tokenizer", "tokenizer_2"] as const)("tiny-sdxl %s", (folder) => {
  const tokenizer = loadClipTokenizer(`${MODEL}${folder}`);

  it.each(["sdxl_t2i_euler", "sdxl_i2i_euler_s0.6", "sdxl_inpaint_euler_s0.8"])(
    "gives the ids its text encoder received in %s",
    async (id) => {
      const manifest = JSON.parse(readFileSync(new URL(`${id}/manifest.json`, CASES), "utf8")) as {
        params: { prompt: string };
        text_encoder_calls: Call[];
      };
      const calls = manifest.text_encoder_calls.filter((call) => FOLDER[call.encoder] === folder);
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) {
        expect((await tokenizer).encode(manifest.params.prompt)).toEqual(call.input_ids[0]);
      }
    },
  );

  it.each(PROMPTS.prompts.map((p) => [p.name, p] as const))("%s", async (_name, p) => {
    expect((await tokenizer).encode(p.prompt)).toEqual(p.ids_77);
  });
});
