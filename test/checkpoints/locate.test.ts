/**
 * CheckpointLocator against real temp folders: the models directory (and the repo's bundled tiny-sd), the
 * Hugging Face cache layout with refs and several revisions, precedence, not-found messages without server paths,
 * every escape attempt (symlinks out of either root), the cache's own blob symlinks, `checkpointFile` and `list()`.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CheckpointLocator,
  checkpointFile,
  type LocatedCheckpoint,
} from "../../server/checkpoints/locate.ts";
import { readModelIndex } from "../../server/checkpoints/model-index.ts";
import { InvalidInputError, ModelLoadError, ModelNotFoundError } from "../../server/errors.ts";
import {
  addCacheSnapshot,
  addLocalCheckpoint,
  commitOf,
  type Layout,
  makeLayout,
  modelIndexText,
  writeFiles,
} from "./layout.ts";

const bundledModels = fileURLToPath(new URL("../../models/", import.meta.url));

let layout: Layout;
beforeEach(async () => {
  layout = await makeLayout();
});
afterEach(async () => {
  await layout.cleanup();
});

/** The error `promise` rejects with, for inspecting its fields. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** Asserts the error is about `id` and leaks no server path. */
function expectNoPaths(error: Error): void {
  expect(error.message).not.toContain(layout.base);
  expect(error.message).not.toContain(os.tmpdir());
  expect(error.message).not.toContain(bundledModels);
}

