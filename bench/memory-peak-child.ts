/**
 * One generation in a fresh process (run by memory-peak.ts): loads the checkpoint with a small warm-up run, then
 * resets the peak-RSS counter and runs the requested size once. Prints JSON on its last line: resident memory
 * before, peak through the denoising loop, peak overall and after (after GC), the estimator's figure and plan, and
 * the wall time.
 * argv: modelsDir model width height (the environment configures the server: budget, graph cache).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { loadConfig } from "../server/config.ts";
import { createServices } from "../server/context.ts";
import { generate, runPlan } from "../server/service/generation.ts";
import { planGeneration } from "../server/service/generation-plan.ts";

const [modelsDir = "", model = "", width = "64", height = "64"] = process.argv.slice(2);
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
  loadConfig({ AUTOPIPE_DATA_DIR: "off", ...process.env, AUTOPIPE_MODELS_DIR: modelsDir }),
);
const request = {
  model,
  prompt: "a photo of an astronaut riding a horse",
  numInferenceSteps: 1,
  guidanceScale: 7.5,
  seed: 0n,
};
await generate(services, "TEXT_TO_IMAGE", { ...request, width: 64, height: 64 });
gc?.();
const before = status("VmRSS:");
writeFileSync("/proc/self/clear_refs", "5");
const result: Record<string, unknown> = { model, width: Number(width), height: Number(height), before };
const sized = { ...request, width: Number(width), height: Number(height) };
try {
  const plan = await planGeneration(services, "TEXT_TO_IMAGE", sized);
  result.plan = plan.memory;
  const started = performance.now();
  // The peak up to the last denoising step is the text encoder's and the UNet's; the rest is the VAE decode's.
  await runPlan(services, plan, {
    onStep: ({ step, totalSteps }) => {
      if (step === totalSteps) result.denoisePeak = status("VmHWM:");
    },
  });
  result.ms = performance.now() - started;
} catch (error) {
  result.error = `${(error as Error).name}: ${(error as Error).message}`;
}
result.peak = status("VmHWM:");
gc?.();
result.after = status("VmRSS:");
console.log(JSON.stringify(result));
process.exit(0);
