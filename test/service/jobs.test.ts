/**
 * Generation jobs on real checkpoints and real ONNX sessions: events in order and complete, queue positions, cancel
 * of a queued and of a running job (the next one then runs), late subscribers, TTL and count eviction, a checkpoint
 * that fails to load, and that a job's image equals `generate`'s for the same input and seed.
 */
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { CancelledError, ModelLoadError } from "../../server/errors.ts";
import { generate } from "../../server/service/generation.ts";
import { planGeneration, type TaskRequest } from "../../server/service/generation-plan.ts";
import type { JobEvent, JobSnapshot } from "../../server/service/job.ts";
import { REFERENCE } from "../helpers/reference.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";

let modelsDir: string;
const open: Services[] = [];

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-jobs-"));
  await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "tiny-sd"), { recursive: true });
  await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, "broken"), { recursive: true });
  await writeFile(path.join(modelsDir, "broken", "unet", "model.onnx"), "not an onnx graph");
  return () => rm(modelsDir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.dispose()));
});

function services(env: Record<string, string> = {}): Services {
  const s = createServices(
    testConfig({ AUTOPIPE_MODELS_DIR: modelsDir, AUTOPIPE_MAX_CONCURRENT: "1", ...env }),
  );
  open.push(s);
  return s;
}

function t2i(extra: Partial<TaskRequest> = {}): TaskRequest {
  return {
    model: "tiny-sd",
    prompt: "a cat",
    width: 32,
    height: 32,
    numInferenceSteps: 4,
    seed: 7n,
    ...extra,
  };
}

async function submit(
  s: Services,
  input: TaskRequest = t2i(),
  task: "TEXT_TO_IMAGE" | "IMAGE_TO_IMAGE" = "TEXT_TO_IMAGE",
) {
  return s.jobs.submit(await planGeneration(s, task, input), null);
}

async function collect(s: Services, id: string, previewEvery = 0): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for await (const event of (await s.jobs.updates(id, previewEvery))!) events.push(event);
  return events;
}

