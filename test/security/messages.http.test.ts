/**
 * Refusals that say what to do: the CSRF refusal names the header to send, a key without its `Bearer ` scheme is
 * told so, a missing inpainting mask names the field instead of printing the upload, and the client keeps the
 * server's message (and status) when an SSE stream is refused. Real multipart bodies through yoga.fetch; the SSE
 * case on a real port through the typed client.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientError, createClient } from "../../client/index.ts";
import { createServices } from "../../server/context.ts";
import { withoutValueDump } from "../../server/variable-errors.ts";
import { createAutopipeYoga } from "../../server/yoga.ts";
import { startHttpServer, testConfig } from "../helpers/services.ts";

const KEY = "generate-key-0123456789abcdef";
const photo = readFile(new URL("../../docs/examples/photo.png", import.meta.url));

type Body = { errors?: { message: string; extensions?: Record<string, unknown> }[] };

/** An inpainting request without `maskImage`, its image uploaded as the GraphQL multipart spec says. */
async function inpaintWithoutMask(): Promise<FormData> {
  const form = new FormData();
  form.set(
    "operations",
    JSON.stringify({
      query: "mutation ($input: GenerateInput!) { generate(input: $input) { __typename } }",
      variables: {
        input: { inpainting: { model: "tiny-sd-inpaint", prompt: "a cat", image: { upload: null } } },
      },
    }),
  );
  form.set("map", JSON.stringify({ 0: ["variables.input.inpainting.image.upload"] }));
  form.set("0", new Blob([await photo], { type: "image/png" }), "photo.png");
  return form;
}

describe("refusals that say what to do", () => {
  const services = createServices(testConfig({ AUTOPIPE_API_KEYS: `${KEY}:generate` }));
  const yoga = createAutopipeYoga(services, { graphiql: false });
  afterAll(() => services.dispose());

  async function send(init: RequestInit): Promise<{ status: number; body: Body }> {
    const response = await yoga.fetch("http://yoga/graphql", { method: "POST", ...init });
    return { status: response.status, body: (await response.json()) as Body };
  }

  it("a multipart request without the CSRF header is told which header to send", async () => {
    const r = await send({ body: await inpaintWithoutMask(), headers: { authorization: `Bearer ${KEY}` } });
    expect(r.status).toBe(403);
    expect(r.body.errors?.[0]?.message).toBe(
      "Required CSRF header(s) not present: multipart/form-data needs the header 'graphql-require-preflight: 1' " +
        "(or 'x-graphql-yoga-csrf'), e.g. curl -H 'graphql-require-preflight: 1'",
    );
  });

  it("a missing mask names the field, and the upload is not printed", async () => {
    const r = await send({
      body: await inpaintWithoutMask(),
      headers: { authorization: `Bearer ${KEY}`, "graphql-require-preflight": "1" },
    });
    expect(r.status).toBe(400);
    const message = r.body.errors?.[0]?.message;
    expect(message).toBe(
      'Variable "$input" got an invalid value at "input.inpainting": ' +
        'Field "maskImage" of required type "ImageInput!" was not provided.',
    );
    expect(JSON.stringify(r.body)).not.toMatch(/blobParts|_size|photo\.png/);
  });

  it.each([
    [KEY, "The Authorization header has no scheme: send Authorization: Bearer <key>"],
    [`Token ${KEY}`, "The Authorization scheme 'Token' is not accepted: send Authorization: Bearer <key>"],
    ["Bearer", "Missing API key after 'Bearer': send Authorization: Bearer <key>"],
    [`Bearer ${KEY}x`, "Invalid API key"],
  ])("Authorization: %s → 401 %s", async (header, message) => {
    const r = await send({
      body: JSON.stringify({ query: "{ schedulers { name } }" }),
      headers: { "content-type": "application/json", authorization: header },
    });
    expect(r.status).toBe(401);
    expect(r.body.errors?.[0]?.message).toBe(message);
    expect(JSON.stringify(r.body)).not.toContain(KEY);
  });
});

describe("a refused SSE stream keeps the server's message", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  beforeAll(async () => {
    server = await startHttpServer({ AUTOPIPE_API_KEYS: `${KEY}:generate` });
  });
  afterAll(() => server.close());

  it("no key: ClientError 401 with the server's message, asked once (a refusal is not retried)", async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const client = createClient({ url: server.url, fetch: counting });
    let caught: unknown;
    try {
      for await (const _ of client.jobUpdates("no-such-job")) break;
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ClientError);
    expect((caught as ClientError).status).toBe(401);
    expect((caught as ClientError).message).toBe(
      "Subscription to job no-such-job failed: Missing API key: send Authorization: Bearer <key>",
    );
    expect(requests).toBe(1);
  });

  it("with the key, the same stream answers", async () => {
    const client = createClient({ url: server.url, headers: { authorization: `Bearer ${KEY}` } });
    const updates = [];
    for await (const update of client.jobUpdates("no-such-job")) updates.push(update);
    expect(updates.map((u) => u.__typename)).toEqual(["JobNotFoundError"]);
  });
});

describe("withoutValueDump", () => {
  it("keeps a scalar value, which is short and says what was sent", () => {
    const m = 'Variable "$seed" got invalid value "x"; Int cannot represent non-integer value: "x"';
    expect(withoutValueDump(m)).toBeNull();
  });

  it('finds the path and the reason past strings that hold `; ` and ` at "`', () => {
    const m =
      'Variable "$input" got invalid value { prompt: "a; b at \\"input.x\\"; c", n: [1, 2] } at "input.inpainting"; ' +
      'Field "maskImage" of required type "ImageInput!" was not provided.';
    expect(withoutValueDump(m)).toBe(
      'Variable "$input" got an invalid value at "input.inpainting": ' +
        'Field "maskImage" of required type "ImageInput!" was not provided.',
    );
  });

  it("a whole variable, no path", () => {
    const m =
      'Variable "$input" got invalid value { a: 1 }; Field "b" of required type "Int!" was not provided.';
    expect(withoutValueDump(m)).toBe(
      'Variable "$input" got an invalid value: Field "b" of required type "Int!" was not provided.',
    );
  });
});
