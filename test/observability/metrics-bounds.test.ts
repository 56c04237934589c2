/**
 * What `/metrics` may show and to whom (observability/metrics.ts, health.ts), through `yoga.fetch`: operation
 * labels stay a bounded set whatever names clients send (10,000 random ones), the known names are the bundled
 * client's own, a failing scrape is a plain 500 that names no server file, and with API keys on only a `metrics`
 * or `admin` key may scrape while a `metrics` key runs no GraphQL.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parse } from "graphql";
import { Gauge } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { createLogger } from "../../server/observability/logger.ts";
import { KNOWN_OPERATIONS } from "../../server/observability/metrics.ts";
import { createAutopipeYoga } from "../../server/yoga.ts";
import { REPO_ROOT } from "../helpers/server-process.ts";
import { testConfig } from "../helpers/services.ts";

function app(env: Record<string, string> = {}) {
  const lines: Record<string, unknown>[] = [];
  const config = testConfig({ LOG_LEVEL: "info", ...env });
  const logger = createLogger(config, { write: (text: string) => void lines.push(JSON.parse(text)) });
  const services = createServices(config, { logger });
  return { services, lines, yoga: createAutopipeYoga(services, { graphiql: false }) };
}

/** Lines of the exposition text that are samples (not # HELP / # TYPE) of autopipe's GraphQL metrics. */
function graphqlSeries(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("autopipe_graphql_"));
}

let services: Services | undefined;
afterEach(async () => {
  await services?.dispose();
  services = undefined;
});

describe("operation labels", () => {
  it("are the bundled client's operation names", () => {
    const names: string[] = [];
    const dir = `${REPO_ROOT}client/operations`;
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".graphql"))) {
      for (const definition of parse(readFileSync(`${dir}/${file}`, "utf8")).definitions) {
        if (definition.kind === "OperationDefinition" && definition.name) names.push(definition.name.value);
      }
    }
    expect([...KNOWN_OPERATIONS].sort()).toEqual(names.sort());
  });

  it("10,000 random operation names add no series beyond `other`", async () => {
    const a = app();
    services = a.services;
    const send = (name: string) =>
      a.yoga.fetch("http://yoga/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `query ${name} { schedulers { name } }`,
          operationName: name,
        }),
      });
    const before = graphqlSeries(await (await a.yoga.fetch("http://yoga/metrics")).text()).length;
    expect((await send("Schedulers")).status).toBe(200);
    const random = () =>
      `Op_${Math.random().toString(36).slice(2)}${"x".repeat(Math.floor(Math.random() * 200))}`;
    for (let i = 0; i < 10_000; i += 100) {
      const responses = await Promise.all(Array.from({ length: 100 }, () => send(random())));
      expect(responses.every((r) => r.status === 200)).toBe(true);
    }
    const text = await (await a.yoga.fetch("http://yoga/metrics")).text();
    const series = graphqlSeries(text);
    // Operations: Schedulers and other; durations: two label sets of 14 buckets + sum + count.
    expect(series.filter((l) => l.startsWith("autopipe_graphql_operations_total"))).toEqual([
      'autopipe_graphql_operations_total{operation="Schedulers",type="query"} 1',
      'autopipe_graphql_operations_total{operation="other",type="query"} 10000',
    ]);
    expect(series.length - before).toBeLessThanOrEqual(2 * 17 + 2);
    expect(text).not.toContain("Op_");
    expect(text.length).toBeLessThan(64 * 1024);
  }, 120_000);
});

describe("a failing scrape", () => {
  it("is a plain 500 naming no server file; the reason is logged", async () => {
    const a = app();
    services = a.services;
    new Gauge({
      name: "failing_collector",
      help: "A collector that fails as a real one can (here: reading a file that went away).",
      registers: [a.services.metrics.registry],
      collect() {
        readFileSync(`${REPO_ROOT}server/no-such-file.json`);
      },
    });
    const response = await a.yoga.fetch("http://yoga/metrics");
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(body).toBe("metrics unavailable\n");
    expect(a.lines.some((l) => l.event === "metrics" && l.level === "error")).toBe(true);
  });
});

describe("with API keys", () => {
  const env = { AUTOPIPE_API_KEYS: "gen-key:generate,admin-key:admin,scrape-key:metrics" };
  const scrape = (yoga: ReturnType<typeof app>["yoga"], key?: string) =>
    yoga.fetch("http://yoga/metrics", { headers: key ? { authorization: `Bearer ${key}` } : {} });

  it("/metrics wants a metrics or admin key: none 401, generate 403", async () => {
    const a = app(env);
    services = a.services;
    const none = await scrape(a.yoga);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="autopipe"');
    const wrong = await scrape(a.yoga, "not-a-key");
    expect(wrong.status).toBe(401);
    const generate = await scrape(a.yoga, "gen-key");
    expect(generate.status).toBe(403);
    expect(await generate.json()).toEqual({
      errors: [
        {
          message: "This API key lacks the 'metrics' scope (a metrics or admin key may read /metrics)",
          extensions: { code: "FORBIDDEN" },
        },
      ],
    });
    for (const key of ["scrape-key", "admin-key"]) {
      const ok = await scrape(a.yoga, key);
      expect([key, ok.status]).toEqual([key, 200]);
      expect(await ok.text()).toContain("autopipe_ready");
    }
    // Probes stay open: orchestrators send no key.
    expect((await a.yoga.fetch("http://yoga/healthz")).status).toBe(200);
  });

  it("a metrics key runs no GraphQL operation", async () => {
    const a = app(env);
    services = a.services;
    const response = await a.yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer scrape-key" },
      body: JSON.stringify({ query: "{ schedulers { name } }" }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({
      errors: [{ message: "This API key lacks the 'generate' scope", extensions: { code: "FORBIDDEN" } }],
    });
  });
});
