/**
 * The web page with API keys on, in headless Chromium against the real server on a real port: without a key the
 * page says the server needs one (by the key field and in the banner, with the server's message), a wrong key is
 * refused as such, and the right one, kept in sessionStorage for the tab only, is sent as `Authorization: Bearer`
 * on every request, the job's SSE stream included (a generation runs to the end). Also the smaller page fixes: a
 * `width×height` error highlights both fields and the status says so, a refused request leaves nothing of the
 * previous run on show, and on a 390 px screen class names wrap between words, not inside them.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LaunchedBrowser, launchBrowser } from "../helpers/browser.ts";
import { startHttpServer } from "../helpers/services.ts";

const KEY = "generate-key-0123456789abcdef0123";

describe("the web page with API keys", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let browser: LaunchedBrowser;
  let page: Page;
  const pageErrors: string[] = [];
  const authorizations: (string | null)[] = [];

  beforeAll(async () => {
    // 64×64 fits AUTOPIPE_MAX_PIXELS, 72×64 does not.
    server = await startHttpServer({ AUTOPIPE_API_KEYS: `${KEY}:generate`, AUTOPIPE_MAX_PIXELS: "4096" });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/graphql")
        authorizations.push(request.headers()["authorization"] ?? null);
    });
    await page.goto(server.url.replace(/graphql$/, ""));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const banner = () => page.locator("#banner").textContent();

  it("without a key: the key field says the server needs one, with the server's message", async () => {
    await page.locator('#key-status[data-state="refused"]').waitFor();
    expect(await page.locator("#key-status").textContent()).toBe(
      "This server needs an API key: enter it above (HTTP 401).",
    );
    expect(await banner()).toContain("Missing API key: send Authorization: Bearer <key>");
    expect(await page.locator("#api-key").getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("api-key");
    expect(await page.locator("#model option").count()).toBe(0);
  });

  it("a wrong key is refused as such", async () => {
    await page.fill("#api-key", `${KEY}-wrong`);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.locator("#key-status", { hasText: "did not accept" }).waitFor();
    expect(await banner()).toContain("Invalid API key");
    expect(await page.locator("#model option").count()).toBe(0);
  });

  it("the right key: models load, it stays in this tab's sessionStorage only, and a reload keeps it", async () => {
    await page.fill("#api-key", KEY);
    await page.getByRole("button", { name: "Use key" }).click();
    await page.locator('#key-status[data-state="accepted"]').waitFor();
    await page.locator("#pipeline-body dl").waitFor();
    expect(await page.locator("#model option").count()).toBe(5);
    await page.selectOption("#model", "tiny-sd");
    expect(await page.locator("#model").inputValue()).toBe("tiny-sd");
    expect(await page.locator("#banner").isHidden()).toBe(true);
    expect(await page.locator("#api-key").inputValue()).toBe("");
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem("autopipe.apiKey"),
      local: Object.keys(localStorage).length,
      cookie: document.cookie,
    }));
    expect(stored).toEqual({ session: KEY, local: 0, cookie: "" });

    await page.reload();
    await page.locator('#key-status[data-state="accepted"]').waitFor();
    await page.locator("#pipeline-body dl").waitFor();
    await page.selectOption("#model", "tiny-sd");
  });

  it("a generation runs to the end: the submit and the SSE stream both carry the key", async () => {
    authorizations.length = 0;
    await page.fill("#prompt", "a red cube");
    await page.fill("#numInferenceSteps", "2");
    await page.fill("#width", "32");
    await page.fill("#height", "32");
    await page.fill("#seed", "3");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByTestId("result-image").waitFor();
    expect(await page.locator("#status").getAttribute("data-status")).toBe("SUCCEEDED");
    expect(authorizations.length).toBeGreaterThanOrEqual(2);
    expect(new Set(authorizations)).toEqual(new Set([`Bearer ${KEY}`]));
  });

  it("a width×height refusal highlights both fields, and nothing of the previous run stays", async () => {
    await page.fill("#width", "72");
    await page.fill("#height", "64");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator("#width-error").waitFor({ state: "visible" });
    expect(await page.locator("#width-error").textContent()).toContain("AUTOPIPE_MAX_PIXELS");
    expect(await page.locator("#width").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#height").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#status").textContent()).toBe("Not started: fix the highlighted field.");
    expect(await page.locator("#banner").isHidden()).toBe(true);
    expect(await page.getByTestId("result-image").count()).toBe(0);
  });

  it("on a 390 px screen, class names wrap between their words, never inside one", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.selectOption("#model", "tiny-sdxl");
    await page.getByText("Image to image", { exact: true }).click();
    await page.locator("#pipeline-body", { hasText: "StableDiffusionXLImg2ImgPipeline" }).waitFor();
    const layout = await page.evaluate(() => {
      const codes = [...document.querySelectorAll<HTMLElement>("#pipeline-body code")];
      // Every word (a text node between <wbr>s) sits on one line, and no name pokes out of its cell.
      const splitWords: string[] = [];
      for (const code of codes) {
        for (const node of code.childNodes) {
          if (node.nodeType !== Node.TEXT_NODE) continue;
          const range = document.createRange();
          range.selectNodeContents(node);
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          if (lines.size > 1) splitWords.push(node.textContent ?? "");
        }
      }
      const overflowing = codes
        .filter(
          (c) => (c.parentElement?.getBoundingClientRect().right ?? 0) + 1 < c.getBoundingClientRect().right,
        )
        .map((c) => c.textContent);
      const wrapped = codes.filter(
        (c) => new Set([...c.getClientRects()].map((r) => Math.round(r.top))).size > 1,
      );
      return {
        splitWords,
        overflowing,
        wrapped: wrapped.length,
        width: document.documentElement.scrollWidth,
      };
    });
    // The screen is narrow enough that some name must wrap, or this would prove nothing.
    expect(layout.wrapped).toBeGreaterThan(0);
    expect(layout.splitWords).toEqual([]);
    expect(layout.overflowing).toEqual([]);
    expect(layout.width).toBeLessThanOrEqual(390);
    expect(pageErrors).toEqual([]);
  });
});
