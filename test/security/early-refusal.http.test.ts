/**
 * Oversized documents refused while their body streams in (server/http-server.ts, security/query-scan.ts): the
 * scanner's verdicts across chunk boundaries and escapes, and over a real port: a 10 MB query-first document is a
 * 413 with a GraphQL error and the connection keeps serving; large bodies whose documents fit (big variables,
 * many escapes) and bodies that are not query-first reach Yoga unchanged; an unterminated string is a 400. And
 * the refusal of a body still arriving reaches Node's own fetch every time, from a server in a process of its own
 * (in one process, client and server share an event loop and the race that lost it does not happen).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRAPHQL_LIMITS } from "../../server/security/graphql-limits.ts";
import { QueryScan } from "../../server/security/query-scan.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";
import { startHttpServer } from "../helpers/services.ts";

const LIMIT = GRAPHQL_LIMITS.maxDocumentBytes;
const bytes = (text: string) => Buffer.from(text, "utf8");

/** Feeds `text` in chunks of `size` bytes; the first verdict that is not "undecided", else "undecided". */
function verdict(text: string, size: number, limit = 100): string {
  const scan = new QueryScan(limit);
  const all = bytes(text);
  for (let i = 0; i < all.length; i += size) {
    const v = scan.feed(all.subarray(i, i + size));
    if (v !== "undecided") return v;
  }
  return "undecided";
}

describe("QueryScan", () => {
  it("decides the same whatever the chunking", () => {
    const cases: [string, string][] = [
      [`{"query":"${"a".repeat(100)}"}`, "within"],
      [`{"query":"${"a".repeat(101)}"}`, "too-large"],
      [` {\n "query" : "${"a".repeat(50)}", "variables": {"x": "${"b".repeat(500)}"}}`, "within"],
      // Escapes count as at least one decoded byte each: 150 raw bytes of \n are 75 bytes.
      [`{"query":"${"\\n".repeat(75)}"}`, "within"],
      [`{"query":"${"\\n".repeat(101)}"}`, "too-large"],
      // An escaped quote does not end the string; \u00e9 counts once.
      [`{"query":"${'\\"'.repeat(60)}${"\\u00e9".repeat(41)}"}`, "too-large"],
      [`{"query":"${'\\"'.repeat(50)}${"\\u0022".repeat(50)}"}`, "within"],
      [`{"variables":{},"query":"${"a".repeat(500)}"}`, "not-query-first"],
      [`${" ".repeat(70)}{"query":"a"}`, "not-query-first"],
    ];
    for (const [text, expected] of cases) {
      for (const size of [1, 2, 3, 7, 64, 4096])
        expect([text.slice(0, 40), size, verdict(text, size)]).toEqual([text.slice(0, 40), size, expected]);
    }
  });
});

describe("over HTTP", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  beforeAll(async () => {
    server = await startHttpServer();
  });
  afterAll(() => server.close());
  const post = (body: string) =>
    fetch(server.url, { method: "POST", headers: { "content-type": "application/json" }, body });

  it("a 10 MB query-first document is a 413 GraphQL error; the server goes on serving", async () => {
    const body = JSON.stringify({ query: `{ schedulers { name } } # ${"x".repeat(10 * 1024 * 1024)}` });
    const refused = await post(body);
    expect(refused.status).toBe(413);
    // Too much left to read for nothing: the connection ends after the answer.
    expect(refused.headers.get("connection")).toBe("close");
    expect(await refused.json()).toEqual({
      errors: [
        { message: `The document is larger than ${LIMIT} bytes`, extensions: { code: "DOCUMENT_TOO_LARGE" } },
      ],
    });
    const ok = await post(JSON.stringify({ query: "{ schedulers { name } }" }));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { data: { schedulers: unknown[] } }).data.schedulers.length).toBeGreaterThan(
      0,
    );
  });

  it("a 10,000-alias document (300 KB) is a 413 too; what is left of its body is read, and the server serves", async () => {
    const query = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: schedulers { name }`).join(" ")} }`;
    const refused = await post(JSON.stringify({ query }));
    expect(refused.status).toBe(413);
    expect(refused.headers.get("connection")).not.toBe("close");
    expect(await refused.json()).toMatchObject({ errors: [{ extensions: { code: "DOCUMENT_TOO_LARGE" } }] });
    expect((await post(JSON.stringify({ query: "{ schedulers { name } }" }))).status).toBe(200);
  });

  it("a large body whose document fits reaches Yoga whole (a 200 KB variable before a small one)", async () => {
    const pad = Array.from({ length: 200 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    const query = `query ($pad: String!, $m: String!) {
      a: resolvePipeline(model: $pad, task: TEXT_TO_IMAGE) { __typename }
      b: resolvePipeline(model: $m, task: TEXT_TO_IMAGE) { ... on PipelineResolution { pipelineClass } }
    }`;
    const r = await post(JSON.stringify({ query, variables: { pad, m: "tiny-sd" } }));
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      data: { a: { __typename: "InvalidInputError" }, b: { pipelineClass: "OnnxStableDiffusionPipeline" } },
    });
  });

  it("a document of escapes that decodes within the limit is served", async () => {
    const query = `${"\n".repeat(40 * 1024)}{ schedulers { name } }`;
    const body = JSON.stringify({ query });
    expect(body.length).toBeGreaterThan(LIMIT);
    const r = await post(body);
    expect(r.status).toBe(200);
  });

  it("a document after its variables is parsed first, then refused by the same limit", async () => {
    const r = await post(
      `{"variables":{},"query":${JSON.stringify(`{ schedulers { name } } # ${"x".repeat(LIMIT)}`)}}`,
    );
    expect(r.status).toBe(413);
    const body = (await r.json()) as { errors: { message: string }[] };
    expect(body.errors[0]?.message).toBe(`The document is larger than ${LIMIT} bytes`);
  });

  it("an unterminated query string is a 400 that does not echo the body", async () => {
    const r = await post(`{"query":"${"\\\\".repeat(LIMIT / 2 + 10)}`);
    expect(r.status).toBe(400);
    const text = await r.text();
    expect(text).not.toContain("\\\\\\\\");
    expect(JSON.parse(text)).toMatchObject({ errors: [{ message: expect.stringMatching(/invalid JSON/) }] });
  });
});

describe("over HTTP, from a server process", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
  }, 180_000);
  afterAll(async () => {
    server.child.kill("SIGKILL");
    await server.exited;
  });

  it("Node's default fetch reads the 413 of a 10 MB document 50 times in a row", async () => {
    const body = JSON.stringify({ query: `{ schedulers { name } } # ${"x".repeat(10 * 1024 * 1024)}` });
    const outcomes: string[] = [];
    for (let i = 0; i < 50; i++) {
      try {
        const r = await fetch(`${server.base}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const json = (await r.json()) as { errors?: { extensions?: { code?: string } }[] };
        outcomes.push(`${r.status} ${json.errors?.[0]?.extensions?.code}`);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause;
        outcomes.push(cause?.code ?? (error as Error).message);
      }
    }
    expect(outcomes).toEqual(Array(50).fill("413 DOCUMENT_TOO_LARGE"));
  }, 120_000);
});
