/**
 * Reading a checkpoint's `tokenizer/` folder the way transformers' CLIPTokenizer does: the BPE vocabulary and merges
 * (from `tokenizer.json` when present, else `vocab.json` + `merges.txt`), the special tokens (`special_tokens_map.json`
 * overrides `tokenizer_config.json`, which overrides CLIP's defaults; each value a string or an AddedToken object),
 * the added tokens (`added_tokens_decoder`, `added_tokens.json`, `tokenizer.json`'s `added_tokens`) and
 * `model_max_length`. Everything is validated here, and every error names the file by its name inside the folder.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

/**
 * A tokenizer file is missing, unreadable or malformed. `file` is relative to the tokenizer folder ("." for the
 * folder itself), so the message never shows where the checkpoint lives.
 */
export class TokenizerFileError extends Error {
  override name = "TokenizerFileError";
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(file === "." ? `The tokenizer folder ${reason}` : `Tokenizer file ${file} ${reason}`);
  }
}

/** A token that is matched whole in the raw prompt before any other processing (transformers' AddedToken). */
export interface AddedTokenSpec {
  readonly id: number;
  readonly content: string;
  /** Whitespace on the token's left side is dropped from the text before it. */
  readonly lstrip: boolean;
  /** Whitespace on the token's right side is dropped from the text after it. */
  readonly rstrip: boolean;
  readonly special: boolean;
}

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

const TOKENIZER_JSON = "tokenizer.json";
const VOCAB_JSON = "vocab.json";
const MERGES_TXT = "merges.txt";
const TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
const SPECIAL_TOKENS_MAP_JSON = "special_tokens_map.json";
const ADDED_TOKENS_JSON = "added_tokens.json";

/** CLIPTokenizer's constructor defaults, used when neither config file names a token. */
const CLIP_DEFAULT_SPECIAL_TOKENS = {
  bos_token: "<|startoftext|>",
  eos_token: "<|endoftext|>",
  unk_token: "<|endoftext|>",
  pad_token: "<|endoftext|>",
} as const;
type SpecialTokenKey = keyof typeof CLIP_DEFAULT_SPECIAL_TOKENS;

/** CLIP text encoders have 77 positions; used when `model_max_length` is absent. */
const CLIP_MAX_LENGTH = 77;
/**
 * transformers writes `model_max_length` as int(1e30) when a tokenizer has no known limit; anything this large
 * means "unset", not a length to pad to.
 */
const UNSET_MAX_LENGTH_THRESHOLD = 1e9;
/** The slow CLIPTokenizer reads merges.txt lines 1 to 48894 only (`[1 : 49152 - 256 - 2 + 1]`). */
const SLOW_CLIP_MAX_MERGES = 49152 - 256 - 2;

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

  // Added tokens, first definition of a content wins, in transformers' order of precedence: explicit added-token
  // lists carry the lstrip/rstrip flags; special tokens not listed there are then added with their vocab id.
  const added = new Map<string, AddedTokenSpec>();
  const addToken = (token: AddedTokenSpec): void => {
    if (!added.has(token.content)) added.set(token.content, token);
  };
  for (const token of model.addedTokens) addToken(token);
  for (const token of parseAddedTokensDecoder(config)) addToken(token);
  if (addedTokensJson !== null) {
    for (const [content, id] of Object.entries(addedTokensJson)) {
      if (!isTokenId(id)) {
        throw new TokenizerFileError(
          ADDED_TOKENS_JSON,
          `is invalid: id of ${JSON.stringify(content)} is not a token id`,
        );
      }
      addToken({ id, content, lstrip: false, rstrip: false, special: false });
    }
  }

  // Special tokens are added tokens too (transformers >= 4.34), so they are cut out of the raw text whole: with
  // Stable Diffusion 2.x's pad token "!", every "!" of a prompt becomes id 0.
  const addSpecial = ({ token, file }: { token: TokenValue; file: string }, what: string) => {
    const id = added.get(token.content)?.id ?? ownNumber(model.vocab, token.content);
    if (id === undefined) {
      throw new TokenizerFileError(
        file,
        `is invalid: ${what} ${JSON.stringify(token.content)} is not in the vocabulary`,
      );
    }
    addToken({ id, content: token.content, lstrip: token.lstrip, rstrip: token.rstrip, special: true });
    return { content: token.content, id };
  };
  const special = (key: SpecialTokenKey) =>
    addSpecial(resolveSpecialToken(key, config, specialMap, model.vocabFile), key);
  const bos = special("bos_token");
  const eos = special("eos_token");
  const unk = special("unk_token");
  const pad = special("pad_token");
  for (const entry of resolveAdditionalSpecialTokens(config, specialMap)) {
    addSpecial(entry, "additional special token");
  }

  return {
    vocab: model.vocab,
    merges: model.merges,
    addedTokens: [...added.values()],
    bosToken: bos.content,
    eosToken: eos.content,
    unkToken: unk.content,
    padToken: pad.content,
    bosTokenId: bos.id,
    eosTokenId: eos.id,
    padTokenId: pad.id,
    modelMaxLength: parseModelMaxLength(config),
  };
}

