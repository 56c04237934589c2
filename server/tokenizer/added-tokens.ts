/**
 * The added tokens of a CLIP tokenizer folder, the tokens matched whole in the raw prompt before any other
 * processing, gathered from every place transformers takes them from: `tokenizer.json`'s `added_tokens`,
 * `tokenizer_config.json`'s `added_tokens_decoder`, `added_tokens.json`, and finally the special tokens (bos, eos,
 * unk, pad and the additional ones), whose ids come from an earlier definition or else from the vocabulary.
 */
import type { BpeModelFiles } from "./bpe-model-files.ts";
import {
  resolveAdditionalSpecialTokens,
  resolveSpecialToken,
  type SpecialTokenKey,
  type SpecialTokenSource,
  type TokenValue,
} from "./special-tokens.ts";
import {
  ADDED_TOKENS_JSON,
  invalidFile,
  isPlainObject,
  isTokenId,
  TOKENIZER_CONFIG_JSON,
  TOKENIZER_JSON,
} from "./tokenizer-file-io.ts";

/** A token that is matched whole in the raw prompt before any other processing (transformers' AddedToken). */
export interface AddedTokenSpec extends TokenValue {
  readonly id: number;
  readonly special: boolean;
}

/** A special token's text and id. */
export interface ResolvedSpecialToken {
  readonly content: string;
  readonly id: number;
}

/** The parsed files, each null or empty when absent, that added tokens are read from. */
export interface AddedTokenFiles {
  readonly tokenizerJson: Record<string, unknown> | null;
  readonly config: Record<string, unknown>;
  readonly specialMap: Record<string, unknown>;
  readonly addedTokensJson: Record<string, unknown> | null;
}

export interface AddedTokens {
  /** Added tokens, special ones (bos, eos, unk, pad, additional) included, each content once. */
  readonly tokens: readonly AddedTokenSpec[];
  readonly bos: ResolvedSpecialToken;
  readonly eos: ResolvedSpecialToken;
  readonly unk: ResolvedSpecialToken;
  readonly pad: ResolvedSpecialToken;
}

/**
 * All added tokens of the folder and the four special tokens CLIP needs. Throws a TokenizerFileError naming the
 * file when an entry is malformed or a special token is neither an added token nor in the vocabulary.
 */
export function resolveAddedTokens(model: BpeModelFiles, files: AddedTokenFiles): AddedTokens {
  // Added tokens, first definition of a content wins, in transformers' order of precedence: explicit added-token
  // lists carry the lstrip/rstrip flags; special tokens not listed there are then added with their vocab id.
  const added = new Map<string, AddedTokenSpec>();
  const addToken = (token: AddedTokenSpec): void => {
    if (!added.has(token.content)) added.set(token.content, token);
  };
  if (files.tokenizerJson !== null) {
    for (const token of parseTokenizerJsonAddedTokens(files.tokenizerJson)) addToken(token);
  }
  for (const token of parseAddedTokensDecoder(files.config)) addToken(token);
  if (files.addedTokensJson !== null) {
    for (const token of parseAddedTokensJson(files.addedTokensJson)) addToken(token);
  }

  // Special tokens are added tokens too (transformers >= 4.34), so they are cut out of the raw text whole: with
  // Stable Diffusion 2.x's pad token "!", every "!" of a prompt becomes id 0.
  const addSpecial = ({ token, file }: SpecialTokenSource, what: string): ResolvedSpecialToken => {
    const id = added.get(token.content)?.id ?? ownNumber(model.vocab, token.content);
    if (id === undefined) {
      throw invalidFile(file, `${what} ${JSON.stringify(token.content)} is not in the vocabulary`);
    }
    addToken({ id, content: token.content, lstrip: token.lstrip, rstrip: token.rstrip, special: true });
    return { content: token.content, id };
  };
  const special = (key: SpecialTokenKey) =>
    addSpecial(resolveSpecialToken(key, files.config, files.specialMap, model.vocabFile), key);
  const bos = special("bos_token");
  const eos = special("eos_token");
  const unk = special("unk_token");
  const pad = special("pad_token");
  for (const entry of resolveAdditionalSpecialTokens(files.config, files.specialMap)) {
    addSpecial(entry, "additional special token");
  }
  return { tokens: [...added.values()], bos, eos, unk, pad };
}

/** `added_tokens` of tokenizer.json: `[{ id, content, lstrip, rstrip, special, ... }]`. */
function parseTokenizerJsonAddedTokens(json: Record<string, unknown>): AddedTokenSpec[] {
  const rawAdded = json["added_tokens"] ?? [];
  if (!Array.isArray(rawAdded)) throw invalidFile(TOKENIZER_JSON, "added_tokens is not an array");
  return rawAdded.map((token, i) => {
    if (!isPlainObject(token) || typeof token["content"] !== "string" || !isTokenId(token["id"])) {
      throw invalidFile(TOKENIZER_JSON, `added_tokens[${i}] needs a string content and an integer id`);
    }
    return addedToken(token["id"], token["content"], token);
  });
}

/** `added_tokens_decoder` of tokenizer_config.json: `{ "<id>": { content, lstrip, rstrip, special, ... } }`. */
function parseAddedTokensDecoder(config: Record<string, unknown>): AddedTokenSpec[] {
  const decoder = config["added_tokens_decoder"];
  if (decoder === undefined || decoder === null) return [];
  if (!isPlainObject(decoder))
    throw invalidFile(TOKENIZER_CONFIG_JSON, "added_tokens_decoder is not an object");
  return Object.entries(decoder).map(([key, token]) => {
    const id = Number(key);
    if (
      !isTokenId(id) ||
      String(id) !== key ||
      !isPlainObject(token) ||
      typeof token["content"] !== "string"
    ) {
      throw invalidFile(
        TOKENIZER_CONFIG_JSON,
        `added_tokens_decoder[${JSON.stringify(key)}] needs an integer key and a string content`,
      );
    }
    return addedToken(id, token["content"], token);
  });
}

/** added_tokens.json: `{ "<content>": id }`, plain tokens without flags. */
function parseAddedTokensJson(json: Record<string, unknown>): AddedTokenSpec[] {
  return Object.entries(json).map(([content, id]) => {
    if (!isTokenId(id)) {
      throw invalidFile(ADDED_TOKENS_JSON, `id of ${JSON.stringify(content)} is not a token id`);
    }
    return { id, content, lstrip: false, rstrip: false, special: false };
  });
}

/** An added token from its serialized AddedToken object; a flag that is absent or not `true` is off. */
function addedToken(id: number, content: string, raw: Record<string, unknown>): AddedTokenSpec {
  return {
    id,
    content,
    lstrip: raw["lstrip"] === true,
    rstrip: raw["rstrip"] === true,
    special: raw["special"] === true,
  };
}

/** Own-property lookup, so that inherited names (`constructor`, `toString`) are never read as tokens. */
function ownNumber(record: Readonly<Record<string, number>>, key: string): number | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
