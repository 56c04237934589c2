/**
 * The CLIP tokenizer against diffusers' reference ids (slow CLIPTokenizer, no ftfy) for the 11 reference prompts,
 * both padded/truncated to 77 and untruncated; then the behaviours that the reference prompts do not cover: a pad
 * token other than eos (Stable Diffusion 2.x style), the fast `tokenizer.json` layout, the BasicTokenizer clean-up
 * rules on odd input, and clear errors for missing or malformed files.
 */
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClipTokenizer,
  loadClipTokenizer,
  TokenizerFileError,
} from "../../server/tokenizer/clip-tokenizer.ts";

const TOKENIZER_DIR = fileURLToPath(new URL("../../models/tiny-sd/tokenizer", import.meta.url));
const REFERENCE_DIR = new URL("../fixtures/diffusers-reference/reference/tokenizer/", import.meta.url);
const TOKENIZER_FILES = ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"];

interface ReferencePrompt {
  name: string;
  prompt: string;
  ids_untruncated: number[];
  ids_77: number[];
  truncated: boolean;
}
interface ReferenceManifest {
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  model_max_length: number;
  prompts: ReferencePrompt[];
  text_encoder_input_ids: { file: string; dtype: string; shape: [number, number] };
}

const manifest = JSON.parse(
  await readFile(new URL("manifest.json", REFERENCE_DIR), "utf8"),
) as ReferenceManifest;

let tmpRoot: string;
let tokenizer: ClipTokenizer;

/** A writable copy of the bundled tokenizer folder (the originals are read-only), with files replaced or added. */
async function tokenizerCopy(name: string, replace: Record<string, string | null> = {}): Promise<string> {
  const dir = path.join(tmpRoot, name);
  await mkdir(dir);
  for (const file of TOKENIZER_FILES) {
    await writeFile(path.join(dir, file), await readFile(path.join(TOKENIZER_DIR, file)));
  }
  for (const [file, content] of Object.entries(replace)) {
    if (content === null) await unlink(path.join(dir, file));
    else await writeFile(path.join(dir, file), content);
  }
  return dir;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(TOKENIZER_DIR, file), "utf8")) as Record<string, unknown>;
}

beforeAll(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), "clip-tokenizer-test-"));
  tokenizer = await loadClipTokenizer(TOKENIZER_DIR);
});

