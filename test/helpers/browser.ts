/**
 * Headless Chromium for browser tests, from the project's own files: `@sparticuz/chromium` carries a Chromium build
 * inside the npm package (unpacked on first use), driven by `playwright-core`. Nothing is downloaded. When Chromium
 * cannot start, `launchBrowser()` throws with the reason, so a browser test fails loudly instead of skipping.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import chromium from "@sparticuz/chromium";
import { type Browser, type BrowserContext, chromium as playwright } from "playwright-core";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export interface LaunchedBrowser {
  /** A persistent context on a fresh user-data-dir: open pages with `context.newPage()`. */
  context: BrowserContext;
  browser: Browser | null;
  close(): Promise<void>;
}

/** Launches the bundled headless Chromium on a fresh, temporary user-data-dir. */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  let executablePath: string;
  try {
    executablePath = await chromium.executablePath();
  } catch (error) {
    throw new Error(`Cannot unpack the Chromium bundled in @sparticuz/chromium: ${(error as Error).message}`);
  }
  const userDataDir = await mkdtemp(join(tmpdir(), "autopipe-chromium-"));
  let context: BrowserContext;
  try {
    context = await playwright.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: ARGS,
      viewport: { width: 1200, height: 900 },
      timeout: 30_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw new Error(`Chromium (${executablePath}) did not launch: ${(error as Error).message}`);
  }
  return {
    context,
    browser: context.browser(),
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Launches the bundled headless Chromium as a plain browser (a new context per test); close it with `close()`. */
export async function launchHeadless(): Promise<Browser> {
  const executablePath = await chromium.executablePath();
  return playwright.launch({ executablePath, args: ARGS, headless: true });
}
