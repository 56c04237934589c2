/**
 * The time estimate and its refusals (service/time-cost.ts): how the estimate grows with steps, images and size;
 * which argument a refusal names and its largest value that fits; the calibration from measured step times; and
 * over GraphQL (yoga.fetch, fresh services: no calibration yet), the two requests that held the only slot
 * for minutes, 1024² on tiny-sd and an 8 × 100,000 image-to-image, refused by type as `time` before they run.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckpointLocator } from "../../server/checkpoints/locate.ts";
import { ResourceLimitError } from "../../server/errors.ts";
import { type CostSpec, readCostSpec } from "../../server/service/cost.ts";
import {
  admitByTime,
  estimateRunSeconds,
  TimeCalibration,
  type TimeRequest,
} from "../../server/service/time-cost.ts";
import { createTestApp, type TestApp, testConfig } from "../helpers/services.ts";

const FUSED = { unet: true, vaeDecoder: true, vaeEncoder: true };
/** tiny-sd's configs, as readCostSpec reads them. */
const TINY: CostSpec = {
  vaeScaleFactor: 2,
  sizeMultiple: 4,
  defaultSize: 64,
  unet: { channels: [32, 64], heads: [0, 8], layersPerBlock: 2 },
  vae: { channels: [32, 64], tileLatent: 16, layersPerBlock: 1 },
  weightBytes: 0,
  fused: FUSED,
};
const WHOLE = { splitGuidance: false, vaeTiling: false };
const REQ: TimeRequest = {
  width: 256,
  height: 256,
  images: 1,
  guidance: true,
  encodesImage: false,
  steps: 11,
};

describe("estimateRunSeconds", () => {
  it("reads what it needs from the checkpoints' configs (tiny-sd as above; SDXL's transformer layers)", async () => {
    const locator = new CheckpointLocator(testConfig());
    expect(await readCostSpec(await locator.locate("tiny-sd"), FUSED)).toMatchObject({
      ...TINY,
      weightBytes: expect.any(Number),
      unet: { ...TINY.unet, transformerLayers: [1, 1] },
    });
    const xl = await readCostSpec(await locator.locate("tiny-sdxl"), FUSED);
    expect(xl.unet.transformerLayers).toEqual([1, 2]);
    // Two transformer layers at the attention level: more time than one.
    const one = { ...xl, unet: { ...xl.unet, transformerLayers: [1, 1] } };
    const req = { ...REQ, width: 128, height: 128 };
    expect(estimateRunSeconds(xl, req, WHOLE).stepSeconds).toBeGreaterThan(
      estimateRunSeconds(one, req, WHOLE).stepSeconds,
    );
  });

  it("grows linearly with steps and images, faster than linearly with pixels", () => {
    const base = estimateRunSeconds(TINY, REQ, WHOLE);
    const steps = estimateRunSeconds(TINY, { ...REQ, steps: 21 }, WHOLE);
    expect(steps.seconds - base.seconds).toBeCloseTo(10 * base.stepSeconds, 6);
    const images = estimateRunSeconds(TINY, { ...REQ, images: 2 }, WHOLE);
    expect(images.stepSeconds).toBeCloseTo(2 * base.stepSeconds, 6);
    expect(images.vaeSeconds).toBeCloseTo(2 * base.vaeSeconds, 6);
    // Twice the side: four times the cells, and attention over them sixteen times the scores.
    const larger = estimateRunSeconds(TINY, { ...REQ, width: 512, height: 512 }, WHOLE);
    expect(larger.stepSeconds / base.stepSeconds).toBeGreaterThan(8);
    const guidance = estimateRunSeconds(TINY, { ...REQ, guidance: false }, WHOLE);
    expect(base.stepSeconds).toBeCloseTo(2 * guidance.stepSeconds, 6);
    expect(estimateRunSeconds(TINY, REQ, WHOLE, 2).seconds).toBeCloseTo(2 * base.seconds, 6);
  });
});

