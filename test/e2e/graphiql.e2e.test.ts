/**
 * GraphiQL in a real browser, offline: the page the server returns to a browser loads its scripts, styles and
 * workers from the server itself (inline, from an npm package), renders the editor and introspects the schema,
 * and not one request leaves the machine. Requests elsewhere are recorded and refused, so a CDN reference fails
 * the test instead of hanging it.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHeadless } from "../helpers/browser.ts";
import { startHttpServer } from "../helpers/services.ts";

describe("GraphiQL offline", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let browser: Browser;

  beforeAll(async () => {
    server = await startHttpServer();
    browser = await launchHeadless();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("loads, renders the editor and fetches the schema with no request leaving the machine", async () => {
    const page = await browser.newPage();
    const origin = new URL(server.url).origin;
    const requests: string[] = [];
    const elsewhere: string[] = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      requests.push(`${route.request().method()} ${url}`);
      if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:"))
        return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    const introspected = page.waitForResponse(
      (response) => response.url() === server.url && response.request().method() === "POST",
    );
    const response = await page.goto(server.url, { waitUntil: "load" });
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-type"]).toContain("text/html");
    await page.locator(".graphiql-container").first().waitFor({ state: "visible", timeout: 60_000 });
    const schema = await introspected;
    expect(schema.status()).toBe(200);
    expect(JSON.stringify(await schema.json())).toContain("resolvePipeline");
    expect(await page.content()).not.toContain("Loading…");
    expect(elsewhere).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    await page.close();
  }, 120_000);
});
