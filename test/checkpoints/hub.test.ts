/**
 * Hub downloads without a network: the locator never calls the download function unless downloads are allowed,
 * passes it the repo, revision, cache and token, and finds what it wrote in the cache; `downloadDiffusersCheckpoint`
 * is run against a fake Hub client to check which files it fetches and that it writes the ref last.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  checkpointFiles,
  type DownloadRequest,
  downloadDiffusersCheckpoint,
  type HubClient,
  isCheckpointFile,
} from "../../server/checkpoints/hub.ts";
import { CheckpointLocator } from "../../server/checkpoints/locate.ts";
import { readModelIndex } from "../../server/checkpoints/model-index.ts";
import { InvalidModelIndexError, ModelNotFoundError } from "../../server/errors.ts";
import { addCacheSnapshot, commitOf, type Layout, makeLayout, modelIndexText } from "./layout.ts";

let layout: Layout;
beforeEach(async () => {
  layout = await makeLayout();
});
afterEach(async () => {
  await layout.cleanup();
});

/** A download function that writes a snapshot (and its ref) into the cache, as the real one does. */
function fakeDownload(className = "HubPipeline") {
  return vi.fn(async (request: DownloadRequest) => {
    const files = { "model_index.json": modelIndexText(className), "unet/model.onnx": "onnx" };
    return addCacheSnapshot(
      request.cacheDir,
      request.repo,
      commitOf(request.revision),
      files,
      request.revision,
    );
  });
}

describe("CheckpointLocator downloads", () => {
  it("never attempts a download when downloads are not allowed", async () => {
    const download = fakeDownload();
    const locator = new CheckpointLocator(layout.config({ allowDownload: false }), { download });
    const error = await locator.locate("org/remote").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as ModelNotFoundError).searched).toContain("Hugging Face Hub (downloads disabled)");
    expect(download).not.toHaveBeenCalled();
    expect(await locator.list()).toEqual([]);
    expect(download).not.toHaveBeenCalled();
  });

  it("does not download what the models directory or cache already has", async () => {
    await addCacheSnapshot(
      layout.cache,
      "org/cached",
      commitOf("c"),
      { "model_index.json": modelIndexText() },
      "main",
    );
    const download = fakeDownload();
    const locator = new CheckpointLocator(layout.config({ allowDownload: true }), { download });
    expect((await locator.locate("org/cached")).source).toBe("HF_CACHE");
    expect(download).not.toHaveBeenCalled();
  });

  it("downloads into the cache with repo, revision and token, then finds it there", async () => {
    const download = fakeDownload();
    const config = layout.config({ allowDownload: true, hfToken: "hf_test" });
    const locator = new CheckpointLocator(config, { download });
    const checkpoint = await locator.locate("org/remote");
    expect(download).toHaveBeenCalledExactlyOnceWith({
      repo: "org/remote",
      revision: "main",
      cacheDir: layout.cache,
      accessToken: "hf_test",
      variant: null,
    });
    expect(checkpoint).toMatchObject({ id: "org/remote", source: "HUB", revision: commitOf("main") });
    expect(checkpoint.dir).toBe(
      path.join(layout.cache, "models--org--remote", "snapshots", commitOf("main")),
    );
    expect((await readModelIndex(checkpoint)).className).toBe("HubPipeline");

    // Next time it is simply in the cache.
    expect((await locator.locate("org/remote")).source).toBe("HF_CACHE");
    expect(download).toHaveBeenCalledTimes(1);
  });

  it("passes an explicit revision and shares one download between concurrent requests", async () => {
    const download = fakeDownload();
    const locator = new CheckpointLocator(layout.config({ allowDownload: true }), { download });
    const [a, b] = await Promise.all([locator.locate("org/remote@fp16"), locator.locate("org/remote@fp16")]);
    expect(download).toHaveBeenCalledExactlyOnceWith(
      expect.objectContaining({ repo: "org/remote", revision: "fp16" }),
    );
    expect(a.revision).toBe(commitOf("fp16"));
    expect(b.dir).toBe(a.dir);
  });

  it("turns Hub failures into ModelNotFoundError without paths or URLs", async () => {
    const missing = Object.assign(
      new Error("Repository not found. URL: https://huggingface.co/api/models/x"),
      {
        statusCode: 404,
      },
    );
    const locator404 = new CheckpointLocator(layout.config({ allowDownload: true }), {
      download: async () => Promise.reject(missing),
    });
    const notFound = (await locator404.locate("org/absent").catch((e: unknown) => e)) as ModelNotFoundError;
    expect(notFound).toBeInstanceOf(ModelNotFoundError);
    expect(notFound.searched.at(-1)).toMatch(/^Hugging Face Hub \(no such repository/);
    expect(notFound.message).not.toContain("https://");
    expect(notFound.cause).toBe(missing);

    const offline = new CheckpointLocator(layout.config({ allowDownload: true }), {
      download: async () => Promise.reject(new Error(`fetch failed: ${layout.cache}`)),
    });
    const failed = (await offline.locate("org/absent").catch((e: unknown) => e)) as ModelNotFoundError;
    expect(failed.searched.at(-1)).toBe("Hugging Face Hub (download failed)");
    expect(failed.message).not.toContain(layout.base);
  });

  it("reports a download that left no model_index.json", async () => {
    const locator = new CheckpointLocator(layout.config({ allowDownload: true }), {
      download: async () => {},
    });
    const error = (await locator.locate("org/empty").catch((e: unknown) => e)) as ModelNotFoundError;
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(error.searched.at(-1)).toBe("Hugging Face Hub (no model_index.json)");
  });
});

