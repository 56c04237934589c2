/**
 * The nesting limit checked before parsing (security/document-nesting.ts, graphql-limits.ts): the scanner's count
 * outside strings, block strings and comments, and a freshly started server process (whose parser, unoptimised,
 * overflowed its stack on a list literal 2,000 deep) answering such a document as its very first request with a
 * 400 that names the limit, then serving normally.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nestingDepth } from "../../server/security/document-nesting.ts";
import { GRAPHQL_LIMITS } from "../../server/security/graphql-limits.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";

describe("nestingDepth", () => {
  it("counts {, [ and ( outside strings, block strings and comments", () => {
    const cases: [string, number][] = [
      ["{ a }", 1],
      ["{ a(x: [[1]]) { b } }", 4],
      ['{ a(x: "[[[[[[") }', 2],
      ['{ a(x: "\\"[[[[") }', 2],
      ['{ a(x: """ [[[[ \\""" [[[ """) }', 2],
      ["{ a # [[[[[[\n b }", 1],
      ["{ a(x: { y: [{ z: 1 }] }) }", 5],
      ["]]]]{ a }", 1],
      ["", 0],
    ];
    for (const [text, depth] of cases) expect([text, nestingDepth(text)]).toEqual([text, depth]);
  });

  it("stops past the limit it is given", () => {
    expect(nestingDepth("[".repeat(100_000), 32)).toBe(33);
  });
});

describe("on a freshly started server", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  }, 180_000);
  afterAll(async () => {
    server.child.kill("SIGKILL");
    await server.exited;
  });

  it("the first request, a list literal 5,000 deep (10 KB), is a 400 naming the nesting limit", async () => {
    const deep = `${"[".repeat(5000)}"x"${"]".repeat(5000)}`;
    const query = `{ resolvePipeline(model: ${deep}, task: TEXT_TO_IMAGE) { __typename } }`;
    const r = await fetch(`${server.base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
    expect(r.status).toBe(400);
    const limit = GRAPHQL_LIMITS.maxNesting;
    expect(await r.json()).toEqual({
      errors: [
        {
          message: `The document nests brackets, braces or parentheses more than ${limit} deep (allowed: at most ${limit})`,
          extensions: { code: "DOCUMENT_TOO_DEEP" },
        },
      ],
    });
    // Nothing went wrong inside: no error was logged, and the server serves.
    expect(server.lines.filter((line) => line.level === "error" || line.level === "fatal")).toEqual([]);
    const ok = await server.gql<{ schedulers: unknown[] }>("{ schedulers { name } }");
    expect(ok.schedulers.length).toBeGreaterThan(0);
  }, 60_000);

  it("a document nested to the limit is parsed (and checked by the other limits)", async () => {
    const query = `{ resolvePipeline(model: ${"[".repeat(30)}"x"${"]".repeat(30)}, task: TEXT_TO_IMAGE) { __typename } }`;
    expect(nestingDepth(query)).toBe(GRAPHQL_LIMITS.maxNesting);
    const r = await fetch(`${server.base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
    // Parsed and validated: a list is no String, a validation error (not the nesting refusal).
    const body = (await r.json()) as { errors: { message: string }[] };
    expect(body.errors[0]?.message).toMatch(/String/);
  }, 60_000);
});