interface BpeModelFiles {
  /** The file the vocabulary came from, for error messages. */
  readonly vocabFile: string;
  readonly vocab: Readonly<Record<string, number>>;
  readonly merges: readonly (readonly [string, string])[];
  readonly addedTokens: readonly AddedTokenSpec[];
}

/** The slow layout: `vocab.json` + `merges.txt`, read exactly as CLIPTokenizer reads them. */
async function readSlowModel(dir: string): Promise<BpeModelFiles> {
  const vocab = (await readJsonObject(dir, VOCAB_JSON, true, "(and there is no tokenizer.json)"))!;
  validateVocab(vocab, VOCAB_JSON);
  const text = (await readText(dir, MERGES_TXT, true, "(and there is no tokenizer.json)"))!;
  // CLIPTokenizer: read().strip().split("\n")[1:48895], then tuple(line.split()). The first line is always skipped
  // (it is the "#version" header); a line that is not exactly two symbols can never match a pair, so it is dropped.
  const lines = text
    .trim()
    .split("\n")
    .slice(1, SLOW_CLIP_MAX_MERGES + 1);
  const merges: (readonly [string, string])[] = [];
  for (const line of lines) {
    const parts = line.trim().split(/\s+/);
    if (parts.length === 2) merges.push([parts[0]!, parts[1]!]);
  }
  if (merges.length === 0 && lines.some((line) => line.trim() !== "")) {
    throw new TokenizerFileError(MERGES_TXT, "is invalid: no line holds a pair of symbols");
  }
  return { vocabFile: VOCAB_JSON, vocab, merges, addedTokens: [] };
}

/** The fast layout: a `tokenizer.json` whose model is CLIP's BPE (end-of-word suffix `</w>`). */
function parseTokenizerJsonModel(json: Record<string, unknown>): BpeModelFiles {
  const invalid = (reason: string) => new TokenizerFileError(TOKENIZER_JSON, `is invalid: ${reason}`);
  const model = json["model"];
  if (!isPlainObject(model)) throw invalid("no model object");
  if (model["type"] !== undefined && model["type"] !== "BPE") {
    throw invalid(`model type ${JSON.stringify(model["type"])} is not BPE`);
  }
  if (model["end_of_word_suffix"] !== "</w>")
    throw invalid('model.end_of_word_suffix is not "</w>" (not a CLIP tokenizer)');
  const vocab = model["vocab"];
  if (!isPlainObject(vocab)) throw invalid("model.vocab is not an object");
  validateVocab(vocab, TOKENIZER_JSON);
  const rawMerges = model["merges"];
  if (!Array.isArray(rawMerges)) throw invalid("model.merges is not an array");
  const merges = rawMerges.map((merge, i): readonly [string, string] => {
    // Two spellings exist: "a b" (older files) and ["a", "b"].
    const pair = typeof merge === "string" ? merge.split(" ") : merge;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((s) => typeof s === "string" && s !== "")) {
      throw invalid(`model.merges[${i}] is not a pair of symbols`);
    }
    return [pair[0] as string, pair[1] as string];
  });
  const addedTokens: AddedTokenSpec[] = [];
  const rawAdded = json["added_tokens"] ?? [];
  if (!Array.isArray(rawAdded)) throw invalid("added_tokens is not an array");
  for (const [i, token] of rawAdded.entries()) {
    if (!isPlainObject(token) || typeof token["content"] !== "string" || !isTokenId(token["id"])) {
      throw invalid(`added_tokens[${i}] needs a string content and an integer id`);
    }
    addedTokens.push({
      id: token["id"],
      content: token["content"],
      lstrip: token["lstrip"] === true,
      rstrip: token["rstrip"] === true,
      special: token["special"] === true,
    });
  }
  return { vocabFile: TOKENIZER_JSON, vocab, merges, addedTokens };
}

