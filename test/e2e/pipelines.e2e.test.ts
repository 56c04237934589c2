/**
 * The pipeline cache and admission over a real HTTP server, through the typed client: warm-up, listing, unload,
 * `resolvePipeline.loaded`, BusyError as a typed result, and a client that disconnects mid-generation freeing its
 * slot.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, createClient } from "../../client/index.ts";
import { startHttpServer } from "../helpers/services.ts";

describe("pipeline cache over HTTP", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let client: AutopipeClient;

  beforeAll(async () => {
    server = await startHttpServer({ AUTOPIPE_MAX_CONCURRENT: "1", AUTOPIPE_MAX_QUEUE: "0" });
    client = createClient({ url: server.url });
  });
  afterAll(() => server.close());

  it("loadPipeline warms a checkpoint up; pipelines and resolvePipeline.loaded show it; unload releases it", async () => {
    const before = await client.resolvePipeline({ model: "tiny-sd-inpaint", task: "INPAINTING" });
    expect(before).toMatchObject({ __typename: "PipelineResolution", loaded: false });

    const loaded = await client.loadPipeline("tiny-sd-inpaint");
    if (loaded.__typename !== "LoadedPipeline") throw new Error(`unexpected ${loaded.__typename}`);
    expect(loaded).toMatchObject({ model: "tiny-sd-inpaint", loads: 1, tasks: [] });
    expect([...loaded.components].sort()).toEqual(["text_encoder", "unet", "vae_decoder"]);
    expect(loaded.bytes).toBeGreaterThan(1_000_000);
    expect(Date.parse(loaded.lastUsedAt)).not.toBeNaN();

    expect(await client.resolvePipeline({ model: "tiny-sd-inpaint", task: "INPAINTING" })).toMatchObject({
      loaded: true,
    });
    expect((await client.pipelines()).map((p) => p.model)).toEqual(["tiny-sd-inpaint"]);
    expect(await client.unloadPipeline("tiny-sd-inpaint")).toEqual({
      __typename: "UnloadedPipeline",
      model: "tiny-sd-inpaint",
      unloaded: true,
    });
    expect(await client.pipelines()).toEqual([]);
    expect(await client.unloadPipeline("tiny-sd-inpaint")).toMatchObject({ unloaded: false });
  });

  it("a diffusers-layout checkpoint: resolvePipeline names its format and variants; loadPipeline loads a variant", async () => {
    expect(await client.resolvePipeline({ model: "mini-sd", task: "TEXT_TO_IMAGE" })).toMatchObject({
      __typename: "PipelineResolution",
      format: "DIFFUSERS",
      variants: ["fp16"],
      runnable: true,
    });
    const loaded = await client.loadPipeline("mini-sd", { variant: "fp16" });
    if (loaded.__typename !== "LoadedPipeline") throw new Error(`unexpected ${loaded.__typename}`);
    expect(loaded).toMatchObject({ model: "mini-sd", loads: 1 });
    const missing = await client.loadPipeline("mini-sd", { variant: "bf16" });
    expect(missing.__typename).not.toBe("LoadedPipeline");
    if (missing.__typename === "LoadedPipeline") throw new Error("unreachable");
    expect(missing.message).toContain("bf16");
    await client.unloadPipeline("mini-sd");
  });

  it("loadPipeline answers typed errors", async () => {
    expect((await client.loadPipeline("nobody/nothing")).__typename).toBe("ModelNotFoundError");
    expect((await client.loadPipeline("../etc")).__typename).toBe("InvalidInputError");
  });

  it("a second generation while the only slot is taken (no queue) is a typed BusyError", async () => {
    const input = {
      textToImage: { model: "tiny-sd", prompt: "x", width: 32, height: 32, numInferenceSteps: 20 },
    };
    const [a, b] = await Promise.all([client.generate(input), client.generate(input)]);
    const types = [a.__typename, b.__typename].sort();
    expect(types).toEqual(["BusyError", "Generation"]);
    const busy = a.__typename === "BusyError" ? a : b;
    if (busy.__typename !== "BusyError") throw new Error("unreachable");
    expect(busy.retryAfterMs).toBeGreaterThan(0);
  });

  it("a client that disconnects mid-generation frees its slot for the next request", async () => {
    const controller = new AbortController();
    const abandoned = client.generate(
      { textToImage: { model: "tiny-sd", prompt: "x", width: 64, height: 64, numInferenceSteps: 150 } },
      { signal: controller.signal },
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(server.services.admission.active).toBe(1);
    controller.abort();
    await expect(abandoned).rejects.toThrow();
    // The server notices the closed connection and stops the run at its next step.
    for (let i = 0; i < 100 && server.services.admission.active > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(server.services.admission.active).toBe(0);
    const next = await client.generate({
      textToImage: { model: "tiny-sd", prompt: "x", width: 16, height: 16, numInferenceSteps: 1 },
    });
    expect(next.__typename).toBe("Generation");
  });
});
