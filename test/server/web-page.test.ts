/**
 * The page plugin over `yoga.fetch`: `/` and `/assets/<file>` from web/dist with their content types and cache
 * headers, GraphQL untouched at `/graphql`, nothing outside web/dist/assets reachable, and a clear 503 when the
 * page was not built.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSchema, createYoga } from "graphql-yoga";
import { afterAll, describe, expect, it } from "vitest";
import { useWebPage } from "../../server/web-page.ts";
import { createTestApp } from "../helpers/services.ts";

describe("the web page plugin", () => {
  const app = createTestApp();
  afterAll(() => app.close());
  const get = (path: string, init: RequestInit = {}) => app.yoga.fetch(`http://yoga${path}`, init);

  it("serves index.html at / and its hashed assets with long-lived caching", async () => {
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    const script = html.match(/src="\/assets\/(app-[A-Z0-9]+\.js)"/)?.[1];
    const style = html.match(/href="\/assets\/(styles-[A-Z0-9]+\.css)"/)?.[1];
    expect(script && style).toBeTruthy();
    const js = await get(`/assets/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await js.text()).length).toBeGreaterThan(1000);
    const css = await get(`/assets/${style}`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const head = await get("/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("answers 404 for unknown assets and for any path that would leave web/dist/assets", async () => {
    for (const path of [
      "/assets/nope.js",
      "/assets/../index.html",
      "/assets/%2e%2e/%2e%2e/package.json",
      "/assets/..%2f..%2fpackage.json",
      "/assets/.hidden.js",
      "/assets/sub/app.js",
      "/assets/index.html",
      "/assets/",
    ]) {
      const response = await get(path);
      expect([path, response.status]).toEqual([path, 404]);
    }
  });

  it("leaves GraphQL and every other path to Yoga", async () => {
    const r = await app.gql<{ schedulers: unknown[] }>("{ schedulers { name } }");
    expect(r.data?.schedulers.length).toBeGreaterThan(0);
    expect((await get("/index.html")).status).toBe(404);
    expect((await get("/", { method: "POST" })).status).toBe(404);
  });

  it("answers 503 with how to build it when web/dist is missing", async () => {
    const empty = await mkdtemp(join(tmpdir(), "autopipe-no-page-"));
    try {
      const yoga = createYoga({
        schema: createSchema({ typeDefs: "type Query { ok: Boolean }" }),
        plugins: [useWebPage(join(empty, "dist"))],
      });
      const response = await yoga.fetch("http://yoga/");
      expect(response.status).toBe(503);
      expect(await response.text()).toContain("npm run build");
      expect((await yoga.fetch("http://yoga/assets/app.js")).status).toBe(404);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
