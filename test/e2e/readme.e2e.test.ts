/**
 * Every example of README.md runs as written: the fenced `sh` blocks (curl) through bash, the `ts` blocks (client
 * snippets) through tsx in a scratch ESM project, the `graphql` blocks POSTed as they are, all against the real
 * server on a real port with the bundled tiny checkpoints. The only edit is the address: `localhost:4000` becomes
 * the test server's (whose AUTOPIPE_LORAS_DIR holds the LoRA fixture's adapters). A block may be left out only with a `<!-- readme-examples: not run (why) -->` line right above
 * it; `json` and `python` blocks are sample outputs and diffusers code, not examples to run. The `ts` blocks also
 * type-check with `tsc --strict`. Each block starts from a server without named pipelines, as a reader trying that
 * one example would. Needs the client built (`npm run build`, which `npm test` runs first) and `curl`.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LORA_FIXTURES } from "../helpers/lora.ts";
import { REPO_ROOT } from "../helpers/server-process.ts";
import { startHttpServer } from "../helpers/services.ts";

const run = promisify(execFile);

interface Block {
  readonly lang: string;
  readonly line: number;
  readonly code: string;
  /** The reason given in a `readme-examples: not run` comment right above the block, if any. */
  readonly notRun: string | null;
}

/** The fenced blocks of a Markdown text, in order. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++) body.push(lines[i] ?? "");
    const above = /^<!-- readme-examples: not run \((.+)\) -->$/.exec(lines[start - 1] ?? "");
    blocks.push({ lang: open[1] ?? "", line: start + 1, code: body.join("\n"), notRun: above?.[1] ?? null });
  }
  return blocks;
}

const README = await readFile(path.join(REPO_ROOT, "README.md"), "utf8");
const blocks = fencedBlocks(README);
const runnable = blocks.filter((b) => ["sh", "ts", "graphql"].includes(b.lang) && b.notRun === null);
const label = (b: Block) => `${b.lang} block at README.md:${b.line}`;

/** A GraphQL answer that is a refusal or a typed error (`__typename` ending in Error). */
function failures(text: string): string[] {
  const found: string[] = [];
  if (/"errors"\s*:/.test(text)) found.push("a GraphQL errors list");
  for (const m of text.matchAll(/"__typename"\s*:\s*"(\w*Error)"/g)) found.push(m[1] ?? "");
  return found;
}

describe("README examples run as written", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let origin: string;
  let scratch: string;

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, "client/dist/index.js"))) {
      throw new Error("client/dist is missing: run `npm run build` (npm test does) before this test");
    }
    // The LoRA examples name the fixture's adapters.
    server = await startHttpServer({ AUTOPIPE_LORAS_DIR: `${LORA_FIXTURES}adapters` });
    server.services.lifecycle.markReady(); // as main.ts does once warm-up is done
    origin = new URL(server.url).origin;
    // A scratch ESM project (top-level await needs "type": "module") that sees the repo's packages and examples.
    scratch = await mkdtemp(path.join(os.tmpdir(), "autopipe-readme-"));
    await writeFile(path.join(scratch, "package.json"), JSON.stringify({ type: "module", private: true }));
    await symlink(path.join(REPO_ROOT, "node_modules"), path.join(scratch, "node_modules"), "dir");
    await symlink(path.join(REPO_ROOT, "docs"), path.join(scratch, "docs"), "dir");
  });
  afterAll(async () => {
    await server?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const here = (code: string) => code.replaceAll(/(?:http:\/\/)?localhost:4000/g, origin);

  /** Removes every named pipeline, so each example starts as a reader's first try would. */
  async function freshServer(): Promise<void> {
    const post = async (query: string) =>
      (await (
        await fetch(server.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query }),
        })
      ).json()) as { data: { pipelineVariants: { name: string }[] } };
    const { data } = await post("{ pipelineVariants { name } }");
    for (const { name } of data.pipelineVariants) {
      await post(`mutation { removePipelineVariant(name: ${JSON.stringify(name)}) { __typename } }`);
    }
  }

  it("finds the examples, and every one left out says why", () => {
    expect(runnable.filter((b) => b.lang === "sh").length).toBeGreaterThanOrEqual(5);
    expect(runnable.filter((b) => b.lang === "ts").length).toBeGreaterThanOrEqual(4);
    expect(runnable.filter((b) => b.lang === "graphql").length).toBeGreaterThanOrEqual(5);
    for (const b of blocks.filter((b) => b.notRun !== null)) expect(b.notRun, label(b)).toMatch(/\w{3,}/);
  });

  it.each(runnable.map((b) => [label(b), b] as const))("%s", { timeout: 120_000 }, async (_, block) => {
    await freshServer();
    if (block.lang === "graphql") {
      const response = await fetch(server.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: block.code }),
      });
      const text = await response.text();
      expect(response.status, text.slice(0, 500)).toBe(200);
      expect(failures(text), text.slice(0, 500)).toEqual([]);
      return;
    }
    if (block.lang === "sh") {
      const { stdout, stderr } = await run("bash", ["-euo", "pipefail", "-c", here(block.code)], {
        cwd: REPO_ROOT,
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(stdout.trim(), stderr).not.toBe("");
      expect(failures(stdout), stdout.slice(0, 500)).toEqual([]);
      return;
    }
    const file = path.join(scratch, `example-${block.line}.ts`);
    await writeFile(file, here(block.code));
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", file], {
      cwd: scratch,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stderr).toBe("");
    expect(failures(stdout), stdout.slice(0, 500)).toEqual([]);
  });

  it("the ts examples type-check under --strict, as a new project's tsc would check them", async () => {
    const typed = runnable.filter((b) => b.lang === "ts");
    const files = typed.map((b) => `typed-${b.line}.ts`);
    await Promise.all(typed.map((b, i) => writeFile(path.join(scratch, files[i]!), b.code)));
    const tsc = path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
    const flags = [
      "--noEmit",
      "--strict",
      "--module",
      "nodenext",
      "--target",
      "es2022",
      "--lib",
      "es2023,dom",
    ];
    const result = await run(process.execPath, [tsc, ...flags, "--types", "node", ...files], {
      cwd: scratch,
    }).then(
      () => "",
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe("");
  });
});
