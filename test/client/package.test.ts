/**
 * `@autopipe/client` as another project gets it: `npm pack` of a fresh copy of client/ (its tracked files only, no
 * dist/, as on a fresh clone) builds through `prepack` and packs exactly the ESM and CommonJS builds with their
 * declarations; the tarball, unpacked into the node_modules of a scratch `npm init -y` project (CommonJS) with its
 * dependencies beside it, needs no network and works from `require`, from `import`, and type-checks from a `.cts`
 * and an `.mts` file, against the real server on a real port.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/server-process.ts";
import { startHttpServer } from "../helpers/services.ts";

const run = promisify(execFile);
const REPO_MODULES = path.join(REPO_ROOT, "node_modules");

/** What the tarball holds: each module of client/ built twice (ESM, CommonJS), with declarations. */
const MODULES = [
  "errors",
  "index",
  "jobs",
  "multipart",
  "generated/gql",
  "generated/graphql",
  "generated/index",
];
const EXPECTED_FILES = [
  "README.md",
  "package.json",
  "dist/cjs/package.json",
  ...MODULES.flatMap((m) => [`dist/${m}.js`, `dist/${m}.d.ts`, `dist/cjs/${m}.js`, `dist/cjs/${m}.d.ts`]),
].sort();

describe("the client package outside the repository", () => {
  let work: string;
  let tarball: string;
  let packedFiles: string[];
  let app: string;
  let server: Awaited<ReturnType<typeof startHttpServer>>;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "autopipe-client-pack-"));
    // A fresh copy of client/: the files git tracks or would (not dist/, which it ignores), and the repo's node_modules for the build tools.
    const copy = path.join(work, "client");
    const { stdout } = await run(
      "git",
      ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "client"],
      { cwd: REPO_ROOT },
    );
    for (const file of stdout.split("\0").filter(Boolean)) {
      const target = path.join(work, file);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, await readFile(path.join(REPO_ROOT, file)));
    }
    await symlink(REPO_MODULES, path.join(copy, "node_modules"), "dir");
    const packed = await run("npm", ["pack", "--json", "--pack-destination", work], {
      cwd: copy,
      env: { ...process.env, npm_config_offline: "true", npm_config_update_notifier: "false" },
    });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(work, info!.filename);
    packedFiles = info!.files.map((f) => f.path).sort();

    // A scratch project as `npm init -y` makes it (CommonJS), the tarball unpacked as npm would install it.
    app = path.join(work, "app");
    const installed = path.join(app, "node_modules", "@autopipe", "client");
    await mkdir(installed, { recursive: true });
    await writeFile(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0" }));
    await run("tar", ["-xzf", tarball, "-C", installed, "--strip-components=1"]);
    const manifest = JSON.parse(await readFile(path.join(installed, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    for (const dependency of Object.keys(manifest.dependencies)) {
      await mkdir(path.dirname(path.join(app, "node_modules", dependency)), { recursive: true });
      await symlink(path.join(REPO_MODULES, dependency), path.join(app, "node_modules", dependency), "dir");
    }
    server = await startHttpServer();
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("packs the ESM and CommonJS builds with declarations, and nothing else (no sources, no source maps)", () => {
    expect(packedFiles).toEqual(EXPECTED_FILES);
  });

  it("require('@autopipe/client') works from a CommonJS project", async () => {
    const script = `
      const { createClient, ClientError } = require("@autopipe/client");
      createClient({ url: process.argv[1] })
        .resolvePipeline({ model: "tiny-sd", task: "TEXT_TO_IMAGE" })
        .then((r) => console.log(JSON.stringify({ cls: r.pipelineClass, error: typeof ClientError })));
    `;
    const { stdout } = await run(process.execPath, ["-e", script, server.url], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ cls: "OnnxStableDiffusionPipeline", error: "function" });
  });

  it("import from an ES module works, top-level await included", async () => {
    await writeFile(
      path.join(app, "main.mjs"),
      `import { createClient } from "@autopipe/client";
       const r = await createClient({ url: process.argv[2] }).resolvePipeline({ model: "tiny-sd", task: "INPAINTING" });
       console.log(r.pipelineClass);`,
    );
    const { stdout } = await run(process.execPath, ["main.mjs", server.url], { cwd: app });
    expect(stdout.trim()).toBe("OnnxStableDiffusionInpaintPipeline");
  });

  it("type-checks from a .cts and an .mts file (the declarations of each build)", async () => {
    const body = (from: string) => `${from}
      export async function main(url: string): Promise<string> {
        const r = await createClient({ url }).resolvePipeline({ model: "tiny-sd", task: "TEXT_TO_IMAGE" });
        return r.__typename === "PipelineResolution" ? r.pipelineClass : r.message;
      }`;
    await writeFile(path.join(app, "consumer.cts"), body(`import { createClient } from "@autopipe/client";`));
    await writeFile(path.join(app, "consumer.mts"), body(`import { createClient } from "@autopipe/client";`));
    // A wrong call must fail, or the check proves nothing.
    await writeFile(
      path.join(app, "wrong.mts"),
      `import { createClient } from "@autopipe/client";\ncreateClient({ url: 1 });\n`,
    );
    const tsc = path.join(REPO_MODULES, "typescript", "bin", "tsc");
    const flags = ["--noEmit", "--strict", "--module", "nodenext", "--lib", "es2023,dom"];
    await run(process.execPath, [tsc, ...flags, "consumer.cts", "consumer.mts"], { cwd: app });
    const wrong = await run(process.execPath, [tsc, ...flags, "wrong.mts"], { cwd: app }).then(
      () => "",
      (error: { stdout: string }) => error.stdout,
    );
    expect(wrong).toMatch(/wrong\.mts.*TS2322/);
  });
});
