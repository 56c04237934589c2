/**
 * imageToImage and inpainting over GraphQL (yoga.fetch): base64 and data-URL images, typed errors for bad
 * strength and bad or oversized images, the mask-aspect note, and the not-seed-reproducible flag for an encoder
 * that samples inside its graph.
 */
import { readFileSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFERENCE } from "../helpers/reference.ts";
import { createTestApp, REPO_MODELS, type TestApp } from "../helpers/services.ts";

const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on Generation { task pipelineClass seed seedReproducible notes images { width height base64 } }
      ... on InvalidInputError { field value allowed }
    }
  }
`;

type Result = Record<string, unknown> & { __typename: string; message: string };

const init = readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`).toString("base64");
const mask = readFileSync(`${REFERENCE}reference/inputs/mask_64x64.png`).toString("base64");

describe("image tasks over HTTP", () => {
  let app: TestApp;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-img-"));
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "tiny-sd"), { recursive: true });
    await cp(path.join(REPO_MODELS, "tiny-sd-inpaint"), path.join(modelsDir, "tiny-sd-inpaint"), {
      recursive: true,
    });
    // diffusers' own ONNX export of the encoder ends in RandomNormalLike: it samples inside the graph.
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "sampling-encoder"), {
      recursive: true,
    });
    await cp(
      `${REFERENCE}onnx/tiny-sd/vae_encoder/model.onnx`,
      path.join(modelsDir, "sampling-encoder", "vae_encoder", "model.onnx"),
    );
    app = createTestApp({ AUTOPIPE_MODELS_DIR: modelsDir, AUTOPIPE_MAX_UPLOAD_BYTES: "100000" });
  });
  afterAll(async () => {
    await app.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  async function run(input: Record<string, unknown>): Promise<Result> {
    const body = await app.gql<{ generate: Result }>(GENERATE, { input });
    expect(body.errors).toBeUndefined();
    return body.data!.generate;
  }

  const i2i = (extra: Record<string, unknown> = {}) =>
    run({
      imageToImage: {
        model: "tiny-sd",
        prompt: "a cat",
        image: { base64: init },
        numInferenceSteps: 4,
        seed: 3,
        ...extra,
      },
    });

  it("image-to-image from base64 reproduces from its seed, and a data: URL is the same image", async () => {
    const a = await i2i();
    const b = await i2i({ image: { base64: `data:image/png;base64,${init}` } });
    expect(a).toMatchObject({ __typename: "Generation", task: "IMAGE_TO_IMAGE", seedReproducible: true });
    expect(a.pipelineClass).toBe("OnnxStableDiffusionImg2ImgPipeline");
    expect(a.images).toEqual(b.images);
    expect(a.images).toEqual([expect.objectContaining({ width: 64, height: 64 })]);
  });

  it("the default size is the input image's, rounded down to what the UNet needs", async () => {
    const odd = await sharp({ create: { width: 50, height: 37, channels: 3, background: "#808000" } })
      .png()
      .toBuffer();
    const r = await i2i({ image: { base64: odd.toString("base64") } });
    expect(r.images).toEqual([expect.objectContaining({ width: 48, height: 36 })]);
  });

  it.each([
    [0, "a number in (0, 1]"],
    [1.5, "a number in (0, 1]"],
    [0.2, "at least 0.250 with 4 steps (int(numInferenceSteps × strength) must be ≥ 1)"],
  ])("strength %s → InvalidInputError", async (strength, allowed) => {
    expect(await i2i({ strength })).toMatchObject({
      __typename: "InvalidInputError",
      field: "imageToImage.strength",
      value: String(strength),
      allowed,
    });
  });

  it.each([
    ["", /empty/],
    [Buffer.from("not an image at all").toString("base64"), /./],
    [Buffer.from(init, "base64").subarray(0, 200).toString("base64"), /truncated|corrupt/],
    ["https://example.invalid/cat.png", /URL/],
  ])("an unusable image %# → InvalidInputError on imageToImage.image", async (base64, value) => {
    const r = await i2i({ image: { base64 } });
    expect(r).toMatchObject({ __typename: "InvalidInputError", field: "imageToImage.image" });
    expect(String(r.value)).toMatch(value);
  });

  it("an image over AUTOPIPE_MAX_UPLOAD_BYTES is refused", async () => {
    const big = Buffer.alloc(150_000, 7).toString("base64");
    const r = await i2i({ image: { base64: big } });
    expect(r).toMatchObject({ __typename: "InvalidInputError", field: "imageToImage.image" });
    expect(r.allowed).toMatch(/100000/);
  });

  it("inpainting on a 9-channel checkpoint, with a note when the mask's aspect ratio differs", async () => {
    const wide = await sharp(Buffer.from(mask, "base64")).resize(128, 64, { fit: "fill" }).png().toBuffer();
    const r = await run({
      inpainting: {
        model: "tiny-sd-inpaint",
        prompt: "a cat",
        image: { base64: init },
        maskImage: { base64: wide.toString("base64") },
        numInferenceSteps: 3,
        seed: 0,
      },
    });
    expect(r).toMatchObject({ __typename: "Generation", task: "INPAINTING", seedReproducible: true });
    expect(r.notes).toEqual([expect.stringMatching(/aspect ratio/)]);
  });

  it("inpainting without a decodable mask → InvalidInputError on inpainting.maskImage", async () => {
    const r = await run({
      inpainting: {
        model: "tiny-sd-inpaint",
        prompt: "x",
        image: { base64: init },
        maskImage: { base64: "AAAA" },
      },
    });
    expect(r).toMatchObject({ __typename: "InvalidInputError", field: "inpainting.maskImage" });
  });

  it("an encoder that samples inside its graph still works, and says it is not seed-reproducible", async () => {
    const r = await i2i({ model: "sampling-encoder" });
    expect(r).toMatchObject({ __typename: "Generation", seedReproducible: false });
    expect(r.notes).toEqual([expect.stringMatching(/not reproducible/)]);
  });

  it("resolvePipeline reports the inpainting path", async () => {
    const q = `query ($m: String!) { resolvePipeline(model: $m, task: INPAINTING) { ... on PipelineResolution { runnable inpaintingMode } } }`;
    const nine = await app.gql<{ resolvePipeline: unknown }>(q, { m: "tiny-sd-inpaint" });
    const four = await app.gql<{ resolvePipeline: unknown }>(q, { m: "tiny-sd" });
    expect(nine.data!.resolvePipeline).toEqual({ runnable: true, inpaintingMode: "NINE_CHANNEL" });
    expect(four.data!.resolvePipeline).toEqual({ runnable: true, inpaintingMode: "BLEND" });
  });
});
