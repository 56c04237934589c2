/**
 * The embedded job store's cost: how long `submit` takes with AUTOPIPE_DATA_DIR (payload and journal line written
 * and fdatasync'ed before it returns) against `off` (memory only), alternating one submit of each so that drift in
 * the machine's speed hits both alike; 16 submits at once (they share syncs: group commit); and how long a restart
 * takes to read back a journal of finished and queued jobs. The slot is held by the bench, so every job waits
 * queued and nothing runs while submits are timed; each job is then cancelled.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Services } from "../server/context.ts";
import { planGeneration } from "../server/service/generation-plan.ts";
import { benchServices, T2I } from "./setup.ts";
import { fmt, median, quantile } from "./stats.ts";

const RUNS = 400;

async function timedSubmit(services: Services, plan: Awaited<ReturnType<typeof planGeneration>>) {
  const started = performance.now();
  const job = await services.jobs.submit(plan, null);
  const ms = performance.now() - started;
  await services.jobs.cancel(job.id);
  return ms;
}

export async function benchJobStore(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-bench-store-"));
  const env = { AUTOPIPE_MAX_CONCURRENT: "1", AUTOPIPE_MAX_QUEUE: "100000", AUTOPIPE_MAX_JOBS: "100000" };
  const stored = benchServices({ ...env, AUTOPIPE_DATA_DIR: dir });
  const memory = benchServices({ ...env, AUTOPIPE_DATA_DIR: "off" });
  const plans = await Promise.all(
    [stored, memory].map((s) => planGeneration(s, "TEXT_TO_IMAGE", { ...T2I, numInferenceSteps: 2 })),
  );
  // The bench holds the one slot: submitted jobs wait, nothing runs while submits are timed.
  const holds = [stored.admission.reserve(), memory.admission.reserve()];
  const withStore: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < 20; i++) {
    await timedSubmit(stored, plans[0]!);
    await timedSubmit(memory, plans[1]!);
  }
  for (let i = 0; i < RUNS; i++) {
    withStore.push(await timedSubmit(stored, plans[0]!));
    without.push(await timedSubmit(memory, plans[1]!));
  }
  const line = (label: string, ms: number[]) =>
    `  ${label.padEnd(26)}p50 ${fmt(median(ms))}, p95 ${fmt(quantile(ms, 0.95))}, max ${fmt(Math.max(...ms))}`;
  console.log(`job store: submit of a planned text-to-image job, ${RUNS} of each, alternating`);
  console.log(line("memory only (off)", without));
  console.log(line("AUTOPIPE_DATA_DIR", withStore));
  const added = [0.5, 0.95].map((q) => quantile(withStore, q) - quantile(without, q));
  console.log(`  added by the store        p50 ${fmt(added[0]!)}, p95 ${fmt(added[1]!)} (target p95 ≤ 5 ms)`);

  // 16 at once: one fdatasync serves the submits that arrive while the previous one runs.
  const burst: number[] = [];
  for (let round = 0; round < 20; round++) {
    const started = performance.now();
    const jobs = await Promise.all(Array.from({ length: 16 }, () => stored.jobs.submit(plans[0]!, null)));
    burst.push(performance.now() - started);
    await Promise.all(jobs.map((job) => stored.jobs.cancel(job.id)));
  }
  console.log(
    `  16 submits at once        p50 ${fmt(median(burst))}, p95 ${fmt(quantile(burst, 0.95))} for all 16`,
  );

  // A restart reads back what is there: the cancelled jobs above (finished) and 200 queued ones.
  for (let i = 0; i < 200; i++) await stored.jobs.submit(plans[0]!, null);
  const count = (await stored.jobs.list({ first: 1000 })).length;
  for (const hold of holds) hold.release();
  await memory.dispose();
  // dispose leaves the queued jobs queued in the store.
  await stored.dispose();
  const started = performance.now();
  const again = benchServices({ ...env, AUTOPIPE_DATA_DIR: dir });
  const readMs = performance.now() - started;
  console.log(
    `  restart: services built   ${fmt(readMs)} with ${count} jobs in the journal (200 of them queued, re-planned as they run)\n`,
  );
  await again.dispose();
  await rm(dir, { recursive: true, force: true });
}
