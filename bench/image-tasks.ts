/**
 * Image-to-image and inpainting figures: end-to-end time, `session.run` share, input image decoding and
 * preprocessing, PNG encoding.
 */
import type { Task } from "../server/auto-pipeline/resolve.ts";
import { generate } from "../server/service/generation.ts";
import type { TaskRequest } from "../server/service/generation-plan.ts";
import { benchServices, I2I, INPAINT } from "./setup.ts";
import { fmt, median, sample } from "./stats.ts";

const RUNS = 7;
const WARMUPS = 2;

export async function benchImageTasks(): Promise<void> {
  const services = benchServices();
  const cases: [string, Task, TaskRequest][] = [
    ["image-to-image tiny-sd, strength 0.8", "IMAGE_TO_IMAGE", I2I],
    ["inpainting tiny-sd-inpaint (9-channel), strength 1.0", "INPAINTING", INPAINT],
    ["inpainting tiny-sd (4-channel blend), strength 1.0", "INPAINTING", { ...INPAINT, model: "tiny-sd" }],
  ];
  for (const [label, task, request] of cases) {
    const { results } = await sample(RUNS, WARMUPS, () => generate(services, task, request));
    const t = results.map((r) => r.timings);
    const share = median(t.map((x) => x.sessionRunMs / x.totalMs));
    console.log(`${label}, 64×64, 10 steps, median of ${RUNS} after ${WARMUPS} warm-ups`);
    console.log(`  end-to-end generate       ${fmt(median(t.map((x) => x.totalMs)))}`);
    console.log(
      `  session.run (summed)      ${fmt(median(t.map((x) => x.sessionRunMs)))}  (${(share * 100).toFixed(1)} % of it, ${t[0]?.sessionRuns} runs)`,
    );
    console.log(`  image read + decode      ${fmt(median(t.map((x) => x.imageDecodeMs)))}`);
    console.log(`  PNG encode                ${fmt(median(t.map((x) => x.encodeMs)))}\n`);
  }
  await services.dispose();
}
