/**
 * A checkpoint component that is a symlink out of the models root (here `unet/`, then `unet/model.onnx`) is
 * refused, and the answer says so — that it leaves the models root — without printing any server path, rather
 * than saying that the checkpoint lacks an export.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTestApp, REPO_MODELS } from "../helpers/services.ts";

const tmp = mkdtempSync(path.join(os.tmpdir(), "autopipe-link-out-"));
const models = path.join(tmp, "models");
const outside = path.join(tmp, "outside");
cpSync(path.join(REPO_MODELS, "tiny-sd"), path.join(models, "folder-link"), { recursive: true });
cpSync(path.join(REPO_MODELS, "tiny-sd"), path.join(models, "file-link"), { recursive: true });
cpSync(path.join(REPO_MODELS, "tiny-sd", "unet"), outside, { recursive: true });
rmSync(path.join(models, "folder-link", "unet"), { recursive: true });
symlinkSync(outside, path.join(models, "folder-link", "unet"));
rmSync(path.join(models, "file-link", "unet", "model.onnx"));
symlinkSync(path.join(outside, "model.onnx"), path.join(models, "file-link", "unet", "model.onnx"));

const app = createTestApp({ AUTOPIPE_MODELS_DIR: models });
afterAll(async () => {
  await app.close();
  rmSync(tmp, { recursive: true, force: true });
});

const GENERATE = /* GraphQL */ `
  mutation ($model: String!) {
    generate(input: { textToImage: { model: $model, prompt: "a cat", numInferenceSteps: 2 } }) {
      __typename ... on Error { message }
    }
  }
`;

describe("a component linked out of the models root", () => {
  it.each([
    ["folder-link", "'unet/'"],
    ["file-link", "'unet/model.onnx'"],
  ])("%s: refused, saying it leaves the models root, with no server path", async (model, what) => {
    const { data } = await app.gql<{ generate: { __typename: string; message: string } }>(GENERATE, {
      model,
    });
    const { message } = data!.generate;
    expect(data!.generate.__typename).not.toBe("Generation");
    expect(message).toContain(`${what} was refused: it is a link that leaves the models root`);
    expect(message).not.toContain("no ONNX export");
    expect(message).not.toContain(tmp);
    expect(message).not.toContain(os.tmpdir());
  });
});
