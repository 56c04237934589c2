/**
 * Headless Chromium for browser tests, from @sparticuz/chromium (a self-contained build shipped in the npm package,
 * so nothing is downloaded) driven by playwright-core. Background networking, component updates and sync are off
 * so that the browser itself makes no request the test did not cause.
 */
import sparticuz from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches headless Chromium; close it with `browser.close()`. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    args: CHROMIUM_FLAGS,
    headless: true,
  });
}
