/**
 * Reading a checkpoint's `tokenizer/` folder the way transformers' CLIPTokenizer does: the BPE vocabulary and merges
 * (from `tokenizer.json` when present, else `vocab.json` + `merges.txt`; see bpe-model-files.ts), the special tokens
 * (`special_tokens_map.json` overrides `tokenizer_config.json`, which overrides CLIP's defaults; each value a string
 * or an AddedToken object; see special-tokens.ts), the added tokens (`added_tokens_decoder`, `added_tokens.json`,
 * `tokenizer.json`'s `added_tokens`; see added-tokens.ts) and `model_max_length`. Everything is validated, and
 * every error is a TokenizerFileError naming the file by its name inside the folder.
 */
import { stat } from "node:fs/promises";
import { type AddedTokenSpec, resolveAddedTokens } from "./added-tokens.ts";
import { parseTokenizerJsonModel, readSlowModel } from "./bpe-model-files.ts";
import {
  ADDED_TOKENS_JSON,
  invalidFile,
  readJsonObject,
  SPECIAL_TOKENS_MAP_JSON,
  TOKENIZER_CONFIG_JSON,
  TOKENIZER_JSON,
  TokenizerFileError,
} from "./tokenizer-file-io.ts";

/** Everything the CLIP tokenizer needs, validated. */
export interface ClipTokenizerFiles {
  /** Token → id. The parsed JSON object itself (own properties only), so keys such as `__proto__` survive. */
  readonly vocab: Readonly<Record<string, number>>;
  /** BPE merges, best first. */
  readonly merges: readonly (readonly [string, string])[];
  /** Added tokens, special ones (bos, eos, unk, pad, additional) included, each content once. */
  readonly addedTokens: readonly AddedTokenSpec[];
  readonly bosToken: string;
  readonly eosToken: string;
  readonly unkToken: string;
  readonly padToken: string;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly modelMaxLength: number;
}

/** CLIP text encoders have 77 positions; used when `model_max_length` is absent. */
const CLIP_MAX_LENGTH = 77;
/**
 * transformers writes `model_max_length` as int(1e30) when a tokenizer has no known limit; anything this large
 * means "unset", not a length to pad to.
 */
const UNSET_MAX_LENGTH_THRESHOLD = 1e9;

/** Reads and validates a CLIP tokenizer folder. Throws {@link TokenizerFileError} naming the offending file. */
export async function readClipTokenizerFiles(dir: string): Promise<ClipTokenizerFiles> {
  const dirStat = await stat(dir).catch(() => null);
  if (dirStat === null || !dirStat.isDirectory()) {
    throw new TokenizerFileError(".", "does not exist");
  }

  const config = (await readJsonObject(dir, TOKENIZER_CONFIG_JSON, false)) ?? {};
  const specialMap = (await readJsonObject(dir, SPECIAL_TOKENS_MAP_JSON, false)) ?? {};
  const addedTokensJson = await readJsonObject(dir, ADDED_TOKENS_JSON, false);
  const tokenizerJson = await readJsonObject(dir, TOKENIZER_JSON, false);

  const model = tokenizerJson !== null ? parseTokenizerJsonModel(tokenizerJson) : await readSlowModel(dir);
  const added = resolveAddedTokens(model, { tokenizerJson, config, specialMap, addedTokensJson });

  return {
    vocab: model.vocab,
    merges: model.merges,
    addedTokens: added.tokens,
    bosToken: added.bos.content,
    eosToken: added.eos.content,
    unkToken: added.unk.content,
    padToken: added.pad.content,
    bosTokenId: added.bos.id,
    eosTokenId: added.eos.id,
    padTokenId: added.pad.id,
    modelMaxLength: parseModelMaxLength(config),
  };
}

function parseModelMaxLength(config: Record<string, unknown>): number {
  const raw = config["model_max_length"];
  if (raw === undefined || raw === null) return CLIP_MAX_LENGTH;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 2) {
    // bos and eos alone take two positions.
    throw invalidFile(TOKENIZER_CONFIG_JSON, "model_max_length is not an integer of at least 2");
  }
  return raw >= UNSET_MAX_LENGTH_THRESHOLD ? CLIP_MAX_LENGTH : raw;
}
