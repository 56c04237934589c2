/**
 * Jobs over a real Redis with real worker processes: two workers behind API instances that share nothing but
 * Redis. Checkpoint affinity (each worker loads one checkpoint once), a subscriber on a second API instance
 * seeing every step of a job running in a worker, cancel from another instance, an API restart with jobs in
 * flight, workers killed with SIGKILL mid-job (retried, then FAILED with a typed error), and Redis going away
 * and coming back.
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { CancelledError, QueueUnavailableError, WorkerLostError } from "../../server/errors.ts";
import { generate } from "../../server/service/generation.ts";
import { planGeneration, type TaskRequest } from "../../server/service/generation-plan.ts";
import type { JobEvent } from "../../server/service/job.ts";
import { createAutopipeYoga } from "../../server/yoga.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";
import { HAS_REDIS, type RedisServer, startRedis, startWorker, type WorkerProcess } from "./redis-server.ts";

let redis: RedisServer;
let modelsDir: string;
const apis: Services[] = [];
const workers: WorkerProcess[] = [];

const workerEnv = (extra: Record<string, string> = {}) => ({
  AUTOPIPE_REDIS_URL: redis.url,
  AUTOPIPE_MODELS_DIR: modelsDir,
  AUTOPIPE_CACHE_MAX_MODELS: "1",
  ...extra,
});

async function spawnWorker(extra: Record<string, string> = {}): Promise<WorkerProcess> {
  const worker = await startWorker(workerEnv(extra));
  workers.push(worker);
  return worker;
}

/** An API instance (role `api`): its own connections, nothing shared with the others but Redis. */
function api(): Services {
  const services = createServices(
    testConfig({ AUTOPIPE_MODELS_DIR: modelsDir, AUTOPIPE_REDIS_URL: redis.url, AUTOPIPE_ROLE: "api" }),
  );
  apis.push(services);
  return services;
}

function t2i(extra: Partial<TaskRequest> = {}): TaskRequest {
  return {
    model: "tiny-a",
    prompt: "a cat",
    width: 32,
    height: 32,
    numInferenceSteps: 4,
    seed: 7n,
    ...extra,
  };
}

