/**
 * Single-file checkpoints over GraphQL (yoga.fetch): ids and listing, the resolution (format SINGLE_FILE, the class
 * the keys make, the task class through the AutoPipeline tables), configFrom through fromPipe, a generation from a
 * single file, and everything refused — with `runnable: false` and a reason naming the fix, or a typed error — while
 * the server keeps serving: pickle (`.ckpt`), not a safetensors file, a 2 GB header length, no recognisable keys,
 * weights that do not fit the config, missing weights (named), unused keys (in `notes`), a file without a config
 * checkpoint, and a symlink leading out of the models directory. The files are written by the test into a temp
 * models directory, next to copies of mini-sd's configs and tokenizer (no weights).
 */
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { createTestApp, type TestApp } from "../helpers/services.ts";

const ERRORS = "... on Error { message } ... on InvalidInputError { field value allowed }";
const RESOLUTION =
  "model sourceClass family pipelineClass format runnable reason notes inpaintingMode variants config { configFrom scheduler }";
const RESOLVE = /* GraphQL */ `
  query ($model: String!, $task: Task!) {
    resolvePipeline(model: $model, task: $task) { __typename ${ERRORS} ... on PipelineResolution { ${RESOLUTION} } }
  }
`;
const FROM_PIPE = /* GraphQL */ `
  mutation ($name: String!, $from: String!, $task: Task!, $config: PipelineConfigInput) {
    fromPipe(name: $name, from: $from, task: $task, config: $config) {
      __typename ${ERRORS}
      ... on PipelineVariant { name model pipelineClass config { configFrom } }
    }
  }
`;
const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) { __typename ${ERRORS} ... on Generation { model images { width height } } }
  }
