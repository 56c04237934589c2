/**
 * useUploadLimit on a small Yoga server: multipart bodies over the budget get a 413 GraphQL error
 * (PAYLOAD_TOO_LARGE) from Content-Length without being read, or part-way through when streamed without one
 * (yoga.fetch and a real HTTP server on the loopback address); small uploads and JSON requests still work.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createSchema, createYoga } from "graphql-yoga";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { multipartBudget, useUploadLimit } from "../../server/upload-limit.ts";

const MAX_UPLOAD = 4000;
const OPTIONS = { files: 2, overheadBytes: 2000 };
const BUDGET = multipartBudget(MAX_UPLOAD, OPTIONS); // 10 000 bytes

function makeYoga(maxRequestBodySize?: number) {
  return createYoga({
    schema: createSchema({
      typeDefs: /* GraphQL */ `
        scalar File
        type Query { ok: Boolean }
        type Mutation { size(file: File!): Int }
      `,
      resolvers: {
        Query: { ok: () => true },
        Mutation: { size: (_: unknown, args: { file: File }) => args.file.size },
      },
    }),
    plugins: [useUploadLimit(MAX_UPLOAD, OPTIONS)],
    logging: false,
    maxRequestBodySize,
  });
}

/** A GraphQL multipart request (operations, map, one file) serialized to bytes, with its content type. */
async function multipart(fileBytes: number): Promise<{ body: Uint8Array; contentType: string }> {
  const form = new FormData();
  form.set(
    "operations",
    JSON.stringify({ query: "mutation ($f: File!) { size(file: $f) }", variables: { f: null } }),
  );
  form.set("map", JSON.stringify({ 0: ["variables.f"] }));
  form.set("0", new File([new Uint8Array(fileBytes).fill(65)], "image.png", { type: "image/png" }));
  const encoded = new Response(form);
  return {
    body: new Uint8Array(await encoded.arrayBuffer()),
    contentType: encoded.headers.get("content-type")!,
  };
}

/** A stream over `bytes` in 512-byte chunks that records how far it was read. */
function countingStream(bytes: Uint8Array) {
  const state = { offset: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(state.offset, state.offset + 512));
      state.offset += 512;
    },
  });
  return { stream, state };
}

async function expect413(response: Response, code = "PAYLOAD_TOO_LARGE") {
  expect(response.status).toBe(413);
  const json = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
  expect(json.errors).toHaveLength(1);
  expect(json.errors[0]!.extensions.code).toBe(code);
  expect(json.errors[0]!.message).toMatch(/too large/i);
}

describe("useUploadLimit with yoga.fetch", () => {
  const yoga = makeYoga(1_000_000);

  it("lets a small upload through", async () => {
    const { body, contentType } = await multipart(3000);
    const response = await yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": contentType, "content-length": String(body.length) },
      body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { size: 3000 } });
  });

  it("answers 413 from Content-Length without reading the body", async () => {
    const { body, contentType } = await multipart(BUDGET);
    expect(body.length).toBeGreaterThan(BUDGET);
    const { stream, state } = countingStream(body);
    const response = await yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": contentType, "content-length": String(body.length) },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expect413(response);
    expect(state.offset).toBeLessThanOrEqual(1024);
  });

  it("answers 413 to a streamed body without Content-Length, stopping at the budget", async () => {
    const { body, contentType } = await multipart(5 * BUDGET);
    const { stream, state } = countingStream(body);
    const response = await yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": contentType },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expect413(response);
    expect(state.offset).toBeLessThan(BUDGET + 4096);
  });

  it("still serves a streamed upload under the budget and JSON requests", async () => {
    const { body, contentType } = await multipart(6000);
    const { stream } = countingStream(body);
    const upload = await yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": contentType },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(await upload.json()).toEqual({ data: { size: 6000 } });
    const json = await yoga.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ ok }" }),
    });
    expect(await json.json()).toEqual({ data: { ok: true } });
  });

  it("Yoga's own maxRequestBodySize answers first when it is the lower limit", async () => {
    const strict = makeYoga(2000);
    const { body, contentType } = await multipart(5000);
    const response = await strict.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": contentType, "content-length": String(body.length) },
      body,
    });
    await expect413(response, "REQUEST_ENTITY_TOO_LARGE");
  });
});

describe("useUploadLimit behind node:http (chunked transfer encoding)", () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    server = http.createServer(makeYoga(1_000_000));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `body` chunked (no Content-Length) and resolves with the status and JSON of the response. */
  function post(
    body: Uint8Array,
    contentType: string,
  ): Promise<{ status: number; json: unknown; sent: number }> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          path: "/graphql",
          method: "POST",
          headers: { "content-type": contentType },
        },
        (res) => {
          answered = true;
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text), sent }));
          res.on("error", reject);
        },
      );
      // The server may close the connection after answering early; that is not a failure of the test.
      req.on("error", (error) => (answered ? undefined : reject(error)));
      const writeMore = () => {
        while (!answered && sent < body.length) {
          const chunk = body.subarray(sent, sent + 1024);
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", writeMore);
        }
        if (sent >= body.length) req.end();
      };
      writeMore();
    });
  }

  it("answers 413 with the GraphQL error shape", async () => {
    const { body, contentType } = await multipart(3 * BUDGET);
    const { status, json } = await post(body, contentType);
    expect(status).toBe(413);
    expect(json).toMatchObject({ errors: [{ extensions: { code: "PAYLOAD_TOO_LARGE" } }] });
  });

  it("serves an upload under the budget", async () => {
    const { body, contentType } = await multipart(3000);
    const { status, json } = await post(body, contentType);
    expect(status).toBe(200);
    expect(json).toEqual({ data: { size: 3000 } });
  });
});