async function submit(s: Services, input: TaskRequest = t2i()) {
  return s.jobs.submit(await planGeneration(s, "TEXT_TO_IMAGE", input), null);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runningAt(s: Services, id: string, step: number) {
  await until(async () => ((await s.jobs.get(id))?.progress.step ?? 0) >= step, `job ${id} at step ${step}`);
}

describe.skipIf(!HAS_REDIS)("jobs on worker processes over Redis", () => {
  beforeAll(async () => {
    redis = await startRedis();
    modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-redis-"));
    // Two checkpoints (the same tiny weights under two ids): the pipeline cache loads them separately.
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "tiny-a"), { recursive: true });
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "tiny-b"), { recursive: true });
    await Promise.all([spawnWorker(), spawnWorker()]);
  }, 400_000);

  afterAll(async () => {
    await Promise.all(apis.splice(0).map((s) => s.dispose()));
    await Promise.all(workers.splice(0).map((w) => w.kill()));
    await redis?.stop();
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  });

  it("routes each checkpoint to the worker that holds it: two workers, two checkpoints, one load each", async () => {
    const a = api();
    const yoga = createAutopipeYoga(a, { graphiql: false });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const model = i % 2 === 0 ? "tiny-a" : "tiny-b";
      const response = await yoga.fetch("http://yoga/graphql", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `mutation($input: GenerateInput!) { submitGeneration(input: $input) {
            __typename ... on GenerationJob { id status model } } }`,
          variables: {
            input: {
              textToImage: { model, prompt: "a cat", width: 32, height: 32, numInferenceSteps: 2, seed: "1" },
            },
          },
        }),
      });
      const body = (await response.json()) as {
        data: { submitGeneration: { __typename: string; id: string } };
      };
      expect(body.data.submitGeneration.__typename).toBe("GenerationJob");
      ids.push(body.data.submitGeneration.id);
      expect((await a.jobs.wait(body.data.submitGeneration.id)).status).toBe("SUCCEEDED");
    }
    const metrics = await Promise.all(workers.map((w) => w.metrics()));
    // Each worker loaded exactly one of the checkpoints, once, and ran its four jobs.
    expect(metrics.map((m) => Object.values(m.loads)).sort()).toEqual([[1], [1]]);
    expect(new Set(metrics.flatMap((m) => Object.keys(m.loads)))).toEqual(new Set(["tiny-a", "tiny-b"]));
    expect(metrics.map((m) => m.jobs)).toEqual([4, 4]);

    // A burst of alternating jobs: still no checkpoint loaded twice by one worker.
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        submit(a, t2i({ model: i % 2 ? "tiny-b" : "tiny-a", numInferenceSteps: 2 })),
      ),
    );
    const ended = await Promise.all(burst.map((job) => a.jobs.wait(job.id)));
    expect(ended.map((j) => j.status)).toEqual(Array(8).fill("SUCCEEDED"));
    for (const m of await Promise.all(workers.map((w) => w.metrics()))) {
      for (const loads of Object.values(m.loads)) expect(loads).toBe(1);
    }
  });

  it("a subscriber on a second API instance sees every step and preview of a job running in a worker", async () => {
    const a = api();
    const b = api();
    const job = await submit(a, t2i({ numInferenceSteps: 10, seed: 99n }));
    expect(["QUEUED", "RUNNING"]).toContain(job.status);
    const events: JobEvent[] = [];
    for await (const event of (await b.jobs.updates(job.id, 3))!) events.push(event);
    const steps = events.filter((e) => e.job.status === "RUNNING").map((e) => e.job.progress.step);
    const from = steps[0]!;
    expect(steps).toEqual(Array.from({ length: 12 - from }, (_, i) => from + i)); // PNDM: 10 steps, 11 timesteps
    const last = events.at(-1)!.job;
    expect(last.status).toBe("SUCCEEDED");
    const previews = events.filter((e) => e.preview);
    expect(previews.map((e) => e.job.progress.step)).toEqual([3, 6, 9].filter((s) => s > from));
    expect((await previews[0]!.preview)!.png.subarray(1, 4).toString()).toBe("PNG");
    // The worker's image is the in-process one, byte for byte (same request, same seed).
    const local = createServices(testConfig({ AUTOPIPE_MODELS_DIR: modelsDir }));
    try {
      const direct = await generate(local, "TEXT_TO_IMAGE", t2i({ numInferenceSteps: 10, seed: 99n }));
      expect(Buffer.compare(last.result!.images[0]!.png, direct.images[0]!.png)).toBe(0);
      expect(last.result!.seed).toBe(99n);
    } finally {
      await local.dispose();
    }
    expect((await a.jobs.get(job.id))?.status).toBe("SUCCEEDED");
  });

  it("cancelJob on another instance stops a running job at its next step and takes a queued one out", async () => {
    const a = api();
    const b = api();
    const long = t2i({ numInferenceSteps: 150, width: 64, height: 64 });
    const first = await submit(a, long);
    const second = await submit(a, t2i({ ...long, model: "tiny-b" }));
    await runningAt(a, first.id, 1);
    await runningAt(a, second.id, 1);
    const queued = await submit(a, t2i({ model: "tiny-b" }));
    expect(queued.status).toBe("QUEUED");
    expect(queued.queuePosition).toBe(1);
    const out = (await b.jobs.cancel(queued.id))!;
    expect(out.status).toBe("CANCELLED");
    expect(out.error).toBeInstanceOf(CancelledError);

    await b.jobs.cancel(first.id);
    await b.jobs.cancel(second.id);
    const [x, y] = await Promise.all([a.jobs.wait(first.id), a.jobs.wait(second.id)]);
    for (const ended of [x, y]) {
      expect(ended.status).toBe("CANCELLED");
      expect(ended.error).toBeInstanceOf(CancelledError);
      expect(ended.progress.step).toBeLessThan(150);
    }
  });

  it("an API restart loses no queued, running or finished job", async () => {
    const a = api();
    const done = await submit(a, t2i({ numInferenceSteps: 1 }));
    await a.jobs.wait(done.id);
    const running = await submit(a, t2i({ numInferenceSteps: 40 }));
    const alsoRunning = await submit(a, t2i({ model: "tiny-b", numInferenceSteps: 40 }));
    const queued = await submit(a, t2i({ numInferenceSteps: 2 }));
    await a.dispose();
    apis.splice(apis.indexOf(a), 1);

    const restarted = api();
    const ids = [done.id, running.id, alsoRunning.id, queued.id];
    const ended = await Promise.all(ids.map((id) => restarted.jobs.wait(id)));
    expect(ended.map((j) => j.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    expect(ended.every((j) => j.result?.images.length === 1)).toBe(true);
    const listed = (await restarted.jobs.list({ first: 50 })).map((j) => j.id);
    for (const id of ids) expect(listed).toContain(id);
  });

  it("a worker killed mid-job has its job run again elsewhere, up to AUTOPIPE_JOB_ATTEMPTS, then FAILED typed", {
    timeout: 400_000,
  }, async () => {
    // Fresh workers with a shorter lock, so a dead one is noticed within seconds.
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    const env = { AUTOPIPE_JOB_LOCK_MS: "10000", AUTOPIPE_JOB_ATTEMPTS: "2" };
    await Promise.all([spawnWorker(env), spawnWorker(env)]);
    const a = api();
    const raw = new Redis(redis.url);
    const record = async (id: string) => JSON.parse((await raw.get(`autopipe:job:${id}`)) ?? "{}");
    const alive = () => workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const runner = async () => {
      for (const w of alive()) if (((await w.metrics()) as unknown as { busy: boolean }).busy) return w;
      throw new Error("no worker is running a job");
    };
    try {
      // Killed once: run again on the other worker, to completion, once.
      const long = t2i({ numInferenceSteps: 150, width: 64, height: 64 });
      const job = await submit(a, long);
      await runningAt(a, job.id, 2);
      await (await runner()).kill();
      await until(async () => (await record(job.id)).attempts === 2, "the second attempt");
      const ended = await a.jobs.wait(job.id);
      expect(ended.status).toBe("SUCCEEDED");
      expect(ended.progress.step).toBe(151);

      // Killed twice (the last live worker, then a new one): the next worker fails it with a WorkerLostError.
      const doomed = await submit(a, long);
      await runningAt(a, doomed.id, 2);
      await (await runner()).kill();
      const third = await spawnWorker(env);
      await until(async () => {
        const r = await record(doomed.id);
        return r.attempts === 2 && r.step >= 2;
      }, "the second attempt");
      await third.kill();
      await spawnWorker(env);
      const failed = await a.jobs.wait(doomed.id);
      expect(failed.status).toBe("FAILED");
      expect(failed.error).toBeInstanceOf(WorkerLostError);
      expect((failed.error as WorkerLostError).component).toBe("worker");
    } finally {
      raw.disconnect();
    }
  });

  it("Redis unreachable: typed error for new jobs, readiness false; both recover when it returns", {
    timeout: 300_000,
  }, async () => {
    const a = api();
    const worker =
      workers.find((w) => w.child.exitCode === null && w.child.signalCode === null) ?? (await spawnWorker());
    await until(async () => a.jobs.ready(), "ready");
    await redis.stop();
    await until(async () => !a.jobs.ready(), "not ready");
    const plan = await planGeneration(a, "TEXT_TO_IMAGE", t2i());
    await expect(a.jobs.submit(plan, null)).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(await worker.ready()).toBe(503);
    await redis.restart();
    await until(async () => a.jobs.ready(), "ready again");
    await until(async () => (await worker.ready()) === 200, "worker ready again");
    const job = await submit(a, t2i({ numInferenceSteps: 2 }));
    expect((await a.jobs.wait(job.id)).status).toBe("SUCCEEDED");
  });
});
