/**
 * diffusers-layout checkpoints over GraphQL (yoga.fetch): resolution says `format: DIFFUSERS` and lists the
 * variants on disk; `loadPipeline(variant:)` and named pipelines with `config.variant` load the fp16 files; real
 * PNGs come back; and every bad checkpoint — pickle only, a missing variant, a config key the builder does not
 * support, a weight of the wrong shape, a truncated weight file — is `runnable: false` with a reason or a typed
 * error, while the server keeps serving.
 */
import { cp, mkdtemp, readdir, readFile, rm, truncate, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { createTestApp, type TestApp } from "../helpers/services.ts";

const RESOLVE = /* GraphQL */ `
  query ($model: String!, $task: Task!) {
    resolvePipeline(model: $model, task: $task) {
      __typename
      ... on Error { message }
      ... on PipelineResolution { pipelineClass runnable reason format variants config { variant } }
    }
  }
`;
const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on Generation { model images { width height base64 } }
      ... on ModelLoadError { model component }
    }
  }
`;

type Resolution = {
  __typename: string;
  runnable: boolean;
  reason: string | null;
  format: string;
  variants: string[];
};

describe("diffusers-layout checkpoints over GraphQL", () => {
  let app: TestApp;
  let modelsDir: string;
  const SRC = `${SAFETENSORS_FIXTURES}models/`;

  beforeAll(async () => {
    modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-diffusers-"));
    const copy = (from: string, to: string) =>
      cp(`${SRC}${from}`, path.join(modelsDir, to), { recursive: true });
    await copy("mini-sd", "mini-sd");
    await copy("mini-sd2-v", "mini-sd2-v");
    // Pickle only: the UNet's safetensors replaced by a .bin of the same bytes (never read).
    await copy("mini-sd2-v", "pickled");
    const unet = path.join(modelsDir, "pickled", "unet");
    await cp(
      path.join(unet, "diffusion_pytorch_model.safetensors"),
      path.join(unet, "diffusion_pytorch_model.bin"),
    );
    await unlink(path.join(unet, "diffusion_pytorch_model.safetensors"));
    // A UNet config value the builder does not implement.
    await copy("mini-sd2-v", "odd-config");
    const odd = path.join(modelsDir, "odd-config", "unet", "config.json");
    await writeFile(
      odd,
      JSON.stringify({ ...JSON.parse(await readFile(odd, "utf8")), class_embed_type: "timestep" }),
    );
    // A config that does not match the weights: cross-attention width 32 instead of 64.
    await copy("mini-sd2-v", "wrong-shape");
    const wrong = path.join(modelsDir, "wrong-shape", "unet", "config.json");
    await writeFile(
      wrong,
      JSON.stringify({ ...JSON.parse(await readFile(wrong, "utf8")), cross_attention_dim: 32 }),
    );
    // A truncated VAE weight file.
    await copy("mini-sd2-v", "truncated");
    await truncate(path.join(modelsDir, "truncated", "vae", "diffusion_pytorch_model.safetensors"), 100_000);
    app = createTestApp({
      AUTOPIPE_MODELS_DIR: modelsDir,
      AUTOPIPE_CACHE_DIR: path.join(modelsDir, ".cache"),
    });
  });
  afterAll(async () => {
    await app.close();
    await rm(modelsDir, { recursive: true, force: true });
  });

  const resolve = async (model: string, task = "TEXT_TO_IMAGE") =>
    (await app.gql<{ resolvePipeline: Resolution }>(RESOLVE, { model, task })).data!.resolvePipeline;
  const generate = async (model: string, extra: Record<string, unknown> = {}) =>
    (
      await app.gql<{ generate: Record<string, unknown> & { __typename: string; message: string } }>(
        GENERATE,
        {
          input: {
            textToImage: {
              model,
              prompt: "a cat",
              numInferenceSteps: 2,
              width: 64,
              height: 64,
              seed: 1,
              ...extra,
            },
          },
        },
      )
    ).data!.generate;

  it("resolves a diffusers folder as DIFFUSERS, listing its variants, runnable for every task", async () => {
    for (const task of ["TEXT_TO_IMAGE", "IMAGE_TO_IMAGE", "INPAINTING"]) {
      expect(await resolve("mini-sd", task)).toMatchObject({
        runnable: true,
        reason: null,
        format: "DIFFUSERS",
        variants: ["fp16"],
      });
    }
    expect(await resolve("mini-sd2-v")).toMatchObject({ runnable: true, format: "DIFFUSERS", variants: [] });
  });

  it("generates real PNGs from the built graphs, plain and fp16 variant (each its own loaded entry and cached graphs)", async () => {
    const plain = await generate("mini-sd");
    expect(plain.__typename).toBe("Generation");
    const images = plain.images as { width: number; height: number; base64: string }[];
    expect(images[0]).toMatchObject({ width: 64, height: 64 });
    const png = Buffer.from(images[0]!.base64, "base64");
    expect((await sharp(png).metadata()).format).toBe("png");

    const named = await app.gql(
      `mutation { fromPipe(name: "mini16", from: "mini-sd", task: TEXT_TO_IMAGE, config: { variant: "fp16" }) { __typename ... on PipelineVariant { config { variant } } } }`,
    );
    expect(named.data).toEqual({ fromPipe: { __typename: "PipelineVariant", config: { variant: "fp16" } } });
    const half = await generate("mini16");
    expect(half.__typename).toBe("Generation");
    const halfPng = Buffer.from((half.images as { base64: string }[])[0]!.base64, "base64");
    expect((await sharp(halfPng).metadata()).format).toBe("png");
    // Two loaded entries of one checkpoint, each counting its weights as fp32 (what they weigh in memory)…
    const entries = app.services.pipelines.info().filter((e) => e.model === "mini-sd");
    expect(entries).toHaveLength(2);
    expect(entries[0]!.bytes).toBe(entries[1]!.bytes);
    // …and the graph cache holds the UNet built from each file: the plain one and the fp16 variant.
    const graphs = path.join(modelsDir, ".cache", "graphs");
    const tags = await Promise.all(
      (await readdir(graphs)).map(
        async (d) => JSON.parse(await readFile(path.join(graphs, d, "manifest.json"), "utf8")).graph,
      ),
    );
    expect(tags).toEqual(
      expect.arrayContaining(["unet", "unet.fp16", "text_encoder.fp16", "vae_decoder.fp16"]),
    );
  });

  it("loadPipeline loads a variant as its own entry; a variant that does not exist names the missing file", async () => {
    const LOAD = `mutation ($v: String) { loadPipeline(model: "mini-sd", variant: $v) { __typename ... on Error { message } ... on LoadedPipeline { model } } }`;
    const loaded = await app.gql<{ loadPipeline: { __typename: string } }>(LOAD, { v: "fp16" });
    expect(loaded.data?.loadPipeline.__typename).toBe("LoadedPipeline");
    const missing = await app.gql<{ loadPipeline: { __typename: string; message: string } }>(LOAD, {
      v: "bf16",
    });
    expect(missing.data?.loadPipeline.__typename).toBe("UnsupportedPipelineError");
    expect(missing.data?.loadPipeline.message).toContain(
      "no file named text_encoder/model.bf16.safetensors (variant 'bf16'; variants present: fp16)",
    );
    const bad = await app.gql<{ loadPipeline: { __typename: string; message: string } }>(LOAD, { v: "../x" });
    expect(bad.data?.loadPipeline).toMatchObject({ __typename: "InvalidInputError" });
  });

  it("never loads pickle, names unsupported config values, and answers bad weights with typed errors", async () => {
    const pickled = await resolve("pickled");
    expect(pickled.runnable).toBe(false);
    expect(pickled.reason).toContain("'unet/' has only pickle weights (diffusion_pytorch_model.bin)");
    expect(pickled.reason).toContain("unet/diffusion_pytorch_model.safetensors (safetensors)");

    const odd = await resolve("odd-config");
    expect(odd.runnable).toBe(false);
    expect(odd.reason).toContain("class_embed_type");
    expect(odd.reason).toContain("timestep");

    const wrong = await generate("wrong-shape");
    expect(wrong).toMatchObject({ __typename: "ModelLoadError", model: "wrong-shape", component: "unet" });
    expect(wrong.message).toMatch(
      /unet: weight '[\w.]+attn2\.to_k\.weight' has shape \[\d+, 64\] but the config needs \[\d+, 32\]/,
    );

    const cut = await generate("truncated");
    expect(cut).toMatchObject({ __typename: "ModelLoadError", component: "vae_decoder" });
    expect(cut.message).toMatch(/truncated/);
    expect(cut.message).not.toContain(modelsDir);

    // Still serving.
    expect((await generate("mini-sd2-v")).__typename).toBe("Generation");
  });
});
