/**
 * SDXL through the GraphQL API (yoga.fetch): resolution reports tiny-sdxl runnable for every task and says
 * precisely why a checkpoint without `text_encoder_2` or a refiner's text-to-image is not; all three tasks give
 * diffusers' PNG within one level from one loaded checkpoint; the micro-conditioning inputs change the UNet's time
 * ids (or are ignored with a note where the checkpoint does not use them) and bad values are typed errors;
 * `loadPipeline` warms both text encoders.
 */
import { readFileSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxAbsDiff, REFERENCE, ReferenceCase } from "../helpers/reference.ts";
import { createTestApp, REPO_MODELS, type TestApp } from "../helpers/services.ts";

const NEXT = new URL("../fixtures/diffusers-reference-next/", import.meta.url).pathname;
const INIT = readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`).toString("base64");
const MASK = readFileSync(`${REFERENCE}reference/inputs/mask_64x64.png`).toString("base64");

const RESOLVE = /* GraphQL */ `
  query ($model: String!, $task: Task!) {
    resolvePipeline(model: $model, task: $task) {
      __typename
      ... on PipelineResolution { pipelineClass runnable reason inpaintingMode }
    }
  }
`;
const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on Generation { pipelineClass scheduler notes images { base64 } }
      ... on InvalidInputError { field value allowed }
    }
  }
`;

type Result = Record<string, unknown> & { __typename: string; notes: string[]; images: { base64: string }[] };

let app: TestApp;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-sdxl-"));
  for (const name of ["tiny-sdxl", "tiny-sd"]) {
    await cp(path.join(REPO_MODELS, name), path.join(modelsDir, name), { recursive: true });
  }
  // A checkpoint whose export lacks the second text encoder.
  await cp(path.join(REPO_MODELS, "tiny-sdxl"), path.join(modelsDir, "no-te2"), { recursive: true });
  await rm(path.join(modelsDir, "no-te2", "text_encoder_2", "model.onnx"));
  await cp(path.join(REPO_MODELS, "tiny-sdxl"), path.join(modelsDir, "no-tokenizer-2"), { recursive: true });
  await rm(path.join(modelsDir, "no-tokenizer-2", "tokenizer_2"), { recursive: true });
  // A refiner-style model_index.json (requires_aesthetics_score) on tiny-sdxl's base UNet, which takes 6 time ids.
  await cp(path.join(REPO_MODELS, "tiny-sdxl"), path.join(modelsDir, "refiner"), { recursive: true });
  const index = JSON.parse(await readFile(path.join(modelsDir, "refiner", "model_index.json"), "utf8"));
  Object.assign(index, {
    _class_name: "StableDiffusionXLImg2ImgPipeline",
    requires_aesthetics_score: true,
    force_zeros_for_empty_prompt: false,
  });
  await writeFile(path.join(modelsDir, "refiner", "model_index.json"), JSON.stringify(index));
  app = createTestApp({ AUTOPIPE_MODELS_DIR: modelsDir });
});
afterAll(async () => {
  await app.close();
  await rm(modelsDir, { recursive: true, force: true });
});

async function resolve(model: string, task: string) {
  const body = await app.gql<{ resolvePipeline: Record<string, unknown> }>(RESOLVE, { model, task });
  return body.data!.resolvePipeline;
}

async function generate(input: Record<string, unknown>): Promise<Result> {
  const body = await app.gql<{ generate: Result }>(GENERATE, { input });
  expect(body.errors).toBeUndefined();
  return body.data!.generate;
}

async function expectPng(result: Result, ref: ReferenceCase) {
  expect(result.__typename).toBe("Generation");
  const ours = await sharp(Buffer.from(result.images[0]!.base64, "base64")).raw().toBuffer();
  const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
  expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
}

/** The sdxl_* cases' parameters as request fields. */
const caseInput = {
  model: "tiny-sdxl",
  prompt: "a photo of a cat",
  numInferenceSteps: 6,
  guidanceScale: 5,
  seed: 0,
};

