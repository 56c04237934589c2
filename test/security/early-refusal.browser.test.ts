/**
 * The early 413 (server/http-server.ts) as a browser sees it: a page served by the server (same origin, headless
 * Chromium) posts a 10 MB query-first document 10 times with `fetch`, against a server in a process of its own;
 * every time it reads the 413 and its GraphQL error, none is a network error. Chromium read it before the staged
 * close too (it keeps an early answer through a reset, where Node's fetch lost it): this guards that it still does.
 * It hands the answer over once the upload ends, so with the staged close each one takes about LINGER_MS (2 s).
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHeadless } from "../helpers/browser.ts";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";

describe("a browser posting an oversized document", () => {
  let browser: Browser;
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess();
    browser = await launchHeadless();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    server?.child.kill("SIGKILL");
    await server?.exited;
  });

  it("reads the 413 10 times in a row", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.base}/healthz`);
    const outcomes = await page.evaluate(async () => {
      const body = JSON.stringify({ query: `{ schedulers { name } } # ${"x".repeat(10 * 1024 * 1024)}` });
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        try {
          const r = await fetch("/graphql", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
          });
          const json = (await r.json()) as { errors?: { extensions?: { code?: string } }[] };
          seen.push(`${r.status} ${json.errors?.[0]?.extensions?.code}`);
        } catch (error) {
          seen.push(String(error));
        }
      }
      return seen;
    });
    expect(outcomes).toEqual(Array(10).fill("413 DOCUMENT_TOO_LARGE"));
  }, 120_000);
});
