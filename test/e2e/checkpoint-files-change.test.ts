/**
 * A checkpoint's files change under a loaded pipeline, against the real server in a child process (a SIGBUS or
 * any other crash there fails the test): its UNet weights (external data, which onnxruntime memory-maps) are
 * truncated, then replaced by other bytes, while the checkpoint is loaded. The server keeps serving from its
 * cache's private copy, identically; after `unloadPipeline` the broken file is a typed `ModelLoadError`; once
 * repaired (written beside and renamed into place) the checkpoint loads again cleanly and gives the same image.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rename, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO_MODELS } from "../helpers/services.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const GENERATE = /* GraphQL */ `
  mutation ($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on Error { message }
      ... on ModelLoadError { component }
      ... on Generation { images { base64 } }
    }
  }
`;
const UNLOAD = /* GraphQL */ `
  mutation { unloadPipeline(model: "tiny-sd") { __typename ... on UnloadedPipeline { unloaded } } }
`;

let dir: string;
let server: ChildProcess;
let url: string;
let stderr = "";

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-files-"));
  await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(dir, "models", "tiny-sd"), { recursive: true });
  server = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: "0",
      AUTOPIPE_MODELS_DIR: path.join(dir, "models"),
      AUTOPIPE_CACHE_DIR: path.join(dir, "cache"),
      HF_HUB_CACHE: path.join(dir, "hf"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stderr?.on("data", (chunk) => (stderr += String(chunk)));
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.stdout?.on("data", (chunk) => {
      out += String(chunk);
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(new URL("/graphql", match[1]).href);
    });
    server.once("exit", (code, signal) => reject(new Error(`server exited (${code ?? signal}): ${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
});

async function gql(query: string, variables?: Record<string, unknown>) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as {
    data?: Record<string, Record<string, unknown>>;
    errors?: unknown;
  };
  expect(body.errors).toBeUndefined();
  return body.data!;
}

async function generate(): Promise<Record<string, unknown>> {
  const input = { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 2, seed: "1" } };
  return (await gql(GENERATE, { input })).generate!;
}

function expectAlive() {
  expect({ exitCode: server.exitCode, signal: server.signalCode }).toEqual({ exitCode: null, signal: null });
}

it("keeps serving while a loaded checkpoint's weights are truncated and replaced, and reloads once repaired", async () => {
  const weights = path.join(dir, "models", "tiny-sd", "unet", "weights.pb");
  const good = await readFile(weights);
  const first = await generate();
  expect(first.__typename).toBe("Generation");

  // Truncated in place while loaded: the next requests are served as before.
  await truncate(weights, 1000);
  expect(await generate()).toEqual(first);
  expectAlive();

  // Replaced (renamed over) by other bytes while loaded: still served from what was loaded.
  await writeFile(`${weights}.new`, Buffer.alloc(good.length, 7).subarray(0, 4096));
  await rename(`${weights}.new`, weights);
  expect(await generate()).toEqual(first);
  expectAlive();

  // Unloaded: the broken file is now a typed error for the requests that need it.
  expect((await gql(UNLOAD)).unloadPipeline).toEqual({ __typename: "UnloadedPipeline", unloaded: true });
  const broken = await generate();
  expect(broken.__typename).toBe("ModelLoadError");
  expect(broken.component).toBe("unet");
  expectAlive();

  // Repaired the recommended way (new version beside, then rename): loads cleanly, same image.
  await writeFile(`${weights}.new`, good);
  await rename(`${weights}.new`, weights);
  expect(await generate()).toEqual(first);
  expectAlive();
}, 120_000);
