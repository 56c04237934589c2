/**
 * resolvePipeline and models over GraphQL (yoga.fetch, no port): the bundled checkpoints, typed errors for
 * missing checkpoints, bad ids and broken model_index.json files, and no server path in any message.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, REPO_MODELS, type TestApp } from "../helpers/services.ts";

const RESOLVE = /* GraphQL */ `
  query ($model: String!, $task: Task!, $controlnet: Boolean, $enablePag: Boolean) {
    resolvePipeline(model: $model, task: $task, controlnet: $controlnet, enablePag: $enablePag) {
      __typename
      ... on Error { message }
      ... on PipelineResolution {
        model task sourceClass family pipelineClass source runnable reason
        components { name library className }
      }
      ... on ModelNotFoundError { model searched }
      ... on UnsupportedPipelineError { checkpointClass checkpointFamily }
      ... on InvalidModelIndexError { model detail }
      ... on InvalidInputError { field value allowed }
    }
  }
`;

type Result = Record<string, unknown> & { __typename: string; message?: string };

describe("resolvePipeline over HTTP", () => {
  let app: TestApp;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-models-"));
    const write = async (id: string, body: string) => {
      await mkdir(path.join(modelsDir, id), { recursive: true });
      await writeFile(path.join(modelsDir, id, "model_index.json"), body);
    };
    await write("runwayml/stable-diffusion-v1-5", JSON.stringify(sdIndex("StableDiffusionPipeline")));
    await write(
      "stabilityai/stable-diffusion-xl-base-1.0",
      JSON.stringify(sdIndex("StableDiffusionXLPipeline")),
    );
    await write("openai/shap-e-img2img", JSON.stringify({ _class_name: "ShapEImg2ImgPipeline" }));
    await write(
      "kandinsky-community/kandinsky-2-2-decoder",
      JSON.stringify({ _class_name: "KandinskyV22Pipeline" }),
    );
    await write("broken/not-json", "{ nope");
    await write("broken/array", "[1, 2]");
    await write("broken/no-class", JSON.stringify({ unet: ["diffusers", "UNet2DConditionModel"] }));
    await write(
      "broken/huge",
      JSON.stringify({ _class_name: "StableDiffusionPipeline", pad: "x".repeat(2 << 20) }),
    );
    app = createTestApp({ AUTOPIPE_MODELS_DIR: modelsDir });
  });

  afterAll(async () => {
    await app.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  async function resolve(variables: Record<string, unknown>): Promise<Result> {
    const body = await app.gql<{ resolvePipeline: Result }>(RESOLVE, variables);
    expect(body.errors).toBeUndefined();
    const result = body.data!.resolvePipeline;
    // No answer ever reveals where the server keeps its files.
    expect(JSON.stringify(result)).not.toContain(modelsDir);
    return result;
  }

  it.each([
    ["TEXT_TO_IMAGE", "StableDiffusionPipeline"],
    ["IMAGE_TO_IMAGE", "StableDiffusionImg2ImgPipeline"],
    ["INPAINTING", "StableDiffusionInpaintPipeline"],
  ])("runwayml/stable-diffusion-v1-5 for %s → %s", async (task, pipelineClass) => {
    const r = await resolve({ model: "runwayml/stable-diffusion-v1-5", task });
    expect(r).toMatchObject({
      __typename: "PipelineResolution",
      task,
      sourceClass: "StableDiffusionPipeline",
      family: "stable-diffusion",
      pipelineClass,
      source: "MODELS_DIR",
    });
    expect(r.components).toContainEqual({
      name: "unet",
      library: "diffusers",
      className: "UNet2DConditionModel",
    });
    // The folder holds only a model_index.json: nothing to execute.
    expect(r.runnable).toBe(false);
    expect(r.reason).toEqual(expect.any(String));
  });

  it("SDXL + controlnet + PAG → StableDiffusionXLControlNetPAGPipeline", async () => {
    const r = await resolve({
      model: "stabilityai/stable-diffusion-xl-base-1.0",
      task: "TEXT_TO_IMAGE",
      controlnet: true,
      enablePag: true,
    });
    expect(r).toMatchObject({
      __typename: "PipelineResolution",
      pipelineClass: "StableDiffusionXLControlNetPAGPipeline",
    });
  });

  it("SD 1.5 + controlnet + PAG has no image-to-image pipeline in diffusers: diffusers' message", async () => {
    const r = await resolve({
      model: "runwayml/stable-diffusion-v1-5",
      task: "IMAGE_TO_IMAGE",
      controlnet: true,
      enablePag: true,
    });
    expect(r).toMatchObject({
      __typename: "UnsupportedPipelineError",
      message:
        "AutoPipeline can't find a pipeline linked to StableDiffusionControlNetPAGPipeline for stable-diffusion-controlnet-pag",
      checkpointClass: "StableDiffusionPipeline",
    });
  });

  it("shap-e img2img has no image-to-image pipeline: diffusers' message verbatim", async () => {
    const r = await resolve({ model: "openai/shap-e-img2img", task: "IMAGE_TO_IMAGE" });
    expect(r).toMatchObject({
      __typename: "UnsupportedPipelineError",
      message: "AutoPipeline can't find a pipeline linked to ShapEImg2ImgPipeline for None",
    });
  });

  it("Kandinsky 2.2 decoder → the combined pipeline", async () => {
    const r = await resolve({ model: "kandinsky-community/kandinsky-2-2-decoder", task: "TEXT_TO_IMAGE" });
    expect(r).toMatchObject({
      __typename: "PipelineResolution",
      pipelineClass: "KandinskyV22CombinedPipeline",
    });
  });

  it.each([
    ["broken/not-json", /not valid JSON|JSON/i],
    ["broken/array", /object/i],
    ["broken/no-class", /_class_name/],
    ["broken/huge", /large|bytes/i],
  ])("%s → InvalidModelIndexError saying which", async (model, reason) => {
    const r = await resolve({ model, task: "TEXT_TO_IMAGE" });
    expect(r.__typename).toBe("InvalidModelIndexError");
    expect(r.model).toBe(model);
    expect(String(r.detail)).toMatch(reason);
  });

  it("a missing checkpoint → ModelNotFoundError naming the id and where we looked", async () => {
    const r = await resolve({ model: "nobody/nothing", task: "TEXT_TO_IMAGE" });
    expect(r.__typename).toBe("ModelNotFoundError");
    expect(r.model).toBe("nobody/nothing");
    expect((r.searched as string[]).length).toBeGreaterThanOrEqual(2);
    expect(r.message).toContain("nobody/nothing");
  });

  it.each(["/etc", "../models", "a/../../b", "%2e%2e%2fetc", "a\\b", "", "x".repeat(300)])(
    "refuses the id %j with InvalidInputError on `model`",
    async (model) => {
      const r = await resolve({ model, task: "TEXT_TO_IMAGE" });
      expect(r.__typename).toBe("InvalidInputError");
      expect(r.field).toBe("model");
    },
  );
});