describe("downloadDiffusersCheckpoint", () => {
  const commit = commitOf("remote");
  const repoFiles: Record<string, string> = {
    "model_index.json": JSON.stringify({
      _class_name: "OnnxStableDiffusionPipeline",
      safety_checker: [null, null],
      unet: ["diffusers", "OnnxRuntimeModel"],
      tokenizer: ["transformers", "CLIPTokenizer"],
      scheduler: ["diffusers", "PNDMScheduler"],
    }),
    "README.md": "# remote",
    "unet/model.onnx": "graph",
    "unet/model.onnx_data": "weights",
    "unet/weights.pb": "weights",
    "unet/config.json": "{}",
    "unet/diffusion_pytorch_model.safetensors": "torch",
    "tokenizer/vocab.json": "{}",
    "tokenizer/merges.txt": "",
    "scheduler/scheduler_config.json": "{}",
    "samples/image.png": "png",
    "text_encoder/model.onnx": "not a component of this index",
  };

  /** A Hub client serving `repoFiles` at `commit`, recording every call. */
  function fakeHub(files = repoFiles) {
    const calls: string[] = [];
    const hub: HubClient = {
      async commitOf(repo, revision, accessToken) {
        calls.push(`commit ${repo} ${revision} ${accessToken}`);
        return commit;
      },
      async *listFiles(repo, at) {
        calls.push(`list ${repo} ${at}`);
        for (const file of Object.keys(files)) yield { type: "file", path: file };
        yield { type: "directory", path: "unet" };
      },
      async downloadFile(repo, at, file, cacheDir) {
        calls.push(`download ${file}`);
        const content = files[file];
        if (content === undefined) throw new Error(`no ${file}`);
        return path.join(await addCacheSnapshot(cacheDir, repo, at, { [file]: content }), file);
      },
    };
    return { hub, calls };
  }

  it("fetches model_index.json first, then only the ONNX checkpoint files, and writes the ref last", async () => {
    const { hub, calls } = fakeHub();
    const request = { repo: "org/remote", revision: "main", cacheDir: layout.cache, accessToken: "hf_x" };
    const snapshot = await downloadDiffusersCheckpoint(request, hub);
    expect(snapshot).toBe(path.join(layout.cache, "models--org--remote", "snapshots", commit));
    expect(calls).toEqual([
      "commit org/remote main hf_x",
      "download model_index.json",
      `list org/remote ${commit}`,
      "download unet/model.onnx",
      "download unet/model.onnx_data",
      "download unet/weights.pb",
      "download unet/config.json",
      "download tokenizer/vocab.json",
      "download tokenizer/merges.txt",
      "download scheduler/scheduler_config.json",
    ]);
    const ref = path.join(layout.cache, "models--org--remote", "refs", "main");
    expect(await fs.readFile(ref, "utf8")).toBe(commit);

    const checkpoint = await new CheckpointLocator(layout.config()).locate("org/remote");
    expect(checkpoint).toMatchObject({ source: "HF_CACHE", revision: commit, dir: snapshot });
  });

  it("writes no ref when an invalid model_index.json stops it", async () => {
    const { hub, calls } = fakeHub({ "model_index.json": "[]" });
    const request = { repo: "org/remote", revision: "main", cacheDir: layout.cache, accessToken: undefined };
    await expect(downloadDiffusersCheckpoint(request, hub)).rejects.toBeInstanceOf(InvalidModelIndexError);
    expect(calls).toHaveLength(2);
    await expect(fs.stat(path.join(layout.cache, "models--org--remote", "refs"))).rejects.toThrow();
  });

  it("does not read a model_index.json the client placed outside the cache", async () => {
    const { hub } = fakeHub();
    const stray = path.join(layout.outside, "model_index.json");
    await fs.writeFile(stray, modelIndexText());
    hub.downloadFile = async () => stray;
    const request = { repo: "org/remote", revision: "main", cacheDir: layout.cache, accessToken: undefined };
    await expect(downloadDiffusersCheckpoint(request, hub)).rejects.toThrow();
  });

  it("refuses a commit id that is not a hash", async () => {
    const { hub } = fakeHub();
    hub.commitOf = async () => "../../escape";
    const request = { repo: "org/remote", revision: "main", cacheDir: layout.cache, accessToken: undefined };
    await expect(downloadDiffusersCheckpoint(request, hub)).rejects.toThrow(/unexpected commit id/);
  });
});

