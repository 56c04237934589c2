/**
 * End to end: LoRA adapters through the typed client against the real server on a real port — the `loras` query
 * over AUTOPIPE_LORAS_DIR, a generation with an adapter whose PNG is diffusers' (minisd_lora_a0.5_t2i_pndm within
 * one level), a named pipeline carrying adapters in its config (the request's list wins), a job with adapters, and
 * the refusals: unknown id, an SDXL adapter on SD 1.5, shapes of another width.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, createClient } from "../../client/index.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { LORA_FIXTURES } from "../helpers/lora.ts";
import { maxAbsDiff, ReferenceCase } from "../helpers/reference.ts";
import { startHttpServer } from "../helpers/services.ts";

describe("LoRA adapters through the typed client", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let client: AutopipeClient;
  const ref = new ReferenceCase("minisd_lora_a0.5_t2i_pndm", LORA_FIXTURES);
  // The reference case's call: 8 PNDM steps, guidance 7.5, 128×128, seed 0.
  const call = {
    model: "mini-sd",
    prompt: "a photo of a cat",
    numInferenceSteps: 8,
    guidanceScale: 7.5,
    width: 128,
    height: 128,
    seed: "0",
  };

  beforeAll(async () => {
    server = await startHttpServer({
      AUTOPIPE_MODELS_DIR: `${SAFETENSORS_FIXTURES}models`,
      AUTOPIPE_LORAS_DIR: `${LORA_FIXTURES}adapters`,
      // The references ran without mini-sd's safety checker (safety_checker=None).
      AUTOPIPE_SAFETY_CHECKER: "off",
    });
    client = createClient({ url: server.url });
  });
  afterAll(() => server.close());

  async function pixels(base64: string): Promise<Buffer> {
    return sharp(Buffer.from(base64, "base64")).raw().toBuffer();
  }

  it("lists the adapters with their convention, family, rank, components and size", async () => {
    const loras = await client.loras();
    expect(loras.map((l) => l.id)).toEqual([
      "mini-sd-lora-a.diffusers",
      "mini-sd-lora-a.kohya",
      "mini-sd-lora-b.diffusers",
      "mini-sd-lora-b.kohya",
      "tiny-sdxl-lora.diffusers",
      "tiny-sdxl-lora.kohya",
    ]);
    expect(loras.find((l) => l.id === "mini-sd-lora-b.kohya")).toEqual({
      id: "mini-sd-lora-b.kohya",
      format: "KOHYA",
      family: null,
      rank: 8,
      components: ["unet", "text_encoder"],
      bytes: 903832,
    });
    expect(loras.find((l) => l.id === "tiny-sdxl-lora.diffusers")).toMatchObject({
      format: "DIFFUSERS",
      family: "SDXL",
      rank: 4,
      components: ["unet", "text_encoder", "text_encoder_2"],
    });
  });

  it("generates diffusers' image with an adapter, and the base image again without it", async () => {
    const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
    const loras = [{ id: "mini-sd-lora-a.kohya", scale: 0.5 }];
    const withLora = await client.generate({ textToImage: { ...call, loras } });
    if (withLora.__typename !== "Generation") throw new Error(`${withLora.__typename}: ${withLora.message}`);
    expect(withLora.notes).toEqual([]);
    expect(maxAbsDiff(await pixels(withLora.images[0]!.base64), theirs).diff).toBeLessThanOrEqual(1);

    // The same checkpoint, no adapter: the base case's image (the adapter's factors are gone, the base untouched).
    const base = new ReferenceCase("minisd_t2i_pndm", SAFETENSORS_FIXTURES);
    const plain = await client.generate({ textToImage: call });
    if (plain.__typename !== "Generation") throw new Error(`${plain.__typename}: ${plain.message}`);
    const basePixels = await sharp(base.png(0)).removeAlpha().raw().toBuffer();
    expect(maxAbsDiff(await pixels(plain.images[0]!.base64), basePixels).diff).toBeLessThanOrEqual(1);
    // One load of the checkpoint served both.
    expect((await client.pipelines()).map((p) => [p.model, p.loads])).toEqual([["mini-sd", 1]]);
  });

  it("a named pipeline carries adapters in its config; a request's list replaces them", async () => {
    const made = await client.fromPipe({
      name: "mini-sd-lora",
      from: "mini-sd",
      task: "TEXT_TO_IMAGE",
      config: { loras: [{ id: "mini-sd-lora-a.diffusers", scale: 0.5 }], numInferenceSteps: 8 },
    });
    if (made.__typename !== "PipelineVariant") throw new Error(`unexpected ${made.__typename}`);
    expect(made.config.loras).toEqual([{ id: "mini-sd-lora-a.diffusers", scale: 0.5 }]);
    const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
    const named = await client.generate({ textToImage: { ...call, model: "mini-sd-lora" } });
    if (named.__typename !== "Generation") throw new Error(`${named.__typename}: ${named.message}`);
    expect(maxAbsDiff(await pixels(named.images[0]!.base64), theirs).diff).toBeLessThanOrEqual(1);
    // An empty list in the request wins: no adapter.
    const none = await client.generate({ textToImage: { ...call, model: "mini-sd-lora", loras: [] } });
    if (none.__typename !== "Generation") throw new Error(`${none.__typename}: ${none.message}`);
    const base = new ReferenceCase("minisd_t2i_pndm", SAFETENSORS_FIXTURES);
    const basePixels = await sharp(base.png(0)).removeAlpha().raw().toBuffer();
    expect(maxAbsDiff(await pixels(none.images[0]!.base64), basePixels).diff).toBeLessThanOrEqual(1);
  });

  it("runs a job with adapters", async () => {
    const submitted = await client.submitGeneration({
      textToImage: { ...call, loras: [{ id: "mini-sd-lora-a.diffusers", scale: 0.5 }] },
    });
    if (submitted.__typename !== "GenerationJob") throw new Error(`unexpected ${submitted.__typename}`);
    let job = await client.job(submitted.id);
    for (let i = 0; i < 600 && job && job.status !== "SUCCEEDED" && job.status !== "FAILED"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = await client.job(submitted.id);
    }
    expect(job?.status).toBe("SUCCEEDED");
    const theirs = await sharp(ref.png(0)).removeAlpha().raw().toBuffer();
    const png = job?.result?.__typename === "Generation" ? job.result.images[0]!.base64 : "";
    expect(maxAbsDiff(await pixels(png), theirs).diff).toBeLessThanOrEqual(1);
  });

  it("refuses an unknown id, an SDXL adapter on SD 1.5 and an adapter of another width, by name", async () => {
    const refused = async (loras: { id: string; scale?: number }[], model = "mini-sd") => {
      const r = await client.generate({ textToImage: { ...call, model, loras } });
      if (r.__typename !== "InvalidInputError")
        throw new Error(`expected InvalidInputError, got ${r.__typename}`);
      return r;
    };
    expect(await refused([{ id: "mini-sd-lora-a.diffusers" }, { id: "no-such-lora" }])).toMatchObject({
      field: "textToImage.loras[1].id",
      value: "no-such-lora",
    });
    expect((await refused([{ id: "../mini-sd-lora-a.diffusers" }])).field).toBe("textToImage.loras[0].id");
    const sdxl = await refused([{ id: "tiny-sdxl-lora.kohya" }]);
    expect(sdxl).toMatchObject({ field: "textToImage.loras[0].id", value: "tiny-sdxl-lora.kohya" });
    expect(sdxl.allowed).toContain("text_encoder_2");
    const width = await refused([{ id: "mini-sd-lora-a.kohya" }], "tiny-sdxl");
    expect(width.value).toBe("mini-sd-lora-a.kohya");
    // The first mismatching key and both shapes.
    expect(width.allowed).toMatch(/key 'lora_\w+\.lora_down\.weight' has down \[4, \d+(, \d+, \d+)?\]/);
    expect(width.allowed).toMatch(/but layer \w+\.[\w.]+ is a/);
  });
});
