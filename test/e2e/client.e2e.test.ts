/**
 * End to end: the real server on a real port (0), driven through the generated, typed client. Text-to-image PNG
 * pixels equal diffusers' reference PNG within one level.
 */
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, ClientError, createClient } from "../../client/index.ts";
import { maxAbsDiff, REFERENCE, ReferenceCase } from "../helpers/reference.ts";
import { startHttpServer } from "../helpers/services.ts";

describe("typed client against a live server", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let client: AutopipeClient;

  beforeAll(async () => {
    server = await startHttpServer();
    client = createClient({ url: server.url });
  });
  afterAll(() => server.close());

  it("resolves a pipeline", async () => {
    const r = await client.resolvePipeline({ model: "tiny-sd", task: "TEXT_TO_IMAGE" });
    if (r.__typename !== "PipelineResolution") throw new Error(`unexpected ${r.__typename}`);
    expect(r.pipelineClass).toBe("OnnxStableDiffusionPipeline");
    expect(r.family).toBe("stable-diffusion");
    expect(r.runnable).toBe(true);
  });

  it("lists models and schedulers", async () => {
    expect((await client.models()).map((m) => m.id)).toEqual([
      "mini-sd",
      "mini-sd.safetensors",
      "tiny-sd",
      "tiny-sd-inpaint",
      "tiny-sdxl",
    ]);
    expect(await client.schedulers()).toContainEqual({
      name: "EULER_DISCRETE",
      className: "EulerDiscreteScheduler",
    });
  });

  it("returns typed errors as results", async () => {
    const r = await client.resolvePipeline({ model: "nobody/nothing", task: "INPAINTING" });
    expect(r.__typename).toBe("ModelNotFoundError");
  });

  it("throws ClientError for GraphQL errors and unreachable servers", async () => {
    await expect(client.execute({ toString: () => "{ nope }" } as never, {})).rejects.toBeInstanceOf(
      ClientError,
    );
    const dead = createClient({ url: "http://127.0.0.1:1/graphql" });
    await expect(dead.models()).rejects.toBeInstanceOf(ClientError);
  });

  it("text-to-image over HTTP: the PNG equals diffusers' within one level", async () => {
    const ref = new ReferenceCase("t2i_pndm");
    const p = ref.manifest.params;
    const r = await client.generate({
      textToImage: {
        model: "tiny-sd",
        prompt: p.prompt,
        negativePrompt: p.negative_prompt,
        width: p.width,
        height: p.height,
        numInferenceSteps: p.num_inference_steps,
        guidanceScale: p.guidance_scale,
        seed: "0",
      },
    });
    if (r.__typename !== "Generation") throw new Error(`unexpected ${r.__typename}: ${r.message}`);
    expect(r.seed).toBe("0");
    expect(r.pipelineClass).toBe("OnnxStableDiffusionPipeline");
    expect(r.images).toHaveLength(1);
    const image = r.images[0]!;
    expect([image.width, image.height, image.mimeType]).toEqual([64, 64, "image/png"]);
    const png = Buffer.from(image.base64, "base64");
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const ours = await sharp(png).raw().toBuffer();
    const theirs = await sharp(ref.png()).removeAlpha().raw().toBuffer();
    expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
    expect(r.timings.sessionRuns).toBe(1 + 1 + 11 + 1); // prompt, negative prompt, 11 UNet calls, decoder
  });

  it("a seed above 2^53 survives the round trip as a string", async () => {
    const r = await client.generate({
      textToImage: {
        model: "tiny-sd",
        prompt: "x",
        width: 16,
        height: 16,
        numInferenceSteps: 1,
        seed: "18446744073709551615",
      },
    });
    if (r.__typename !== "Generation") throw new Error(`unexpected ${r.__typename}: ${r.message}`);
    expect(r.seed).toBe("18446744073709551615");
  });

  async function expectReferencePng(base64: string, ref: ReferenceCase) {
    const ours = await sharp(Buffer.from(base64, "base64")).raw().toBuffer();
    const theirs = await sharp(ref.png()).removeAlpha().raw().toBuffer();
    expect(maxAbsDiff(ours, theirs).diff).toBeLessThanOrEqual(1);
  }

  it("inpainting with multipart uploads (Buffers): the PNG equals diffusers' within one level", async () => {
    const ref = new ReferenceCase("inpaint9_pndm_s1.0");
    const p = ref.manifest.params;
    const r = await client.generate({
      inpainting: {
        model: "tiny-sd-inpaint",
        prompt: p.prompt,
        negativePrompt: p.negative_prompt,
        image: { upload: readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`) },
        maskImage: { upload: readFileSync(`${REFERENCE}reference/inputs/mask_64x64.png`) },
        numInferenceSteps: p.num_inference_steps,
        guidanceScale: p.guidance_scale,
        strength: p.strength ?? 1,
        seed: 0,
      },
    });
    if (r.__typename !== "Generation") throw new Error(`unexpected ${r.__typename}: ${r.message}`);
    expect(r.pipelineClass).toBe("OnnxStableDiffusionInpaintPipeline");
    await expectReferencePng(r.images[0]!.base64, ref);
  });

  it("image-to-image with a Blob upload: the PNG equals diffusers' within one level", async () => {
    const ref = new ReferenceCase("i2i_euler_s0.75");
    const p = ref.manifest.params;
    const blob = new Blob([readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`)], {
      type: "image/png",
    });
    const r = await client.generate({
      imageToImage: {
        model: "tiny-sd",
        prompt: p.prompt,
        negativePrompt: p.negative_prompt,
        image: { upload: blob },
        numInferenceSteps: p.num_inference_steps,
        guidanceScale: p.guidance_scale,
        strength: p.strength ?? 0.8,
        scheduler: "EULER_DISCRETE",
        seed: "0",
      },
    });
    if (r.__typename !== "Generation") throw new Error(`unexpected ${r.__typename}: ${r.message}`);
    await expectReferencePng(r.images[0]!.base64, ref);
  });

  it("an upload over the multipart budget is refused with 413 before it is buffered", async () => {
    const huge = new Uint8Array(2 * 20 * 1024 * 1024 + 2 * 1024 * 1024);
    const error = await client
      .generate({ imageToImage: { model: "tiny-sd", prompt: "x", image: { upload: huge } } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).status).toBe(413);
  });
});
