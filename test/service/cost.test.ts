/**
 * Cost-based admission: the estimate read from the bundled checkpoint's configs, the plans it picks under a
 * budget (whole, split guidance, tiled VAE), refusals naming the field and its largest fitting value, and the
 * server following a plan (a tiled, split run still returns a full image) or refusing by type.
 */
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointLocator } from "../../server/checkpoints/locate.ts";
import { ResourceLimitError } from "../../server/errors.ts";
import {
  admitByCost,
  type CostRequest,
  choosePlan,
  estimateRunBytes,
  readCostSpec,
} from "../../server/service/cost.ts";
import { createTestApp, testConfig } from "../helpers/services.ts";

const locator = new CheckpointLocator(testConfig());
const spec = await readCostSpec(await locator.locate("tiny-sd"));
const req = (width: number, height: number, images = 1): CostRequest => ({
  width,
  height,
  images,
  guidance: true,
  encodesImage: false,
});
const WHOLE = { splitGuidance: false, vaeTiling: false };
const LEAN = { splitGuidance: true, vaeTiling: true };

describe("memory estimate", () => {
  it("reads the UNet's attention levels and the VAE tile from the configs", () => {
    expect(spec.vaeScaleFactor).toBe(2);
    expect(spec.sizeMultiple).toBe(4);
    expect(spec.unet.heads).toEqual([0, 8]);
    expect(spec.vae.tileLatent).toBe(16);
    expect(spec.weightBytes).toBeGreaterThan(0);
  });

  it("grows with the square of the token count, and split guidance and tiling cut it", () => {
    const small = estimateRunBytes(spec, req(128, 128), WHOLE);
    const large = estimateRunBytes(spec, req(256, 256), WHOLE);
    expect(large / small).toBeGreaterThan(4);
    expect(estimateRunBytes(spec, req(256, 256), LEAN)).toBeLessThan(large * 0.6);
    expect(estimateRunBytes(spec, req(256, 256, 8), WHOLE)).toBeGreaterThan(large * 4);
  });

  it("prefers diffusers' default and falls back to split guidance, then tiles", () => {
    const whole = estimateRunBytes(spec, req(256, 256), WHOLE);
    expect(choosePlan(spec, req(256, 256), whole, 0)).toMatchObject(WHOLE);
    expect(choosePlan(spec, req(256, 256), whole - 1, 0)?.splitGuidance).toBe(true);
    const lean = estimateRunBytes(spec, req(256, 256), LEAN);
    expect(choosePlan(spec, req(256, 256), lean, 0)).toMatchObject(LEAN);
    expect(choosePlan(spec, req(256, 256), lean - 1, 0)).toBeNull();
  });

  it("refuses a 4×65,536 image naming height and the largest height that fits", () => {
    const budget = 2 * 2 ** 30;
    let error: unknown;
    try {
      admitByCost(spec, req(4, 65_536), budget, 0, "textToImage");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ResourceLimitError);
    const { field, limit } = error as ResourceLimitError;
    expect(field).toBe("textToImage.height");
    expect(limit % 4).toBe(0);
    expect(choosePlan(spec, req(4, limit), budget, 0)).not.toBeNull();
    expect(choosePlan(spec, req(4, limit + 4), budget, 0)).toBeNull();
  });

  it("names numImagesPerPrompt when fewer images would fit", () => {
    const budget = estimateRunBytes(spec, req(128, 128, 3), LEAN);
    expect(() => admitByCost(spec, req(128, 128, 8), budget, 0, "textToImage")).toThrow(
      expect.objectContaining({ field: "textToImage.numImagesPerPrompt", limit: 3 }),
    );
  });
});

describe("admission over GraphQL", () => {
  const GENERATE = /* GraphQL */ `
    mutation ($input: GenerateInput!) {
      generate(input: $input) {
        __typename
        ... on Error { message }
        ... on ResourceLimitError { field limit }
        ... on Generation { images { width height } }
      }
    }
  `;
  // Budget: a 64×64 run fits only with split guidance and a tiled VAE (weights not yet loaded count too).
  const leanBudget = estimateRunBytes(spec, req(64, 64), LEAN) + spec.weightBytes;
  const app = createTestApp({ AUTOPIPE_MEMORY_BUDGET_BYTES: String(leanBudget) });
  afterAll(() => app.close());
  const t2i = (extra: Record<string, unknown>) => ({
    input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 2, seed: 1, ...extra } },
  });

  it("runs what fits only split and tiled, and returns the full image", async () => {
    expect(choosePlan(spec, req(64, 64), leanBudget, spec.weightBytes)).toMatchObject(LEAN);
    expect(choosePlan(spec, req(64, 64), leanBudget - 1, spec.weightBytes)).toBeNull();
    const body = await app.gql<{ generate: Record<string, unknown> }>(
      GENERATE,
      t2i({ width: 64, height: 64 }),
    );
    expect(body.data?.generate).toEqual({ __typename: "Generation", images: [{ width: 64, height: 64 }] });
  });

  it("a size validation refuses anyway is an InvalidInputError, not a memory refusal", async () => {
    const body = await app.gql<{ generate: Record<string, unknown> }>(
      GENERATE,
      t2i({ width: 30, height: 65_536 }),
    );
    expect(body.data?.generate).toMatchObject({ __typename: "InvalidInputError" });
  });

  it("refuses what cannot fit with a typed ResourceLimitError; the server keeps serving", async () => {
    const body = await app.gql<{ generate: Record<string, unknown> }>(
      GENERATE,
      t2i({ width: 256, height: 128 }),
    );
    const refused = body.data?.generate as {
      __typename: string;
      field: string;
      limit: number;
      message: string;
    };
    expect(refused.__typename).toBe("ResourceLimitError");
    expect(refused.field).toBe("textToImage.width");
    expect(refused.limit).toBeGreaterThan(0);
    expect(refused.limit).toBeLessThan(256);
    expect(refused.message).toMatch(/budget/);
    const again = await app.gql<{ generate: Record<string, unknown> }>(
      GENERATE,
      t2i({ width: refused.limit, height: 128 }),
    );
    expect(again.data?.generate).toMatchObject({ __typename: "Generation" });
  });
});