`;

const MINI_SD = `${SAFETENSORS_FIXTURES}single-file/mini-sd.safetensors`;

/** The header and data section of a safetensors file. */
function readSafetensors(file: string) {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  return { header, data: bytes.subarray(8 + n) };
}

function writeSafetensors(file: string, header: object, data: Uint8Array) {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, data]));
}

/** mini-sd.safetensors with `drop` keys removed and `add` tensors (zeros; F32 unless `I64:` names the key) appended. */
function editedMiniSd(file: string, drop: (key: string) => boolean, add: Record<string, number[]>) {
  const { header, data } = readSafetensors(MINI_SD);
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(header)) if (!drop(key)) out[key] = entry;
  let end = data.length;
  const extra: Buffer[] = [];
  for (const [name, shape] of Object.entries(add)) {
    const int64 = name.startsWith("I64:");
    const key = int64 ? name.slice(4) : name;
    const bytes = (int64 ? 8 : 4) * shape.reduce((a, b) => a * b, 1);
    out[key] = { dtype: int64 ? "I64" : "F32", shape, data_offsets: [end, end + bytes] };
    extra.push(Buffer.alloc(bytes));
    end += bytes;
  }
  writeSafetensors(file, out, Buffer.concat([data, ...extra]));
}

/** mini-sd's configs, scheduler and tokenizer (every file but the weights) into `dest`. */
function copyConfigs(dest: string, edit?: (component: string, config: Record<string, unknown>) => void) {
  cpSync(`${SAFETENSORS_FIXTURES}models/mini-sd`, dest, {
    recursive: true,
    filter: (src) => !src.endsWith(".safetensors"),
  });
  for (const component of ["unet", "vae", "text_encoder"]) {
    const file = path.join(dest, component, "config.json");
    const config = JSON.parse(readFileSync(file, "utf8"));
    edit?.(component, config);
    writeFileSync(file, JSON.stringify(config));
  }
}

describe("single-file checkpoints over GraphQL", () => {
  let app: TestApp;
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "autopipe-single-file-"));
    const models = path.join(tmp, "models");
    mkdirSync(path.join(models, "bad"), { recursive: true });
    copyFileSync(MINI_SD, path.join(models, "sd15.safetensors"));
    copyConfigs(path.join(models, "cfg", "mini-sd"));
    copyConfigs(path.join(models, "cfg", "wide"), (component, config) => {
      if (component === "unet") config.block_out_channels = [32, 32, 64, 128];
    });
    writeFileSync(path.join(models, "bad", "old.ckpt"), "PK\u0003\u0004 not really a zip");
    writeFileSync(
      path.join(models, "bad", "text.safetensors"),
      "this is a text file, not safetensors at all",
    );
    const huge = Buffer.alloc(64);
    huge.writeBigUInt64LE(2n ** 31n);
    writeFileSync(path.join(models, "bad", "huge-header.safetensors"), huge);
    writeSafetensors(
      path.join(models, "bad", "lora.safetensors"),
      { "lora_unet_down_blocks_0.alpha": { dtype: "F32", shape: [], data_offsets: [0, 4] } },
      Buffer.alloc(4),
    );
    editedMiniSd(
      path.join(models, "bad", "missing.safetensors"),
      (k) => k.startsWith("model.diffusion_model.out.2."),
      {},
    );
    editedMiniSd(path.join(models, "extra.safetensors"), () => false, {
      "model.diffusion_model.extra_head.weight": [4, 4],
      "model_ema.decay": [],
      betas: [1000],
      // Real SD 1.x files store CLIP's position_ids as int64: set aside, not refused.
      "I64:cond_stage_model.transformer.text_model.embeddings.position_ids": [1, 77],
    });
    editedMiniSd(path.join(models, "bad", "int-weight.safetensors"), () => false, {
      "I64:model.diffusion_model.time_embed.0.steps": [4],
    });
    symlinkSync(MINI_SD, path.join(models, "escape.safetensors"));
    app = createTestApp({ AUTOPIPE_MODELS_DIR: models, AUTOPIPE_MAX_STEPS: "20" });
  });
  afterAll(async () => {
    await app.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  async function call(query: string, variables: Record<string, unknown>) {
    const body = await app.gql<Record<string, Record<string, unknown>>>(query, variables);
    expect(body.errors).toBeUndefined();
    return Object.values(body.data!)[0]!;
  }
  const resolve = (model: string, task = "TEXT_TO_IMAGE") => call(RESOLVE, { model, task });

  it("models lists the single files with the class their keys make", async () => {
    const body = await app.gql<{ models: { id: string; sourceClass: string | null }[] }>(
      "{ models { id sourceClass } }",
    );
    const byId = new Map(body.data!.models.map((m) => [m.id, m.sourceClass]));
    expect(byId.get("sd15.safetensors")).toBe("StableDiffusionPipeline");
    expect(byId.get("extra.safetensors")).toBe("StableDiffusionPipeline");
    expect(byId.get("bad/text.safetensors")).toBeNull();
    expect(byId.has("escape.safetensors")).toBe(false);
    expect(byId.has("bad/old.ckpt")).toBe(false);
  });

  it("resolves through a named pipeline with configFrom; INPAINTING maps to the inpaint class (blend)", async () => {
    const made = await call(FROM_PIPE, {
      name: "sd15-inpaint",
      from: "sd15.safetensors",
      task: "INPAINTING",
      config: { configFrom: "cfg/mini-sd" },
    });
    expect(made).toMatchObject({
      __typename: "PipelineVariant",
      model: "sd15.safetensors",
      pipelineClass: "StableDiffusionInpaintPipeline",
      config: { configFrom: "cfg/mini-sd" },
    });
    expect(await resolve("sd15-inpaint", "INPAINTING")).toMatchObject({
      __typename: "PipelineResolution",
      sourceClass: "StableDiffusionPipeline",
      family: "stable-diffusion",
      pipelineClass: "StableDiffusionInpaintPipeline",
      format: "SINGLE_FILE",
      runnable: true,
      reason: null,
      notes: [],
      inpaintingMode: "BLEND",
      variants: [],
      config: { configFrom: "cfg/mini-sd", scheduler: "PNDMScheduler" },
    });
  });

  it("generates from a single file (a named pipeline with configFrom)", async () => {
    await call(FROM_PIPE, {
      name: "sd15",
      from: "sd15.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/mini-sd", numInferenceSteps: 2, requiresSafetyChecker: false },
    });
    const generated = await call(GENERATE, {
      input: { textToImage: { model: "sd15", prompt: "a photo of a cat", seed: "1" } },
    });
    expect(generated).toMatchObject({ __typename: "Generation", images: [{ width: 128, height: 128 }] });
  });

  it("without configFrom, names the reference repo diffusers would fetch and the fix", async () => {
    const r = await resolve("sd15.safetensors");
    expect(r).toMatchObject({
      sourceClass: "StableDiffusionPipeline",
      format: "SINGLE_FILE",
      runnable: false,
    });
    expect(r.reason).toContain("runwayml/stable-diffusion-v1-5");
    expect(r.reason).toContain("configFrom");
  });

  it("reports unused keys in notes and ignores training state", async () => {
    await call(FROM_PIPE, {
      name: "extra",
      from: "extra.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/mini-sd" },
    });
    const r = await resolve("extra");
    expect(r).toMatchObject({ runnable: true, reason: null });
    expect(r.notes).toEqual([
      "1 key(s) of the single file are read by no graph: 'model.diffusion_model.extra_head.weight'",
      "3 training-state key(s) ignored (EMA copies, schedule buffers, position_ids)",
    ]);
  });

  it("missing weights make it not runnable, naming them in both layouts", async () => {
    await call(FROM_PIPE, {
      name: "missing",
      from: "bad/missing.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/mini-sd" },
    });
    const r = await resolve("missing");
    expect(r.runnable).toBe(false);
    expect(r.reason).toContain("lacks 2 weight(s) of unet");
    expect(r.reason).toContain("'model.diffusion_model.out.2.weight' (unet conv_out.weight)");
  });

  it("a UNet whose weights do not fit the config is not runnable, naming the weight and both shapes", async () => {
    await call(FROM_PIPE, {
      name: "wide",
      from: "sd15.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/wide" },
    });
    const r = await resolve("wide");
    expect(r.runnable).toBe(false);
    expect(r.reason).toMatch(/^unet: weight '[^']+' has shape \[[\d, ]+\] but the config needs \[[\d, ]+\]/);
  });

  it.each([
    [
      "bad/old.ckpt",
      /pickle file, which is never loaded because unpickling runs code; convert it to safetensors .*'bad\/old\.safetensors'/,
    ],
    ["bad/text.safetensors", /Safetensors file 'text\.safetensors' is invalid/],
    ["bad/huge-header.safetensors", /header length 2147483648 exceeds the 100000000-byte limit/],
    [
      "bad/int-weight.safetensors",
      /tensor 'model\.diffusion_model\.time_embed\.0\.steps' has dtype I64; weights must be F32, F16 or BF16/,
    ],
    [
      "bad/lora.safetensors",
      /not a single-file layout this server knows: no Stable Diffusion UNet .*'lora_unet_down_blocks_0\.alpha\.…'/,
    ],
  ])("%s: runnable false, the reason says why", async (model, reason) => {
    const r = await resolve(model);
    expect(r).toMatchObject({ __typename: "PipelineResolution", format: "SINGLE_FILE", runnable: false });
    expect(r.reason).toMatch(reason);
    // The server keeps serving.
    expect(await resolve("sd15.safetensors")).toMatchObject({ __typename: "PipelineResolution" });
  });

  it("refuses a symlink out of the models directory, configFrom on a folder, and variants", async () => {
    expect(await resolve("escape.safetensors")).toMatchObject({
      __typename: "InvalidInputError",
      field: "model",
    });
    const folder = await call(FROM_PIPE, {
      name: "nope",
      from: "cfg/mini-sd",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/mini-sd" },
    });
    expect(folder).toMatchObject({ __typename: "InvalidInputError", field: "configFrom" });
    const variant = await call(FROM_PIPE, {
      name: "nope",
      from: "sd15.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/mini-sd", variant: "fp16" },
    });
    expect(variant).toMatchObject({ __typename: "InvalidInputError", field: "variant" });
    const badId = await call(FROM_PIPE, {
      name: "nope",
      from: "sd15.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "../etc" },
    });
    expect(badId).toMatchObject({ __typename: "InvalidInputError", field: "config.configFrom" });
  });

  it("without configFrom, the reference repo diffusers would fetch is used when it is on disk", async () => {
    const models = path.join(tmp, "models-with-reference");
    mkdirSync(models);
    copyFileSync(MINI_SD, path.join(models, "sd15.safetensors"));
    copyConfigs(path.join(models, "runwayml", "stable-diffusion-v1-5"));
    const withReference = createTestApp({ AUTOPIPE_MODELS_DIR: models });
    try {
      const body = await withReference.gql<{ resolvePipeline: Record<string, unknown> }>(RESOLVE, {
        model: "sd15.safetensors",
        task: "IMAGE_TO_IMAGE",
      });
      expect(body.data!.resolvePipeline).toMatchObject({
        pipelineClass: "StableDiffusionImg2ImgPipeline",
        runnable: true,
        reason: null,
        config: { configFrom: "runwayml/stable-diffusion-v1-5" },
      });
    } finally {
      await withReference.close();
    }
  });

  it("AUTOPIPE_PIPELINES_FILE accepts configFrom (and refuses one outside the id grammar)", async () => {
    const good = path.join(tmp, "pipelines.json");
    const entry = {
      name: "filed",
      from: "sd15.safetensors",
      task: "TEXT_TO_IMAGE",
      config: { configFrom: "cfg/mini-sd" },
    };
    writeFileSync(good, JSON.stringify({ pipelines: [entry] }));
    const filed = createTestApp({
      AUTOPIPE_MODELS_DIR: path.join(tmp, "models"),
      AUTOPIPE_PIPELINES_FILE: good,
    });
    try {
      const body = await filed.gql<{ resolvePipeline: Record<string, unknown> }>(RESOLVE, {
        model: "filed",
        task: "TEXT_TO_IMAGE",
      });
      expect(body.data!.resolvePipeline).toMatchObject({
        format: "SINGLE_FILE",
        runnable: true,
        config: { configFrom: "cfg/mini-sd" },
      });
    } finally {
      await filed.close();
    }
    const bad = path.join(tmp, "bad-pipelines.json");
    writeFileSync(bad, JSON.stringify([{ ...entry, config: { configFrom: "/etc" } }]));
    expect(() =>
      createTestApp({ AUTOPIPE_MODELS_DIR: path.join(tmp, "models"), AUTOPIPE_PIPELINES_FILE: bad }),
    ).toThrow(/entry 0 \('filed'\).*config\.configFrom/);
  });
});
