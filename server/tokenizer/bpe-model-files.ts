/**
 * The BPE model of a CLIP tokenizer folder, its vocabulary and merges, in either layout: the fast `tokenizer.json`
 * (whose model must be CLIP's BPE) or the slow `vocab.json` + `merges.txt`, read exactly as CLIPTokenizer reads
 * them. Only the model is read here; `tokenizer.json`'s added tokens are left to added-tokens.ts.
 */
import {
  invalidFile,
  isPlainObject,
  isTokenId,
  MERGES_TXT,
  readJsonObject,
  readText,
  TOKENIZER_JSON,
  VOCAB_JSON,
} from "./tokenizer-file-io.ts";

export interface BpeModelFiles {
  /** The file the vocabulary came from, for error messages. */
  readonly vocabFile: string;
  /** Token → id. The parsed JSON object itself (own properties only), so keys such as `__proto__` survive. */
  readonly vocab: Readonly<Record<string, number>>;
  /** BPE merges, best first. */
  readonly merges: readonly (readonly [string, string])[];
}

/** The slow CLIPTokenizer reads merges.txt lines 1 to 48894 only (`[1 : 49152 - 256 - 2 + 1]`). */
const SLOW_CLIP_MAX_MERGES = 49152 - 256 - 2;

/** What a missing slow-layout file's error adds: the fast layout was looked for first. */
const NO_TOKENIZER_JSON = "(and there is no tokenizer.json)";

/** The slow layout: `vocab.json` + `merges.txt`, read exactly as CLIPTokenizer reads them. */
export async function readSlowModel(dir: string): Promise<BpeModelFiles> {
  const vocab = (await readJsonObject(dir, VOCAB_JSON, true, NO_TOKENIZER_JSON))!;
  validateVocab(vocab, VOCAB_JSON);
  const text = (await readText(dir, MERGES_TXT, true, NO_TOKENIZER_JSON))!;
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
    throw invalidFile(MERGES_TXT, "no line holds a pair of symbols");
  }
  return { vocabFile: VOCAB_JSON, vocab, merges };
}

/** The fast layout: a `tokenizer.json` whose model is CLIP's BPE (end-of-word suffix `</w>`). */
export function parseTokenizerJsonModel(json: Record<string, unknown>): BpeModelFiles {
  const invalid = (reason: string) => invalidFile(TOKENIZER_JSON, reason);
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
  return { vocabFile: TOKENIZER_JSON, vocab, merges };
}

function validateVocab(
  vocab: Record<string, unknown>,
  file: string,
): asserts vocab is Record<string, number> {
  const entries = Object.entries(vocab);
  if (entries.length === 0) throw invalidFile(file, "the vocabulary is empty");
  for (const [token, id] of entries) {
    if (!isTokenId(id)) {
      throw invalidFile(file, `the id of ${JSON.stringify(token)} is not a non-negative integer`);
    }
  }
}
