/**
 * Every request ends in an HTTP response: the real server process (server/main.ts, its own port) gets a few
 * hundred fuzzed `generate` requests at once from Node's fetch — odd variables, broken JSON, wrong content types,
 * multipart garbage, oversized documents, requests whose client gives up, and valid generations that fill the
 * queue — and every one that its client did not abort is answered with an HTTP status (no dropped connection).
 * The server is loaded on purpose (one slot, a short queue) so that refusals, queueing and running overlap.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";

let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess({
    AUTOPIPE_MAX_CONCURRENT: "1",
    AUTOPIPE_MAX_QUEUE: "4",
    AUTOPIPE_MAX_STEPS: "8",
    // Whatever the fuzzer draws, an accepted generation is small (128² at most): the test stays fast anywhere.
    AUTOPIPE_MAX_PIXELS: String(128 * 128),
    AUTOPIPE_MAX_UPLOAD_BYTES: String(64 * 1024),
  });
});
afterAll(() => {
  server?.child.kill("SIGKILL");
});

const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) { __typename ... on Error { message } }
  }
`;

const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("tiny-sd", "tiny-sd-inpaint", "mini-sd", "data:image/png;base64,AAAA", "PNDM"),
);
const task = fc.record(
  {
    model: fc.oneof(fc.constantFrom("tiny-sd", "tiny-sd-inpaint", "nope"), fc.string({ maxLength: 20 })),
    prompt: fc.string({ maxLength: 60 }),
    width: fc.oneof(fc.constantFrom(32, 64, 65), fc.integer({ min: -10, max: 5000 })),
    height: fc.oneof(fc.constantFrom(32, 64), fc.integer({ min: -10, max: 5000 })),
    numInferenceSteps: fc.integer({ min: -1, max: 12 }),
    seed: fc.oneof(fc.integer({ min: 0, max: 99 }), fc.string({ maxLength: 5 })),
    image: fc.oneof(fc.record({ base64: fc.base64String({ maxLength: 64 }) }), value),
    strength: value,
    extra: value,
  },
  { requiredKeys: [] },
);
const input = fc.oneof(
  fc.record({ textToImage: task }),
  fc.record({ imageToImage: task }),
  fc.record({ inpainting: task }),
  fc.dictionary(fc.string({ maxLength: 8 }), value),
);

type Shape = { kind: string; init: RequestInit; abort?: boolean };

/** One request of a fuzzed kind. */
const shape: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 6, arbitrary: input.map((i) => json({ query: GENERATE, variables: { input: i } })) },
  {
    weight: 2,
    arbitrary: fc.string({ maxLength: 200 }).map((body) => ({
      kind: "garbage-json",
      init: { method: "POST", headers: { "content-type": "application/json" }, body },
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/graphql-response+json",
        "",
      )
      .map((type) => ({
        kind: "content-type",
        init: {
          method: "POST",
          headers: { "content-type": type },
          body: JSON.stringify({ query: GENERATE }),
        },
      })),
  },
  {
    weight: 1,
    arbitrary: fc.string({ maxLength: 300 }).map((part) => ({
      kind: "multipart",
      init: {
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=xyz", "graphql-require-preflight": "1" },
        body: `--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${part}\r\n--xyz--\r\n`,
      },
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3 }).map((mb) => ({
      kind: "oversized",
      init: {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `{ __typename ${" ".repeat(mb * 1024 * 1024)} }` }),
      },
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 8 }).map((steps) => ({
      ...json({
        query: GENERATE,
        variables: {
          input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: steps } },
        },
      }),
      kind: "aborted",
      abort: true,
    })),
  },
);

function json(body: unknown): Shape {
  return {
    kind: "generate",
    init: { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
  };
}

/** Sends one request; its HTTP status, or how it failed. */
async function send({ init, abort }: Shape): Promise<number | string> {
  const controller = new AbortController();
  if (abort) setImmediate(() => controller.abort());
  try {
    const response = await fetch(`${server.base}/graphql`, { ...init, signal: controller.signal });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return `${(error as Error).name}${cause?.code ? ` ${cause.code}` : ""}`;
  }
}

describe("fuzzed generate requests over a real port", () => {
  it("every request its client did not abort gets an HTTP status", async () => {
    const shapes = fc.sample(shape, { numRuns: 400, seed: 22 });
    const outcomes: { kind: string; outcome: number | string }[] = [];
    // 32 in flight at a time, as a busy frontend would send them.
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < shapes.length) {
          const s = shapes[next++]!;
          outcomes.push({ kind: s.kind, outcome: await send(s) });
        }
      }),
    );
    const dropped = outcomes.filter((o) => typeof o.outcome !== "number" && o.kind !== "aborted");
    expect(dropped).toEqual([]);
    for (const o of outcomes) if (typeof o.outcome === "number") expect(o.outcome).toBeLessThan(500);
    expect(outcomes).toHaveLength(400);
    // The server is still up and answering, and keeps idle connections longer than clients do (see http-server.ts).
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get("keep-alive")).toBe("timeout=65");
  }, 240_000);
});