describe("SDXL resolution", () => {
  it.each([
    ["TEXT_TO_IMAGE", "StableDiffusionXLPipeline", null],
    ["IMAGE_TO_IMAGE", "StableDiffusionXLImg2ImgPipeline", null],
    ["INPAINTING", "StableDiffusionXLInpaintPipeline", "BLEND"],
  ])("tiny-sdxl for %s → %s, runnable", async (task, pipelineClass, inpaintingMode) => {
    expect(await resolve("tiny-sdxl", task)).toEqual({
      __typename: "PipelineResolution",
      pipelineClass,
      runnable: true,
      reason: null,
      inpaintingMode,
    });
  });

  it("a checkpoint without text_encoder_2/model.onnx is not runnable, and says so", async () => {
    expect(await resolve("no-te2", "TEXT_TO_IMAGE")).toMatchObject({
      runnable: false,
      reason:
        "the checkpoint has no ONNX export of 'text_encoder_2' (text_encoder_2/model.onnx) and no safetensors weights (text_encoder_2/model.safetensors)",
    });
  });

  it("a checkpoint without tokenizer_2/ is not runnable, and says so", async () => {
    expect(await resolve("no-tokenizer-2", "INPAINTING")).toMatchObject({
      runnable: false,
      reason: "the checkpoint has no 'tokenizer_2' folder (the tokenizer of text_encoder_2)",
    });
  });

  it("a refiner (requires_aesthetics_score) serves image tasks, not text-to-image", async () => {
    const t2i = await resolve("refiner", "TEXT_TO_IMAGE");
    expect(t2i).toMatchObject({ pipelineClass: "StableDiffusionXLPipeline", runnable: false });
    expect(t2i.reason).toMatch(/requires_aesthetics_score/);
    expect(await resolve("refiner", "IMAGE_TO_IMAGE")).toMatchObject({ runnable: true });
  });

  it("a refiner's 5 time ids against a UNet that takes 6 is a ModelLoadError naming both", async () => {
    const result = await generate({
      imageToImage: { ...caseInput, model: "refiner", image: { base64: INIT } },
    });
    expect(result.__typename).toBe("ModelLoadError");
    expect(result.message).toMatch(/expects 6 time ids but the pipeline passes 5/);
  });
});

describe("SDXL generation over GraphQL equals diffusers", () => {
  it("textToImage (sdxl_t2i_euler)", async () => {
    const result = await generate({ textToImage: { ...caseInput, width: 64, height: 64 } });
    expect(result).toMatchObject({
      pipelineClass: "StableDiffusionXLPipeline",
      scheduler: "EulerDiscreteScheduler",
      notes: [],
    });
    await expectPng(result, new ReferenceCase("sdxl_t2i_euler", NEXT));
  });

  it("imageToImage (sdxl_i2i_euler_s0.6, size from the image)", async () => {
    const result = await generate({ imageToImage: { ...caseInput, image: { base64: INIT }, strength: 0.6 } });
    expect(result.pipelineClass).toBe("StableDiffusionXLImg2ImgPipeline");
    await expectPng(result, new ReferenceCase("sdxl_i2i_euler_s0.6", NEXT));
  });

  it("inpainting (sdxl_inpaint_euler_s0.8)", async () => {
    const result = await generate({
      inpainting: { ...caseInput, image: { base64: INIT }, maskImage: { base64: MASK }, strength: 0.8 },
    });
    expect(result.pipelineClass).toBe("StableDiffusionXLInpaintPipeline");
    await expectPng(result, new ReferenceCase("sdxl_inpaint_euler_s0.8", NEXT));
  });
});

describe("SDXL micro-conditioning inputs", () => {
  const t2i = (extra: Record<string, unknown>, model = "tiny-sdxl") =>
    generate({ textToImage: { ...caseInput, model, numInferenceSteps: 2, ...extra } });

  it("the defaults spelled out give the same image; another original size changes it", async () => {
    const plain = await t2i({});
    const spelled = await t2i({
      originalSize: { width: 64, height: 64 },
      targetSize: { width: 64, height: 64 },
      cropsCoordsTopLeft: { x: 0, y: 0 },
    });
    expect(spelled.images).toEqual(plain.images);
    expect(spelled.notes).toEqual([]);
    const other = await t2i({ originalSize: { width: 128, height: 32 } });
    expect(other.images).not.toEqual(plain.images);
  });

  it("fields the checkpoint does not use are ignored with a note", async () => {
    expect((await t2i({ aestheticScore: 7 })).notes).toEqual([
      "aestheticScore was ignored: StableDiffusionXLPipeline takes no aesthetic score.",
    ]);
    expect((await t2i({ originalSize: { width: 64, height: 64 } }, "tiny-sd")).notes).toEqual([
      "originalSize was ignored: only Stable Diffusion XL checkpoints use it.",
    ]);
  });

  it("bad values are InvalidInputErrors naming the field", async () => {
    expect(await t2i({ cropsCoordsTopLeft: { x: 0, y: -4 } })).toMatchObject({
      __typename: "InvalidInputError",
      field: "textToImage.cropsCoordsTopLeft.y",
      value: "-4",
    });
  });
});

describe("SDXL warm-up", () => {
  it("loadPipeline loads both text encoders, the UNet and the VAE decoder", async () => {
    const body = await app.gql<{ loadPipeline: { components: string[] } }>(
      `mutation { loadPipeline(model: "tiny-sdxl") { ... on LoadedPipeline { components } } }`,
    );
    expect([...body.data!.loadPipeline.components].sort()).toEqual(
      expect.arrayContaining(["text_encoder", "text_encoder_2", "unet", "vae_decoder"]),
    );
  });
});
