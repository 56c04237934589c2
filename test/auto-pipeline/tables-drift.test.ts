/**
 * The AutoPipeline tables against diffusers' source: `server/auto-pipeline/tables.ts` must equal, row for row and
 * in order, the tables that `scripts/extract-auto-pipeline-tables.ts` extracted from diffusers' auto_pipeline.py
 * into test/fixtures/diffusers-auto-pipeline/tables.json (which records the diffusers commit and version). The
 * extraction itself is checked by re-running it on the committed excerpt of that file.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type ExtractedTables, extractTables } from "../../scripts/extract-auto-pipeline-tables.ts";
import * as tables from "../../server/auto-pipeline/tables.ts";

const DIR = new URL("../fixtures/diffusers-auto-pipeline/", import.meta.url);
const fixture = JSON.parse(readFileSync(new URL("tables.json", DIR), "utf8")) as ExtractedTables;

/** tables.ts exports diffusers' private `_AUTO_*` tables without the leading underscore. */
const exported = (name: string) =>
  (tables as unknown as Record<string, tables.PipelineMapping | undefined>)[name.replace(/^_/, "")];

describe("AutoPipeline tables match diffusers' auto_pipeline.py", () => {
  it("the fixture is what the script extracts from the committed source excerpt", () => {
    const source = readFileSync(new URL("auto_pipeline.tables.py", DIR), "utf8");
    expect(extractTables(source, fixture.source.commit, fixture.source.version)).toEqual(fixture);
  });

  it.each(Object.keys(fixture.tables))("%s", (name) => {
    const table = exported(name);
    expect(table, `tables.ts exports ${name.replace(/^_/, "")}`).toBeDefined();
    expect([...table!]).toEqual(fixture.tables[name]);
  });

  it("tables.ts has no table diffusers lacks", () => {
    const names = Object.keys(tables).filter((n) => /^AUTO_.*_MAPPING$/.test(n));
    expect(names.sort()).toEqual(
      Object.keys(fixture.tables)
        .map((n) => n.replace(/^_/, ""))
        .sort(),
    );
  });

  it("SUPPORTED_TASKS_MAPPINGS searches the tables in diffusers' order", () => {
    expect(tables.SUPPORTED_TASKS_MAPPINGS).toEqual(fixture.searchOrder.map((n) => exported(n)));
  });
});
