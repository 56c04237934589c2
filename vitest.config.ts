import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // graphql 16 has no "exports": Node resolves it to the CommonJS build (as Pothos and Yoga load it), while
    // Vite would pick the .mjs build. One realm only, or graphql refuses its own types.
    alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // onnxruntime's native logger off but for fatal errors: expected provider failures print no alarm.
    setupFiles: ["test/setup/quiet-native-logs.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // ONNX sessions use every core; running test files one at a time keeps timings sane on small machines.
    fileParallelism: false,
  },
});
