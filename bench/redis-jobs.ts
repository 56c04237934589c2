/**
 * Jobs over Redis against jobs in process (needs redis-server; skipped with a message without it).
 *
 * 1. Queue overhead per job, tiny-sd 32×32, 4 steps: submit → worker start and finish → result visible to the
 *    API, p50/p95, with the worker in a child process; the in-process path (LocalJobs) alongside, runs alternated
 *    job by job. Step-event latency across processes: worker writes a step → an API-side subscriber receives it.
 * 2. Checkpoint loads per worker over 40 jobs alternating between two checkpoints, two workers holding one
 *    checkpoint each at most (AUTOPIPE_CACHE_MAX_MODELS=1), all submitted at once: with affinity, then without
 *    (each free worker takes the oldest job).
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { CheckpointLocator } from "../server/checkpoints/locate.ts";
import { loadConfig } from "../server/config.ts";
import { createServices, type Services } from "../server/context.ts";
import { planGeneration, type TaskRequest } from "../server/service/generation-plan.ts";
import { PipelineCache } from "../server/service/pipeline-cache.ts";
import { PipelineVariants } from "../server/service/pipeline-variants.ts";
import type { JobRecord } from "../server/service/redis/codec.ts";
import { JobWorker } from "../server/service/redis/worker.ts";
import { RedisJobs } from "../server/service/redis-jobs.ts";
import { HAS_REDIS, NEEDS_REDIS, startRedis, startWorker } from "../test/redis/redis-server.ts";
import { MODELS } from "./setup.ts";
import { fmt, quantile } from "./stats.ts";

const JOB: TaskRequest = {
  model: "tiny-sd",
  prompt: "a cat",
  width: 32,
  height: 32,
  numInferenceSteps: 4,
  seed: 1n,
};

function services(env: Record<string, string>): Services {
  return createServices(loadConfig({ ...process.env, AUTOPIPE_MODELS_DIR: MODELS, ...env }));
}

const p = (values: number[]) => `p50 ${fmt(quantile(values, 0.5))}  p95 ${fmt(quantile(values, 0.95))}`;

export async function benchRedisJobs(): Promise<void> {
  if (!HAS_REDIS) {
    console.log(`\nredis jobs: skipped — ${NEEDS_REDIS}`);
    return;
  }
  const redis = await startRedis();
  try {
    await overhead(redis.url);
    await affinity(redis.url);
  } finally {
    await redis.stop();
  }
}

async function overhead(url: string): Promise<void> {
  const worker = await startWorker({ AUTOPIPE_REDIS_URL: url, AUTOPIPE_MODELS_DIR: MODELS });
  const remote = services({ AUTOPIPE_REDIS_URL: url, AUTOPIPE_ROLE: "api" });
  const local = services({});
  const sub = new Redis(url);
  const stepLatency: number[] = [];
  sub.on("message", (_channel: string, raw: string) => {
    const { record } = JSON.parse(raw) as { record: JobRecord };
    if (record.status === "RUNNING" && record.step > 0) stepLatency.push(Date.now() - record.at);
  });
  const figures = {
    local: { start: [] as number[], visible: [] as number[] },
    redis: { start: [] as number[], visible: [] as number[] },
  };
  try {
    const one = async (s: Services, into: { start: number[]; visible: number[] }, record: boolean) => {
      const plan = await planGeneration(s, "TEXT_TO_IMAGE", JOB);
      const submitted = Date.now();
      const job = await s.jobs.submit(plan, null);
      if (record) await sub.subscribe(`autopipe:events:${job.id}`);
      const ended = await s.jobs.wait(job.id);
      const visible = Date.now();
      if (ended.status !== "SUCCEEDED") throw new Error(`job ${ended.status}`);
      into.start.push(Date.parse(ended.startedAt!) - submitted);
      into.visible.push(visible - Date.parse(ended.finishedAt!));
    };
    // Warm-up: both paths load the checkpoint once.
    await one(local, { start: [], visible: [] }, false);
    await one(remote, { start: [], visible: [] }, false);
    for (let i = 0; i < 15; i++) {
      await one(local, figures.local, false);
      await one(remote, figures.redis, true);
    }
  } finally {
    sub.disconnect();
    await remote.dispose();
    await local.dispose();
    await worker.stop();
  }
  console.log(
    "\nredis jobs: queue overhead per job (tiny-sd 32×32, 4 steps; 15 runs each, alternated; ms clock)",
  );
  console.log(`  in process   submit → start           ${p(figures.local.start)}`);
  console.log(`  redis        submit → worker start    ${p(figures.redis.start)}`);
  console.log(`  in process   finish → result visible  ${p(figures.local.visible)}`);
  console.log(`  redis        finish → result visible  ${p(figures.redis.visible)}`);
  console.log(
    `  step event, worker process → API subscriber  ${p(stepLatency)}  (${stepLatency.length} events; in process the event is delivered synchronously)`,
  );
}

async function affinity(url: string): Promise<void> {
  const modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-bench-"));
  await cp(path.join(MODELS, "tiny-sd"), path.join(modelsDir, "tiny-a"), { recursive: true });
  await cp(path.join(MODELS, "tiny-sd"), path.join(modelsDir, "tiny-b"), { recursive: true });
  try {
    for (const affinity of [true, false]) {
      const prefix = `bench-${affinity ? "affinity" : "fifo"}`;
      const config = loadConfig({
        ...process.env,
        AUTOPIPE_MODELS_DIR: modelsDir,
        AUTOPIPE_CACHE_MAX_MODELS: "1",
      });
      const workers = [0, 1].map(() => {
        const pipelines = new PipelineCache(config);
        const worker = new JobWorker(
          { config, locator: new CheckpointLocator(config), pipelines, variants: new PipelineVariants() },
          { url, prefix, attempts: 2, affinity },
        );
        return { worker, pipelines };
      });
      await Promise.all(workers.map(({ worker }) => worker.start()));
      const api = createServices(config);
      const jobs = new RedisJobs({ config: { ...config, maxQueue: 64 }, url, prefix });
      const started = performance.now();
      const submitted = [];
      for (let i = 0; i < 40; i++) {
        const model = i % 2 === 0 ? "tiny-a" : "tiny-b";
        submitted.push(
          await jobs.submit(
            await planGeneration(api, "TEXT_TO_IMAGE", { ...JOB, model, numInferenceSteps: 2 }),
            null,
          ),
        );
      }
      const ended = await Promise.all(submitted.map((job) => jobs.wait(job.id)));
      const wall = performance.now() - started;
      const failed = ended.filter((j) => j.status !== "SUCCEEDED").length;
      const loads = workers.map(({ worker }) => worker.state().loads);
      const total = loads.reduce((sum, l) => sum + Object.values(l).reduce((a, b) => a + b, 0), 0);
      console.log(
        `\nloads per worker, 40 alternating jobs on two checkpoints, ${affinity ? "with affinity" : "without affinity (oldest job first)"}`,
      );
      for (const [i, l] of loads.entries())
        console.log(`  worker ${i + 1}  ${JSON.stringify(l)}  jobs ${workers[i]!.worker.state().jobs}`);
      console.log(`  total loads ${total}, wall ${fmt(wall)}${failed ? `, ${failed} not SUCCEEDED` : ""}`);
      await jobs.dispose();
      await api.dispose();
      for (const { worker, pipelines } of workers) {
        await worker.close();
        await pipelines.dispose();
      }
    }
  } finally {
    await rm(modelsDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRedisJobs();
