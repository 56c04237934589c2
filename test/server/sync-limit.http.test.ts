/**
 * AUTOPIPE_SYNC_MAX_SECONDS over a real port, with Node's default fetch (undici, which gives up on a response
 * whose headers take more than 300 s): a synchronous `generate` estimated past the limit is refused at once with a
 * ResourceLimitError on `time` that says to submit a job; the same request through `submitGeneration` runs to the
 * end; a request inside the limit is answered in the same response. A fresh server process with a 2 s limit: the
 * refusal comes before any run has calibrated the estimate (about 2.5 s uncalibrated), and the accepted request
 * (about 0.25 s) stays inside the limit even at the largest calibration factor (8).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";

const LIMIT_SECONDS = 2;

const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on ResourceLimitError { field limit resource estimatedSeconds limitSeconds }
      ... on Generation { images { width height } }
    }
  }
`;
const SUBMIT = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    submitGeneration(input: $input) { __typename ... on GenerationJob { id } ... on Error { message } }
  }
`;
const JOB = /* GraphQL */ `
  query ($id: ID!) {
    job(id: $id) { status result { __typename ... on Generation { images { width height } } } }
  }
`;

describe("a synchronous generate past AUTOPIPE_SYNC_MAX_SECONDS", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ AUTOPIPE_SYNC_MAX_SECONDS: String(LIMIT_SECONDS) });
  }, 180_000);
  afterAll(async () => {
    server.child.kill("SIGKILL");
    await server.exited;
  });

  /** One GraphQL request with Node's own fetch, no options: what the bundled client's transport does. */
  async function post<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await fetch(`${server.base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { data: T }).data;
  }

  const long = {
    textToImage: { model: "tiny-sd", prompt: "a cat", width: 128, height: 128, numInferenceSteps: 5 },
  };

  it("is refused at once with a typed time error that says to submit a job", async () => {
    const started = performance.now();
    const { generate } = await post<{ generate: Record<string, unknown> }>(GENERATE, { input: long });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(generate).toMatchObject({
      __typename: "ResourceLimitError",
      resource: "time",
      limitSeconds: LIMIT_SECONDS,
      field: "textToImage.numInferenceSteps",
    });
    expect(generate.estimatedSeconds).toBeGreaterThan(LIMIT_SECONDS);
    expect(generate.message).toContain("submit it as a job with submitGeneration");
    expect(generate.message).toContain("generate(…, { onProgress })");
  });

  it("the same request as a job runs to the end", async () => {
    const { submitGeneration } = await post<{ submitGeneration: { __typename: string; id: string } }>(
      SUBMIT,
      {
        input: long,
      },
    );
    expect(submitGeneration.__typename).toBe("GenerationJob");
    let job: { status: string; result: unknown } | undefined;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      job = (await post<{ job: typeof job }>(JOB, { id: submitGeneration.id })).job;
      if (job && !["QUEUED", "RUNNING"].includes(job.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(job).toEqual({
      status: "SUCCEEDED",
      result: { __typename: "Generation", images: [{ width: 128, height: 128 }] },
    });
  }, 150_000);

  it("a request inside the limit is answered in its own response", async () => {
    const input = {
      textToImage: { model: "tiny-sd", prompt: "a cat", width: 64, height: 64, numInferenceSteps: 2 },
    };
    const { generate } = await post<{ generate: Record<string, unknown> }>(GENERATE, { input });
    expect(generate).toEqual({ __typename: "Generation", images: [{ width: 64, height: 64 }] });
  }, 60_000);
});
