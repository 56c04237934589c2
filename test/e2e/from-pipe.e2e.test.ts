/**
 * End to end: named pipelines through the typed client against the real server on a real port — the seed's
 * `AutoPipelineForImage2Image.from_pipe(pipeline_text2img, requires_safety_checker=True, strength=0.3)`, a
 * generation by name on the checkpoint's cached sessions, and the checker's result on tiny-sd-safety.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, createClient } from "../../client/index.ts";
import { REFERENCE_NEXT } from "../helpers/reference.ts";
import { startHttpServer } from "../helpers/services.ts";

describe("from_pipe through the typed client", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let client: AutopipeClient;

  beforeAll(async () => {
    server = await startHttpServer({ AUTOPIPE_MODELS_DIR: `${REFERENCE_NEXT}models` });
    client = createClient({ url: server.url });
  });
  afterAll(() => server.close());

  it("makes, lists, uses and removes a named pipeline", async () => {
    const made = await client.fromPipe({
      name: "safe-img2img",
      from: "tiny-sd-safety",
      task: "IMAGE_TO_IMAGE",
      config: { requiresSafetyChecker: true, strength: 0.3 },
    });
    if (made.__typename !== "PipelineVariant") throw new Error(`unexpected ${made.__typename}`);
    expect(made.config).toMatchObject({
      requiresSafetyChecker: true,
      strength: 0.3,
      scheduler: "PNDMScheduler",
    });
    expect(made.pipelineClass).toBe("StableDiffusionImg2ImgPipeline");
    expect((await client.pipelineVariants()).map((v) => v.name)).toEqual(["safe-img2img"]);

    const text = await client.fromPipe({
      name: "safe-t2i",
      from: "safe-img2img",
      task: "TEXT_TO_IMAGE",
      config: { numInferenceSteps: 2 },
    });
    expect(text).toMatchObject({
      __typename: "PipelineVariant",
      model: "tiny-sd-safety",
      from: "safe-img2img",
    });
    const generated = await client.generate({ textToImage: { model: "safe-t2i", prompt: "a cat", seed: 3 } });
    if (generated.__typename !== "Generation") throw new Error(`unexpected ${generated.__typename}`);
    expect(generated.nsfwContentDetected).toHaveLength(1);
    expect(generated.notes.some((n) => n.includes("safety checker ran"))).toBe(true);
    const pipelines = await client.pipelines();
    expect(pipelines.map((p) => [p.model, p.loads])).toEqual([["tiny-sd-safety", 1]]);
    expect(pipelines[0]!.components).toContain("safety_checker");

    const removed = await client.removePipelineVariant("safe-t2i");
    expect(removed).toMatchObject({ __typename: "PipelineVariant", name: "safe-t2i" });
    expect((await client.pipelines()).map((p) => p.model)).toEqual(["tiny-sd-safety"]);
    expect((await client.removePipelineVariant("safe-t2i")).__typename).toBe("InvalidInputError");
  });
});