describe("models directory", () => {
  it("finds the bundled tiny-sd", async () => {
    const locator = new CheckpointLocator(layout.config({ modelsDir: bundledModels }));
    const checkpoint = await locator.locate("tiny-sd");
    expect(checkpoint).toMatchObject({ id: "tiny-sd", source: "MODELS_DIR", revision: null });
    expect(checkpoint.dir).toBe(await fs.realpath(path.join(bundledModels, "tiny-sd")));
    const index = await readModelIndex(checkpoint);
    expect(index.className).toBe("OnnxStableDiffusionPipeline");
    expect(await checkpointFile(checkpoint, "unet/model.onnx")).toBe(
      path.join(checkpoint.dir, "unet", "model.onnx"),
    );
  });

  it("finds org/name folders and follows a models directory that is itself a symlink", async () => {
    await addLocalCheckpoint(layout, "org/local");
    const linked = path.join(layout.base, "models-link");
    await fs.symlink(layout.modelsDir, linked);
    const checkpoint = await new CheckpointLocator(layout.config({ modelsDir: linked })).locate("org/local");
    expect(checkpoint.dir).toBe(path.join(layout.modelsDir, "org", "local"));
  });

  it("ignores folders without model_index.json, or where it is a folder", async () => {
    await writeFiles(layout.modelsDir, { "empty/unet/model.onnx": "x" });
    await fs.mkdir(path.join(layout.modelsDir, "odd", "model_index.json"), { recursive: true });
    const locator = new CheckpointLocator(layout.config());
    await expect(locator.locate("empty")).rejects.toBeInstanceOf(ModelNotFoundError);
    await expect(locator.locate("odd")).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it("works when neither root exists", async () => {
    const missing = path.join(layout.base, "nope");
    const locator = new CheckpointLocator(layout.config({ modelsDir: missing, hfHubCache: missing }));
    await expect(locator.locate("tiny-sd")).rejects.toBeInstanceOf(ModelNotFoundError);
    expect(await locator.list()).toEqual([]);
  });
});

describe("Hugging Face cache", () => {
  const main = commitOf("main");
  const fp16 = commitOf("fp16");

  beforeEach(async () => {
    const files = (name: string) => ({
      "model_index.json": modelIndexText(name),
      "unet/model.onnx": `onnx ${name}`,
    });
    await addCacheSnapshot(layout.cache, "org/sd", main, files("MainPipeline"), "main");
    await addCacheSnapshot(layout.cache, "org/sd", fp16, files("Fp16Pipeline"), "fp16");
  });

  it("follows refs/main to its snapshot, whose files link to blobs/", async () => {
    const checkpoint = await new CheckpointLocator(layout.config()).locate("org/sd");
    expect(checkpoint).toMatchObject({
      id: "org/sd",
      source: "HF_CACHE",
      revision: main,
      root: layout.cache,
    });
    expect(checkpoint.dir).toBe(path.join(layout.cache, "models--org--sd", "snapshots", main));
    expect((await readModelIndex(checkpoint)).className).toBe("MainPipeline");
    const onnx = await checkpointFile(checkpoint, "unet/model.onnx");
    expect(path.dirname(onnx)).toBe(path.join(layout.cache, "models--org--sd", "blobs"));
    expect(await fs.readFile(onnx, "utf8")).toBe("onnx MainPipeline");
  });

  it("follows refs/<revision> and commit hashes", async () => {
    const locator = new CheckpointLocator(layout.config());
    const byRef = await locator.locate("org/sd@fp16");
    expect(byRef).toMatchObject({ id: "org/sd@fp16", revision: fp16 });
    expect((await readModelIndex(byRef)).className).toBe("Fp16Pipeline");
    const byCommit = await locator.locate(`org/sd@${main}`);
    expect(byCommit.revision).toBe(main);
    expect((await readModelIndex(byCommit)).className).toBe("MainPipeline");
  });

  it("does not find an unknown revision, nor a snapshot without a ref", async () => {
    const locator = new CheckpointLocator(layout.config());
    const error = await rejection(locator.locate("org/sd@nope"));
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as ModelNotFoundError).searched).toEqual([
      "Hugging Face cache",
      "Hugging Face Hub (downloads disabled)",
    ]);
    await addCacheSnapshot(layout.cache, "org/unreferenced", commitOf("x"), {
      "model_index.json": modelIndexText(),
    });
    await expect(locator.locate("org/unreferenced")).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it("works when a snapshot folder is a symlink to another folder inside the cache", async () => {
    const elsewhere = path.join(layout.cache, "elsewhere", "snap");
    await writeFiles(elsewhere, { "model_index.json": modelIndexText("Relocated") });
    const storage = path.join(layout.cache, "models--org--moved");
    await fs.mkdir(path.join(storage, "snapshots"), { recursive: true });
    await fs.symlink(elsewhere, path.join(storage, "snapshots", main));
    await writeFiles(path.join(storage, "refs"), { main });
    const checkpoint = await new CheckpointLocator(layout.config()).locate("org/moved");
    expect(checkpoint.dir).toBe(elsewhere);
    expect((await readModelIndex(checkpoint)).className).toBe("Relocated");
  });

  it("prefers the models directory over the cache", async () => {
    await addLocalCheckpoint(layout, "org/sd", "LocalPipeline");
    const checkpoint = await new CheckpointLocator(layout.config()).locate("org/sd");
    expect(checkpoint.source).toBe("MODELS_DIR");
    expect((await readModelIndex(checkpoint)).className).toBe("LocalPipeline");
    // An explicit revision skips the models directory, which has none.
    expect((await new CheckpointLocator(layout.config()).locate("org/sd@fp16")).source).toBe("HF_CACHE");
  });
});

describe("not found", () => {
  it("names the id and the places searched, never a path", async () => {
    const error = await rejection(new CheckpointLocator(layout.config()).locate("org/missing"));
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as ModelNotFoundError).model).toBe("org/missing");
    expect((error as ModelNotFoundError).searched).toEqual([
      "models directory",
      "Hugging Face cache",
      "Hugging Face Hub (downloads disabled)",
    ]);
    expect(error.message).toContain("'org/missing'");
    expectNoPaths(error);
  });
});

