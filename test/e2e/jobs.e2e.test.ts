/**
 * Jobs end to end: the real server on a real port, followed over Server-Sent Events through the typed client (and
 * through the built `@autopipe/client` package in a plain Node process, no TypeScript loader): events in order with
 * previews, cancel over the wire, typed errors, and `generate(input, { onProgress })`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, createClient, type JobUpdateResult } from "../../client/index.ts";
import { startHttpServer } from "../helpers/services.ts";

const run = promisify(execFile);
const input = (seed: number, steps = 4) => ({
  textToImage: {
    model: "tiny-sd",
    prompt: "a red cube",
    width: 32,
    height: 32,
    numInferenceSteps: steps,
    seed,
  },
});

describe("jobs over HTTP and SSE", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let client: AutopipeClient;

  beforeAll(async () => {
    server = await startHttpServer({ AUTOPIPE_MAX_CONCURRENT: "1" });
    client = createClient({ url: server.url });
  });
  afterAll(() => server.close());

  it("streams the current state, every step with previews, then the result, and completes", async () => {
    const job = await client.submitGeneration(input(11, 5));
    if (job.__typename !== "GenerationJob") throw new Error(job.message);
    const updates: JobUpdateResult[] = [];
    for await (const update of client.jobUpdates(job.id, { previewEvery: 3 })) updates.push(update);
    const jobs = updates.map((u) => (u.__typename === "JobUpdate" ? u : null));
    expect(jobs.every(Boolean)).toBe(true);
    const running = jobs.filter((u) => u!.job.status === "RUNNING").map((u) => u!.job.progress.step);
    expect(running.at(-1)).toBe(6);
    expect(running).toEqual(Array.from({ length: running.length }, (_, i) => running[0]! + i));
    const previews = jobs.filter((u) => u!.preview);
    expect(previews.map((u) => u!.job.progress.step)).toEqual([3, 6]);
    expect(Buffer.from(previews[0]!.preview!.base64, "base64").subarray(1, 4).toString()).toBe("PNG");
    const last = jobs.at(-1)!.job;
    expect(last.status).toBe("SUCCEEDED");
    if (last.result?.__typename !== "Generation") throw new Error("no generation");
    // The same input through generate: the same PNG.
    const direct = await client.generate(input(11, 5));
    if (direct.__typename !== "Generation") throw new Error(direct.message);
    expect(direct.images[0]!.base64).toBe(last.result.images[0]!.base64);
  });

  it("cancels over the wire; a finished job and unknown ids answer as typed results", async () => {
    const long = await client.submitGeneration(input(1, 150));
    const queued = await client.submitGeneration(input(2));
    if (long.__typename !== "GenerationJob" || queued.__typename !== "GenerationJob")
      throw new Error("refused");
    expect(queued.queuePosition).toBe(1);
    const cancelled = await client.cancelJob(queued.id);
    expect(cancelled.__typename === "GenerationJob" && cancelled.status).toBe("CANCELLED");
    await client.cancelJob(long.id);
    let ended = await client.job(long.id);
    for (let i = 0; i < 3000 && ended?.status === "RUNNING"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      ended = await client.job(long.id);
    }
    expect(ended?.status).toBe("CANCELLED");
    expect(ended?.result?.__typename).toBe("CancelledError");
    expect((await client.cancelJob("no-such-job")).__typename).toBe("JobNotFoundError");
    expect(await client.job("no-such-job")).toBeNull();
    const unknown: JobUpdateResult[] = [];
    for await (const u of client.jobUpdates("no-such-job")) unknown.push(u);
    expect(unknown.map((u) => u.__typename)).toEqual(["JobNotFoundError"]);
    const listed = await client.jobs({ status: "CANCELLED" });
    expect(listed.map((j) => j.id)).toEqual([queued.id, long.id]); // newest first
  });

  it("validates at submit time with the same typed errors as generate", async () => {
    const bad = await client.submitGeneration({ textToImage: { model: "tiny-sd", prompt: "x", width: 33 } });
    expect(bad.__typename).toBe("InvalidInputError");
    if (bad.__typename === "InvalidInputError") expect(bad.field).toBe("textToImage.width");
    const missing = await client.submitGeneration({ textToImage: { model: "nobody/nothing", prompt: "x" } });
    expect(missing.__typename).toBe("ModelNotFoundError");
  });

  it("generate(input, { onProgress }) reports every step and returns the generation", async () => {
    const seen: number[] = [];
    let previews = 0;
    const result = await client.generate(input(5, 3), {
      previewEvery: 1,
      onProgress: (job, preview) => {
        if (job.status === "RUNNING") seen.push(job.progress.step);
        if (preview) previews += 1;
      },
    });
    expect(result.__typename).toBe("Generation");
    expect(seen.at(-1)).toBe(4);
    expect(previews).toBe(4);
  });

  it("the built package works from plain Node (no TypeScript loader)", async () => {
    const script = `
      import { createClient } from "@autopipe/client";
      const client = createClient({ url: process.argv[1] });
      const steps = [];
      const r = await client.generate(${JSON.stringify(input(3, 2))}, { onProgress: (j) => steps.push(j.progress.step) });
      console.log(JSON.stringify({ type: r.__typename, last: steps.at(-1) }));
    `;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script, server.url]);
    expect(JSON.parse(stdout)).toEqual({ type: "Generation", last: 3 });
  });
});