afterAll(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

describe("reference prompts (diffusers, slow CLIPTokenizer without ftfy)", () => {
  it("reads the special ids and length of the checkpoint", () => {
    expect(tokenizer.modelMaxLength).toBe(manifest.model_max_length);
    expect(tokenizer.bosTokenId).toBe(manifest.bos_token_id);
    expect(tokenizer.eosTokenId).toBe(manifest.eos_token_id);
    expect(tokenizer.padTokenId).toBe(manifest.pad_token_id);
  });

  it("covers the 11 prompts, long and unicode included", () => {
    expect(manifest.prompts).toHaveLength(11);
    expect(manifest.prompts.some((p) => p.truncated)).toBe(true);
  });

  for (const [index, reference] of manifest.prompts.entries()) {
    it(`${reference.name}: untruncated ids`, () => {
      expect(tokenizer.encodeUntruncated(reference.prompt)).toEqual(reference.ids_untruncated);
    });

    it(`${reference.name}: ids padded/truncated to 77, as fed to the text encoder`, async () => {
      const ids = tokenizer.encode(reference.prompt);
      expect(ids).toHaveLength(77);
      expect(ids).toEqual(reference.ids_77);
      const { file, shape } = manifest.text_encoder_input_ids;
      const bytes = await readFile(new URL(file, REFERENCE_DIR));
      const all = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      expect(ids).toEqual(Array.from(all.subarray(index * shape[1], (index + 1) * shape[1])));
    });
  }

  it("keeps bos first and eos last when truncating", () => {
    const long = manifest.prompts.find((p) => p.name === "long")!;
    const ids = tokenizer.encode(long.prompt);
    expect(long.ids_untruncated.length).toBeGreaterThan(77);
    expect(ids.slice(0, 76)).toEqual(long.ids_untruncated.slice(0, 76));
    expect(ids[76]).toBe(tokenizer.eosTokenId);
  });

  it("returns a fresh array on each call", () => {
    const a = tokenizer.encode("a photo");
    a[1] = -1;
    expect(tokenizer.encode("a photo")[1]).not.toBe(-1);
  });
});

describe("clean-up rules of the ftfy-less slow tokenizer", () => {
  const same = (a: string, b: string) =>
    expect(tokenizer.encodeUntruncated(a)).toEqual(tokenizer.encodeUntruncated(b));

  it("puts each CJK ideograph in its own word", () => {
    same("日本", "日 本");
    same("a日b", "a 日 b");
  });

  it("deletes control and format characters, and turns other whitespace into word breaks", () => {
    same("a\u200bb\u0000c\ufeffd\ufffde", "abcde");
    same("a\u00a0b\u3000c\u2028d\u2029e\u000bf", "a b c d ef");
  });

  it("composes with NFC before lowercasing, and lowercases with final sigma", () => {
    same("Cafe\u0301", "café");
    same("ΟΔΟΣ ΣΑ", "οδος σα");
  });

  it("keeps special tokens whole, in the raw text and (via CLIP's regex) in other case", () => {
    const { bosTokenId: bos, eosTokenId: eos } = tokenizer;
    expect(tokenizer.encodeUntruncated("<|endoftext|>")).toEqual([bos, eos, eos]);
    expect(tokenizer.encodeUntruncated("<|ENDOFTEXT|>")).toEqual([bos, eos, eos]);
    expect(tokenizer.encodeUntruncated("x<|StartOfText|>")).toEqual([
      bos,
      ...tokenizer.encodeUntruncated("x").slice(1, -1),
      bos,
      eos,
    ]);
  });

  it('treats "\'ſ" (long s) as the contraction "\'s", as the case-insensitive regex does', () => {
    const word = (text: string) => tokenizer.encodeUntruncated(text).slice(1, -1);
    // One word "'ſ": the apostrophe is its mid-word form "'" (6), not the word "'</w>" (262) followed by "ſ".
    expect(word("' ſ")).toEqual([262, ...word("ſ")]);
    expect(word("'ſ")).toEqual([6, ...word("ſ")]);
  });
});

describe("pad token other than eos", () => {
  it("pads with pad_token from tokenizer_config.json (a string)", async () => {
    const config = { ...(await readJson("tokenizer_config.json")), pad_token: "!" };
    const specialMap = await readJson("special_tokens_map.json");
    delete specialMap["pad_token"];
    const dir = await tokenizerCopy("pad-string", {
      "tokenizer_config.json": JSON.stringify(config),
      "special_tokens_map.json": JSON.stringify(specialMap),
    });
    const sd2 = await loadClipTokenizer(dir);
    expect(sd2.padTokenId).toBe(0);
    expect(sd2.eosTokenId).toBe(999);
    const ids = sd2.encode("a photo of an astronaut");
    expect(ids).toHaveLength(77);
    expect(ids.slice(0, 7)).toEqual([998, 320, 635, 519, 540, 630, 999]);
    expect(ids.slice(7)).toEqual(new Array(70).fill(0));
  });

  it("lets special_tokens_map.json (an AddedToken object) override tokenizer_config.json", async () => {
    const specialMap = {
      ...(await readJson("special_tokens_map.json")),
      pad_token: { content: "!", lstrip: false, normalized: false, rstrip: false, single_word: false },
    };
    const dir = await tokenizerCopy("pad-object", { "special_tokens_map.json": JSON.stringify(specialMap) });
    const sd2 = await loadClipTokenizer(dir);
    expect(sd2.padTokenId).toBe(0);
    expect(sd2.encode("")).toEqual([998, 999, ...new Array(75).fill(0)]);
    // The pad token is an added token, so a "!" in the prompt is cut out whole (id 0, not "!</w>" 256), as the
    // slow tokenizer does for Stable Diffusion 2.x.
    expect(tokenizer.encodeUntruncated("a!")).toEqual([998, 320, 256, 999]);
    expect(sd2.encodeUntruncated("a!")).toEqual([998, 320, 0, 999]);
  });
});

describe("tokenizer.json (fast layout)", () => {
  it("is used when present and gives the same ids", async () => {
    const vocab = await readJson("vocab.json");
    const merges = (await readFile(path.join(TOKENIZER_DIR, "merges.txt"), "utf8"))
      .trim()
      .split("\n")
      .slice(1)
      // Both spellings occur in the wild: "a b" (older files) and ["a", "b"].
      .map((line, i) => (i % 2 === 0 ? line : line.split(" ")));
    const fast = {
      version: "1.0",
      added_tokens: [
        {
          id: 998,
          content: "<|startoftext|>",
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        },
        {
          id: 999,
          content: "<|endoftext|>",
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        },
      ],
      model: {
        type: "BPE",
        dropout: null,
        unk_token: "<|endoftext|>",
        continuing_subword_prefix: "",
        end_of_word_suffix: "</w>",
        fuse_unk: false,
        vocab,
        merges,
      },
    };
    // No vocab.json / merges.txt: only tokenizer.json can have supplied the model.
    const dir = await tokenizerCopy("fast", {
      "tokenizer.json": JSON.stringify(fast),
      "vocab.json": null,
      "merges.txt": null,
    });
    const fromJson = await loadClipTokenizer(dir);
    for (const reference of manifest.prompts) {
      expect(fromJson.encode(reference.prompt), reference.name).toEqual(reference.ids_77);
      expect(fromJson.encodeUntruncated(reference.prompt), reference.name).toEqual(reference.ids_untruncated);
    }
  });

  it("rejects a tokenizer.json that is not CLIP's BPE", async () => {
    const dir = await tokenizerCopy("fast-bad", {
      "tokenizer.json": JSON.stringify({ model: { type: "WordPiece", vocab: {} } }),
    });
    await expect(loadClipTokenizer(dir)).rejects.toThrow(/tokenizer\.json is invalid/);
  });
});

describe("errors", () => {
  const expectFileError = async (dir: string, file: string, pattern: RegExp) => {
    const error = await loadClipTokenizer(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenizerFileError);
    expect((error as TokenizerFileError).file).toBe(file);
    expect((error as Error).message).toMatch(pattern);
    // Names the file inside the tokenizer folder, never where the folder is.
    expect((error as Error).message).not.toContain(tmpRoot);
  };

  it("names a missing merges.txt", async () => {
    await expectFileError(
      await tokenizerCopy("no-merges", { "merges.txt": null }),
      "merges.txt",
      /merges\.txt is missing/,
    );
  });

  it("names a missing vocab.json", async () => {
    await expectFileError(
      await tokenizerCopy("no-vocab", { "vocab.json": null }),
      "vocab.json",
      /vocab\.json is missing/,
    );
  });

  it("names a malformed vocab.json", async () => {
    await expectFileError(
      await tokenizerCopy("bad-vocab", { "vocab.json": '{"a": ' }),
      "vocab.json",
      /not valid JSON/,
    );
    await expectFileError(
      await tokenizerCopy("bad-vocab-id", { "vocab.json": JSON.stringify({ a: "one" }) }),
      "vocab.json",
      /id of "a"/,
    );
  });

  it("names a malformed tokenizer_config.json", async () => {
    await expectFileError(
      await tokenizerCopy("bad-config", { "tokenizer_config.json": "[]" }),
      "tokenizer_config.json",
      /JSON object/,
    );
    const config = { ...(await readJson("tokenizer_config.json")), model_max_length: "77" };
    await expectFileError(
      await tokenizerCopy("bad-length", { "tokenizer_config.json": JSON.stringify(config) }),
      "tokenizer_config.json",
      /model_max_length/,
    );
  });

  it("names the file whose pad token is not in the vocabulary", async () => {
    const specialMap = { ...(await readJson("special_tokens_map.json")), pad_token: "<pad>" };
    await expectFileError(
      await tokenizerCopy("unknown-pad", { "special_tokens_map.json": JSON.stringify(specialMap) }),
      "special_tokens_map.json",
      /pad_token "<pad>" is not in the vocabulary/,
    );
  });

  it("rejects a folder that does not exist", async () => {
    await expect(loadClipTokenizer(path.join(tmpRoot, "nowhere"))).rejects.toThrow(
      /tokenizer folder does not exist/,
    );
  });
});