describe("escapes", () => {
  beforeEach(async () => {
    await writeFiles(layout.outside, {
      "model_index.json": modelIndexText("OutsidePipeline"),
      "unet/model.onnx": "secret",
      secret: "secret",
    });
  });

  it.each(["/etc", "/tmp/outside", "../outside", "..", "%2e%2e%2foutside", "..\\outside", "a\0b", ""])(
    "refuses the id %j before touching the filesystem",
    async (id) => {
      const error = await rejection(new CheckpointLocator(layout.config()).locate(id));
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).field).toBe("model");
    },
  );

  async function expectRefused(id: string): Promise<void> {
    const error = await rejection(new CheckpointLocator(layout.config()).locate(id));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).value).toBe(id);
    expect((error as InvalidInputError).allowed).toMatch(
      /inside the models directory or the Hugging Face cache/,
    );
    expectNoPaths(error);
  }

  it("refuses a models-directory folder that is a symlink outside", async () => {
    await fs.symlink(layout.outside, path.join(layout.modelsDir, "evil"));
    await expectRefused("evil");
  });

  it("refuses an org folder that is a symlink outside", async () => {
    await fs.symlink(layout.base, path.join(layout.modelsDir, "org"));
    await expectRefused("org/outside");
  });

  it("refuses a model_index.json that is a symlink outside", async () => {
    await fs.mkdir(path.join(layout.modelsDir, "leaky"));
    await fs.symlink(
      path.join(layout.outside, "model_index.json"),
      path.join(layout.modelsDir, "leaky", "model_index.json"),
    );
    await expectRefused("leaky");
  });

  it("refuses a cache repo folder that is a symlink outside", async () => {
    const storage = path.join(layout.base, "outside-storage");
    await addCacheSnapshot(layout.base, "x", commitOf("x"), { "model_index.json": modelIndexText() }, "main");
    await fs.rename(path.join(layout.base, "models--x"), storage);
    await fs.symlink(storage, path.join(layout.cache, "models--org--linked"));
    await expectRefused("org/linked");
  });

  it("refuses a cache snapshot file that links outside the cache", async () => {
    const snapshot = path.join(layout.cache, "models--org--sneaky", "snapshots", commitOf("s"));
    await fs.mkdir(snapshot, { recursive: true });
    await fs.symlink(path.join(layout.outside, "model_index.json"), path.join(snapshot, "model_index.json"));
    await writeFiles(path.join(layout.cache, "models--org--sneaky", "refs"), { main: commitOf("s") });
    await expectRefused("org/sneaky");
  });

  it("refuses a cache ref that links outside the cache, and ignores a ref naming a path", async () => {
    const refs = path.join(layout.cache, "models--org--reffy", "refs");
    await fs.mkdir(refs, { recursive: true });
    await writeFiles(layout.outside, { ref: commitOf("r") });
    await fs.symlink(path.join(layout.outside, "ref"), path.join(refs, "main"));
    await expectRefused("org/reffy");

    await addCacheSnapshot(layout.cache, "org/pathref", commitOf("p"), {
      "model_index.json": modelIndexText(),
    });
    await writeFiles(path.join(layout.cache, "models--org--pathref", "refs"), { main: "../../../outside" });
    await expect(new CheckpointLocator(layout.config()).locate("org/pathref")).rejects.toBeInstanceOf(
      ModelNotFoundError,
    );
  });

  describe("checkpointFile", () => {
    let checkpoint: LocatedCheckpoint;
    beforeEach(async () => {
      const dir = await addLocalCheckpoint(layout, "victim");
      await fs.symlink(path.join(layout.outside, "secret"), path.join(dir, "unet", "weights.pb"));
      await fs.symlink(layout.outside, path.join(dir, "vae_decoder"));
      checkpoint = await new CheckpointLocator(layout.config()).locate("victim");
    });

    it.each([
      "../outside/secret",
      "unet/../../../outside/secret",
      "/etc/passwd",
      "unet\\..\\..\\secret",
      "unet/model.onnx\0",
      "",
      "unet//model.onnx",
      "./model_index.json",
      "unet/weights.pb",
      "vae_decoder/model_index.json",
    ])("refuses %j", async (relative) => {
      const error = await rejection(checkpointFile(checkpoint, relative));
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as ModelLoadError).model).toBe("victim");
      expectNoPaths(error);
    });

    it("says which file is missing without a path", async () => {
      const error = await rejection(checkpointFile(checkpoint, "text_encoder/model.onnx"));
      expect(error).toBeInstanceOf(ModelLoadError);
      expect((error as ModelLoadError).component).toBe("text_encoder");
      expect(error.message).toMatch(/"text_encoder\/model.onnx" is missing/);
      expectNoPaths(error);
    });

    it("confines a checkpoint without root to its own folder (cache: its repo folder)", async () => {
      const own: LocatedCheckpoint = {
        id: "victim",
        dir: checkpoint.dir,
        source: "MODELS_DIR",
        revision: null,
      };
      expect(await checkpointFile(own, "unet/model.onnx")).toBe(
        path.join(checkpoint.dir, "unet", "model.onnx"),
      );
      await expect(checkpointFile(own, "unet/weights.pb")).rejects.toBeInstanceOf(ModelLoadError);
    });
  });
});

