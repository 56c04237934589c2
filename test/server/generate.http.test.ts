/**
 * The generate mutation over GraphQL (yoga.fetch): typed InvalidInputErrors naming field, value and what is
 * allowed; reproducible seeds; unrunnable and corrupt checkpoints answered with typed errors while the server
 * keeps serving.
 */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, REPO_MODELS, type TestApp } from "../helpers/services.ts";

const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on Generation { model pipelineClass scheduler seed images { width height mimeType base64 } timings { sessionRuns } }
      ... on InvalidInputError { field value allowed }
      ... on ModelLoadError { model component }
    }
  }
`;

type Result = Record<string, unknown> & { __typename: string; message: string };

describe("generate over HTTP", () => {
  let app: TestApp;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-gen-"));
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "tiny-sd"), { recursive: true });
    await cp(path.join(REPO_MODELS, "tiny-sd-inpaint"), path.join(modelsDir, "tiny-sd-inpaint"), {
      recursive: true,
    });
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "corrupt"), { recursive: true });
    await writeFile(path.join(modelsDir, "corrupt", "unet", "model.onnx"), "this is not an onnx file");
    app = createTestApp({
      AUTOPIPE_MODELS_DIR: modelsDir,
      AUTOPIPE_MAX_STEPS: "20",
      AUTOPIPE_MAX_PIXELS: "16384",
    });
  });
  afterAll(async () => {
    await app.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  async function generate(textToImage: Record<string, unknown>): Promise<Result> {
    const body = await app.gql<{ generate: Result }>(GENERATE, {
      input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 2, ...textToImage } },
    });
    expect(body.errors).toBeUndefined();
    return body.data!.generate;
  }

  it.each([
    [{ width: 30 }, "textToImage.width", "30", "a positive multiple of 4"],
    [{ height: 0 }, "textToImage.height", "0", "a positive multiple of 4"],
    [{ numInferenceSteps: 0 }, "textToImage.numInferenceSteps", "0", "an integer from 1 to 20"],
    [{ numInferenceSteps: 21 }, "textToImage.numInferenceSteps", "21", "an integer from 1 to 20"],
    [{ guidanceScale: -1 }, "textToImage.guidanceScale", "-1", "a finite number >= 0"],
    [{ numImagesPerPrompt: 9 }, "textToImage.numImagesPerPrompt", "9", "an integer from 1 to 8"],
    [{ seed: "-1" }, "textToImage.seed", "-1", "an integer from 0 to 18446744073709551615"],
    [
      { seed: "18446744073709551616" },
      "textToImage.seed",
      "18446744073709551616",
      "an integer from 0 to 18446744073709551615",
    ],
  ])("%j → InvalidInputError", async (input, field, value, allowed) => {
    const r = await generate(input);
    expect(r).toMatchObject({ __typename: "InvalidInputError", field, value, allowed });
    expect(r.message).toContain(field);
  });

  it("a step count the chosen scheduler cannot serve is an InvalidInputError, checked before the run", async () => {
    const r = await generate({ scheduler: "LCM", numInferenceSteps: 20, width: 16, height: 16 });
    expect(r.__typename).toBe("Generation");
    const refused = await app.gql<{ generate: Result }>(GENERATE, {
      input: { textToImage: { model: "tiny-sd", prompt: "x", scheduler: "LCM", numInferenceSteps: 60 } },
    });
    // AUTOPIPE_MAX_STEPS is 20 here; the LCM limit (original_inference_steps = 50) shows with a larger budget.
    expect(refused.data!.generate).toMatchObject({
      __typename: "InvalidInputError",
      field: "textToImage.numInferenceSteps",
    });
    const roomy = createTestApp({ AUTOPIPE_MODELS_DIR: modelsDir });
    try {
      const lcm = await roomy.gql<{ generate: Result }>(GENERATE, {
        input: { textToImage: { model: "tiny-sd", prompt: "x", scheduler: "LCM", numInferenceSteps: 60 } },
      });
      expect(lcm.data!.generate).toMatchObject({
        __typename: "InvalidInputError",
        field: "textToImage.numInferenceSteps",
        value: "60",
      });
      expect(String(lcm.data!.generate.allowed)).toMatch(/original_inference_steps|50/);
    } finally {
      await roomy.close();
    }
  });

  it("refuses more pixels than AUTOPIPE_MAX_PIXELS", async () => {
    const r = await generate({ width: 256, height: 128 });
    expect(r).toMatchObject({ __typename: "InvalidInputError", field: "textToImage.width×height" });
    expect(r.allowed).toContain("16384");
  });

  it("refuses an over-long prompt", async () => {
    const r = await generate({ prompt: "x".repeat(10_001) });
    expect(r).toMatchObject({ __typename: "InvalidInputError", field: "textToImage.prompt" });
    expect(String(r.value).length).toBeLessThan(200);
  });

  it("a non-integer seed is a GraphQL error naming Seed", async () => {
    const body = await app.gql(GENERATE, {
      input: { textToImage: { model: "tiny-sd", prompt: "x", seed: "1.5" } },
    });
    expect(body.errors?.[0]?.message).toMatch(/Seed/);
  });

  it("two tasks at once break @oneOf", async () => {
    const body = await app.gql(GENERATE, {
      input: { textToImage: { model: "tiny-sd", prompt: "x" }, inpainting: null },
    });
    expect(body.errors?.[0]?.message).toMatch(/exactly one/i);
  });

  it("the same seed gives the same PNG; no seed gives a random one that reproduces", async () => {
    const a = await generate({ seed: 42, width: 32, height: 32 });
    const b = await generate({ seed: "42", width: 32, height: 32 });
    expect(a.__typename).toBe("Generation");
    expect(a.seed).toBe("42");
    expect(a.images).toEqual(b.images);
    const random = await generate({ width: 32, height: 32 });
    expect(random.seed).toMatch(/^\d+$/);
    const again = await generate({ width: 32, height: 32, seed: random.seed });
    expect(again.images).toEqual(random.images);
    expect(again.images).not.toEqual(a.images);
  });

  it("defaults width and height to the UNet's sample_size × the VAE factor", async () => {
    const r = await generate({ numInferenceSteps: 1, numImagesPerPrompt: 2, seed: 1 });
    expect(r.images).toEqual([
      expect.objectContaining({ width: 64, height: 64, mimeType: "image/png" }),
      expect.objectContaining({ width: 64, height: 64, mimeType: "image/png" }),
    ]);
  });

  it("an inpainting checkpoint cannot run text-to-image: typed error saying why", async () => {
    const r = await generate({ model: "tiny-sd-inpaint" });
    expect(r.__typename).toBe("UnsupportedPipelineError");
    expect(r.message).toMatch(/9 input channels/);
  });

  it("a corrupt ONNX file is a ModelLoadError for that request; the server keeps serving", async () => {
    const r = await generate({ model: "corrupt" });
    expect(r).toMatchObject({ __typename: "ModelLoadError", model: "corrupt", component: "unet" });
    expect(r.message).not.toContain(modelsDir);
    const ok = await generate({ seed: 1, width: 16, height: 16 });
    expect(ok.__typename).toBe("Generation");
  });
});