function validateVocab(
  vocab: Record<string, unknown>,
  file: string,
): asserts vocab is Record<string, number> {
  const entries = Object.entries(vocab);
  if (entries.length === 0) throw new TokenizerFileError(file, "is invalid: the vocabulary is empty");
  for (const [token, id] of entries) {
    if (!isTokenId(id)) {
      throw new TokenizerFileError(
        file,
        `is invalid: the id of ${JSON.stringify(token)} is not a non-negative integer`,
      );
    }
  }
}

/** `added_tokens_decoder` of tokenizer_config.json: `{ "<id>": { content, lstrip, rstrip, special, ... } }`. */
function parseAddedTokensDecoder(config: Record<string, unknown>): AddedTokenSpec[] {
  const decoder = config["added_tokens_decoder"];
  if (decoder === undefined || decoder === null) return [];
  if (!isPlainObject(decoder)) {
    throw new TokenizerFileError(TOKENIZER_CONFIG_JSON, "is invalid: added_tokens_decoder is not an object");
  }
  return Object.entries(decoder).map(([key, token]) => {
    const id = Number(key);
    if (
      !isTokenId(id) ||
      String(id) !== key ||
      !isPlainObject(token) ||
      typeof token["content"] !== "string"
    ) {
      throw new TokenizerFileError(
        TOKENIZER_CONFIG_JSON,
        `is invalid: added_tokens_decoder[${JSON.stringify(key)}] needs an integer key and a string content`,
      );
    }
    return {
      id,
      content: token["content"],
      lstrip: token["lstrip"] === true,
      rstrip: token["rstrip"] === true,
      special: token["special"] === true,
    };
  });
}

interface TokenValue {
  readonly content: string;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
}

/**
 * One special token as transformers resolves it: special_tokens_map.json overrides tokenizer_config.json, which
 * overrides CLIPTokenizer's default. Returns the file that defined it, for error messages.
 */
function resolveSpecialToken(
  key: SpecialTokenKey,
  config: Record<string, unknown>,
  specialMap: Record<string, unknown>,
  vocabFile: string,
): { token: TokenValue; file: string } {
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
  if (raw === null)
    throw new TokenizerFileError(file, `is invalid: ${key} is null (padding and bos/eos need it)`);
  const token = parseTokenValue(raw);
  if (token === null)
    throw new TokenizerFileError(file, `is invalid: ${key} is neither a string nor {content: string}`);
  return { token, file };
}

function resolveAdditionalSpecialTokens(
  config: Record<string, unknown>,
  specialMap: Record<string, unknown>,
): { token: TokenValue; file: string }[] {
  const key = "additional_special_tokens";
  const file = Object.hasOwn(specialMap, key) ? SPECIAL_TOKENS_MAP_JSON : TOKENIZER_CONFIG_JSON;
  const raw = Object.hasOwn(specialMap, key) ? specialMap[key] : config[key];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new TokenizerFileError(file, `is invalid: ${key} is not an array`);
  return raw.map((value) => {
    const token = parseTokenValue(value);
    if (token === null) throw new TokenizerFileError(file, `is invalid: an entry of ${key} is not a token`);
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

function parseModelMaxLength(config: Record<string, unknown>): number {
  const raw = config["model_max_length"];
  if (raw === undefined || raw === null) return CLIP_MAX_LENGTH;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 2) {
    // bos and eos alone take two positions.
    throw new TokenizerFileError(
      TOKENIZER_CONFIG_JSON,
      "is invalid: model_max_length is not an integer of at least 2",
    );
  }
  return raw >= UNSET_MAX_LENGTH_THRESHOLD ? CLIP_MAX_LENGTH : raw;
}

async function readText(
  dir: string,
  file: string,
  required: boolean,
  missingNote = "",
): Promise<string | null> {
  try {
    return await readFile(path.join(dir, file), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      if (!required) return null;
      throw new TokenizerFileError(file, `is missing${missingNote ? ` ${missingNote}` : ""}`);
    }
    throw new TokenizerFileError(file, `could not be read (${code ?? "unknown error"})`);
  }
}

async function readJsonObject(
  dir: string,
  file: string,
  required: boolean,
  missingNote = "",
): Promise<Record<string, unknown> | null> {
  const text = await readText(dir, file, required, missingNote);
  if (text === null) return null;
  let value: unknown;
  try {
    // A UTF-8 byte-order mark is legal in these files but not in JSON.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new TokenizerFileError(file, `is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(value)) throw new TokenizerFileError(file, "is invalid: expected a JSON object");
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTokenId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Own-property lookup, so that inherited names (`constructor`, `toString`) are never read as tokens. */
function ownNumber(record: Readonly<Record<string, number>>, key: string): number | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