describe("admitByTime", () => {
  const fields = { numInferenceSteps: 10 };
  const refusal = (req: TimeRequest, limits: { maxSeconds: number; syncSeconds?: number }) => {
    try {
      admitByTime(TINY, req, fields, WHOLE, 1, limits, "textToImage");
    } catch (error) {
      return error as ResourceLimitError;
    }
    throw new Error("admitted");
  };

  it("admits what fits, and says how long it should take", () => {
    const estimate = admitByTime(TINY, REQ, fields, WHOLE, 1, { maxSeconds: 600 }, "textToImage");
    expect(estimate.seconds).toBeGreaterThan(0);
    expect(estimate.seconds).toBeLessThan(600);
  });

  it("names numInferenceSteps and the most that fit while one step fits", () => {
    const base = estimateRunSeconds(TINY, REQ, WHOLE);
    const limit = base.seconds - 3.5 * base.stepSeconds;
    const error = refusal(REQ, { maxSeconds: limit });
    expect(error).toBeInstanceOf(ResourceLimitError);
    expect(error).toMatchObject({
      resource: "time",
      field: "textToImage.numInferenceSteps",
      limitSeconds: limit,
    });
    // 11 loop steps for 10 asked (PNDM runs one more); 7 loop steps fit, so 6 of 10 asked.
    expect(error.limit).toBe(6);
    expect(error.estimatedSeconds).toBeCloseTo(base.seconds, 6);
    expect(error.message).toContain(`over its limit of ${limit} s per generation`);
    expect(estimateRunSeconds(TINY, { ...REQ, steps: 7 }, WHOLE).seconds).toBeLessThanOrEqual(limit);
    expect(estimateRunSeconds(TINY, { ...REQ, steps: 8 }, WHOLE).seconds).toBeGreaterThan(limit);
  });

  it("then numImagesPerPrompt, then the larger side with its largest multiple that fits", () => {
    const one = estimateRunSeconds(TINY, { ...REQ, steps: 1, images: 1 }, WHOLE).seconds;
    const images = refusal({ ...REQ, images: 4 }, { maxSeconds: one * 1.01 });
    expect(images).toMatchObject({ field: "textToImage.numImagesPerPrompt", limit: 1 });
    const side = refusal({ ...REQ, height: 512 }, { maxSeconds: one / 2 });
    expect(side.field).toBe("textToImage.height");
    expect(side.limit % TINY.sizeMultiple).toBe(0);
    const fits = { ...REQ, steps: 1, height: side.limit };
    expect(estimateRunSeconds(TINY, fits, WHOLE).seconds).toBeLessThanOrEqual(one / 2);
    const next = { ...fits, height: side.limit + TINY.sizeMultiple };
    expect(estimateRunSeconds(TINY, next, WHOLE).seconds).toBeGreaterThan(one / 2);
  });

  it("over only the synchronous limit, says to submit a job", () => {
    const base = estimateRunSeconds(TINY, REQ, WHOLE).seconds;
    const error = refusal(REQ, { maxSeconds: 2 * base, syncSeconds: base / 2 });
    expect(error).toMatchObject({ resource: "time", limitSeconds: base / 2 });
    expect(error.message).toMatch(/synchronous generate may take: submit it as a job with submitGeneration/);
    expect(error.message).toContain("generate(…, { onProgress })");
    expect(() =>
      admitByTime(TINY, REQ, fields, WHOLE, 1, { maxSeconds: 2 * base }, "textToImage"),
    ).not.toThrow();
  });
});

describe("TimeCalibration", () => {
  it("follows measured over estimated step times per checkpoint, within [1/1000, 8]", () => {
    const calibration = new TimeCalibration();
    expect(calibration.factor("a")).toBe(1);
    calibration.observe("a", 1, 2);
    expect(calibration.factor("a")).toBe(2);
    calibration.observe("a", 1, 8);
    expect(calibration.factor("a")).toBeCloseTo(4, 10);
    calibration.observe("b", 1, 1000);
    expect(calibration.factor("b")).toBe(8);
    calibration.observe("b", 1, 0);
    expect(calibration.factor("b")).toBe(8);
    calibration.observe("c", 1, 1e-6);
    expect(calibration.factor("c")).toBe(1 / 1000);
    expect(calibration.factor("d")).toBe(1);
  });
});

describe("over GraphQL, before anything ran", () => {
  let app: TestApp;
  beforeAll(() => {
    app = createTestApp();
  });
  afterAll(() => app.close());

  const GENERATE = /* GraphQL */ `
    mutation ($input: GenerateInput!) {
      generate(input: $input) {
        __typename
        ... on Error { message }
        ... on ResourceLimitError { field limit resource estimatedSeconds limitSeconds }
      }
    }
  `;
  const SUBMIT = GENERATE.replace("generate(input", "submitGeneration(input").replace(
    "__typename",
    "__typename ... on GenerationJob { id }",
  );

  it("1024² on tiny-sd (50 steps) is a ResourceLimitError on time, for generate and for a job", async () => {
    const input = { textToImage: { model: "tiny-sd", prompt: "a cat", width: 1024, height: 1024 } };
    for (const [query, key] of [
      [GENERATE, "generate"],
      [SUBMIT, "submitGeneration"],
    ] as const) {
      const { data } = await app.gql<Record<string, Record<string, unknown>>>(query, { input });
      const result = data?.[key];
      expect(result).toMatchObject({ __typename: "ResourceLimitError", resource: "time", limitSeconds: 600 });
      expect(result?.estimatedSeconds).toBeGreaterThan(600);
      expect(result?.message).toMatch(
        /^This generation would take about \d+ s on this server, over its limit/,
      );
    }
    expect(app.services.admission.active).toBe(0);
  });

  it("an 8 × 100,000 image-to-image of one step is refused on time too, naming the side to reduce", async () => {
    const image = readFileSync(
      new URL("../fixtures/diffusers-reference/reference/inputs/init_image_64x64.png", import.meta.url),
    );
    const input = {
      imageToImage: {
        model: "tiny-sd",
        prompt: "a cat",
        image: { base64: image.toString("base64") },
        width: 8,
        height: 100_000,
        numInferenceSteps: 1,
        strength: 1,
      },
    };
    const { data } = await app.gql<{ generate: Record<string, unknown> }>(GENERATE, { input });
    expect(data?.generate).toMatchObject({
      __typename: "ResourceLimitError",
      resource: "time",
      field: "imageToImage.height",
    });
    const limit = data?.generate.limit as number;
    expect(limit).toBeGreaterThan(0);
    expect(limit).toBeLessThan(100_000);
  });

  it("memory refusals say `memory` and carry no time", async () => {
    const small = createTestApp({ AUTOPIPE_MEMORY_BUDGET_BYTES: String(2 ** 20) });
    try {
      const input = { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 2 } };
      const { data } = await small.gql<{ generate: Record<string, unknown> }>(GENERATE, { input });
      expect(data?.generate).toMatchObject({
        __typename: "ResourceLimitError",
        resource: "memory",
        estimatedSeconds: null,
        limitSeconds: null,
      });
    } finally {
      await small.close();
    }
  });
});
