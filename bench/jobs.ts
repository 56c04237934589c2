/**
 * Job figures: time from `submitGeneration` to the first SSE event, the delay between a denoising step finishing
 * on the server and its event reaching an SSE client (p50/p95), the cost of live previews (previewEvery 1 vs 0,
 * alternated), and memory after 1,000 finished jobs (bounded by AUTOPIPE_MAX_JOBS / the TTL).
 */
import type { AutopipeClient } from "../client/index.ts";
import { planGeneration } from "../server/service/generation-plan.ts";
import { benchServices, liveServer, T2I } from "./setup.ts";
import { fmt, median, quantile } from "./stats.ts";

const RUNS = 7;
const input = { textToImage: { ...T2I, seed: "0" } };

/** Submits one job and follows it; returns the timings seen by the client. */
async function followOne(client: AutopipeClient, previewEvery: number) {
  const started = performance.now();
  const job = await client.submitGeneration(input);
  if (job.__typename !== "GenerationJob") throw new Error(`${job.__typename}: ${job.message}`);
  let firstEventMs = Number.NaN;
  const stepDelays: number[] = [];
  for await (const update of client.jobUpdates(job.id, { previewEvery })) {
    if (update.__typename !== "JobUpdate") throw new Error(update.message);
    if (Number.isNaN(firstEventMs)) firstEventMs = performance.now() - started;
    const j = update.job;
    // A step event's snapshot is taken when the step finishes: startedAt + elapsedMs is that moment (ms clock).
    if (j.status === "RUNNING" && j.progress.step > 0 && j.startedAt) {
      stepDelays.push(Date.now() - (Date.parse(j.startedAt) + j.progress.elapsedMs));
    }
  }
  return { firstEventMs, stepDelays, totalMs: performance.now() - started };
}

export async function benchJobs(): Promise<void> {
  const services = benchServices();
  const live = await liveServer(services);
  console.log(`jobs: tiny-sd 64×64, 10 steps, over HTTP + SSE, ${RUNS} runs after 2 warm-ups`);
  for (let i = 0; i < 2; i++) await followOne(live.client, 0);
  const firsts: number[] = [];
  const delays: number[] = [];
  const withPreview: number[] = [];
  const without: number[] = [];
  // previewEvery 1 and 0 alternate, so that drift in the machine's speed hits both alike.
  for (let i = 0; i < RUNS; i++) {
    const plain = await followOne(live.client, 0);
    firsts.push(plain.firstEventMs);
    delays.push(...plain.stepDelays);
    without.push(plain.totalMs);
    withPreview.push((await followOne(live.client, 1)).totalMs);
  }
  console.log(`  submit → first event      p50 ${fmt(median(firsts))}, p95 ${fmt(quantile(firsts, 0.95))}`);
  console.log(
    `  step done → SSE client    p50 ${fmt(median(delays))}, p95 ${fmt(quantile(delays, 0.95))} (${delays.length} steps)`,
  );
  const cost = median(withPreview) / median(without) - 1;
  console.log(
    `  previewEvery 1 vs 0       ${fmt(median(withPreview))} vs ${fmt(median(without))} (${(cost * 100).toFixed(1)} %, target ≤ 3 %)`,
  );
  await live.close();
  await services.dispose();

  // 1,000 short jobs through the in-process service: what stays in memory is bounded by AUTOPIPE_MAX_JOBS.
  const many = benchServices({ AUTOPIPE_MAX_JOBS: "256" });
  const small = { ...T2I, width: 32, height: 32, numInferenceSteps: 1 };
  const plan = () => planGeneration(many, "TEXT_TO_IMAGE", small);
  await many.jobs.wait((await many.jobs.submit(await plan(), null)).id);
  global.gc?.();
  const before = process.memoryUsage();
  for (let i = 0; i < 1000; i++) await many.jobs.wait((await many.jobs.submit(await plan(), null)).id);
  global.gc?.();
  const after = process.memoryUsage();
  const kept = (await many.jobs.list({ first: 1000 })).length;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  console.log(`  1,000 finished jobs       ${kept} kept (AUTOPIPE_MAX_JOBS 256, TTL 900 s)`);
  console.log(
    `  memory before → after     heap ${mb(before.heapUsed)} → ${mb(after.heapUsed)}, rss ${mb(before.rss)} → ${mb(after.rss)}\n`,
  );
  await many.dispose();
}
