/**
 * Assembles, in memory, the `tokenizer.json` that makes `@huggingface/tokenizers` behave like transformers' slow
 * CLIPTokenizer without ftfy, which is what diffusers runs when ftfy is not installed. That path cleans text with
 * BERT's BasicTokenizer (drop control characters, whitespace → space, a space around each CJK ideograph, NFC, split
 * on whitespace, lowercase; no accent stripping, no punctuation split), then splits with CLIP's regex and runs
 * byte-level BPE with a `</w>` end-of-word suffix. Here the clean-up is the normalizer, the CJK spacing and the regex
 * are pre-tokenizers, and added tokens are matched in the raw text first, as the slow tokenizer's trie does.
 */
import type { ClipTokenizerFiles } from "./tokenizer-files.ts";

/**
 * Characters BasicTokenizer._clean_text deletes: U+0000, U+FFFD and every general category C* (Cc, Cf, Cs, Co,
 * Cn) except tab, newline and carriage return, which it turns into spaces instead.
 */
const CONTROL_CHARS = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F\\p{Cf}\\p{Cs}\\p{Co}\\p{Cn}\\x{FFFD}]";

/**
 * BasicTokenizer._is_chinese_char: the ideograph blocks it surrounds with spaces. Isolating them as pre-tokens
 * after NFC is equivalent: NFC maps the compatibility ideographs in these ranges onto unified ones in these ranges.
 */
const CJK_IDEOGRAPH =
  "[\\x{4E00}-\\x{9FFF}\\x{3400}-\\x{4DBF}\\x{20000}-\\x{2A6DF}\\x{2A700}-\\x{2B73F}\\x{2B740}-\\x{2B81F}" +
  "\\x{2B820}-\\x{2CEAF}\\x{F900}-\\x{FAFF}\\x{2F800}-\\x{2FA1F}]";

/**
 * CLIPTokenizer's pattern. The original is compiled with IGNORECASE on already lowercased text, where the only
 * effect left is simple case folding: `ſ` (U+017F, long s) folds to `s`, so `'ſ` is a contraction and
 * `<|ſtartoftext|>` matches the first alternative.
 */
const CLIP_SPLIT =
  "<\\|[sſ]tartoftext\\|>|<\\|endoftext\\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * Words CLIPTokenizer.bpe returns unchanged from its pre-filled cache (so they get no `</w>`). They reach the BPE
 * only when written in a form the added-token match misses, e.g. upper case: the regex's first alternatives then
 * catch them after lowercasing.
 */
export const CLIP_WHOLE_WORDS: ReadonlySet<string> = new Set(["<|startoftext|>", "<|endoftext|>"]);

/** The subset of the tokenizer.json format that is assembled here. */
export interface TokenizerJson {
  readonly added_tokens: readonly {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  readonly normalizer: unknown;
  readonly pre_tokenizer: unknown;
  readonly post_processor: unknown;
  readonly decoder: unknown;
  readonly model: {
    readonly type: "BPE";
    readonly vocab: Readonly<Record<string, number>>;
    readonly merges: readonly (readonly [string, string])[];
    readonly unk_token: string;
    readonly end_of_word_suffix: string;
    readonly continuing_subword_prefix: string;
    readonly fuse_unk: boolean;
    readonly byte_fallback: boolean;
    readonly dropout: null;
  };
}

/** Builds the tokenizer.json equivalent of the slow, ftfy-less CLIPTokenizer for these files. */
export function buildClipTokenizerJson(files: ClipTokenizerFiles): TokenizerJson {
  return {
    added_tokens: files.addedTokens.map((token) => ({
      id: token.id,
      content: token.content,
      single_word: false,
      lstrip: token.lstrip,
      rstrip: token.rstrip,
      // Matched in the raw text, before normalization: the slow tokenizer splits on added tokens first.
      normalized: false,
      special: token.special,
    })),
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Replace", pattern: { Regex: CONTROL_CHARS }, content: "" },
        // Tab/newline/CR and Zs become spaces, and splitting on whitespace then joining with one space collapses
        // runs; the other whitespace characters are all control characters, already gone.
        { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
        { type: "NFC" },
        { type: "Lowercase" },
        { type: "Strip", strip_left: true, strip_right: true },
      ],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: CJK_IDEOGRAPH }, behavior: "Isolated", invert: false },
        // invert: the regex matches are the words; whatever lies between them (whitespace) is dropped.
        { type: "Split", pattern: { Regex: CLIP_SPLIT }, behavior: "Removed", invert: true },
        // The regex already split the words; ByteLevel only maps UTF-8 bytes to CLIP's byte alphabet.
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: files.bosToken, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: files.eosToken, type_id: 0 } },
      ],
      pair: [],
    },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: {
      type: "BPE",
      vocab: files.vocab,
      merges: files.merges,
      unk_token: files.unkToken,
      end_of_word_suffix: "</w>",
      continuing_subword_prefix: "",
      fuse_unk: false,
      byte_fallback: false,
      dropout: null,
    },
  };
}
