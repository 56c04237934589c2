/**
 * `npm run test:unit`: the fast inner loop for people changing code, under a minute on a small machine. It is the
 * main config (vitest.config.ts) less what needs more than the code under test: no browser (`*.browser.test.ts`),
 * no Redis (`test/redis/`), no server processes or packing (`test/e2e/`, `test/client/package.test.ts`), no parity
 * runs against diffusers' reference outputs or the mid-size checkpoint (`*.parity.test.ts`). `npm test` runs all.
 */
import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.ts";

export const UNIT_EXCLUDE = [
  "test/e2e/**",
  "test/redis/**",
  "test/client/package.test.ts",
  "**/*.browser.test.ts",
  "**/*.parity.test.ts",
  // Whole generations, loads and evictions through the service, several per test: the full suite's job.
  "test/service/pipeline-cache.test.ts",
  "test/service/jobs.test.ts",
  "test/service/cost.test.ts",
  "test/service/pipelines-file.test.ts",
  "test/server/image-tasks.http.test.ts",
  "test/server/safety-checker.http.test.ts",
  "test/server/generate.http.test.ts",
  "test/server/pipeline-variants.http.test.ts",
  "test/pipelines/sdxl-service.test.ts",
  "test/pipelines/hf-cache.test.ts",
  "test/pipelines/components.test.ts",
  "test/runtime/load-graph.test.ts",
];

export default mergeConfig(base, defineConfig({ test: { exclude: UNIT_EXCLUDE } }));
