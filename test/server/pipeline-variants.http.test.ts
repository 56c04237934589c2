/**
 * Named pipelines over GraphQL (yoga.fetch) on the bundled tiny-sd: the effective config of a resolution, fromPipe
 * for another task with part of the config overridden (the seed's `from_pipe` example), chains whose configs merge
 * (newer wins), the precedence request field > named pipeline > checkpoint > diffusers default checked on real
 * images, a named pipeline used for another task, names that would shadow a checkpoint, and that a named pipeline
 * adds no load and no memory (and removing it unloads nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/services.ts";

const CONFIG =
  "config { requiresSafetyChecker scheduler numInferenceSteps guidanceScale strength negativePrompt width height }";
const VARIANT = `... on PipelineVariant { name from model task pipelineClass ${CONFIG} }`;
const ERRORS = "... on Error { message } ... on InvalidInputError { field value allowed }";

const FROM_PIPE = /* GraphQL */ `
  mutation ($name: String!, $from: String!, $task: Task!, $config: PipelineConfigInput) {
    fromPipe(name: $name, from: $from, task: $task, config: $config) { __typename ${VARIANT} ${ERRORS} }
  }
`;
const RESOLVE = /* GraphQL */ `
  query ($model: String!, $task: Task!) {
    resolvePipeline(model: $model, task: $task) {
      __typename ${ERRORS}
      ... on PipelineResolution { model pipelineClass ${CONFIG} }
    }
  }
`;
const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename ${ERRORS}
      ... on Generation { model scheduler seed nsfwContentDetected notes images { width height base64 } }
    }
  }
