/**
 * Aborted generations let go: clients of `generate` on a real port (Node's fetch) abort while their generation is
 * being planned, queued or running, 20 one after another and 20 at once. Once every job has ended, no pipeline
 * lease is held (`pipelines { inUse }` 0), no slot is taken, and the next generation runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpServer } from "../helpers/services.ts";

let server: Awaited<ReturnType<typeof startHttpServer>>;

beforeAll(async () => {
  server = await startHttpServer({
    AUTOPIPE_MAX_CONCURRENT: "1",
    AUTOPIPE_MAX_QUEUE: "64",
    AUTOPIPE_MAX_STEPS: "1000",
  });
});
afterAll(() => server.close());

const GENERATE = /* GraphQL */ `
  mutation ($steps: Int!) {
    generate(input: { textToImage: { model: "tiny-sd", prompt: "a cat", width: 64, height: 64,
      numInferenceSteps: $steps, seed: 1 } }) {
      __typename ... on Error { message } ... on Generation { images { width } }
    }
  }
`;

async function gql<T>(
  query: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<T> {
  const response = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  const body = (await response.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Starts a `generate` that is aborted when `when` resolves; resolves once the client saw the abort. */
async function abortedGenerate(when: () => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const request = gql(GENERATE, { steps: 500 }, controller.signal).then(
    () => "answered",
    (error: Error) => error.name,
  );
  await when();
  controller.abort();
  expect(["AbortError", "answered"]).toContain(await request);
}

/** Jobs not yet ended. */
async function unfinished(): Promise<number> {
  const { queued, running } = await gql<{ queued: unknown[]; running: unknown[] }>(
    `{ queued: jobs(status: QUEUED, first: 100) { id } running: jobs(status: RUNNING, first: 100) { id } }`,
  );
  return queued.length + running.length;
}

async function settled(): Promise<void> {
  while ((await unfinished()) > 0) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function running(): Promise<void> {
  for (;;) {
    const { jobs } = await gql<{ jobs: { progress: { step: number } }[] }>(
      `{ jobs(status: RUNNING, first: 1) { progress { step } } }`,
    );
    if ((jobs[0]?.progress.step ?? 0) >= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function nothingHeld(): Promise<void> {
  await settled();
  const { pipelines } = await gql<{ pipelines: { model: string; inUse: number }[] }>(
    `{ pipelines { model inUse } }`,
  );
  expect(pipelines.map((p) => p.inUse)).toEqual(pipelines.map(() => 0));
  expect(server.services.admission.active).toBe(0);
  expect(server.services.admission.waiting).toBe(0);
  const next = await gql<{ generate: { __typename: string } }>(GENERATE, { steps: 2 });
  expect(next.generate.__typename).toBe("Generation");
}

describe("aborted generate requests release their slot and pipeline lease", () => {
  it("20 sequential clients, aborting while planning, right after sending, while loading, or mid-run", async () => {
    await gql(GENERATE, { steps: 2 }); // loaded once
    const unloaded = async () => {
      await settled();
      await gql(`mutation { unloadPipeline(model: "tiny-sd") { __typename } }`);
    };
    const cases: { before?: () => Promise<void>; abortWhen: () => Promise<void> }[] = [
      { abortWhen: async () => undefined }, // while it is read and planned
      { abortWhen: () => new Promise((resolve) => setImmediate(resolve)) },
      { abortWhen: running }, // mid-run
      // Its checkpoint unloaded first: the abort comes while the graphs load again.
      { before: unloaded, abortWhen: () => new Promise((resolve) => setTimeout(resolve, 1)) },
    ];
    for (let i = 0; i < 20; i++) {
      const { before, abortWhen } = cases[i % cases.length]!;
      await before?.();
      await abortedGenerate(abortWhen);
    }
    await nothingHeld();
  });

  it("20 concurrent clients aborting at once (one running, the others queued)", async () => {
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const requests = controllers.map((c) =>
      gql(GENERATE, { steps: 500 }, c.signal).then(
        () => "answered",
        (error: Error) => error.name,
      ),
    );
    await running();
    for (const c of controllers) c.abort();
    for (const outcome of await Promise.all(requests)) expect(["AbortError", "answered"]).toContain(outcome);
    await nothingHeld();
  });
});