describe("list", () => {
  it("lists both roots sorted by id, the models directory winning duplicates", async () => {
    await addLocalCheckpoint(layout, "tiny", "TinyPipeline");
    await addLocalCheckpoint(layout, "org/a", "LocalA");
    await writeFiles(layout.modelsDir, { "broken/model_index.json": "{ nope", "notamodel/readme.txt": "hi" });
    await writeFiles(layout.modelsDir, { ".hidden/model_index.json": modelIndexText() });
    await fs.symlink(layout.outside, path.join(layout.modelsDir, "evil"));
    await writeFiles(layout.outside, { "model_index.json": modelIndexText("OutsidePipeline") });

    await addCacheSnapshot(
      layout.cache,
      "org/a",
      commitOf("a"),
      { "model_index.json": modelIndexText("CachedA") },
      "main",
    );
    await addCacheSnapshot(
      layout.cache,
      "org/b",
      commitOf("b"),
      { "model_index.json": modelIndexText("CachedB") },
      "main",
    );
    await addCacheSnapshot(
      layout.cache,
      "org/c",
      commitOf("c"),
      { "model_index.json": modelIndexText("C") },
      "fp16",
    );
    await addCacheSnapshot(
      layout.cache,
      "gpt2",
      commitOf("g"),
      { "model_index.json": modelIndexText("Solo") },
      "main",
    );
    await writeFiles(layout.cache, { ".locks/models--org--b/x.lock": "", "version.txt": "1" });

    expect(await new CheckpointLocator(layout.config()).list()).toEqual([
      { id: "broken", source: "MODELS_DIR", sourceClass: null },
      { id: "gpt2", source: "HF_CACHE", sourceClass: "Solo" },
      { id: "org/a", source: "MODELS_DIR", sourceClass: "LocalA" },
      { id: "org/b", source: "HF_CACHE", sourceClass: "CachedB" },
      { id: "tiny", source: "MODELS_DIR", sourceClass: "TinyPipeline" },
    ]);
  });

  it("lists the bundled checkpoints", async () => {
    const listed = await new CheckpointLocator(layout.config({ modelsDir: bundledModels })).list();
    expect(listed).toEqual([
      { id: "mini-sd", source: "MODELS_DIR", sourceClass: "StableDiffusionPipeline" },
      { id: "mini-sd.safetensors", source: "MODELS_DIR", sourceClass: "StableDiffusionPipeline" },
      { id: "tiny-sd", source: "MODELS_DIR", sourceClass: expect.any(String) },
      { id: "tiny-sd-inpaint", source: "MODELS_DIR", sourceClass: expect.any(String) },
      { id: "tiny-sdxl", source: "MODELS_DIR", sourceClass: expect.any(String) },
    ]);
  });
});
