/**
 * The time estimate (server/service/time-cost.ts) against measurement, for a grid of sizes on tiny-sd and the
 * SD 1.5-shaped mid-sd fixture: text-to-image with guidance, 3 steps (PNDM runs 4), one image, graphs loaded
 * first. Per size: the uncalibrated estimate of one step, of the VAE decode and of the whole run; what was
 * measured (the median step after the first, the decode, the run); and the calibrated estimate the server would
 * give next (its calibration follows each run's measured steps). The process's CPU time and the load average are
 * printed beside: on a shared machine, wall time is CPU time stretched by whatever else runs.
 * Sizes: AUTOPIPE_BENCH_TIME_SIZES=tiny:64,128,256;mid:256,512 (the default).
 */
import os from "node:os";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../server/config.ts";
import { createServices } from "../server/context.ts";
import { readCostSpec } from "../server/service/cost.ts";
import { runPlan } from "../server/service/generation.ts";
import { planGeneration, type TaskRequest } from "../server/service/generation-plan.ts";
import { calibrationFor, estimateRunSeconds } from "../server/service/time-cost.ts";
import { MODELS } from "./setup.ts";
import { median } from "./stats.ts";

const MID_SD = fileURLToPath(new URL("../test/fixtures/mid-sd/models/", import.meta.url));
const GRID = (process.env.AUTOPIPE_BENCH_TIME_SIZES ?? "tiny:64,128,256;mid:256,512")
  .split(";")
  .map((part) => {
    const [name = "", sizes = ""] = part.split(":");
    return { name, sizes: sizes.split(",").map(Number) };
  });
const CHECKPOINTS: Record<string, { dir: string; model: string }> = {
  tiny: { dir: MODELS, model: "tiny-sd" },
  mid: { dir: MID_SD, model: "mid-sd" },
};

export async function benchTimeEstimate(): Promise<void> {
  console.log("## time estimate vs measured (text-to-image, guidance 7.5, 3 steps, 1 image; seconds)\n");
  console.log(
    "| checkpoint | size | step est | step measured | VAE est | VAE measured | run est | run measured | " +
      "run est, calibrated | CPU s | load avg |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const { name, sizes } of GRID) {
    const checkpoint = CHECKPOINTS[name];
    if (!checkpoint)
      throw new Error(`unknown checkpoint '${name}' in AUTOPIPE_BENCH_TIME_SIZES (tiny or mid)`);
    const services = createServices(
      loadConfig({
        AUTOPIPE_DATA_DIR: "off",
        ...process.env,
        LOG_LEVEL: "warn",
        AUTOPIPE_MODELS_DIR: checkpoint.dir,
      }),
    );
    const request = (size: number, steps: number): TaskRequest => ({
      model: checkpoint.model,
      prompt: "a photo of an astronaut riding a horse",
      width: size,
      height: size,
      numInferenceSteps: steps,
      guidanceScale: 7.5,
      seed: 0n,
    });
    // Loads the graphs (not part of any estimate) and warms the sessions up.
    await runPlan(services, await planGeneration(services, "TEXT_TO_IMAGE", request(sizes[0] ?? 64, 2)));
    for (const size of sizes) {
      const plan = await planGeneration(services, "TEXT_TO_IMAGE", request(size, 3));
      const spec = await readCostSpec(plan.resolution.checkpoint, plan.memory.fused ?? FUSED);
      const raw = estimateRunSeconds(
        spec,
        { width: size, height: size, images: 1, guidance: true, encodesImage: false, steps: plan.totalSteps },
        plan.memory,
      );
      const ends: number[] = [];
      const cpu = process.cpuUsage();
      const started = performance.now();
      const result = await runPlan(services, plan, { onStep: () => void ends.push(performance.now()) });
      const ended = performance.now();
      const cpuUsed = process.cpuUsage(cpu);
      const steps = ends.slice(1).map((end, i) => end - (ends[i] ?? end));
      const vae = ended - (ends.at(-1) ?? ended) - result.timings.encodeMs;
      const calibrated = raw.seconds * calibrationFor(services.pipelines).factor(checkpoint.model);
      console.log(
        `| ${checkpoint.model} | ${size}² | ${s(raw.stepSeconds)} | ${s(median(steps) / 1000)} | ` +
          `${s(raw.vaeSeconds)} | ${s(vae / 1000)} | ${s(raw.seconds)} | ${s((ended - started) / 1000)} | ` +
          `${s(calibrated)} | ${s((cpuUsed.user + cpuUsed.system) / 1e6)} | ${os.loadavg()[0]?.toFixed(1)} |`,
      );
    }
    await services.dispose();
  }
  console.log();
}

const FUSED = { unet: true, vaeDecoder: true, vaeEncoder: true };

function s(seconds: number): string {
  return seconds < 1 ? seconds.toFixed(3) : seconds.toFixed(2);
}
