/**
 * Property-based fuzzing (fast-check) of `generate` and `resolvePipeline` variables through yoga.fetch: whatever
 * the values, the answer is a 200 with a typed result or a 400 with GraphQL errors — never a 5xx, never the
 * masked "Unexpected error.", never a server path in any message. Bounded run count; small limits keep valid
 * requests cheap.
 */
import os from "node:os";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { createTestApp, REPO_MODELS } from "../helpers/services.ts";

const app = createTestApp({ AUTOPIPE_MAX_STEPS: "2", AUTOPIPE_MAX_PIXELS: "1024" });
afterAll(() => app.close());

/** Folders of this server that no message may show (the models root, the repository, the home directory). */
const SERVER_PATHS = [REPO_MODELS.replace(/\/$/, ""), process.cwd(), os.homedir(), os.tmpdir()];
const TYPED = new Set([
  "Generation",
  "PipelineResolution",
  "ModelNotFoundError",
  "UnsupportedPipelineError",
  "InvalidInputError",
  "InvalidModelIndexError",
  "ModelLoadError",
  "BusyError",
  "CancelledError",
  "RateLimitedError",
  "ResourceLimitError",
]);

const model = fc.oneof(
  fc.constantFrom(
    "tiny-sd",
    "tiny-sd-inpaint",
    "org/name@main",
    "../models/tiny-sd",
    "/etc/passwd",
    "%2e%2e",
    "",
  ),
  fc.string({ maxLength: 40 }),
);
const int = fc.oneof(fc.integer({ min: -64, max: 96 }), fc.integer(), fc.constant(null));
const number = fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, 1, 7.5, -1, 1e308), fc.constant(null));
const seed = fc.oneof(
  fc.bigInt({ min: -2n, max: 2n ** 65n }).map(String),
  fc.integer(),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
);
const textToImage = fc.record(
  {
    model,
    prompt: fc.string({ maxLength: 200 }),
    negativePrompt: fc.oneof(fc.string({ maxLength: 50 }), fc.constant(null)),
    width: int,
    height: int,
    numInferenceSteps: int,
    guidanceScale: number,
    numImagesPerPrompt: fc.oneof(fc.integer({ min: -1, max: 10 }), fc.constant(null)),
    seed,
    scheduler: fc.oneof(fc.constantFrom("PNDM", "DDIM", "LCM", "EULER_DISCRETE", "nope"), fc.constant(null)),
  },
  { requiredKeys: ["model", "prompt"] },
);

async function post(query: string, variables: unknown) {
  const response = await app.yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: JSON.parse(text) as { data?: Record<string, { __typename: string }> },
  };
}

function check(r: Awaited<ReturnType<typeof post>>, field: string) {
  expect([200, 400]).toContain(r.status);
  expect(r.text).not.toContain("Unexpected error");
  for (const dir of SERVER_PATHS) expect(r.text).not.toContain(dir);
  const result = r.body.data?.[field];
  if (r.status === 200 && result) expect(TYPED).toContain(result.__typename);
}

describe("fuzzing the variables", () => {
  it("generate(textToImage) answers typed, never 5xx, never a server path", async () => {
    await fc.assert(
      fc.asyncProperty(textToImage, async (input) => {
        const r = await post(
          "mutation ($input: GenerateInput!) { generate(input: $input) { __typename ... on Error { message } } }",
          { input: { textToImage: input } },
        );
        check(r, "generate");
      }),
      { numRuns: 40, seed: 11 },
    );
  });

  it("resolvePipeline answers typed, never 5xx, never a server path", async () => {
    await fc.assert(
      fc.asyncProperty(
        model,
        fc.oneof(
          fc.constantFrom("TEXT_TO_IMAGE", "IMAGE_TO_IMAGE", "INPAINTING"),
          fc.string({ maxLength: 10 }),
        ),
        fc.oneof(fc.boolean(), fc.constant(null)),
        async (m, task, controlnet) => {
          const r = await post(
            "query ($m: String!, $t: Task!, $c: Boolean) { resolvePipeline(model: $m, task: $t, controlnet: $c) { __typename ... on Error { message } } }",
            { m, t: task, c: controlnet },
          );
          check(r, "resolvePipeline");
        },
      ),
      { numRuns: 60, seed: 12 },
    );
  });
});
