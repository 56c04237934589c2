/**
 * Stable Diffusion XL figures on tiny-sdxl (64×64, 10 steps, Euler, guidance 5):
 * 1. text-to-image end-to-end against the time inside `session.run` (target: < 10 % outside it, as SD); SDXL and
 *    SD (tiny-sd) requests alternate, so that drift in the machine's speed hits both alike;
 * 2. resident memory in a fresh process after text-to-image, then after image-to-image and inpainting on the same
 *    loaded checkpoint (target ratio ≤ 1.05). This file is that child process when run with `memory-child`.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generate } from "../server/service/generation.ts";
import type { TaskRequest } from "../server/service/generation-plan.ts";
import { benchServices, INIT_PNG, MASK_PNG, T2I } from "./setup.ts";
import { fmt, median } from "./stats.ts";

const RUNS = 7;
const WARMUPS = 2;
const MB = 1024 * 1024;

const XL_T2I: TaskRequest = { ...T2I, model: "tiny-sdxl", guidanceScale: 5 };
const XL_I2I: TaskRequest = { ...XL_T2I, image: { base64: INIT_PNG.toString("base64") }, strength: 0.6 };
const XL_INPAINT: TaskRequest = {
  ...XL_I2I,
  maskImage: { base64: MASK_PNG.toString("base64") },
  strength: 0.8,
};

export async function benchSdxl(): Promise<void> {
  const services = benchServices();
  console.log(
    `SDXL text-to-image tiny-sdxl 64×64, 10 steps, median of ${RUNS} after ${WARMUPS} warm-ups (alternating with tiny-sd)`,
  );
  const xl: Awaited<ReturnType<typeof generate>>["timings"][] = [];
  const sd: Awaited<ReturnType<typeof generate>>["timings"][] = [];
  for (let i = 0; i < WARMUPS + RUNS; i++) {
    const a = await generate(services, "TEXT_TO_IMAGE", XL_T2I);
    const b = await generate(services, "TEXT_TO_IMAGE", T2I);
    if (i >= WARMUPS) {
      xl.push(a.timings);
      sd.push(b.timings);
    }
  }
  for (const [name, t] of [
    ["tiny-sdxl", xl],
    ["tiny-sd  ", sd],
  ] as const) {
    const overhead = median(t.map((x) => 1 - x.sessionRunMs / x.totalMs));
    console.log(
      `  ${name} end-to-end ${fmt(median(t.map((x) => x.totalMs)))}, session.run ${fmt(median(t.map((x) => x.sessionRunMs)))} (${t[0]?.sessionRuns} runs), outside session.run ${(overhead * 100).toFixed(1)} %  (target < 10 %)`,
    );
  }
  await services.dispose();

  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, ["--import", "tsx", "--expose-gc", script, "memory-child"], {
    encoding: "utf8",
  });
  const m = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;
  console.log("SDXL resident memory (tiny-sdxl, fresh process, each task run 3 times)");
  console.log(`  baseline                                ${(m.baseline! / MB).toFixed(1)} MB`);
  console.log(`  after text-to-image                     ${(m.afterTextToImage! / MB).toFixed(1)} MB`);
  console.log(`  after + image-to-image + inpainting     ${(m.afterAllTasks! / MB).toFixed(1)} MB`);
  console.log(
    `  ratio                                   ${(m.afterAllTasks! / m.afterTextToImage!).toFixed(3)}  (target ≤ 1.05)\n`,
  );
}

/** The memory scenario: one services instance serves the three SDXL tasks; prints RSS as JSON. */
async function memoryChild(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const rss = () => {
    gc?.();
    return process.memoryUsage().rss;
  };
  const services = benchServices();
  const thrice = async (task: Parameters<typeof generate>[1], input: TaskRequest) => {
    for (let i = 0; i < 3; i++) await generate(services, task, input);
  };
  const result: Record<string, number> = { baseline: rss() };
  await thrice("TEXT_TO_IMAGE", XL_T2I);
  result.afterTextToImage = rss();
  await thrice("IMAGE_TO_IMAGE", XL_I2I);
  await thrice("INPAINTING", XL_INPAINT);
  result.afterAllTasks = rss();
  console.log(JSON.stringify(result));
  process.exit(0);
}

if (process.argv[2] === "memory-child") await memoryChild();