`;
const PIPELINES = "{ pipelines { model components bytes loads } pipelineVariants { name } }";

type Result = Record<string, unknown> & { __typename: string };

describe("named pipelines (fromPipe)", () => {
  let app: TestApp;
  beforeAll(() => {
    app = createTestApp({ AUTOPIPE_MAX_STEPS: "20" });
  });
  afterAll(() => app.close());

  async function call<T = Result>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const body = await app.gql<Record<string, T>>(query, variables);
    expect(body.errors).toBeUndefined();
    return Object.values(body.data!)[0] as T;
  }
  const fromPipe = (variables: Record<string, unknown>) => call(FROM_PIPE, variables);
  const textToImage = (input: Record<string, unknown>) =>
    call(GENERATE, { input: { textToImage: { prompt: "a photo of a cat", seed: "7", ...input } } });

  it("resolvePipeline shows the checkpoint's config with diffusers' defaults", async () => {
    expect(await call(RESOLVE, { model: "tiny-sd", task: "TEXT_TO_IMAGE" })).toMatchObject({
      __typename: "PipelineResolution",
      config: {
        requiresSafetyChecker: false, // model_index.json says so
        scheduler: "PNDMScheduler",
        numInferenceSteps: 50,
        guidanceScale: 7.5,
        strength: null,
        negativePrompt: null,
        width: 64, // UNet sample_size 32 × VAE factor 2
        height: 64,
      },
    });
    const i2i = await call(RESOLVE, { model: "tiny-sd", task: "IMAGE_TO_IMAGE" });
    expect(i2i.config).toMatchObject({ strength: 0.8, width: null, height: null });
  });

  it("from_pipe for another task keeps the config and overrides part of it (the seed's example)", async () => {
    const expectedClass = ((await call(RESOLVE, { model: "tiny-sd", task: "IMAGE_TO_IMAGE" })) as Result)
      .pipelineClass;
    const made = await fromPipe({
      name: "tiny-img2img",
      from: "tiny-sd",
      task: "IMAGE_TO_IMAGE",
      config: { requiresSafetyChecker: true, strength: 0.3 },
    });
    expect(made).toEqual({
      __typename: "PipelineVariant",
      name: "tiny-img2img",
      from: "tiny-sd",
      model: "tiny-sd",
      task: "IMAGE_TO_IMAGE",
      pipelineClass: expectedClass,
      config: {
        requiresSafetyChecker: true,
        scheduler: "PNDMScheduler",
        numInferenceSteps: 50,
        guidanceScale: 7.5,
        strength: 0.3,
        negativePrompt: null,
        width: null,
        height: null,
      },
    });
    // Resolving by name gives the same config.
    expect((await call(RESOLVE, { model: "tiny-img2img", task: "IMAGE_TO_IMAGE" })).config).toEqual(
      made.config,
    );
  });

  it("chains: a pipeline made from a named one inherits its checkpoint and config; the newer config wins", async () => {
    await fromPipe({
      name: "base",
      from: "tiny-sd",
      task: "TEXT_TO_IMAGE",
      config: { numInferenceSteps: 3, guidanceScale: 2 },
    });
    const mid = await fromPipe({
      name: "mid",
      from: "base",
      task: "INPAINTING",
      config: { guidanceScale: 4, scheduler: "DDIM", negativePrompt: "blurry" },
    });
    expect(mid).toMatchObject({ from: "base", model: "tiny-sd", task: "INPAINTING" });
    expect(mid.config).toMatchObject({
      numInferenceSteps: 3,
      guidanceScale: 4,
      scheduler: "DDIMScheduler",
      strength: 1,
    });
    const top = await fromPipe({
      name: "top",
      from: "mid",
      task: "TEXT_TO_IMAGE",
      config: { numInferenceSteps: 2 },
    });
    expect(top.config).toMatchObject({
      numInferenceSteps: 2,
      guidanceScale: 4,
      scheduler: "DDIMScheduler",
      negativePrompt: "blurry",
    });
    // The parent is unchanged.
    expect((await call(RESOLVE, { model: "base", task: "TEXT_TO_IMAGE" })).config).toMatchObject({
      numInferenceSteps: 3,
      guidanceScale: 2,
      scheduler: "PNDMScheduler",
    });
  });

  it("values resolve request field > named pipeline > checkpoint > default, on real images", async () => {
    await fromPipe({
      name: "fast",
      from: "tiny-sd",
      task: "TEXT_TO_IMAGE",
      config: { numInferenceSteps: 3, guidanceScale: 2.5, scheduler: "DDIM", width: 32, height: 48 },
    });
    const named = (await textToImage({ model: "fast" })) as Result & {
      images: { base64: string; width: number; height: number }[];
    };
    expect(named).toMatchObject({
      __typename: "Generation",
      model: "fast",
      scheduler: "DDIMScheduler",
      nsfwContentDetected: null,
    });
    expect(named.images[0]).toMatchObject({ width: 32, height: 48 });
    const explicit = (await textToImage({
      model: "tiny-sd",
      numInferenceSteps: 3,
      guidanceScale: 2.5,
      scheduler: "DDIM",
      width: 32,
      height: 48,
    })) as typeof named;
    expect(named.images[0]!.base64).toBe(explicit.images[0]!.base64);
    // A request field beats the named pipeline's value.
    const overridden = (await textToImage({
      model: "fast",
      numInferenceSteps: 2,
      scheduler: "EULER_DISCRETE",
    })) as typeof named;
    const overriddenExplicit = (await textToImage({
      model: "tiny-sd",
      numInferenceSteps: 2,
      guidanceScale: 2.5,
      scheduler: "EULER_DISCRETE",
      width: 32,
      height: 48,
    })) as typeof named;
    expect(overridden.scheduler).toBe("EulerDiscreteScheduler");
    expect(overridden.images[0]!.base64).toBe(overriddenExplicit.images[0]!.base64);
    expect(overridden.images[0]!.base64).not.toBe(named.images[0]!.base64);
  });

  it("a named pipeline adds no load and no memory; removing it unloads nothing", async () => {
    await fromPipe({
      name: "lean",
      from: "tiny-sd",
      task: "TEXT_TO_IMAGE",
      config: { numInferenceSteps: 2 },
    });
    await textToImage({ model: "tiny-sd", numInferenceSteps: 2, width: 32, height: 32 });
    type Listing = { pipelines: { model: string; bytes: number; loads: number; components: string[] }[] };
    const before = (await app.gql<Listing>(PIPELINES)).data!.pipelines;
    expect(before).toHaveLength(1);
    await textToImage({ model: "lean", width: 32, height: 32 });
    const load = await call(
      `mutation { loadPipeline(model: "lean") { __typename ... on LoadedPipeline { model loads } } }`,
    );
    expect(load).toMatchObject({ __typename: "LoadedPipeline", model: "tiny-sd", loads: before[0]!.loads });
    const after = (await app.gql<Listing>(PIPELINES)).data!.pipelines;
    expect(after.map(({ model, bytes, loads }) => ({ model, bytes, loads }))).toEqual(
      before.map(({ model, bytes, loads }) => ({ model, bytes, loads })),
    );
    const removed = await call(
      `mutation { removePipelineVariant(name: "lean") { __typename ${VARIANT} ${ERRORS} } }`,
    );
    expect(removed).toMatchObject({ __typename: "PipelineVariant", name: "lean", model: "tiny-sd" });
    const listing = (await app.gql<Listing & { pipelineVariants: { name: string }[] }>(PIPELINES)).data!;
    expect(listing.pipelines.map((p) => p.loads)).toEqual(before.map((p) => p.loads));
    expect(listing.pipelineVariants.map((v) => v.name)).not.toContain("lean");
    expect(
      await call(`mutation { removePipelineVariant(name: "lean") { __typename ${ERRORS} } }`),
    ).toMatchObject({
      __typename: "InvalidInputError",
      field: "name",
      value: '"lean"',
    });
  });

  it("a named pipeline serves its own task: another task is an InvalidInputError naming the model", async () => {
    await fromPipe({ name: "t2i-only", from: "tiny-sd", task: "TEXT_TO_IMAGE" });
    const generated = await call(GENERATE, {
      input: { imageToImage: { model: "t2i-only", prompt: "x", image: { base64: "AAAA" } } },
    });
    expect(generated).toMatchObject({
      __typename: "InvalidInputError",
      field: "imageToImage.model",
      value: '"t2i-only"',
    });
    expect(generated.allowed).toContain("is for TEXT_TO_IMAGE");
    expect(await call(RESOLVE, { model: "t2i-only", task: "INPAINTING" })).toMatchObject({
      __typename: "InvalidInputError",
      field: "model",
    });
  });

  it("refuses names that shadow a checkpoint, bad names, taken names and bad config values", async () => {
    const refused = async (variables: Record<string, unknown>, field: string) => {
      const r = await fromPipe({ from: "tiny-sd", task: "TEXT_TO_IMAGE", ...variables });
      expect(r, JSON.stringify(variables)).toMatchObject({ __typename: "InvalidInputError", field });
      return r;
    };
    expect((await refused({ name: "tiny-sd" }, "name")).allowed).toContain("'tiny-sd' is a checkpoint");
    await refused({ name: "tiny-sd-inpaint", task: "INPAINTING" }, "name");
    await refused({ name: "org/name" }, "name");
    await refused({ name: "" }, "name");
    await fromPipe({ name: "taken", from: "tiny-sd", task: "TEXT_TO_IMAGE" });
    await refused({ name: "taken" }, "name");
    await refused({ name: "x1", config: { numInferenceSteps: 0 } }, "config.numInferenceSteps");
    await refused({ name: "x2", config: { strength: 1.5 } }, "config.strength");
    await refused({ name: "x3", config: { guidanceScale: -1 } }, "config.guidanceScale");
    expect(await fromPipe({ name: "x4", from: "no-such-model", task: "TEXT_TO_IMAGE" })).toMatchObject({
      __typename: "ModelNotFoundError",
    });
    const names = (await app.gql<{ pipelineVariants: { name: string }[] }>(PIPELINES)).data!.pipelineVariants;
    expect(names.map((v) => v.name)).not.toContain("x4");
  });
});
