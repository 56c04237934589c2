/**
 * Extracts diffusers' AutoPipeline mapping tables from a copy of `src/diffusers/pipelines/auto_pipeline.py` into the
 * JSON fixture that `test/auto-pipeline/tables-drift.test.ts` compares `server/auto-pipeline/tables.ts` with. It
 * reads the file as text (no Python needed): every `NAME = OrderedDict([("key", Class), ...])`, every row appended
 * later (`NAME["key"] = Class`, e.g. the kolors rows diffusers adds when sentencepiece is installed), and the
 * search order of `SUPPORTED_TASKS_MAPPINGS`.
 *
 * Usage:
 *   npx tsx scripts/extract-auto-pipeline-tables.ts auto_pipeline.py --commit <sha> --version <x.y.z> [--out f.json]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

export interface ExtractedTables {
  readonly source: {
    readonly repository: "huggingface/diffusers";
    readonly path: "src/diffusers/pipelines/auto_pipeline.py";
    readonly commit: string;
    readonly version: string;
  };
  /** Table name → rows in insertion order (appended rows last), as [family key, pipeline class]. */
  readonly tables: Record<string, [string, string][]>;
  /** Rows appended after the table was built, and the condition they depend on (null: unconditional). */
  readonly appendedRows: { table: string; key: string; className: string; condition: string | null }[];
  /** `SUPPORTED_TASKS_MAPPINGS`: the order in which a class name is searched for its family key. */
  readonly searchOrder: string[];
}

const TABLE = /^(_?AUTO_[A-Z0-9_]+_MAPPING)\s*=\s*OrderedDict\(\s*\[([\s\S]*?)\]\s*\)/gm;
const ROW = /\(\s*"([^"]+)"\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/g;
const APPEND = /^([ \t]*)(_?AUTO_[A-Z0-9_]+_MAPPING)\[\s*"([^"]+)"\s*\]\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/gm;
const SEARCH_ORDER = /^SUPPORTED_TASKS_MAPPINGS\s*=\s*\[([\s\S]*?)\]/m;

/** Parses the tables out of the text of an auto_pipeline.py. Throws when the file holds none. */
export function extractTables(source: string, commit: string, version: string): ExtractedTables {
  const tables: Record<string, [string, string][]> = {};
  for (const match of source.matchAll(TABLE)) {
    const [, name = "", body = ""] = match;
    tables[name] = [...body.matchAll(ROW)].map((row) => [row[1] ?? "", row[2] ?? ""]);
  }
  if (Object.keys(tables).length === 0) throw new Error("no `NAME = OrderedDict([...])` table found");

  const appendedRows: ExtractedTables["appendedRows"] = [];
  for (const match of source.matchAll(APPEND)) {
    const [, indent = "", table = "", key = "", className = ""] = match;
    const rows = tables[table];
    if (!rows) throw new Error(`row appended to unknown table ${table}`);
    // An indented assignment sits in an `if ...:` block: record the closest one above it.
    const condition = indent ? enclosingIf(source, match.index ?? 0, indent.length) : null;
    const existing = rows.findIndex(([k]) => k === key);
    // Python dict assignment: an existing key keeps its place, a new one goes last.
    if (existing >= 0) rows[existing] = [key, className];
    else rows.push([key, className]);
    appendedRows.push({ table, key, className, condition });
  }

  const order = SEARCH_ORDER.exec(source)?.[1];
  if (!order) throw new Error("SUPPORTED_TASKS_MAPPINGS not found");
  const searchOrder = order
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of searchOrder) {
    if (!tables[name]) throw new Error(`SUPPORTED_TASKS_MAPPINGS lists unknown table ${name}`);
  }
  return {
    source: {
      repository: "huggingface/diffusers",
      path: "src/diffusers/pipelines/auto_pipeline.py",
      commit,
      version,
    },
    tables,
    appendedRows,
    searchOrder,
  };
}

/** The condition of the nearest `if ...:` line above `at` that is indented less than `indent`. */
function enclosingIf(source: string, at: number, indent: number): string | null {
  const lines = source.slice(0, at).split("\n").reverse();
  for (const line of lines) {
    const match = /^([ \t]*)if\s+(.+):\s*$/.exec(line);
    if (match && (match[1]?.length ?? 0) < indent) return match[2] ?? null;
  }
  return null;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { commit: { type: "string" }, version: { type: "string" }, out: { type: "string" } },
  });
  const [file] = positionals;
  if (!file || !values.commit || !values.version) {
    console.error(
      "usage: tsx scripts/extract-auto-pipeline-tables.ts auto_pipeline.py --commit <sha> --version <x.y.z> [--out f.json]",
    );
    process.exit(2);
  }
  const extracted = extractTables(readFileSync(file, "utf8"), values.commit, values.version);
  const json = `${JSON.stringify(extracted, null, 2)}\n`;
  if (values.out) writeFileSync(values.out, json);
  else process.stdout.write(json);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
