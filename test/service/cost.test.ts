/**
 * Cost-based admission: the estimate read from the bundled checkpoint's configs, the plans it picks under a
 * budget (whole, split guidance, tiled VAE), refusals naming the field and its largest fitting value, and the
 * server following a plan (a tiled, split run still returns a full image) or refusing by type.
 */
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointLocator } from "../../server/checkpoints/locate.ts";
import { createServices } from "../../server/context.ts";
import { ResourceLimitError } from "../../server/errors.ts";
import {
  admitByCost,
  type CostRequest,
  choosePlan,
  estimateRunBytes,
  readCostSpec,
} from "../../server/service/cost.ts";
import { runPlan } from "../../server/service/generation.ts";
import { planGeneration } from "../../server/service/generation-plan.ts";
import { createTestApp, testConfig } from "../helpers/services.ts";

const locator = new CheckpointLocator(testConfig());
const checkpoint = await locator.locate("tiny-sd");
/** The graphs as exported: attention score matrices, quadratic in the tokens. */
const spec = await readCostSpec(checkpoint, { unet: false, vaeDecoder: false, vaeEncoder: false });
/** Attention fused into flash-attention kernels (what the server runs with its graph cache on). */
const fusedSpec = await readCostSpec(checkpoint, { unet: true, vaeDecoder: true, vaeEncoder: true });
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

  it("fused attention drops the quadratic term: memory grows with the pixels, not their square", () => {
    const small = estimateRunBytes(fusedSpec, req(256, 256), WHOLE);
    const large = estimateRunBytes(fusedSpec, req(1024, 1024), WHOLE);
    // 16× the pixels: the feature maps grow 16×, the fixed overhead not at all (unfused: far more than 16×).
    expect(large / small).toBeGreaterThan(2);
    expect(large / small).toBeLessThanOrEqual(16);
    expect(
      estimateRunBytes(spec, req(1024, 1024), WHOLE) / estimateRunBytes(spec, req(256, 256), WHOLE),
    ).toBeGreaterThan(16);
    expect(large).toBeLessThan(estimateRunBytes(spec, req(1024, 1024), WHOLE) / 100);
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
  // Budget: a 64×64 run fits only with split guidance and a tiled VAE (weights not yet loaded count too). The
  // server runs tiny-sd's attention fused (its graph cache is on), and estimates accordingly.
  const leanBudget = estimateRunBytes(fusedSpec, req(64, 64), LEAN) + fusedSpec.weightBytes;
  const app = createTestApp({ AUTOPIPE_MEMORY_BUDGET_BYTES: String(leanBudget) });
  afterAll(() => app.close());
  const t2i = (extra: Record<string, unknown>) => ({
    input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 2, seed: 1, ...extra } },
  });

  it("runs what fits only split and tiled, and returns the full image", async () => {
    expect(choosePlan(fusedSpec, req(64, 64), leanBudget, fusedSpec.weightBytes)).toMatchObject(LEAN);
    expect(choosePlan(fusedSpec, req(64, 64), leanBudget - 1, fusedSpec.weightBytes)).toBeNull();
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

describe("the attention kernels the estimate assumes", () => {
  const request = {
    model: "tiny-sd",
    prompt: "a cat",
    numInferenceSteps: 1,
    seed: 1n,
    width: 64,
    height: 64,
  };

  it("plans with fused attention when the graph cache is on, as exported when it is off", async () => {
    const fused = createServices(testConfig());
    const exported = createServices(testConfig({ AUTOPIPE_CACHE_DIR: "off" }));
    try {
      const a = await planGeneration(fused, "TEXT_TO_IMAGE", request);
      const b = await planGeneration(exported, "TEXT_TO_IMAGE", request);
      expect(a.memory.fused).toEqual({ unet: true, vaeDecoder: true, vaeEncoder: false });
      expect(b.memory.fused).toEqual({ unet: false, vaeDecoder: false, vaeEncoder: false });
      expect(b.memory.bytes).toBeGreaterThan(a.memory.bytes);
    } finally {
      await fused.dispose();
      await exported.dispose();
    }
  });

  it("re-plans once the graphs are loaded, and refuses by type what no longer fits", async () => {
    // A plan that assumed fused attention, run where the graphs load as exported, under a budget that fits
    // only the fused estimate: the run is refused before any graph runs, naming the field to reduce.
    const sized = { ...request, width: 128, height: 128 };
    const budget = String(estimateRunBytes(fusedSpec, req(128, 128), LEAN) + fusedSpec.weightBytes);
    const withBudget = createServices(testConfig({ AUTOPIPE_MEMORY_BUDGET_BYTES: budget }));
    const exported = createServices(
      testConfig({ AUTOPIPE_CACHE_DIR: "off", AUTOPIPE_MEMORY_BUDGET_BYTES: budget }),
    );
    try {
      const plan = await planGeneration(withBudget, "TEXT_TO_IMAGE", sized);
      expect(plan.memory).toMatchObject({ splitGuidance: true, fused: { unet: true } });
      const error = await runPlan(exported, plan).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResourceLimitError);
      expect((error as ResourceLimitError).field).toMatch(/^textToImage\.(width|height)$/);
      // The same plan where the graphs do fuse runs as planned.
      const result = await runPlan(withBudget, plan);
      expect(result.images).toHaveLength(1);
    } finally {
      await Promise.all([withBudget.dispose(), exported.dispose()]);
    }
  });
});
