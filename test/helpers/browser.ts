/**
 * A headless Chromium for browser tests: the build shipped inside the `@sparticuz/chromium` package, driven by
 * `playwright-core`. Launching fails loudly (never a silent skip) when the browser cannot start.
 */
import chromium from "@sparticuz/chromium";
import { type Browser, chromium as playwright } from "playwright-core";

export const BROWSER_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches headless Chromium; close it with `browser.close()`. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = await chromium.executablePath();
  return playwright.launch({ executablePath, args: BROWSER_FLAGS, headless: true });
}
