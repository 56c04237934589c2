/**
 * Redis deployments beyond the worker fleet (workers.redis.test.ts): role `all` (GraphQL and a worker in one
 * process); finished jobs evicted by AUTOPIPE_MAX_JOBS and AUTOPIPE_JOB_TTL_SECONDS over Redis; a named pipeline's
 * config (`requiresSafetyChecker`, `variant`) reaching a worker process that never heard of the pipeline; and jobs
 * surviving a SIGKILL of Redis itself under the persistence settings README "Scaling out" gives.
 */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { createAutopipeYoga } from "../../server/yoga.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";
import { HAS_REDIS, type RedisServer, startRedis, startWorker, type WorkerProcess } from "./redis-server.ts";

let redis: RedisServer;
let modelsDir: string;
const open: Services[] = [];
const workers: WorkerProcess[] = [];

function services(env: Record<string, string> = {}, url = redis.url): Services {
  const s = createServices(
    testConfig({ AUTOPIPE_MODELS_DIR: modelsDir, AUTOPIPE_REDIS_URL: url, AUTOPIPE_ROLE: "all", ...env }),
  );
  open.push(s);
  return s;
}

async function gql<T>(s: Services, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await createAutopipeYoga(s, { graphiql: false }).fetch("http://yoga/graphql", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

interface Job {
  id: string;
  status: string;
  attempts: number;
  result: { __typename: string; notes?: string[]; images?: { base64: string }[] } | null;
}

const JOB = `id status attempts result { __typename ... on Generation { notes images { base64 } } }`;

async function submit(
  s: Services,
  model: string,
  seed = 1,
  extra: Record<string, unknown> = {},
): Promise<Job> {
  const { submitGeneration } = await gql<{
    submitGeneration: Job & { __typename: string; message?: string };
  }>(
    s,
    `mutation ($input: GenerateInput!) { submitGeneration(input: $input) {
      __typename ... on Error { message } ... on GenerationJob { ${JOB} } } }`,
    {
      input: {
        textToImage: { model, prompt: "a cat", width: 64, height: 64, numInferenceSteps: 2, seed, ...extra },
      },
    },
  );
  if (submitGeneration.__typename !== "GenerationJob") throw new Error(submitGeneration.message);
  return submitGeneration;
}

async function finished(s: Services, id: string): Promise<Job> {
  await s.jobs.wait(id);
  return (await gql<{ job: Job }>(s, `query ($id: ID!) { job(id: $id) { ${JOB} } }`, { id })).job;
}

describe.skipIf(!HAS_REDIS)("Redis deployments", () => {
  beforeAll(async () => {
    redis = await startRedis();
    modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-redis-deploy-"));
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "tiny-sd"), { recursive: true });
    await cp(path.join(REPO_MODELS, "mini-sd"), path.join(modelsDir, "mini-sd"), { recursive: true });
  });
  beforeEach(async () => {
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.dispose()));
    await Promise.all(workers.splice(0).map((w) => w.kill()));
  });
  afterAll(async () => {
    await redis?.stop();
    if (modelsDir) await rm(modelsDir, { recursive: true, force: true });
  });

  it("role all: one process answers GraphQL and runs the jobs, generate included", async () => {
    const s = services();
    const job = await submit(s, "tiny-sd");
    const done = await finished(s, job.id);
    expect(done).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    expect(Buffer.from(done.result!.images![0]!.base64, "base64").subarray(1, 4).toString()).toBe("PNG");
    const { generate } = await gql<{ generate: { __typename: string } }>(
      s,
      `mutation { generate(input: { textToImage: { model: "tiny-sd", prompt: "a cat", width: 32, height: 32,
        numInferenceSteps: 2 } }) { __typename } }`,
    );
    expect(generate.__typename).toBe("Generation");
  });

  it("AUTOPIPE_MAX_JOBS keeps the newest finished jobs; AUTOPIPE_JOB_TTL_SECONDS expires them", async () => {
    const s = services({ AUTOPIPE_MAX_JOBS: "2" });
    const ids: string[] = [];
    for (let seed = 0; seed < 4; seed++)
      ids.push((await finished(s, (await submit(s, "tiny-sd", seed)).id)).id);
    const { jobs } = await gql<{ jobs: { id: string }[] }>(s, `{ jobs(first: 10) { id } }`);
    expect(jobs.map((j) => j.id)).toEqual([ids[3], ids[2]]);
    expect(await s.jobs.get(ids[0]!)).toBeNull();
    // The process that finishes a job applies its TTL: one process (and worker) at a time here.
    await Promise.all(open.splice(0).map((x) => x.dispose()));

    const short = services({ AUTOPIPE_JOB_TTL_SECONDS: "1" });
    const expiring = await finished(short, (await submit(short, "tiny-sd", 9)).id);
    expect(expiring.status).toBe("SUCCEEDED");
    // Gone once its TTL has passed (Redis expires the record; the finished index is swept on the next write).
    while (await short.jobs.get(expiring.id)) await new Promise((resolve) => setTimeout(resolve, 100));
    await finished(short, (await submit(short, "tiny-sd", 10)).id);
    const listed = await gql<{ jobs: { id: string }[] }>(short, `{ jobs(first: 10) { id } }`);
    expect(listed.jobs.map((j) => j.id)).not.toContain(expiring.id);
  });

  it("a named pipeline's config reaches a worker process that does not know the pipeline", async () => {
    const a = services({ AUTOPIPE_ROLE: "api" });
    workers.push(await startWorker({ AUTOPIPE_REDIS_URL: redis.url, AUTOPIPE_MODELS_DIR: modelsDir }));
    const made = await gql<{ a: { __typename: string }; b: { __typename: string } }>(
      a,
      `mutation {
        a: fromPipe(name: "checked", from: "tiny-sd", task: TEXT_TO_IMAGE, config: { requiresSafetyChecker: true }) { __typename }
        b: fromPipe(name: "half", from: "mini-sd", task: TEXT_TO_IMAGE, config: { variant: "fp16" }) { __typename }
      }`,
    );
    expect([made.a.__typename, made.b.__typename]).not.toContain("InvalidInputError");
    // requiresSafetyChecker: the worker says the checkpoint has no checker to run.
    const checked = await finished(a, (await submit(a, "checked")).id);
    expect(checked.status).toBe("SUCCEEDED");
    expect(checked.result?.notes?.join(" ")).toMatch(/asks for a safety checker/);
    // variant: the worker loads the fp16 files (broken here on purpose), not the plain ones that still work.
    await writeFile(
      path.join(modelsDir, "mini-sd", "unet", "diffusion_pytorch_model.fp16.safetensors"),
      "broken",
    );
    const half = await a.jobs.wait((await submit(a, "half", 3)).id);
    expect(half.status).toBe("FAILED");
    expect((half.error as Error).message).toMatch(/fp16/);
    expect((await a.jobs.wait((await submit(a, "mini-sd", 3)).id)).status).toBe("SUCCEEDED");
  }, 180_000);

  it("with appendonly and appendfsync always, jobs survive a SIGKILL of Redis", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-redis-aof-"));
    const persisted = await startRedis({ dir });
    try {
      let s = services({}, persisted.url);
      const done = await finished(s, (await submit(s, "tiny-sd", 5)).id);
      await Promise.all(open.splice(0).map((x) => x.dispose()));
      // Queued with no worker to take it.
      s = services({ AUTOPIPE_ROLE: "api" }, persisted.url);
      const queued = await submit(s, "tiny-sd", 6);
      await Promise.all(open.splice(0).map((x) => x.dispose()));
      await persisted.kill();
      await persisted.restart();
      s = services({}, persisted.url);
      expect((await s.jobs.get(done.id))?.status).toBe("SUCCEEDED");
      expect((await finished(s, queued.id)).status).toBe("SUCCEEDED");
    } finally {
      await Promise.all(open.splice(0).map((x) => x.dispose()));
      await persisted.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
