/**
 * The safety checker through `generate` (yoga.fetch) on tiny-sd-safety: the `safety_t2i_pndm` case returns
 * diffusers' image (black) with `nsfwContentDetected: [true]` and a note; the checker graph loads with the first
 * request that needs it and shows in `pipelines`. AUTOPIPE_SAFETY_CHECKER `off` never runs it, `on` runs it even
 * when a named pipeline's config says no; a config asking for a checker the checkpoint lacks generates with a note.
 */
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { decodeImage } from "../../server/image/decode.ts";
import { REFERENCE_NEXT, ReferenceCase } from "../helpers/reference.ts";
import { createTestApp, type TestApp } from "../helpers/services.ts";

const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on Generation { nsfwContentDetected notes images { base64 } }
    }
  }
`;
const ref = new ReferenceCase("safety_t2i_pndm", REFERENCE_NEXT);
const p = ref.params();
const CASE_INPUT = {
  model: "tiny-sd-safety",
  prompt: p.prompt,
  numInferenceSteps: p.numInferenceSteps,
  guidanceScale: p.guidanceScale,
  width: p.width,
  height: p.height,
  seed: String(ref.manifest.seed),
};
type Generation = {
  __typename: string;
  nsfwContentDetected: boolean[] | null;
  notes: string[];
  images: { base64: string }[];
};
const pixels = (base64: string) =>
  decodeImage(Buffer.from(base64, "base64"), { field: "image", maxPixels: 1 << 20 }).then((i) => i.rgb);

describe("safety checker over HTTP", () => {
  const apps: TestApp[] = [];
  const app = (mode: string) => {
    const created = createTestApp({
      AUTOPIPE_MODELS_DIR: `${REFERENCE_NEXT}models`,
      AUTOPIPE_SAFETY_CHECKER: mode,
    });
    apps.push(created);
    return created;
  };
  afterAll(() => Promise.all(apps.map((a) => a.close())));

  async function generate(server: TestApp, input: Record<string, unknown>): Promise<Generation> {
    const body = await server.gql<{ generate: Generation }>(GENERATE, { input: { textToImage: input } });
    expect(body.errors).toBeUndefined();
    expect(body.data!.generate.__typename).toBe("Generation");
    return body.data!.generate;
  }

  it("safety_t2i_pndm: diffusers' black image, nsfwContentDetected [true], a note, the checker in `pipelines`", async () => {
    const server = app("auto");
    const resolved = await server.gql<{ resolvePipeline: { config: { requiresSafetyChecker: boolean } } }>(
      `{ resolvePipeline(model: "tiny-sd-safety", task: TEXT_TO_IMAGE) { ... on PipelineResolution { config { requiresSafetyChecker } } } }`,
    );
    expect(resolved.data!.resolvePipeline.config.requiresSafetyChecker).toBe(true);
    await server.gql(`mutation { loadPipeline(model: "tiny-sd-safety") { __typename } }`);
    const listed = async () =>
      (await server.gql<{ pipelines: { components: string[] }[] }>("{ pipelines { components } }")).data!
        .pipelines;
    // Warm-up does not load the checker: the first request that needs it does.
    expect((await listed())[0]!.components).not.toContain("safety_checker");

    const result = await generate(server, CASE_INPUT);
    expect(result.nsfwContentDetected).toEqual(ref.manifest.nsfw_content_detected);
    expect(result.nsfwContentDetected).toEqual([true]);
    expect(result.notes.join(" ")).toMatch(/safety checker ran: 1 of 1 image\(s\) flagged/);
    const expected = (
      await decodeImage(readFileSync(ref.path("image_0.png")), { field: "x", maxPixels: 1 << 20 })
    ).rgb;
    const actual = await pixels(result.images[0]!.base64);
    expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
    expect(actual.every((v) => v === 0)).toBe(true);
    expect((await listed())[0]!.components).toContain("safety_checker");
  });

  it("AUTOPIPE_SAFETY_CHECKER=off never runs it: the unchecked image, nsfwContentDetected null", async () => {
    const result = await generate(app("off"), { ...CASE_INPUT, numInferenceSteps: 2 });
    expect(result.nsfwContentDetected).toBeNull();
    expect((await pixels(result.images[0]!.base64)).some((v) => v !== 0)).toBe(true);
  });

  it("auto follows a named pipeline's config; on cannot be switched off by one", async () => {
    const fromPipe = `mutation { fromPipe(name: "unchecked", from: "tiny-sd-safety", task: TEXT_TO_IMAGE,
      config: { requiresSafetyChecker: false }) { __typename } }`;
    const auto = app("auto");
    expect((await auto.gql<{ fromPipe: { __typename: string } }>(fromPipe)).data!.fromPipe.__typename).toBe(
      "PipelineVariant",
    );
    expect(
      (await generate(auto, { ...CASE_INPUT, model: "unchecked", numInferenceSteps: 2 })).nsfwContentDetected,
    ).toBeNull();
    const on = app("on");
    await on.gql(fromPipe);
    expect(
      (await generate(on, { ...CASE_INPUT, model: "unchecked", numInferenceSteps: 2 })).nsfwContentDetected,
    ).toHaveLength(1);
  });

  it("a config asking for a checker the checkpoint lacks generates anyway, with a note", async () => {
    const server = app("auto");
    await server.gql(`mutation { fromPipe(name: "wants-checker", from: "tiny-sd2-v", task: TEXT_TO_IMAGE,
      config: { requiresSafetyChecker: true, numInferenceSteps: 2 }) { __typename } }`);
    const result = await generate(server, {
      model: "wants-checker",
      prompt: "a cat",
      width: 32,
      height: 32,
      seed: "1",
    });
    expect(result.nsfwContentDetected).toBeNull();
    expect(result.notes.join(" ")).toMatch(/asks for a safety checker .* 'tiny-sd2-v' has none/);
  });
});
