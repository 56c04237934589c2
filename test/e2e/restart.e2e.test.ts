/**
 * The embedded job store across real restarts: the server process (server/main.ts, its own process, real port,
 * Node's fetch) is killed with SIGKILL mid-job, twice, and started again on the same AUTOPIPE_DATA_DIR. A finished
 * job stays readable with the same PNG bytes; the job that was running is queued again and runs as attempt 2; a
 * reconnecting `jobUpdates` gets its current state at once; killed again mid-run it ends FAILED with
 * InterruptedError; the jobs queued behind it run afterwards in their original order. A graceful stop (SIGTERM)
 * keeps queued jobs too.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess } from "../helpers/server-process.ts";

const JOB_FIELDS = /* GraphQL */ `
  id status attempts startedAt finishedAt progress { step totalSteps }
  result {
    __typename
    ... on Error { message }
    ... on InterruptedError { attempts }
    ... on Generation { images { base64 } }
  }
`;

interface Job {
  id: string;
  status: string;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  progress: { step: number; totalSteps: number };
  result: { __typename: string; message?: string; attempts?: number; images?: { base64: string }[] } | null;
}

const SUBMIT = /* GraphQL */ `
  mutation ($steps: Int!, $seed: Seed!) {
    submitGeneration(input: { textToImage: { model: "tiny-sd", prompt: "a cat", width: 32, height: 32,
      numInferenceSteps: $steps, guidanceScale: 1, seed: $seed } }) {
      __typename ... on Error { message } ... on GenerationJob { ${JOB_FIELDS} }
    }
  }
`;

let dataDir: string;
let server: ServerProcess | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-restart-"));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));
afterEach(() => {
  if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
});

async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  server = await startServerProcess({
    AUTOPIPE_DATA_DIR: dataDir,
    AUTOPIPE_MAX_CONCURRENT: "1",
    AUTOPIPE_MAX_STEPS: "1000",
    AUTOPIPE_JOB_ATTEMPTS: "2",
    ...env,
  });
  return server;
}

async function submit(s: ServerProcess, steps: number, seed: number): Promise<Job> {
  const { submitGeneration } = await s.gql<{ submitGeneration: Job & { __typename: string } }>(SUBMIT, {
    steps,
    seed,
  });
  if (submitGeneration.__typename !== "GenerationJob") throw new Error(JSON.stringify(submitGeneration));
  return submitGeneration;
}

