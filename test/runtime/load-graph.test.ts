/**
 * Loading through the optimized-graph cache: the first load fuses and verifies (the fused graph within 1e-4 of
 * the original) and saves; the second is served from the cache with the same outputs; a changed source file or
 * a damaged cache entry is never served, but rebuilt.
 */
import { cp, mkdtemp, readdir, rm, truncate, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CACHED_DATA, entryDir } from "../../server/runtime/graph-cache.ts";
import { FUSION_TOLERANCE, loadGraph, peekGraphLoad } from "../../server/runtime/load-graph.ts";
import type { HostTensor } from "../../server/runtime/tensor.ts";
import { MID_SD_MODELS } from "../helpers/mid-sd.ts";
import { maxAbsDiff } from "../helpers/reference.ts";

let dir: string;
let file: string;
const cacheDir = () => path.join(dir, "cache");
const options = () => ({ provider: "cpu" as const, threads: 2, cacheDir: cacheDir() });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-graph-cache-"));
  // The VAE decoder: its mid-block attention fuses, and it loads faster than the UNet.
  await cp(`${MID_SD_MODELS}mid-sd/vae_decoder`, path.join(dir, "vae_decoder"), { recursive: true });
  file = path.join(dir, "vae_decoder", "model.onnx");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const feeds: Record<string, HostTensor> = {
  latent_sample: {
    type: "float32",
    data: Float32Array.from({ length: 4 * 12 * 12 }, (_, i) => Math.sin(i)),
    dims: [1, 4, 12, 12],
  },
};

async function outputOf(options: Parameters<typeof loadGraph>[1]) {
  const { model, report } = await loadGraph(file, options);
  try {
    return { report, out: (await model.run(feeds)).sample!.data as Float32Array };
  } finally {
    await model.release();
  }
}

describe("loadGraph with the optimized-graph cache", () => {
  it("fuses, verifies and saves on the first load, serves the cache on the second, same outputs", async () => {
    const plain = await outputOf({ provider: "cpu", threads: 2 });
    // Before any load nothing is known; without a cache nothing is fused (what cost-based admission asks).
    expect(await peekGraphLoad(file, options())).toBeUndefined();
    expect(await peekGraphLoad(file, { provider: "cpu", threads: 2 })).toMatchObject({ fusedAttention: 0 });
    const first = await outputOf(options());
    expect(await peekGraphLoad(file, options())).toMatchObject({ fromCache: true, fusedAttention: 1 });
    expect(first.report).toMatchObject({ fromCache: false, fusedAttention: 1 });
    expect(first.report.verifiedDiff).toBeLessThanOrEqual(FUSION_TOLERANCE);
    const second = await outputOf(options());
    expect(second.report).toMatchObject({ fromCache: true, fusedAttention: 1 });
    expect(second.out).toEqual(first.out);
    const { diff, scale } = maxAbsDiff(first.out, plain.out);
    expect(diff).toBeLessThanOrEqual(FUSION_TOLERANCE * Math.max(1, scale));
  }, 300_000);

  it("rebuilds when the source file changes (replacing the old entry) or the cache entry is damaged", async () => {
    const entries = async () =>
      (await readdir(path.join(cacheDir(), "graphs"))).filter((n) => !n.startsWith("."));
    const [key] = await entries();
    // A changed source (same bytes, new modification time) has a new identity: a new entry, never the old one,
    // which the new one replaces.
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect((await outputOf(options())).report.fromCache).toBe(false);
    expect(await entries()).toHaveLength(1);
    expect(await entries()).not.toContain(key);
    // A damaged entry (its weights file cut short) is rebuilt rather than read.
    const [newest] = await entries();
    await truncate(path.join(entryDir(cacheDir(), newest!), CACHED_DATA), 100);
    expect((await outputOf(options())).report.fromCache).toBe(false);
    expect((await outputOf(options())).report.fromCache).toBe(true);
  }, 300_000);
});