describe("job events", () => {
  it("first the current state, then every step in order, then the terminal state with the result", async () => {
    const s = services();
    const job = await submit(s, t2i({ numInferenceSteps: 5 }));
    expect(job.status).toBe("RUNNING"); // a free slot: it started at once
    expect(job.progress.totalSteps).toBe(6); // PNDM without PRK steps: 5 steps visit 6 timesteps, as diffusers
    const events = await collect(s, job.id, 2);
    expect(events[0]!.job.status).toBe("RUNNING");
    const steps = events.filter((e) => e.job.status === "RUNNING").map((e) => e.job.progress.step);
    expect(steps).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const last = events.at(-1)!;
    expect(last.job.status).toBe("SUCCEEDED");
    expect(last.job.result?.images).toHaveLength(1);
    expect(last.job.finishedAt).not.toBeNull();
    // Previews on steps 2, 4, 6 only: real PNGs at latent resolution.
    const previews = events.filter((e) => e.preview);
    expect(previews.map((e) => e.job.progress.step)).toEqual([2, 4, 6]);
    const png = (await previews[0]!.preview)!.png;
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const etas = events.filter((e) => e.job.progress.step > 0 && e.job.status === "RUNNING");
    expect(etas.every((e) => (e.job.progress.etaMs ?? -1) >= 0)).toBe(true);
  });

  it("image-to-image counts int(numInferenceSteps × strength) steps", async () => {
    const s = services();
    const image = {
      base64: (await import("node:fs"))
        .readFileSync(`${REFERENCE}reference/inputs/init_image_64x64.png`)
        .toString("base64"),
    };
    const input = {
      ...t2i({ numInferenceSteps: 10, scheduler: "DDIM" as const }),
      image,
      strength: 0.5,
      width: 64,
      height: 64,
    };
    const job = await submit(s, input, "IMAGE_TO_IMAGE");
    expect(job.progress.totalSteps).toBe(5);
    const events = await collect(s, job.id);
    expect(events.at(-1)!.job.status).toBe("SUCCEEDED");
    expect(events.filter((e) => e.job.status === "RUNNING").at(-1)!.job.progress.step).toBe(5);
  });

  it("a late subscriber gets the finished job once; a subscriber mid-run starts from the current step", async () => {
    const s = services();
    const job = await submit(s, t2i({ numInferenceSteps: 40 }));
    // Join after a few steps: the first event already shows them.
    for (let i = 0; i < 6000; i++) {
      if (((await s.jobs.get(job.id))?.progress.step ?? 0) >= 3) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const mid = await collect(s, job.id);
    const firstStep = mid[0]!.job.progress.step;
    expect(firstStep).toBeGreaterThanOrEqual(3);
    const steps = mid.filter((e) => e.job.status === "RUNNING").map((e) => e.job.progress.step);
    expect(steps).toEqual(Array.from({ length: 42 - firstStep }, (_, i) => firstStep + i));
    const late = await collect(s, job.id);
    expect(late).toHaveLength(1);
    expect(late[0]!.job.status).toBe("SUCCEEDED");
  });
});

describe("the queue", () => {
  it("reports positions 1, 2 … and moves them up as jobs start", async () => {
    const s = services({ AUTOPIPE_MAX_QUEUE: "4" });
    const a = await submit(s, t2i({ numInferenceSteps: 100 }));
    const b = await submit(s);
    const c = await submit(s);
    expect([a.queuePosition, b.queuePosition, c.queuePosition]).toEqual([null, 1, 2]);
    expect([b.status, c.status]).toEqual(["QUEUED", "QUEUED"]);
    const cEvents = collect(s, c.id);
    await s.jobs.wait(a.id);
    expect((await s.jobs.get(c.id))?.queuePosition ?? null).toBeLessThanOrEqual(1);
    const events = await cEvents;
    const positions = events.filter((e) => e.job.status === "QUEUED").map((e) => e.job.queuePosition);
    expect(positions).toEqual([2, 1]);
    expect(events.map((e) => e.job.status)).toContain("RUNNING");
    expect(events.at(-1)!.job.status).toBe("SUCCEEDED");
    const listed = await s.jobs.list({ first: 20 });
    expect(listed.map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    expect((await s.jobs.list({ first: 1, status: "SUCCEEDED" })).map((j) => j.id)).toEqual([c.id]);
  });

  it("cancelling a queued job takes it out at once; cancelling a running one stops it and the next runs", async () => {
    const s = services({ AUTOPIPE_MAX_QUEUE: "4" });
    const running = await submit(s, t2i({ numInferenceSteps: 150 }));
    const queued = await submit(s);
    const next = await submit(s);
    const cancelledQueued = (await s.jobs.cancel(queued.id))!;
    expect(cancelledQueued.status).toBe("CANCELLED");
    expect(cancelledQueued.error).toBeInstanceOf(CancelledError);
    expect((await s.jobs.get(next.id))!.queuePosition).toBe(1);
    expect(s.admission.waiting).toBe(1);

    for (let i = 0; i < 6000 && (await s.jobs.get(running.id))!.progress.step < 1; i++)
      await new Promise((r) => setTimeout(r, 5));
    await s.jobs.cancel(running.id);
    const ended = await s.jobs.wait(running.id);
    expect(ended.status).toBe("CANCELLED");
    expect(ended.progress.step).toBeLessThan(150);
    const done = await s.jobs.wait(next.id);
    expect(done.status).toBe("SUCCEEDED");
    // Cancelling a finished job returns it unchanged.
    expect((await s.jobs.cancel(next.id))!.status).toBe("SUCCEEDED");
    expect(s.admission.active).toBe(0);
  });
});

describe("limits and failures", () => {
  it("drops finished jobs past AUTOPIPE_MAX_JOBS (oldest first) and past AUTOPIPE_JOB_TTL_SECONDS", async () => {
    const s = services({ AUTOPIPE_MAX_JOBS: "2" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await submit(s, t2i({ numInferenceSteps: 1 }));
      ids.push(job.id);
      await s.jobs.wait(job.id);
    }
    expect(await s.jobs.get(ids[0]!)).toBeNull();
    expect((await s.jobs.get(ids[1]!))?.status).toBe("SUCCEEDED");
    expect((await s.jobs.get(ids[2]!))?.status).toBe("SUCCEEDED");

    const ttl = services({ AUTOPIPE_JOB_TTL_SECONDS: "0" });
    const job = await submit(ttl, t2i({ numInferenceSteps: 1 }));
    await ttl.jobs.wait(job.id);
    expect(await ttl.jobs.get(job.id)).toBeNull();
  });

  it("a checkpoint whose graph fails to load ends FAILED with ModelLoadError", async () => {
    const s = services();
    const job = await s.jobs.submit(await planGeneration(s, "TEXT_TO_IMAGE", t2i({ model: "broken" })), null);
    const ended = await s.jobs.wait(job.id);
    expect(ended.status).toBe("FAILED");
    expect(ended.error).toBeInstanceOf(ModelLoadError);
    expect((ended.error as ModelLoadError).component).toBe("unet");
  });

  it("a job's image is byte-identical to generate's for the same input and seed", async () => {
    const s = services();
    const direct = await generate(s, "TEXT_TO_IMAGE", t2i({ seed: 123n }));
    const job = await submit(s, t2i({ seed: 123n }));
    const ended: JobSnapshot = await s.jobs.wait(job.id);
    expect(Buffer.compare(ended.result!.images[0]!.png, direct.images[0]!.png)).toBe(0);
  });
});
