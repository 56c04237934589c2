/**
 * The CLIP tokenizer of a Stable Diffusion checkpoint, producing the same ids as diffusers' call
 * `tokenizer(prompt, padding="max_length", max_length=model_max_length, truncation=True)` with transformers' slow
 * CLIPTokenizer (ftfy absent). Built on `@huggingface/tokenizers` from a tokenizer.json assembled in memory
 * (see clip-tokenizer-json.ts); truncation and padding are done here, with transformers' semantics: the sequence is
 * cut so that bos stays first and eos last, then padded on the right with the checkpoint's own pad token.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { buildClipTokenizerJson, CLIP_WHOLE_WORDS } from "./clip-tokenizer-json.ts";
import { readClipTokenizerFiles } from "./tokenizer-files.ts";

export { TokenizerFileError } from "./tokenizer-file-io.ts";

/** A loaded CLIP tokenizer. */
export interface ClipTokenizer {
  /** Length of every `encode` result (77 for Stable Diffusion). */
  readonly modelMaxLength: number;
  /** Id used for padding; not always eos (Stable Diffusion 2.x pads with "!", id 0). */
  readonly padTokenId: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  /** ids of one prompt, with bos/eos, truncated to modelMaxLength and padded to it (length === modelMaxLength). */
  encode(text: string): number[];
  /** ids without padding or truncation (for diagnostics: how many tokens were cut). */
  encodeUntruncated(text: string): number[];
}

/**
 * Load from a checkpoint's tokenizer folder (absolute path). Uses `tokenizer.json` when present, else `vocab.json`
 * and `merges.txt`; special tokens and `model_max_length` come from `tokenizer_config.json` and
 * `special_tokens_map.json`. Rejects with a {@link TokenizerFileError} naming the missing or malformed file.
 */
export async function loadClipTokenizer(dir: string): Promise<ClipTokenizer> {
  const files = await readClipTokenizerFiles(dir);
  // The second argument is the library's view of tokenizer_config.json; everything it would act on (special
  // tokens, lowercasing, clean-up) is already in the assembled tokenizer.json, so it stays empty.
  const tokenizer = new Tokenizer(buildClipTokenizerJson(files), {});
  keepWholeWords(tokenizer);
  return new LibraryClipTokenizer(
    tokenizer,
    files.modelMaxLength,
    files.padTokenId,
    files.bosTokenId,
    files.eosTokenId,
  );
}

class LibraryClipTokenizer implements ClipTokenizer {
  constructor(
    private readonly tokenizer: Tokenizer,
    readonly modelMaxLength: number,
    readonly padTokenId: number,
    readonly bosTokenId: number,
    readonly eosTokenId: number,
  ) {}

  encode(text: string): number[] {
    const ids = this.encodeUntruncated(text);
    const max = this.modelMaxLength;
    if (ids.length > max) {
      // transformers truncates the text's tokens to max - 2 and then adds bos and eos again.
      ids.length = max - 1;
      ids.push(this.eosTokenId);
      return ids;
    }
    while (ids.length < max) ids.push(this.padTokenId);
    return ids;
  }

  encodeUntruncated(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: true }).ids;
  }
}

/**
 * CLIPTokenizer.bpe starts with a cache holding "<|startoftext|>" and "<|endoftext|>", so those words come out
 * whole instead of being split into characters. tokenizer.json has no way to say "this word bypasses the BPE", so
 * the library's model is wrapped to do the same.
 */
function keepWholeWords(tokenizer: Tokenizer): void {
  const model = tokenizer.model;
  if (model === null) throw new Error("the tokenizer library built no model");
  const encodeWords = model.encode.bind(model);
  model.encode = (words: string[]): string[] => {
    if (!words.some((word) => CLIP_WHOLE_WORDS.has(word))) return encodeWords(words);
    return words.flatMap((word) => (CLIP_WHOLE_WORDS.has(word) ? [word] : encodeWords([word])));
  };
}
