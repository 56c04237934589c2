/**
 * The AutoPipeline tables against diffusers' own: `server/auto-pipeline/tables.ts` must equal, row for row and in
 * order, the tables of test/fixtures/diffusers-auto-pipeline/diffusers-auto-pipeline-tables.json, which holds every
 * mapping table of diffusers' `src/diffusers/pipelines/auto_pipeline.py` as read from that file at the commit it
 * names (its `source`), with the rows diffusers appends when sentencepiece is installed (`conditional_rows`).
 * To follow a newer diffusers, replace that file with the tables read from the newer auto_pipeline.py.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { resolvePipelineClass } from "../../server/auto-pipeline/resolve.ts";
import * as tables from "../../server/auto-pipeline/tables.ts";
import { UnsupportedPipelineError } from "../../server/errors.ts";

interface DiffusersTables {
  readonly source: { readonly repository: string; readonly path: string; readonly commit: string };
  readonly tables: Record<string, [string, string][]>;
  readonly conditional_rows: Record<string, [string, string][]>;
}

const fixture = JSON.parse(
  readFileSync(
    new URL("../fixtures/diffusers-auto-pipeline/diffusers-auto-pipeline-tables.json", import.meta.url),
    "utf8",
  ),
) as DiffusersTables;

/** tables.ts exports diffusers' private `_AUTO_*` tables without the leading underscore. */
const exported = (name: string) =>
  (tables as unknown as Record<string, tables.PipelineMapping | undefined>)[name.replace(/^_/, "")];

/** A table as diffusers builds it with sentencepiece installed: its rows, then its appended rows. */
const diffusersRows = (name: string): [string, string][] => [
  ...(fixture.tables[name] ?? []),
  ...(fixture.conditional_rows[name] ?? []),
];

describe("AutoPipeline tables match diffusers' auto_pipeline.py", () => {
  it("the fixture names the file and commit it was read from", () => {
    expect(fixture.source.repository).toBe("huggingface/diffusers");
    expect(fixture.source.path).toBe("src/diffusers/pipelines/auto_pipeline.py");
    expect(fixture.source.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it.each(Object.keys(fixture.tables))("%s, entry by entry and in order", (name) => {
    const table = exported(name);
    expect(table, `tables.ts exports ${name.replace(/^_/, "")}`).toBeDefined();
    const ours = [...table!];
    const theirs = diffusersRows(name);
    // Entry by entry first, so a failure names the first row that differs rather than dumping both tables.
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
      expect(ours[i], `${name} row ${i}`).toEqual(theirs[i]);
    }
  });

  it("every appended row belongs to a table of the file", () => {
    for (const name of Object.keys(fixture.conditional_rows)) expect(fixture.tables).toHaveProperty(name);
  });

  it("tables.ts has no table diffusers lacks", () => {
    const names = Object.keys(tables).filter((n) => /^AUTO_.*_MAPPING$/.test(n));
    expect(names.sort()).toEqual(
      Object.keys(fixture.tables)
        .map((n) => n.replace(/^_/, ""))
        .sort(),
    );
  });

  it("SUPPORTED_TASKS_MAPPINGS searches every table once: image tables first, decoder tables last", () => {
    const search = tables.SUPPORTED_TASKS_MAPPINGS;
    expect(new Set(search).size).toBe(Object.keys(fixture.tables).length);
    for (const name of Object.keys(fixture.tables)) expect(search).toContain(exported(name));
    expect(search.slice(0, 3)).toEqual([
      tables.AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
      tables.AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
      tables.AUTO_INPAINT_PIPELINES_MAPPING,
    ]);
    expect(search.slice(-3)).toEqual([
      tables.AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING,
      tables.AUTO_IMAGE2IMAGE_DECODER_PIPELINES_MAPPING,
      tables.AUTO_INPAINT_DECODER_PIPELINES_MAPPING,
    ]);
  });
});

describe("a family that diffusers' image-to-image table lacks", () => {
  it("AutoPipelineForImage2Image of an SD checkpoint with controlnet + enable_pag fails as diffusers does", () => {
    // diffusers: no image-to-image class for stable-diffusion-controlnet-pag (its table has no such row).
    expect(fixture.tables["AUTO_IMAGE2IMAGE_PIPELINES_MAPPING"]?.map(([family]) => family)).not.toContain(
      "stable-diffusion-controlnet-pag",
    );
    let caught: unknown;
    try {
      resolvePipelineClass("StableDiffusionPipeline", "IMAGE_TO_IMAGE", {
        controlnet: true,
        enablePag: true,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedPipelineError);
    expect((caught as Error).message).toBe(
      "AutoPipeline can't find a pipeline linked to StableDiffusionControlNetPAGPipeline for stable-diffusion-controlnet-pag",
    );
  });
});
