/**
 * Aborted generations: how long from a client's abort until its slot and pipeline lease are free, against the
 * duration of one denoising step, and the latency of the next generation after 20 sequential and 20 concurrent
 * aborts against idle (target: within 20 %). Over HTTP with Node's fetch, in process; tiny-sd 128×128, 40 steps.
 */
import { planGeneration } from "../server/service/generation-plan.ts";
import { benchServices, liveServer, T2I } from "./setup.ts";
import { fmt, median, quantile } from "./stats.ts";

const LONG = { ...T2I, width: 128, height: 128, numInferenceSteps: 40 };
const SHORT = { ...T2I, width: 128, height: 128, numInferenceSteps: 10 };

export async function benchAborts(): Promise<void> {
  const services = benchServices({ AUTOPIPE_MAX_CONCURRENT: "1", AUTOPIPE_MAX_QUEUE: "64" });
  const live = await liveServer(services);
  const generate = (input: typeof T2I, signal?: AbortSignal) =>
    live.client.generate({ textToImage: { ...input, seed: String(input.seed) } }, { signal });
  const timed = async () => {
    const started = performance.now();
    const result = await generate(SHORT);
    if (result.__typename !== "Generation") throw new Error(result.message);
    return performance.now() - started;
  };
  const idle = async (n: number) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) ms.push(await timed());
    return median(ms);
  };
  await planGeneration(services, "TEXT_TO_IMAGE", LONG);
  await idle(2);
  const idleMs = await idle(5);

  const release: number[] = [];
  const steps: number[] = [];
  const stepsAfterAbort: number[] = [];
  for (let i = 0; i < 20; i++) {
    const controller = new AbortController();
    const request = generate(LONG, controller.signal).catch(() => undefined);
    let job = (await services.jobs.list({ first: 1, status: "RUNNING" }))[0];
    while (!job) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      job = (await services.jobs.list({ first: 1, status: "RUNNING" }))[0];
    }
    // Every step's end, as the job publishes it; the abort comes a random moment into the third step.
    const ends: number[] = [];
    let aborted = Number.POSITIVE_INFINITY;
    const followed = (async () => {
      for await (const event of (await services.jobs.updates(job.id, 0)) ?? []) {
        if (event.job.status === "RUNNING" && event.job.progress.step > ends.length)
          ends.push(performance.now());
        if (ends.length === 2 && aborted === Number.POSITIVE_INFINITY) {
          aborted = performance.now() + 1; // claimed now, set when the timer fires
          setTimeout(
            () => {
              aborted = performance.now();
              controller.abort();
            },
            Math.random() * (ends[1]! - ends[0]!),
          );
        }
      }
    })();
    while (aborted === Number.POSITIVE_INFINITY || !controller.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    while (services.admission.active > 0 || services.pipelines.info().some((p) => p.inUse > 0)) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    release.push(performance.now() - aborted);
    await followed;
    await request;
    steps.push(ends[1]! - ends[0]!);
    stepsAfterAbort.push(ends.filter((end) => end > aborted).length);
  }
  const afterSequential = await idle(5);

  const controllers = Array.from({ length: 20 }, () => new AbortController());
  const requests = controllers.map((c) => generate(LONG, c.signal).catch(() => undefined));
  while ((await services.jobs.list({ first: 1, status: "RUNNING" })).length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  for (const c of controllers) c.abort();
  await Promise.all(requests);
  while (services.admission.active > 0) await new Promise((resolve) => setImmediate(resolve));
  const afterConcurrent = await idle(5);

  console.log("aborts: tiny-sd 128×128 over HTTP, generate aborted by its client mid-run");
  console.log(
    `  abort → slot and lease free  p50 ${fmt(median(release))}, p95 ${fmt(quantile(release, 0.95))}, max ${fmt(Math.max(...release))}`,
  );
  console.log(`  one denoising step           p50 ${fmt(median(steps))}, max ${fmt(Math.max(...steps))}`);
  console.log(
    `  steps ending after an abort  at most ${Math.max(...stepsAfterAbort)} (target ≤ 1: the step under way)`,
  );
  const vs = (ms: number) =>
    `${fmt(ms)} (${(((ms - idleMs) / idleMs) * 100).toFixed(1)} % vs idle, target ≤ 20 %)`;
  console.log(`  next generate, idle          ${fmt(idleMs)} (median of 5, 10 steps)`);
  console.log(`  … after 20 sequential aborts ${vs(afterSequential)}`);
  console.log(`  … after 20 concurrent aborts ${vs(afterConcurrent)}\n`);
  await live.close();
  await services.dispose();
}