describe("bundled checkpoints", () => {
  let app: TestApp;
  beforeAll(() => {
    app = createTestApp({ AUTOPIPE_MODELS_DIR: REPO_MODELS });
  });
  afterAll(() => app.close());

  it("models lists the bundled checkpoints (diffusers folder, single file, ONNX) with their source class", async () => {
    const body = await app.gql<{ models: unknown[] }>("{ models { id sourceClass source } }");
    expect(body.data!.models).toEqual([
      { id: "mini-sd", sourceClass: "StableDiffusionPipeline", source: "MODELS_DIR" },
      { id: "mini-sd.safetensors", sourceClass: "StableDiffusionPipeline", source: "MODELS_DIR" },
      { id: "tiny-sd", sourceClass: "OnnxStableDiffusionPipeline", source: "MODELS_DIR" },
      { id: "tiny-sd-inpaint", sourceClass: "OnnxStableDiffusionInpaintPipeline", source: "MODELS_DIR" },
      { id: "tiny-sdxl", sourceClass: "StableDiffusionXLPipeline", source: "MODELS_DIR" },
    ]);
  });

  it("tiny-sd resolves through the ONNX extension rows", async () => {
    const body = await app.gql<{ resolvePipeline: Result }>(RESOLVE, {
      model: "tiny-sd",
      task: "IMAGE_TO_IMAGE",
    });
    expect(body.data!.resolvePipeline).toMatchObject({
      __typename: "PipelineResolution",
      sourceClass: "OnnxStableDiffusionPipeline",
      family: "stable-diffusion",
      pipelineClass: "OnnxStableDiffusionImg2ImgPipeline",
    });
  });

  it("an invalid task is a GraphQL validation error, not a crash", async () => {
    const body = await app.gql(RESOLVE, { model: "tiny-sd", task: "PAINTING" });
    expect(body.errors?.[0]?.message).toMatch(/PAINTING/);
  });
});

function sdIndex(className: string) {
  return {
    _class_name: className,
    _diffusers_version: "0.27.0",
    scheduler: ["diffusers", "PNDMScheduler"],
    text_encoder: ["transformers", "CLIPTextModel"],
    tokenizer: ["transformers", "CLIPTokenizer"],
    unet: ["diffusers", "UNet2DConditionModel"],
    vae: ["diffusers", "AutoencoderKL"],
    safety_checker: [null, null],
    requires_safety_checker: false,
  };
}
