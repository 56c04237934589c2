/**
 * Reading single files of a checkpoint's `tokenizer/` folder: the names of the files CLIPTokenizer looks for, the
 * error that every problem with them becomes (naming the file by its name inside the folder, never the folder's
 * location), text and JSON-object reading that tells a missing file from an unreadable or malformed one, and the
 * small type checks the parsers of those files share.
 */
import { readFile } from "node:fs/promises";
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

/** The error for a file that was read but holds something it must not. */
export function invalidFile(file: string, reason: string): TokenizerFileError {
  return new TokenizerFileError(file, `is invalid: ${reason}`);
}

export const TOKENIZER_JSON = "tokenizer.json";
export const VOCAB_JSON = "vocab.json";
export const MERGES_TXT = "merges.txt";
export const TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
export const SPECIAL_TOKENS_MAP_JSON = "special_tokens_map.json";
export const ADDED_TOKENS_JSON = "added_tokens.json";

/**
 * The text of `file` in `dir`, or null when it does not exist and is not `required`. `missingNote` is appended to
 * the "is missing" message.
 */
export async function readText(
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

/** Like {@link readText}, for a file that must hold one JSON object. */
export async function readJsonObject(
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
  if (!isPlainObject(value)) throw invalidFile(file, "expected a JSON object");
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isTokenId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}
