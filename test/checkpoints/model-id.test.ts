/**
 * The model id grammar: what `validateModelId` accepts and splits, and every escape attempt it must refuse with
 * an `InvalidInputError` on the `model` field, before any path is built.
 */
import { describe, expect, it } from "vitest";
import {
  cacheFolderName,
  MAX_MODEL_ID_LENGTH,
  repoFromCacheFolder,
  validateModelId,
} from "../../server/checkpoints/model-id.ts";
import { InvalidInputError } from "../../server/errors.ts";

describe("validateModelId", () => {
  it.each([
    ["tiny-sd", "tiny-sd", null],
    ["org/name", "org/name", null],
    ["CompVis/stable-diffusion-v1-4", "CompVis/stable-diffusion-v1-4", null],
    ["org/sd_v1.5-onnx", "org/sd_v1.5-onnx", null],
    ["org/name@fp16", "org/name", "fp16"],
    ["org/name@refs/pr/1", "org/name", "refs/pr/1"],
    [`name@${"a".repeat(40)}`, "name", "a".repeat(40)],
  ])("accepts %s", (id, repo, revision) => {
    expect(validateModelId(id)).toEqual({ repo, revision });
  });

  it.each([
    ["empty", ""],
    ["absolute", "/etc/passwd"],
    ["absolute org", "/org/name"],
    ["parent", ".."],
    ["parent segment", "../models"],
    ["parent inside", "org/../../etc"],
    ["dot segment", "./name"],
    ["hidden", ".git"],
    ["hidden name", "org/.ssh"],
    ["dots inside", "a..b"],
    ["url-encoded parent", "%2e%2e%2fetc"],
    ["url-encoded slash", "org%2fname"],
    ["any percent", "name%20x"],
    ["backslash", "org\\name"],
    ["backslash parent", "..\\..\\etc"],
    ["NUL", "name\0.json"],
    ["three parts", "a/b/c"],
    ["trailing slash", "name/"],
    ["double slash", "org//name"],
    ["double dash", "org--name"],
    ["leading dash", "-name"],
    ["trailing dot", "name."],
    ["space", "my model"],
    ["unicode", "modèle"],
    ["empty revision", "name@"],
    ["revision parent", "name@../../x"],
    ["revision absolute", "name@/etc"],
    ["revision hidden", "name@.git"],
    ["two ats", "name@a@b"],
    ["revision backslash", "name@a\\b"],
    ["too long", "a".repeat(MAX_MODEL_ID_LENGTH + 1)],
  ])("refuses %s", (_what, id) => {
    let thrown: unknown;
    try {
      validateModelId(id);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidInputError);
    const error = thrown as InvalidInputError;
    expect(error.field).toBe("model");
    expect(error.allowed).toMatch(/'org\/name'/);
  });

  it("cuts a huge id short in the error", () => {
    expect(() => validateModelId("x".repeat(100_000))).toThrow(/…/);
    try {
      validateModelId("x".repeat(100_000));
    } catch (error) {
      expect((error as InvalidInputError).value.length).toBeLessThan(300);
    }
  });
});

describe("cache folder names", () => {
  it("maps repos one-to-one onto models--org--name", () => {
    expect(cacheFolderName("org/name")).toBe("models--org--name");
    expect(cacheFolderName("gpt2")).toBe("models--gpt2");
    expect(repoFromCacheFolder("models--org--name")).toBe("org/name");
    expect(repoFromCacheFolder("models--gpt2")).toBe("gpt2");
  });

  it("skips folders that are not model repos", () => {
    expect(repoFromCacheFolder("datasets--org--name")).toBeNull();
    expect(repoFromCacheFolder("models--a--b--c")).toBeNull();
    expect(repoFromCacheFolder("models--..")).toBeNull();
    expect(repoFromCacheFolder(".locks")).toBeNull();
  });
});
