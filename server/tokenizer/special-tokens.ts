/**
 * Which strings are a CLIP tokenizer's special tokens, resolved as transformers resolves them:
 * `special_tokens_map.json` overrides `tokenizer_config.json`, which overrides CLIPTokenizer's constructor defaults.
 * Each value may be a plain string or a serialized AddedToken object. Resolution reports the file a token came from,
 * so that a later "not in the vocabulary" error names the right one; the ids are looked up by added-tokens.ts.
 */
import {
  invalidFile,
  isPlainObject,
  SPECIAL_TOKENS_MAP_JSON,
  TOKENIZER_CONFIG_JSON,
} from "./tokenizer-file-io.ts";

/** A token's text and how it strips the whitespace around it. */
export interface TokenValue {
  readonly content: string;
  /** Whitespace on the token's left side is dropped from the text before it. */
  readonly lstrip: boolean;
  /** Whitespace on the token's right side is dropped from the text after it. */
  readonly rstrip: boolean;
}

/** A resolved special token and the file that defined it (the vocabulary's file for a default). */
export interface SpecialTokenSource {
  readonly token: TokenValue;
  readonly file: string;
}

/** CLIPTokenizer's constructor defaults, used when neither config file names a token. */
const CLIP_DEFAULT_SPECIAL_TOKENS = {
  bos_token: "<|startoftext|>",
  eos_token: "<|endoftext|>",
  unk_token: "<|endoftext|>",
  pad_token: "<|endoftext|>",
} as const;
export type SpecialTokenKey = keyof typeof CLIP_DEFAULT_SPECIAL_TOKENS;

/**
 * One special token as transformers resolves it: special_tokens_map.json overrides tokenizer_config.json, which
 * overrides CLIPTokenizer's default. Returns the file that defined it, for error messages.
 */
export function resolveSpecialToken(
  key: SpecialTokenKey,
  config: Record<string, unknown>,
  specialMap: Record<string, unknown>,
  vocabFile: string,
): SpecialTokenSource {
  let file: string;
  let raw: unknown;
  if (Object.hasOwn(specialMap, key)) {
    file = SPECIAL_TOKENS_MAP_JSON;
    raw = specialMap[key];
  } else if (Object.hasOwn(config, key)) {
    file = TOKENIZER_CONFIG_JSON;
    raw = config[key];
  } else {
    return {
      token: { content: CLIP_DEFAULT_SPECIAL_TOKENS[key], lstrip: false, rstrip: false },
      file: vocabFile,
    };
  }
  if (raw === null) throw invalidFile(file, `${key} is null (padding and bos/eos need it)`);
  const token = parseTokenValue(raw);
  if (token === null) throw invalidFile(file, `${key} is neither a string nor {content: string}`);
  return { token, file };
}

/** `additional_special_tokens`, from the same file precedence as {@link resolveSpecialToken} (no defaults). */
export function resolveAdditionalSpecialTokens(
  config: Record<string, unknown>,
  specialMap: Record<string, unknown>,
): SpecialTokenSource[] {
  const key = "additional_special_tokens";
  const file = Object.hasOwn(specialMap, key) ? SPECIAL_TOKENS_MAP_JSON : TOKENIZER_CONFIG_JSON;
  const raw = Object.hasOwn(specialMap, key) ? specialMap[key] : config[key];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidFile(file, `${key} is not an array`);
  return raw.map((value) => {
    const token = parseTokenValue(value);
    if (token === null) throw invalidFile(file, `an entry of ${key} is not a token`);
    return { token, file };
  });
}

/** A token value is a plain string or a serialized AddedToken `{content, lstrip, rstrip, ...}`. */
function parseTokenValue(raw: unknown): TokenValue | null {
  if (typeof raw === "string") return raw === "" ? null : { content: raw, lstrip: false, rstrip: false };
  if (isPlainObject(raw) && typeof raw["content"] === "string" && raw["content"] !== "") {
    return { content: raw["content"], lstrip: raw["lstrip"] === true, rstrip: raw["rstrip"] === true };
  }
  return null;
}
