/**
 * The pipeline cache and admission control on real checkpoints and real ONNX sessions: one load per checkpoint
 * under concurrency, sessions shared across the three tasks, LRU eviction under both budgets (never while in use),
 * failed loads retried, per-request overrides that never leak, and bounded queues.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { BusyError, ModelLoadError } from "../../server/errors.ts";
import { generate } from "../../server/service/generation.ts";
import type { TaskRequest } from "../../server/service/generation-plan.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { REFERENCE } from "../helpers/reference.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";

let modelsDir: string;
const open: Services[] = [];

beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), "autopipe-cache-"));
  for (const name of ["a", "b", "c"]) {
    await cp(path.join(REPO_MODELS, "tiny-sd"), path.join(modelsDir, name), { recursive: true });
  }
  return () => rm(modelsDir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.dispose()));
});

function services(env: Record<string, string> = {}): Services {
  const s = createServices(
    testConfig({ AUTOPIPE_MODELS_DIR: modelsDir, AUTOPIPE_MAX_CONCURRENT: "4", ...env }),
  );
  open.push(s);
  return s;
}

const init = readFile(`${REFERENCE}reference/inputs/init_image_64x64.png`);
const mask = readFile(`${REFERENCE}reference/inputs/mask_64x64.png`);

function t2i(model: string, extra: Partial<TaskRequest> = {}): TaskRequest {
  return { model, prompt: "a cat", width: 32, height: 32, numInferenceSteps: 2, seed: 1n, ...extra };
}

describe("one load per checkpoint, shared across tasks", () => {
  it("two concurrent first requests share one load", async () => {
    const s = services();
    await Promise.all([generate(s, "TEXT_TO_IMAGE", t2i("a")), generate(s, "TEXT_TO_IMAGE", t2i("a"))]);
    expect(s.pipelines.info()).toEqual([expect.objectContaining({ model: "a", loads: 1, inUse: 0 })]);
  });

  it("text-to-image, image-to-image and inpainting reuse the same ONNX sessions", async () => {
    const s = services();
    const sessions = async () => {
      const r = await resolveCheckpoint(s, "a", "TEXT_TO_IMAGE");
      const lease = await s.pipelines.acquire(r.checkpoint, r.modelIndex);
      try {
        const c = lease.components;
        return { c, unet: await c.graph("unet"), text: await c.graph("text_encoder") };
      } finally {
        lease.release();
      }
    };
    await generate(s, "TEXT_TO_IMAGE", t2i("a"));
    const first = await sessions();
    // The VAE encoder waits for the first image task.
    expect(s.pipelines.info()[0]?.components).toEqual(["text_encoder", "unet", "vae_decoder"]);
    const base64 = (await init).toString("base64");
    await generate(s, "IMAGE_TO_IMAGE", {
      ...t2i("a"),
      image: { base64 },
      strength: 0.5,
      width: null,
      height: null,
    });
    await generate(s, "INPAINTING", {
      ...t2i("a"),
      image: { base64 },
      maskImage: { base64: (await mask).toString("base64") },
    });
    const after = await sessions();
    expect(after.c).toBe(first.c);
    expect(after.unet).toBe(first.unet);
    expect(after.text).toBe(first.text);
    const [info] = s.pipelines.info();
    expect(info).toMatchObject({ loads: 1, tasks: ["TEXT_TO_IMAGE", "IMAGE_TO_IMAGE", "INPAINTING"] });
    expect([...(info?.components ?? [])].sort()).toEqual([
      "text_encoder",
      "unet",
      "vae_decoder",
      "vae_encoder",
    ]);
    expect(info?.bytes).toBeGreaterThan(1_000_000);
  });
});

describe("eviction", () => {
  it("evicts the least recently used checkpoint past AUTOPIPE_CACHE_MAX_MODELS", async () => {
    const s = services({ AUTOPIPE_CACHE_MAX_MODELS: "2" });
    await generate(s, "TEXT_TO_IMAGE", t2i("a"));
    await generate(s, "TEXT_TO_IMAGE", t2i("b"));
    await generate(s, "TEXT_TO_IMAGE", t2i("a")); // a is now more recent than b
    await generate(s, "TEXT_TO_IMAGE", t2i("c"));
    expect(s.pipelines.info().map((p) => p.model)).toEqual(["c", "a"]);
    await generate(s, "TEXT_TO_IMAGE", t2i("b"));
    expect(s.pipelines.info().map((p) => [p.model, p.loads])).toEqual([
      ["b", 2],
      ["c", 1],
    ]);
  });

  it("evicts past AUTOPIPE_CACHE_MAX_BYTES", async () => {
    const probe = services();
    await generate(probe, "TEXT_TO_IMAGE", t2i("a"));
    const oneModel = probe.pipelines.totalBytes();
    const s = services({ AUTOPIPE_CACHE_MAX_BYTES: String(Math.floor(oneModel * 1.5)) });
    await generate(s, "TEXT_TO_IMAGE", t2i("a"));
    await generate(s, "TEXT_TO_IMAGE", t2i("b"));
    expect(s.pipelines.info().map((p) => p.model)).toEqual(["b"]);
    expect(s.pipelines.totalBytes()).toBe(oneModel);
  });

  it("never evicts a checkpoint a request is using", async () => {
    const s = services({ AUTOPIPE_CACHE_MAX_MODELS: "1" });
    const a = await resolveCheckpoint(s, "a", "TEXT_TO_IMAGE");
    const lease = await s.pipelines.acquire(a.checkpoint, a.modelIndex);
    await generate(s, "TEXT_TO_IMAGE", t2i("b"));
    // Over budget while `a` is leased: b (idle) went, a stayed.
    expect(s.pipelines.info().map((p) => p.model)).toEqual(["a"]);
    await lease.components.graph("unet");
    lease.release();
    await generate(s, "TEXT_TO_IMAGE", t2i("c"));
    expect(s.pipelines.info().map((p) => p.model)).toEqual(["c"]);
  });

  it("unloading a checkpoint in use releases it when its request ends", async () => {
    const s = services();
    const a = await resolveCheckpoint(s, "a", "TEXT_TO_IMAGE");
    const lease = await s.pipelines.acquire(a.checkpoint, a.modelIndex);
    const unet = await lease.components.graph("unet");
    expect(await s.pipelines.unload(a.checkpoint)).toBe(true);
    expect(s.pipelines.has(a.checkpoint)).toBe(false);
    // Still usable by the request that holds it.
    expect(unet.inputs.map((i) => i.name)).toContain("sample");
    lease.release();
    expect(await s.pipelines.unload(a.checkpoint)).toBe(false);
  });
});

describe("failures and isolation", () => {
  it("a failed load is retried by the next request", async () => {
    const dir = path.join(modelsDir, "c", "unet", "model.onnx");
    const good = await readFile(dir);
    const s = services();
    try {
      await writeFile(dir, "garbage");
      await expect(generate(s, "TEXT_TO_IMAGE", t2i("c"))).rejects.toBeInstanceOf(ModelLoadError);
    } finally {
      await writeFile(dir, good);
    }
    const ok = await generate(s, "TEXT_TO_IMAGE", t2i("c"));
    expect(ok.images).toHaveLength(1);
  });

  it("a checkpoint that failed to open is loaded again, counted as a second load", async () => {
    const vocab = path.join(modelsDir, "b", "tokenizer", "vocab.json");
    const good = await readFile(vocab);
    const s = services();
    try {
      await writeFile(vocab, "{ broken");
      await expect(generate(s, "TEXT_TO_IMAGE", t2i("b"))).rejects.toBeInstanceOf(ModelLoadError);
    } finally {
      await writeFile(vocab, good);
    }
    await generate(s, "TEXT_TO_IMAGE", t2i("b"));
    expect(s.pipelines.info()).toEqual([expect.objectContaining({ model: "b", loads: 2 })]);
  });

  it("a scheduler override in one request is absent from the next, even concurrently", async () => {
    const s = services();
    const fresh = services();
    const plain = await generate(fresh, "TEXT_TO_IMAGE", t2i("a"));
    const euler = await generate(fresh, "TEXT_TO_IMAGE", t2i("a", { scheduler: "EULER_DISCRETE" }));
    const [x, y, z] = await Promise.all([
      generate(s, "TEXT_TO_IMAGE", t2i("a", { scheduler: "EULER_DISCRETE" })),
      generate(s, "TEXT_TO_IMAGE", t2i("a")),
      generate(s, "TEXT_TO_IMAGE", t2i("a", { scheduler: "EULER_DISCRETE" })),
    ]);
    const next = await generate(s, "TEXT_TO_IMAGE", t2i("a"));
    expect([x.scheduler, y.scheduler, z.scheduler, next.scheduler]).toEqual([
      "EulerDiscreteScheduler",
      "PNDMScheduler",
      "EulerDiscreteScheduler",
      "PNDMScheduler",
    ]);
    expect(y.images).toEqual(plain.images);
    expect(next.images).toEqual(plain.images);
    expect(x.images).toEqual(euler.images);
    expect(z.images).toEqual(euler.images);
    expect(euler.images).not.toEqual(plain.images);
  });
});

describe("admission", () => {
  it("runs AUTOPIPE_MAX_CONCURRENT at once, queues AUTOPIPE_MAX_QUEUE, refuses the rest with a retry hint", async () => {
    const s = services({ AUTOPIPE_MAX_CONCURRENT: "1", AUTOPIPE_MAX_QUEUE: "1" });
    const results = await Promise.allSettled([
      generate(s, "TEXT_TO_IMAGE", t2i("a")),
      generate(s, "TEXT_TO_IMAGE", t2i("a")),
      generate(s, "TEXT_TO_IMAGE", t2i("a")),
    ]);
    const refused = results.filter((r) => r.status === "rejected");
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    expect(refused).toHaveLength(1);
    const error = (refused[0] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(BusyError);
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(s.admission.active).toBe(0);
  });

  it("a waiting request whose client left frees its place", async () => {
    const s = services({ AUTOPIPE_MAX_CONCURRENT: "1", AUTOPIPE_MAX_QUEUE: "1" });
    const controller = new AbortController();
    const first = generate(s, "TEXT_TO_IMAGE", t2i("a", { numInferenceSteps: 10 }));
    const waiting = generate(s, "TEXT_TO_IMAGE", t2i("a"), controller.signal);
    // Both requests are validated and resolved before they reach admission: wait for the second to queue.
    await vi.waitFor(() => expect(s.admission.waiting).toBe(1), { timeout: 10_000, interval: 2 });
    controller.abort();
    await expect(waiting).rejects.toThrow(/cancelled/);
    expect(s.admission.waiting).toBe(0);
    await first;
  });

  it("a running generation stops at its next step when its client leaves", async () => {
    const s = services();
    const controller = new AbortController();
    const running = generate(s, "TEXT_TO_IMAGE", t2i("a", { numInferenceSteps: 150 }), controller.signal);
    setTimeout(() => controller.abort(), 300);
    // Only the check between steps rejects: a run that ignored the signal would finish its 150 steps and resolve.
    await expect(running).rejects.toThrow(/cancelled/);
    expect(s.admission.active).toBe(0);
  });
});
