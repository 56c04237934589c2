import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ONNX sessions use every core; running test files one at a time keeps timings sane on small machines.
    fileParallelism: false,
  },
});
