/**
 * One generation in a fresh process (run by memory-peak.ts): loads the checkpoint with a small warm-up run, then
 * resets the peak-RSS counter and runs the requested size once. Prints JSON on its last line: resident memory
 * before, peak during and after (after GC), the estimator's figure and plan, and the wall time.
 * argv: modelsDir model width height [budgetBytes]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { loadConfig } from "../server/config.ts";
import { createServices } from "../server/context.ts";
import { planMemory } from "../server/service/cost.ts";
import { generate } from "../server/service/generation.ts";

const [modelsDir = "", model = "", width = "64", height = "64", budget] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
const status = (field: string) =>
  Number(
    /(\d+) kB/.exec(
      readFileSync("/proc/self/status", "utf8")
        .split("\n")
        .find((l) => l.startsWith(field)) ?? "",
    )?.[1] ?? 0,
  ) * 1024;

const services = createServices(
  loadConfig({
    ...process.env,
    AUTOPIPE_MODELS_DIR: modelsDir,
    ...(budget ? { AUTOPIPE_MEMORY_BUDGET_BYTES: budget } : {}),
  }),
);
const request = {
  model,
  prompt: "a photo of an astronaut riding a horse",
  numInferenceSteps: 2,
  guidanceScale: 7.5,
  seed: 0n,
};
await generate(services, "TEXT_TO_IMAGE", { ...request, width: 64, height: 64 });
gc?.();
const before = status("VmRSS:");
writeFileSync("/proc/self/clear_refs", "5");
const result: Record<string, unknown> = { model, width: Number(width), height: Number(height), before };
const checkpoint = await services.locator.locate(model);
try {
  const plan = await planMemory(
    services,
    checkpoint,
    { width: Number(width), height: Number(height), numImagesPerPrompt: 1, guidanceScale: 7.5 },
    undefined,
    "textToImage",
  );
  result.plan = plan;
  const started = performance.now();
  await generate(services, "TEXT_TO_IMAGE", { ...request, width: Number(width), height: Number(height) });
  result.ms = performance.now() - started;
} catch (error) {
  result.error = `${(error as Error).name}: ${(error as Error).message}`;
}
result.peak = status("VmHWM:");
gc?.();
result.after = status("VmRSS:");
console.log(JSON.stringify(result));
process.exit(0);
