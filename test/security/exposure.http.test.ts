/**
 * Refusals of an exposed server, over yoga.fetch: keys (401), scopes (403), document limits (400/413), one
 * generation per operation, introspection and suggestions, invalid JSON not echoed, rate limits as a typed
 * RateLimitedError, CORS closed unless listed and CSRF prevention. After every refusal the server still answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices } from "../../server/context.ts";
import { createAutopipeYoga } from "../../server/yoga.ts";
import { testConfig } from "../helpers/services.ts";

const ADMIN = "admin-key-0123456789abcdef";
const GEN = "generate-key-0123456789abcdef";

type Body = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: object }[] };

function app(env: Record<string, string> = {}) {
  const services = createServices(testConfig(env));
  const yoga = createAutopipeYoga(services, { graphiql: false });
  async function post(body: unknown, headers: Record<string, string> = {}) {
    const response = await yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Body };
  }
  /** A bare query answers: the server keeps serving. */
  async function stillServing(headers: Record<string, string> = {}) {
    const r = await post({ query: "{ schedulers { name } }" }, headers);
    expect(r.status).toBe(200);
    expect(r.body.data?.schedulers).toBeInstanceOf(Array);
  }
  return { services, yoga, post, stillServing, close: () => services.dispose() };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("API keys and scopes", () => {
  const a = app({ AUTOPIPE_API_KEYS: `${ADMIN}:admin,${GEN}:generate` });
  afterAll(() => a.close());

  it("a missing key is 401 with a GraphQL error and a Bearer challenge", async () => {
    const r = await a.post({ query: "{ models { id } }" });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(r.body.errors?.[0]?.message).toMatch(/Missing API key/);
    expect(r.body.data ?? undefined).toBeUndefined();
  });

  it("a wrong key is 401 and the message never shows it", async () => {
    const r = await a.post({ query: "{ models { id } }" }, bearer(`${ADMIN}x`));
    expect(r.status).toBe(401);
    expect(JSON.stringify(r.body)).not.toContain(ADMIN);
    await a.stillServing(bearer(GEN));
  });

  it("a generate key lists and resolves, but loading a pipeline is 403", async () => {
    const list = await a.post({ query: "{ models { id } pipelines { model } }" }, bearer(GEN));
    expect(list.status).toBe(200);
    expect(list.body.data?.models).toBeInstanceOf(Array);
    const load = await a.post(
      { query: 'mutation { loadPipeline(model: "nope") { __typename } }' },
      bearer(GEN),
    );
    expect(load.status).toBe(403);
    expect(load.body.errors?.[0]?.message).toMatch(/'admin' scope/);
    // Hidden in a fragment, it is still refused.
    const hidden = await a.post(
      {
        query: 'mutation { ...F } fragment F on Mutation { unloadPipeline(model: "nope") { __typename } }',
      },
      bearer(GEN),
    );
    expect(hidden.status).toBe(403);
    await a.stillServing(bearer(GEN));
  });

  it("an admin key may load and unload", async () => {
    const r = await a.post(
      { query: 'mutation { loadPipeline(model: "nope") { __typename } }' },
      bearer(ADMIN),
    );
    expect(r.status).toBe(200);
    expect(r.body.data?.loadPipeline).toEqual({ __typename: "ModelNotFoundError" });
  });

  it("introspection is off on a keyed server (it does not listen on loopback by default)", async () => {
    const r = await a.post({ query: "{ __schema { types { name } } }" }, bearer(ADMIN));
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it("field suggestions are off", async () => {
    const r = await a.post({ query: "{ model { id } }" }, bearer(ADMIN));
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).not.toMatch(/Did you mean/);
  });
});

describe("document limits (open server)", () => {
  const a = app();
  afterAll(() => a.close());

  it("10,000 aliases are refused before parsing (413), 2,000 by the token limit (400)", async () => {
    const aliases = (n: number) =>
      Array.from({ length: n }, (_, i) => `a${i}: schedulers { name }`).join(" ");
    const large = await a.post({ query: `{ ${aliases(10_000)} }` });
    expect(large.status).toBe(413);
    const many = await a.post({ query: `{ ${aliases(2_000)} }` });
    expect(many.status).toBe(400);
    expect(many.body.errors?.[0]?.message).toMatch(/Token limit of 2000 exceeded/);
    await a.stillServing();
  });

  it("16 aliases are over the alias limit", async () => {
    const fields = Array.from({ length: 16 }, (_, i) => `a${i}: schedulers { name }`).join(" ");
    const r = await a.post({ query: `{ ${fields} }` });
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.message).toMatch(/aliases/i);
  });

  it("a 5,000-deep document is a 400 with a GraphQL error, not a 500", async () => {
    const query = `${"{ a ".repeat(5000)}${"} ".repeat(5000)}`;
    const r = await a.post({ query });
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.message).toBeTruthy();
    await a.stillServing();
  });

  it("a 10 MB document is 413 and is not parsed", async () => {
    const query = `{ schedulers { name } } # ${"x".repeat(10 * 1024 * 1024)}`;
    const r = await a.post({ query });
    expect(r.status).toBe(413);
    expect(r.body.errors?.[0]?.message).toMatch(/larger than/);
    await a.stillServing();
  });

  it("too deep a selection is refused", async () => {
    const r = await a.post({
      query: `{ resolvePipeline(model: "x", task: TEXT_TO_IMAGE) { ... on PipelineResolution { components { name } } } }`,
    });
    expect(r.status).toBe(200);
    const fragments = Array.from({ length: 11 }, (_, i) => `... on Query { f${i}: __typename `).join("");
    const deep = await a.post({ query: `{ ${fragments}${"} ".repeat(11)} }` });
    expect(deep.status).toBe(200);
  });

  it("invalid JSON is a 400 that does not echo the body", async () => {
    const secret = "do-not-echo-this-body";
    const r = await a.post(`{"query": "{ schedulers { name } }", ${secret}`);
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).not.toContain(secret);
    await a.stillServing();
  });

  it("two generate fields in one operation are refused, aliased or through a fragment", async () => {
    const input =
      '{ textToImage: { model: "tiny-sd", prompt: "x", numInferenceSteps: 1, width: 16, height: 16 } }';
    for (const query of [
      `mutation { a: generate(input: ${input}) { __typename } b: generate(input: ${input}) { __typename } }`,
      `mutation { generate(input: ${input}) { __typename } ...F } fragment F on Mutation { g: generate(input: ${input}) { __typename } }`,
    ]) {
      const r = await a.post({ query });
      expect(r.status).toBe(400);
      expect(r.body.errors?.[0]?.message).toMatch(/At most one generation field/);
    }
    expect(a.services.admission.active + a.services.admission.waiting).toBe(0);
  });

  it("introspection is on for a loopback server", async () => {
    const r = await a.post({ query: "{ __schema { queryType { name } } }" });
    expect(r.body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
  });
});