describe("isCheckpointFile", () => {
  const components = new Set(["unet", "tokenizer"]);
  it.each([
    ["unet/model.onnx", true],
    ["unet/model.onnx_data", true],
    ["unet/weights.pb", true],
    ["unet/config.json", true],
    ["tokenizer/merges.txt", true],
    ["unet/diffusion_pytorch_model.safetensors", false],
    ["unet/diffusion_pytorch_model.bin", false],
    ["model.onnx", false],
    ["vae_decoder/model.onnx", false],
    ["unet/../vae/model.onnx", false],
    ["unet", false],
  ])("%s → %s", (file, wanted) => {
    expect(isCheckpointFile(file, components)).toBe(wanted);
  });
});

describe("checkpointFiles (diffusers' safetensors layout)", () => {
  const components = new Set(["unet", "text_encoder", "vae"]);
  const listing = [
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.fp16.bin",
    "text_encoder/config.json",
    "text_encoder/model.safetensors.index.json",
    "text_encoder/model-00001-of-00002.safetensors",
    "text_encoder/model-00002-of-00002.safetensors",
    "text_encoder/pytorch_model.bin",
    "vae/config.json",
    "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.ckpt",
    "unet/nested/diffusion_pytorch_model.safetensors",
    "v1-5-pruned.safetensors",
  ];

  it("takes the plain safetensors (and shards) without a variant, never pickle", () => {
    expect(checkpointFiles(listing, components)).toEqual([
      "unet/config.json",
      "unet/diffusion_pytorch_model.safetensors",
      "text_encoder/config.json",
      "text_encoder/model.safetensors.index.json",
      "text_encoder/model-00001-of-00002.safetensors",
      "text_encoder/model-00002-of-00002.safetensors",
      "vae/config.json",
    ]);
  });

  it("takes a variant's files where a folder has them, the plain ones elsewhere", () => {
    const picked = checkpointFiles(listing, components, "fp16");
    expect(picked).toContain("unet/diffusion_pytorch_model.fp16.safetensors");
    expect(picked).not.toContain("unet/diffusion_pytorch_model.safetensors");
    expect(picked).toContain("text_encoder/model-00001-of-00002.safetensors");
    expect(picked.some((f) => /\.(bin|ckpt)$/.test(f))).toBe(false);
  });

  it("prefers a folder's ONNX export to its safetensors", () => {
    const withOnnx = [...listing, "unet/model.onnx", "unet/weights.pb"];
    const picked = checkpointFiles(withOnnx, components);
    expect(picked).toContain("unet/model.onnx");
    expect(picked).not.toContain("unet/diffusion_pytorch_model.safetensors");
  });
});
