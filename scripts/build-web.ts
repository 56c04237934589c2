/**
 * Builds the web page: bundles web/app.ts (with the `@autopipe/client` package) and web/styles.css with esbuild
 * into web/dist/assets/ under content-hashed names, and writes web/dist/index.html pointing at them. Run by
 * `npm run build` after the client package's own build; server/web-page.ts serves the result.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const WEB = fileURLToPath(new URL("../web/", import.meta.url));
const DIST = `${WEB}dist/`;

await rm(DIST, { recursive: true, force: true });
const result = await build({
  entryPoints: { app: `${WEB}app.ts`, styles: `${WEB}styles.css` },
  outdir: `${DIST}assets`,
  entryNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  minify: true,
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});

// The hashed output of each entry point, by its source name.
const outputs = new Map<string, string>();
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint) outputs.set(basename(meta.entryPoint).replace(/\.ts$/, ".js"), basename(file));
}
let html = await readFile(`${WEB}index.html`, "utf8");
for (const name of ["app.js", "styles.css"]) {
  const hashed = outputs.get(name);
  if (!hashed) throw new Error(`esbuild produced no ${name}`);
  if (!html.includes(`/assets/${name}"`))
    throw new Error(`web/index.html does not reference /assets/${name}`);
  html = html.replace(`/assets/${name}"`, `/assets/${hashed}"`);
}
await writeFile(`${DIST}index.html`, html);
const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => !file.endsWith(".map"))
  .map(([file, meta]) => `${basename(file)} ${(meta.bytes / 1024).toFixed(1)} KiB`);
console.log(`web/dist: index.html, ${sizes.join(", ")}`);