describe("rate limits", () => {
  const a = app({ AUTOPIPE_RATE_LIMIT: "2", AUTOPIPE_API_KEYS: `${ADMIN}:admin,${GEN}:generate` });
  afterAll(() => a.close());
  const query =
    'mutation { generate(input: { textToImage: { model: "missing", prompt: "x" } }) { __typename ... on RateLimitedError { message retryAfterMs } } }';

  it("the third generation in a minute is a typed RateLimitedError, per key", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await a.post({ query }, bearer(GEN));
      expect(r.body.data?.generate).toEqual({ __typename: "ModelNotFoundError" });
    }
    const third = await a.post({ query }, bearer(GEN));
    expect(third.status).toBe(200);
    const refused = third.body.data?.generate as { __typename: string; retryAfterMs: number };
    expect(refused.__typename).toBe("RateLimitedError");
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Another key has its own allowance.
    const other = await a.post({ query }, bearer(ADMIN));
    expect(other.body.data?.generate).toEqual({ __typename: "ModelNotFoundError" });
    await a.stillServing(bearer(GEN));
  });
});

describe("browsers: CORS and CSRF", () => {
  let closed: ReturnType<typeof app>;
  let opened: ReturnType<typeof app>;
  beforeAll(() => {
    closed = app();
    opened = app({ AUTOPIPE_CORS_ORIGINS: "https://app.example" });
  });
  afterAll(async () => {
    await closed.close();
    await opened.close();
  });

  it("a foreign origin gets no CORS headers", async () => {
    const r = await closed.post({ query: "{ models { id } }" }, { origin: "https://evil.example" });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await closed.yoga.fetch("http://yoga/graphql", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a listed origin gets its own name back, without credentials; others nothing", async () => {
    const ok = await opened.post({ query: "{ models { id } }" }, { origin: "https://app.example" });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    const other = await opened.post({ query: "{ models { id } }" }, { origin: "https://evil.example" });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a form post (a simple request) cannot run a mutation", async () => {
    const form = new URLSearchParams({
      query: 'mutation { unloadPipeline(model: "tiny-sd") { __typename } }',
    });
    const r = await closed.yoga.fetch("http://yoga/graphql", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: form.toString(),
    });
    expect(r.status).toBe(403);
    expect(((await r.json()) as Body).errors?.[0]?.message).toMatch(/CSRF/);
  });
});
