/**
 * Health, readiness, metrics and logs through `yoga.fetch`: probes answer before GraphQL, readiness follows
 * warm-up and drain, `/metrics` reports a generation that really ran, and every request and generation writes one
 * JSON line carrying the request id returned in `x-request-id` (prompts only with AUTOPIPE_LOG_PROMPTS=1).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { createLogger } from "../../server/observability/logger.ts";
import { type AutopipeYoga, createAutopipeYoga } from "../../server/yoga.ts";
import { testConfig } from "../helpers/services.ts";

type Line = Record<string, unknown>;

function app(env: Record<string, string> = {}) {
  const lines: Line[] = [];
  const config = testConfig({ LOG_LEVEL: "info", ...env });
  const logger = createLogger(config, { write: (text: string) => void lines.push(JSON.parse(text)) });
  const services = createServices(config, { logger });
  const yoga = createAutopipeYoga(services, { graphiql: false });
  return { services, yoga, lines };
}

async function post(yoga: AutopipeYoga, query: string, headers: Record<string, string> = {}) {
  return yoga.fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query }),
  });
}

const GENERATE = (prompt: string, steps: number) => /* GraphQL */ `
  mutation Paint {
    generate(input: { textToImage: { model: "tiny-sd", prompt: "${prompt}", numInferenceSteps: ${steps}, seed: 1 } }) {
      __typename
    }
  }
`;

/** The value of one sample of the exposition text, e.g. `autopipe_ready` or `x_count{task="…"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("health and readiness", () => {
  let services: Services | undefined;
  afterEach(() => services?.dispose());

  it("/healthz is 200 from the start; /readyz is 503 until warm-up is done, 200 then, 503 while draining", async () => {
    const a = app();
    services = a.services;
    const ready = async () => {
      const response = await a.yoga.fetch("http://yoga/readyz");
      return [response.status, await response.json()];
    };
    expect((await a.yoga.fetch("http://yoga/healthz")).status).toBe(200);
    expect(await ready()).toEqual([503, { ready: false, phase: "starting" }]);
    a.services.lifecycle.markReady();
    expect(await ready()).toEqual([200, { ready: true, phase: "ready" }]);
    const drained = a.services.lifecycle.drain(1000);
    expect(await ready()).toEqual([503, { ready: false, phase: "draining" }]);
    await drained;
    expect(await ready()).toEqual([503, { ready: false, phase: "stopped" }]);
    expect((await a.yoga.fetch("http://yoga/healthz")).status).toBe(200);
  });

  it("a generation asked for while draining is a typed ShuttingDownError", async () => {
    const a = app();
    services = a.services;
    await a.services.lifecycle.drain(1000);
    const body = await (await post(a.yoga, GENERATE("x", 2))).json();
    expect(body).toEqual({ data: { generate: { __typename: "ShuttingDownError" } } });
  });
});

describe("metrics", () => {
  let services: Services | undefined;
  afterEach(() => services?.dispose());

  it("/metrics reports operations, typed errors, the generation, the loaded pipeline and the process", async () => {
    const a = app();
    services = a.services;
    a.services.lifecycle.markReady();
    expect(await (await post(a.yoga, GENERATE("x", 2))).json()).toEqual({
      data: { generate: { __typename: "Generation" } },
    });
    // numInferenceSteps 0: a typed InvalidInputError, counted by type.
    await post(a.yoga, GENERATE("x", 0));
    const response = await a.yoga.fetch("http://yoga/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    const t2i = 'task="TEXT_TO_IMAGE",model="tiny-sd"';
    expect(sample(text, `autopipe_generation_duration_seconds_count{${t2i},outcome="ok"}`)).toBe(1);
    expect(sample(text, `autopipe_generation_duration_seconds_sum{${t2i},outcome="ok"}`)).toBeGreaterThan(0);
    expect(sample(text, `autopipe_generation_steps_total{${t2i}}`)).toBe(2);
    expect(sample(text, `autopipe_generation_steps_per_second{${t2i}}`)).toBeGreaterThan(0);
    expect(sample(text, 'autopipe_graphql_operations_total{operation="other",type="mutation"}')).toBe(2);
    expect(sample(text, 'autopipe_graphql_errors_total{operation="other",type="InvalidInputError"}')).toBe(1);
    expect(sample(text, "autopipe_pipelines_loaded")).toBe(1);
    expect(sample(text, 'autopipe_pipeline_bytes{model="tiny-sd"}')).toBe(a.services.pipelines.totalBytes());
    expect(a.services.pipelines.totalBytes()).toBeGreaterThan(0);
    expect(sample(text, "autopipe_generations_running")).toBe(0);
    expect(sample(text, "autopipe_generation_queue_length")).toBe(0);
    expect(sample(text, "autopipe_ready")).toBe(1);
    expect(sample(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });
});

describe("structured logs", () => {
  let services: Services | undefined;
  afterEach(() => services?.dispose());

  it("one line per request and per generation, sharing the request id returned in x-request-id; no prompt", async () => {
    const a = app();
    services = a.services;
    const response = await post(a.yoga, GENERATE("a secret prompt", 2));
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await response.json();
    const generation = a.lines.filter((l) => l.event === "generation");
    const request = a.lines.filter((l) => l.event === "request");
    expect(generation).toHaveLength(1);
    expect(request).toHaveLength(1);
    expect(generation[0]).toMatchObject({
      level: "info",
      requestId: id,
      task: "TEXT_TO_IMAGE",
      model: "tiny-sd",
      outcome: "ok",
      steps: 2,
    });
    expect(generation[0]?.durationMs).toBeGreaterThan(0);
    expect(request[0]).toMatchObject({
      requestId: id,
      method: "POST",
      path: "/graphql",
      status: 200,
      operation: "Paint",
      outcome: "ok",
      errorTypes: [],
    });
    expect(JSON.stringify(a.lines)).not.toContain("secret");
  });

  it("keeps a caller's plain x-request-id, names error types, and logs prompts only when asked", async () => {
    const a = app({ AUTOPIPE_LOG_PROMPTS: "1" });
    services = a.services;
    const response = await post(a.yoga, GENERATE("a logged prompt", 0), { "x-request-id": "req-42" });
    expect(response.headers.get("x-request-id")).toBe("req-42");
    await response.json();
    expect(a.lines.find((l) => l.event === "generation")).toMatchObject({
      requestId: "req-42",
      outcome: "InvalidInputError",
      errorType: "InvalidInputError",
      prompt: "a logged prompt",
    });
    expect(a.lines.find((l) => l.event === "request")).toMatchObject({
      requestId: "req-42",
      outcome: "error",
      errorTypes: ["InvalidInputError"],
    });
    // An id that could inject into headers or logs is replaced by a fresh one.
    const odd = await post(a.yoga, "{ __typename }", { "x-request-id": "a b<c>" });
    expect(odd.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("LOG_LEVEL=warn keeps request lines out", async () => {
    const a = app({ LOG_LEVEL: "warn" });
    services = a.services;
    await (await post(a.yoga, "{ __typename }")).json();
    expect(a.lines).toEqual([]);
  });
});
