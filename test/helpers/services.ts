/**
 * Test helpers: configs pointing at the repo's bundled checkpoints (or a temp folder), services and Yoga built
 * from them, a real HTTP server on port 0, and GraphQL calls through `yoga.fetch`.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type Config, loadConfig } from "../../server/config.ts";
import { createServices, type Services } from "../../server/context.ts";
import { createHttpServer } from "../../server/http-server.ts";
import { type AutopipeYoga, createAutopipeYoga } from "../../server/yoga.ts";

export const REPO_MODELS = fileURLToPath(new URL("../../models/", import.meta.url));
export const EMPTY_HF_CACHE = fileURLToPath(new URL("../fixtures/empty-hf-cache/", import.meta.url));

/**
 * A config on the bundled models, an empty HF cache, downloads off, jobs in memory only (tests of the job store
 * set AUTOPIPE_DATA_DIR); `env` overrides any variable.
 */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    AUTOPIPE_MODELS_DIR: REPO_MODELS,
    HF_HUB_CACHE: EMPTY_HF_CACHE,
    LOG_LEVEL: "silent",
    AUTOPIPE_DATA_DIR: "off",
    ...env,
  });
}

export interface TestApp {
  services: Services;
  yoga: AutopipeYoga;
  /** POSTs a GraphQL operation through yoga.fetch (no port) and returns the parsed body. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data?: T; errors?: { message: string }[] }>;
  close(): Promise<void>;
}

export function createTestApp(env: Record<string, string> = {}): TestApp {
  const services = createServices(testConfig(env));
  const yoga = createAutopipeYoga(services, { graphiql: false });
  return {
    services,
    yoga,
    async gql(query, variables) {
      const response = await yoga.fetch("http://yoga/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
    close: () => services.dispose(),
  };
}

/** Starts the real server on a free port; returns its GraphQL URL. */
export async function startHttpServer(
  env: Record<string, string> = {},
): Promise<{ url: string; server: Server; services: Services; close(): Promise<void> }> {
  const services = createServices(testConfig(env));
  const server = createHttpServer(createAutopipeYoga(services));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    server,
    services,
    async close() {
      // Kept-alive connections stay open 65 s (http-server.ts): a test's server closes them at once.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await services.dispose();
    },
  };
}