async function job(s: ServerProcess, id: string): Promise<Job | null> {
  return (await s.gql<{ job: Job | null }>(`query ($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id }))
    .job;
}

/** Polls `job(id)` until `done` holds. */
async function until(s: ServerProcess, id: string, done: (job: Job) => boolean): Promise<Job> {
  for (;;) {
    const current = await job(s, id);
    if (current && done(current)) return current;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function kill(s: ServerProcess): Promise<void> {
  s.child.kill("SIGKILL");
  expect((await s.exited).signal).toBe("SIGKILL");
}

/** The first event of a `jobUpdates` stream (SSE), then closes it. */
async function firstUpdate(s: ServerProcess, id: string): Promise<Job> {
  const controller = new AbortController();
  const response = await fetch(`${s.base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({
      query: `subscription ($id: ID!) { jobUpdates(id: $id) { __typename ... on JobUpdate { job { ${JOB_FIELDS} } } } }`,
      variables: { id },
    }),
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended: ${text}`);
    text += Buffer.from(value).toString("utf8");
    const data = text.split("\n").find((line) => line.startsWith("data: {"));
    if (data) {
      controller.abort();
      const body = JSON.parse(data.slice(6)) as { data: { jobUpdates: { __typename: string; job: Job } } };
      expect(body.data.jobUpdates.__typename).toBe("JobUpdate");
      return body.data.jobUpdates.job;
    }
  }
}

describe("jobs survive SIGKILL of the server (AUTOPIPE_DATA_DIR)", () => {
  it("keeps finished jobs, re-queues the running one once, then fails it with InterruptedError; order kept", async () => {
    // First life: one job finished, one running a long time, two queued behind it.
    let s = await start();
    const finished = await submit(s, 2, 1);
    const done = await until(s, finished.id, (j) => j.status === "SUCCEEDED");
    const png = done.result?.images?.[0]?.base64;
    expect(png).toBeTruthy();
    const long = await submit(s, 900, 2);
    const second = await submit(s, 2, 3);
    const third = await submit(s, 2, 4);
    expect([second.status, third.status]).toEqual(["QUEUED", "QUEUED"]);
    await until(s, long.id, (j) => j.status === "RUNNING" && j.progress.step >= 1);
    await kill(s);

    // Second life: the finished job as it was; the running one back, as attempt 2, and followed from where it is.
    s = await start();
    const again = await job(s, finished.id);
    expect(again).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    expect(again?.result?.images?.[0]?.base64).toBe(png);
    const followed = await firstUpdate(s, long.id);
    expect(["QUEUED", "RUNNING"]).toContain(followed.status);
    const rerun = await until(
      s,
      long.id,
      (j) => j.status === "RUNNING" && j.attempts === 2 && j.progress.step >= 1,
    );
    expect(rerun.attempts).toBe(2);
    expect((await job(s, second.id))?.status).toBe("QUEUED");
    await kill(s);

    // Third life: no attempt left for it; the queued ones run, in the order they were submitted.
    s = await start();
    const failed = await job(s, long.id);
    expect(failed).toMatchObject({ status: "FAILED", attempts: 2 });
    expect(failed?.result).toMatchObject({ __typename: "InterruptedError", attempts: 2 });
    expect(failed?.result?.message).toMatch(/stopped while this job was running/);
    const b = await until(s, second.id, (j) => j.status === "SUCCEEDED");
    const c = await until(s, third.id, (j) => j.status === "SUCCEEDED");
    expect(Date.parse(b.startedAt!)).toBeLessThanOrEqual(Date.parse(c.startedAt!));
    expect([b.attempts, c.attempts]).toEqual([1, 1]);
    expect((await job(s, finished.id))?.result?.images?.[0]?.base64).toBe(png);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  }, 240_000);

  it("a graceful stop (SIGTERM) past its grace keeps the running and the queued job; a generate answered CancelledError is not run again", async () => {
    let s = await start({ AUTOPIPE_SHUTDOWN_GRACE_MS: "100" });
    const long = await submit(s, 900, 5);
    const queued = await submit(s, 2, 6);
    await until(s, long.id, (j) => j.status === "RUNNING" && j.progress.step >= 1);
    // A generate waiting behind them: its caller is answered when the drain cancels it.
    const generate = s.gql<{ generate: { __typename: string } }>(
      `mutation { generate(input: { textToImage: { model: "tiny-sd", prompt: "a dog", width: 32, height: 32,
        numInferenceSteps: 2 } }) { __typename } }`,
    );
    let waiting: { id: string }[] = [];
    while (waiting.length < 2) {
      waiting = (await s.gql<{ jobs: { id: string }[] }>(`{ jobs(status: QUEUED) { id } }`)).jobs;
    }
    const sync = waiting.find((j) => j.id !== queued.id)!;
    s.child.kill("SIGTERM");
    expect((await generate).generate.__typename).toBe("CancelledError");
    expect((await s.exited).code).toBe(0);
    s = await start();
    expect((await job(s, sync.id))?.status).toBe("CANCELLED");
    // The running one first, as its second attempt; cancelled, it frees the slot for the queued one.
    const back = await until(s, long.id, (j) => j.status === "RUNNING" && j.attempts === 2);
    expect(back.status).toBe("RUNNING");
    await s.gql(`mutation ($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: long.id });
    const ran = await until(s, queued.id, (j) => j.status === "SUCCEEDED");
    expect(ran.result?.__typename).toBe("Generation");
    expect((await job(s, long.id))?.status).toBe("CANCELLED");
    expect((await job(s, sync.id))?.status).toBe("CANCELLED");
    s.child.kill("SIGTERM");
    await s.exited;
  }, 240_000);
});
