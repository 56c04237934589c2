/**
 * One memory scenario in a fresh process (run by cache.ts): prints resident set sizes as JSON on its last line.
 * `shared`: one services instance serves text-to-image, then image-to-image and inpainting on tiny-sd.
 * `naive`: three independent services, each loading tiny-sd for one task.
 * Each task runs three times before measuring, so that allocator and arena growth has settled.
 */
import { generate } from "../server/service/generation.ts";
import { benchServices, I2I, INPAINT, T2I } from "./setup.ts";

const gc = (globalThis as { gc?: () => void }).gc;
const rss = () => {
  gc?.();
  return process.memoryUsage().rss;
};

const mode = process.argv[2];
const inpaint4 = { ...INPAINT, model: "tiny-sd" };
const result: Record<string, number> = {};
const first = benchServices();
result.baseline = rss();
const thrice = async (run: () => Promise<unknown>) => {
  for (let i = 0; i < 3; i++) await run();
};
await thrice(() => generate(first, "TEXT_TO_IMAGE", T2I));
result.afterTextToImage = rss();
if (mode === "shared") {
  await thrice(() => generate(first, "IMAGE_TO_IMAGE", I2I));
  await thrice(() => generate(first, "INPAINTING", inpaint4));
  result.afterAllTasks = rss();
  result.weightBytes = first.pipelines.totalBytes();
} else {
  const second = benchServices();
  const third = benchServices();
  await thrice(() => generate(second, "IMAGE_TO_IMAGE", I2I));
  await thrice(() => generate(third, "INPAINTING", inpaint4));
  result.afterAllTasks = rss();
  result.weightBytes = [first, second, third].reduce((n, s) => n + s.pipelines.totalBytes(), 0);
}
console.log(JSON.stringify(result));
process.exit(0);
