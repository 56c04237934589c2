/**
 * Shared bench set-up: services on the bundled models, a live HTTP server on port 0 with a client, and the
 * request shapes every section uses.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createClient } from "../client/index.ts";
import { loadConfig } from "../server/config.ts";
import { createServices, type Services } from "../server/context.ts";
import { createHttpServer } from "../server/http-server.ts";
import type { TaskRequest } from "../server/service/generation-plan.ts";
import { createAutopipeYoga } from "../server/yoga.ts";

export const MODELS = fileURLToPath(new URL("../models/", import.meta.url));
const INPUTS = new URL("../test/fixtures/diffusers-reference/reference/inputs/", import.meta.url);
export const INIT_PNG = readFileSync(new URL("init_image_64x64.png", INPUTS));
export const MASK_PNG = readFileSync(new URL("mask_64x64.png", INPUTS));

export function benchServices(env: Record<string, string> = {}): Services {
  return createServices(
    loadConfig({
      LOG_LEVEL: "warn",
      AUTOPIPE_DATA_DIR: "off",
      ...process.env,
      AUTOPIPE_MODELS_DIR: MODELS,
      ...env,
    }),
  );
}

export const T2I: TaskRequest = {
  model: "tiny-sd",
  prompt: "a photo of an astronaut riding a horse",
  width: 64,
  height: 64,
  numInferenceSteps: 10,
  guidanceScale: 7.5,
  seed: 0n,
};

export const I2I: TaskRequest = { ...T2I, image: { base64: INIT_PNG.toString("base64") }, strength: 0.8 };

export const INPAINT: TaskRequest = {
  ...T2I,
  model: "tiny-sd-inpaint",
  image: { base64: INIT_PNG.toString("base64") },
  maskImage: { base64: MASK_PNG.toString("base64") },
  strength: 1,
};

/** A live server for `services` and a typed client for it. */
export async function liveServer(services: Services) {
  const server = createHttpServer(createAutopipeYoga(services, { graphiql: false }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Kept-alive connections stay open 65 s (http-server.ts): a bench closes them at once.
      server.closeAllConnections();
    });
  return { client: createClient({ url }), close };
}
