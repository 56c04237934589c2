/**
 * Running checkpoints from the Hugging Face cache layout, where every snapshot file links to a content-addressed
 * blob: external weights (weights.pb) must still be found next to model.onnx, sizes are the real files', and a
 * tokenizer file linking out of the cache is refused without reading it.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { ModelLoadError } from "../../server/errors.ts";
import { generate } from "../../server/service/generation.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** Lays out `models/tiny-sd` as huggingface_hub caches repo `org/tiny`. */
function cacheTinySd(cache: string): Promise<string> {
  return cacheCheckpoint(cache, path.join(REPO_MODELS, "tiny-sd"), "org--tiny");
}

/** Lays out checkpoint folder `source` as huggingface_hub caches repo `name` (`org--name`): files become blobs. */
async function cacheCheckpoint(cache: string, source: string, name: string): Promise<string> {
  const repo = path.join(cache, `models--${name}`);
  const snapshot = path.join(repo, "snapshots", COMMIT);
  await mkdir(path.join(repo, "blobs"), { recursive: true });
  await mkdir(path.join(repo, "refs"), { recursive: true });
  await writeFile(path.join(repo, "refs", "main"), COMMIT);
  for (const entry of await readdir(source, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const relative = path.relative(source, path.join(entry.parentPath, entry.name));
    const bytes = await readFile(path.join(source, relative));
    const blob = path.join(repo, "blobs", createHash("sha256").update(bytes).digest("hex"));
    await writeFile(blob, bytes);
    const link = path.join(snapshot, relative);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(path.relative(path.dirname(link), blob), link);
  }
  return snapshot;
}

describe("checkpoints in the Hugging Face cache layout", () => {
  let cache: string;
  let snapshot: string;
  let services: Services;

  beforeAll(async () => {
    cache = await mkdtemp(path.join(os.tmpdir(), "autopipe-hf-"));
    snapshot = await cacheTinySd(cache);
    services = createServices(
      testConfig({ HF_HUB_CACHE: cache, AUTOPIPE_MODELS_DIR: path.join(cache, "none") }),
    );
  });
  afterAll(async () => {
    await services.dispose();
    await rm(cache, { recursive: true, force: true });
  });

  it("runs a UNet whose weights are external data in another blob, counting the real bytes", async () => {
    const result = await generate(services, "TEXT_TO_IMAGE", {
      model: "org/tiny",
      prompt: "a cat",
      width: 32,
      height: 32,
      numInferenceSteps: 2,
      seed: 1n,
    });
    expect(result.images).toHaveLength(1);
    const [info] = services.pipelines.info();
    const expected = (await readFile(path.join(REPO_MODELS, "tiny-sd", "unet", "weights.pb"))).length;
    expect(info?.bytes).toBeGreaterThan(expected);
    expect(info?.bytes).toBeLessThan(2 * expected);
  });

  it("refuses a tokenizer file linking out of the cache, naming no server path", async () => {
    const fresh = createServices(
      testConfig({ HF_HUB_CACHE: cache, AUTOPIPE_MODELS_DIR: path.join(cache, "none") }),
    );
    const outside = path.join(os.tmpdir(), `autopipe-secret-${process.pid}.json`);
    await writeFile(outside, '{"secret": 1}');
    const vocab = path.join(snapshot, "tokenizer", "vocab.json");
    const original = await readFile(vocab);
    await unlink(vocab);
    await symlink(outside, vocab);
    try {
      const error = await generate(fresh, "TEXT_TO_IMAGE", {
        model: "org/tiny",
        prompt: "x",
        numInferenceSteps: 1,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelLoadError);
      const message = (error as Error).message;
      expect(message).toMatch(/outside/);
      expect(message).not.toContain("secret");
      expect(message).not.toContain(cache);
    } finally {
      await unlink(vocab);
      await writeFile(vocab, original);
      await rm(outside, { force: true });
      await fresh.dispose();
    }
  });
});

describe("the graph cache on Hugging Face cache snapshots", () => {
  let cache: string;
  let graphs: string;
  let services: Services;

  beforeAll(async () => {
    cache = await mkdtemp(path.join(os.tmpdir(), "autopipe-hf-fuse-"));
    graphs = await mkdtemp(path.join(os.tmpdir(), "autopipe-graphs-"));
    await cacheCheckpoint(cache, path.join(REPO_MODELS, "tiny-sd"), "org--tiny");
    await cacheCheckpoint(cache, `${SAFETENSORS_FIXTURES}models/mini-sd`, "org--mini");
    services = createServices(
      testConfig({
        HF_HUB_CACHE: cache,
        AUTOPIPE_MODELS_DIR: path.join(cache, "none"),
        AUTOPIPE_CACHE_DIR: graphs,
      }),
    );
  });
  afterAll(async () => {
    await services.dispose();
    await rm(cache, { recursive: true, force: true });
    await rm(graphs, { recursive: true, force: true });
  });

  it("fuses the attention of an ONNX UNet whose weights.pb is a link into blobs/", async () => {
    const r = await resolveCheckpoint(services, "org/tiny", "TEXT_TO_IMAGE");
    const lease = await services.pipelines.acquire(r.checkpoint, r.modelIndex);
    try {
      await lease.components.graph("unet");
      // Before the fused graph pointed at the blobs, onnxruntime refused its external data ("escapes model
      // directory") and the verification kept the unfused original.
      expect(await lease.components.attentionFused("unet")).toBe(true);
    } finally {
      lease.release();
    }
  });

  it("builds a diffusers-layout checkpoint whose safetensors are links into blobs/, and generates", async () => {
    const r = await resolveCheckpoint(services, "org/mini", "TEXT_TO_IMAGE", {}, "fp16");
    expect(r).toMatchObject({ runnable: true, format: "DIFFUSERS", variants: ["fp16"] });
    const result = await generate(services, "TEXT_TO_IMAGE", {
      model: "org/mini",
      prompt: "a cat",
      width: 64,
      height: 64,
      numInferenceSteps: 2,
      seed: 1n,
    });
    expect(result.images).toHaveLength(1);
    const entry = services.pipelines.info().find((e) => e.model === "org/mini");
    expect(entry?.components).toEqual(expect.arrayContaining(["text_encoder", "unet", "vae_decoder"]));
  });
});
