/**
 * `npm run test:unit` leaves out what it says it leaves out, and nothing silently: every file the unit config
 * names exists (a renamed test would otherwise drop out of the fast loop's exclusions, or a stale entry linger),
 * and no browser, Redis or end-to-end test is in the fast set.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { UNIT_EXCLUDE } from "../../vitest.unit.config.ts";
import { REPO_ROOT } from "../helpers/server-process.ts";

function testFiles(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return testFiles(rel);
    return entry.name.endsWith(".test.ts") ? [rel] : [];
  });
}

/** A glob of the unit config (a folder and all below it, any file with a suffix, or a plain path) as a RegExp. */
function globToRegExp(glob: string): RegExp {
  const source = glob
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) =>
      part === "**/"
        ? "(?:.*/)?"
        : part === "**"
          ? ".*"
          : part === "*"
            ? "[^/]*"
            : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${source}$`);
}

describe("the unit test set", () => {
  it("names only files that exist", () => {
    for (const entry of UNIT_EXCLUDE.filter((e) => !e.includes("*"))) {
      expect(existsSync(path.join(REPO_ROOT, entry)), entry).toBe(true);
    }
  });

  it("holds no browser, Redis or end-to-end test", () => {
    const excluded = (file: string) => UNIT_EXCLUDE.some((pattern) => globToRegExp(pattern).test(file));
    const unit = testFiles("test").filter((file) => !excluded(file));
    expect(unit.length).toBeGreaterThan(20);
    for (const file of unit) {
      expect(file).not.toMatch(/\.browser\.test\.ts$|^test\/redis\/|^test\/e2e\//);
    }
  });
});
