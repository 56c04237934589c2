/**
 * Finding single files by id: in the models directory (`name.safetensors`, `folder/name.safetensors`) and in a
 * Hugging Face cache layout built by the test (`org/repo/file.safetensors`: refs/main → snapshot → link into
 * blobs/), listed without the network; ids outside the grammar and links leading out of their root refused.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckpointLocator } from "../../../server/checkpoints/locate.ts";
import { isSingleFileId } from "../../../server/checkpoints/single-file/locate-single-file.ts";
import { InvalidInputError, ModelNotFoundError } from "../../../server/errors.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

describe("single-file ids", () => {
  let tmp: string;
  let locator: CheckpointLocator;
  const downloads: string[] = [];
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "autopipe-locate-single-"));
    const models = path.join(tmp, "models");
    const cache = path.join(tmp, "hub");
    mkdirSync(path.join(models, "sub"), { recursive: true });
    writeFileSync(path.join(models, "top.safetensors"), "x");
    writeFileSync(path.join(models, "sub", "inner.safetensors"), "x");
    writeFileSync(path.join(tmp, "outside.safetensors"), "x");
    symlinkSync(path.join(tmp, "outside.safetensors"), path.join(models, "link-out.safetensors"));
    const repo = path.join(cache, "models--org--repo");
    mkdirSync(path.join(repo, "refs"), { recursive: true });
    mkdirSync(path.join(repo, "blobs"), { recursive: true });
    mkdirSync(path.join(repo, "snapshots", COMMIT), { recursive: true });
    writeFileSync(path.join(repo, "refs", "main"), COMMIT);
    writeFileSync(path.join(repo, "blobs", "abc123"), "x");
    symlinkSync("../../blobs/abc123", path.join(repo, "snapshots", COMMIT, "model.safetensors"));
    symlinkSync(
      path.join(tmp, "outside.safetensors"),
      path.join(repo, "snapshots", COMMIT, "out.safetensors"),
    );
    locator = new CheckpointLocator(
      { modelsDir: models, hfHubCache: cache, allowDownload: true, hfToken: undefined },
      { download: async (request) => void downloads.push(request.repo) },
    );
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("tells file ids from folder ids", () => {
    expect(isSingleFileId("a.safetensors")).toBe(true);
    expect(isSingleFileId("org/repo/v1-5-pruned.ckpt")).toBe(true);
    expect(isSingleFileId("org/repo")).toBe(false);
    expect(isSingleFileId("mini-sd")).toBe(false);
  });

  it("finds files in the models directory and its folders", async () => {
    expect(await locator.locateSingleFile("top.safetensors")).toMatchObject({
      source: "MODELS_DIR",
      revision: null,
      pickle: false,
    });
    expect((await locator.locateSingleFile("sub/inner.safetensors")).file).toMatch(/inner\.safetensors$/);
  });

  it("finds org/repo/file in the cache's refs/main snapshot, following the link into blobs/", async () => {
    const found = await locator.locateSingleFile("org/repo/model.safetensors");
    expect(found).toMatchObject({ source: "HF_CACHE", revision: COMMIT });
    expect(found.file).toMatch(/blobs\/abc123$/);
  });

  it("lists them (never the ones whose links leave their root)", async () => {
    const ids = (await locator.list()).map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining(["top.safetensors", "sub/inner.safetensors", "org/repo/model.safetensors"]),
    );
    expect(ids).not.toContain("link-out.safetensors");
    expect(ids).not.toContain("org/repo/out.safetensors");
  });

  it("refuses links out of the root and ids outside the grammar; a missing file is not found", async () => {
    for (const id of ["link-out.safetensors", "org/repo/out.safetensors"]) {
      await expect(locator.locateSingleFile(id)).rejects.toBeInstanceOf(InvalidInputError);
    }
    for (const id of [
      "../outside.safetensors",
      "sub/../top.safetensors",
      "/etc/x.safetensors",
      ".hidden.safetensors",
    ]) {
      await expect(locator.locateSingleFile(id)).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(locator.locateSingleFile("nope.safetensors")).rejects.toBeInstanceOf(ModelNotFoundError);
  });

  it("locateLocal never downloads, even when downloads are allowed", async () => {
    expect(await locator.locateLocal("runwayml/stable-diffusion-v1-5")).toBeNull();
    expect(downloads).toEqual([]);
  });
});
