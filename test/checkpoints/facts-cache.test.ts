/**
 * The control plane's facts cache over a real copy of the bundled tiny checkpoint: facts are read once and served
 * from memory while their files keep their identity; a file rewritten, replaced by rename, created or deleted is
 * noticed at the next revalidation; a failed read is not remembered. Resolution through the services sees the
 * checkpoint change without a restart.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CheckpointFactsCache } from "../../server/checkpoints/facts-cache.ts";
import type { LocatedCheckpoint } from "../../server/checkpoints/locate.ts";
import { createServices, type Services } from "../../server/context.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";

let base: string;
let checkpoint: LocatedCheckpoint;

beforeEach(async () => {
  base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), "autopipe-facts-")));
  await fs.cp(path.join(REPO_MODELS, "tiny-sd"), path.join(base, "tiny-sd"), { recursive: true });
  checkpoint = {
    id: "tiny-sd",
    dir: path.join(base, "tiny-sd"),
    source: "MODELS_DIR",
    revision: null,
    root: base,
  };
});
afterEach(() => fs.rm(base, { recursive: true, force: true }));

describe("CheckpointFactsCache", () => {
  function counting() {
    let reads = 0;
    const file = path.join(checkpoint.dir, "model_index.json");
    const read = async () => {
      reads += 1;
      return JSON.parse(await fs.readFile(file, "utf8"))._class_name as string;
    };
    return { read, reads: () => reads, file };
  }

  it("reads once while the file keeps its identity, again after a rewrite, a rename over it, or a delete", async () => {
    const cache = new CheckpointFactsCache(0);
    const c = counting();
    const get = () => cache.get(checkpoint, "index", ["model_index.json"], c.read);
    expect(await Promise.all([get(), get()])).toEqual([
      "OnnxStableDiffusionPipeline",
      "OnnxStableDiffusionPipeline",
    ]);
    expect(await get()).toBe("OnnxStableDiffusionPipeline");
    expect(c.reads()).toBe(1);

    const text = await fs.readFile(c.file, "utf8");
    await fs.writeFile(
      c.file,
      text.replace("OnnxStableDiffusionPipeline", "OnnxStableDiffusionImg2ImgPipeline"),
    );
    expect(await get()).toBe("OnnxStableDiffusionImg2ImgPipeline");
    expect(c.reads()).toBe(2);

    // The operator's way: write beside, then rename over (a new inode, maybe the same size and mtime second).
    await fs.writeFile(`${c.file}.new`, text);
    await fs.rename(`${c.file}.new`, c.file);
    expect(await get()).toBe("OnnxStableDiffusionPipeline");
    expect(c.reads()).toBe(3);

    await fs.rm(c.file);
    await expect(get()).rejects.toThrow(/ENOENT/);
    // Not remembered: once the file is back, it is read again.
    await fs.writeFile(c.file, text);
    expect(await get()).toBe("OnnxStableDiffusionPipeline");
    expect(c.reads()).toBe(5);
  });

  it("within revalidateMs serves from memory without looking at the files", async () => {
    const cache = new CheckpointFactsCache(60_000);
    const c = counting();
    const get = () => cache.get(checkpoint, "index", ["model_index.json"], c.read);
    await get();
    await fs.rm(c.file);
    expect(await get()).toBe("OnnxStableDiffusionPipeline");
    expect(c.reads()).toBe(1);
    cache.forget(checkpoint);
    await expect(get()).rejects.toThrow(/ENOENT/);
  });
});

describe("resolution through the facts cache", () => {
  let services: Services;
  beforeEach(() => {
    services = createServices(
      testConfig({ AUTOPIPE_MODELS_DIR: base, AUTOPIPE_CHECKPOINT_REVALIDATE_MS: "0" }),
    );
  });
  afterEach(() => services.dispose());

  it("notices a graph deleted and restored, and a UNet config replaced, without a restart", async () => {
    const first = await resolveCheckpoint(services, "tiny-sd", "TEXT_TO_IMAGE");
    expect([first.runnable, first.reason]).toEqual([true, null]);

    const unet = path.join(checkpoint.dir, "unet", "model.onnx");
    await fs.rename(unet, `${unet}.moved`);
    const missing = await resolveCheckpoint(services, "tiny-sd", "TEXT_TO_IMAGE");
    expect(missing.runnable).toBe(false);
    expect(missing.reason).toContain("unet/model.onnx");
    await fs.rename(`${unet}.moved`, unet);
    expect((await resolveCheckpoint(services, "tiny-sd", "TEXT_TO_IMAGE")).runnable).toBe(true);

    const config = path.join(checkpoint.dir, "unet", "config.json");
    const parsed = JSON.parse(await fs.readFile(config, "utf8"));
    await fs.writeFile(`${config}.new`, JSON.stringify({ ...parsed, in_channels: 9 }));
    await fs.rename(`${config}.new`, config);
    const nine = await resolveCheckpoint(services, "tiny-sd", "TEXT_TO_IMAGE");
    expect(nine.runnable).toBe(false);
    expect(nine.reason).toContain("9 input channels");
  });
});
