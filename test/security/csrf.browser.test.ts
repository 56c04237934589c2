/**
 * A foreign web page in a real browser (headless Chromium) against a real server on a real port: an HTML form
 * cannot run a mutation, a script cannot run one through a simple request, and cannot read a result; a page on an
 * origin listed in AUTOPIPE_CORS_ORIGINS can (the control that shows the test can fail).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPipeline } from "../../server/service/warm-up.ts";
import { launchHeadless } from "../helpers/browser.ts";
import { startHttpServer } from "../helpers/services.ts";

/** A tiny site on its own port (its own origin) serving one empty page. */
async function site(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>foreign</title><iframe name='sink'></iframe>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("a foreign page in a browser", () => {
  let browser: Browser;
  let api: Awaited<ReturnType<typeof startHttpServer>>;
  let evil: Awaited<ReturnType<typeof site>>;
  let friend: Awaited<ReturnType<typeof site>>;
  const loaded = () => api.services.pipelines.info().some((p) => p.model === "tiny-sd");

  beforeAll(async () => {
    evil = await site();
    friend = await site();
    api = await startHttpServer({ AUTOPIPE_CORS_ORIGINS: friend.origin });
    await loadPipeline(api.services, "tiny-sd");
    browser = await launchHeadless();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    evil?.server.close();
    friend?.server.close();
  });

  async function open(origin: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    return page;
  }

  it("an HTML form post cannot unload a pipeline", async () => {
    expect(loaded()).toBe(true);
    const page = await open(evil.origin);
    const sink = page.waitForEvent("framenavigated", { predicate: (f) => f.name() === "sink" });
    await page.evaluate((url) => {
      const form = document.createElement("form");
      form.method = "POST";
      form.action = url;
      form.target = "sink";
      const field = document.createElement("input");
      field.name = "query";
      field.value = 'mutation { unloadPipeline(model: "tiny-sd") { __typename } }';
      form.append(field);
      document.body.append(form);
      form.submit();
    }, api.url);
    await sink;
    await page.close();
    expect(loaded()).toBe(true);
  });

  it("a script can neither run a mutation nor read a result", async () => {
    const page = await open(evil.origin);
    const outcome = await page.evaluate(async (url) => {
      const tryFetch = async (init: RequestInit) => {
        try {
          const r = await fetch(url, init);
          return `read ${r.status}: ${await r.text()}`;
        } catch (error) {
          return `blocked: ${(error as Error).name}`;
        }
      };
      const mutation = JSON.stringify({
        query: 'mutation { unloadPipeline(model: "tiny-sd") { __typename } }',
      });
      return {
        json: await tryFetch({
          method: "POST",
          headers: { "content-type": "application/json" },
          body: mutation,
        }),
        simple: await tryFetch({ method: "POST", headers: { "content-type": "text/plain" }, body: mutation }),
        opaque: (await fetch(url, { method: "POST", mode: "no-cors", body: mutation })).type,
        read: await tryFetch({
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: "{ models { id } }" }),
        }),
      };
    }, api.url);
    await page.close();
    expect(outcome.json).toMatch(/^blocked/);
    expect(outcome.simple).toMatch(/^blocked/);
    expect(outcome.opaque).toBe("opaque");
    expect(outcome.read).toMatch(/^blocked/);
    expect(loaded()).toBe(true);
  });

  it("a page on a listed origin reads results (control)", async () => {
    const page = await open(friend.origin);
    const text = await page.evaluate(async (url) => {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ models { id } }" }),
      });
      return r.text();
    }, api.url);
    await page.close();
    expect(JSON.parse(text).data.models).toContainEqual({ id: "tiny-sd" });
  });
});
