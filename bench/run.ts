/**
 * `npm run bench`: performance figures, printed, never asserted. `npm run bench -- <section> …` runs only the
 * named sections.
 *
 * - tiny: text-to-image on tiny-sd (end-to-end vs session.run, HTTP vs in-process), image-to-image and inpainting,
 *   and the pipeline cache (memory across the three tasks, cold vs warm, concurrency).
 * - sdxl: Stable Diffusion XL (tiny-sdxl): text-to-image overhead share, and resident memory after all three tasks
 *   against text-to-image only.
 * - safety-checker: generation with and without the checker (alternating), the checker alone, and what a named
 *   pipeline adds to the cache.
 * - aborts: abort → slot and lease free against one step; the next generation after 20 sequential and 20
 *   concurrent aborts against idle.
 * - job-store: submit latency with the embedded job store (AUTOPIPE_DATA_DIR) against memory only, 16 submits at
 *   once, and a restart reading the journal back.
 * - jobs: submit → first SSE event, step → SSE event delay (p50/p95), preview cost, memory after 1,000 jobs.
 * - control-plane: resolvePipeline against a bare query (autocannon, real server process), throughput and p99 at
 *   50 connections; a bare query's p99 and BusyError latency while generations run.
 * - startup: spawn → ready with AUTOPIPE_WARMUP, and ready → first tiny-sd image.
 * - graphql-limits: a bare query's latency while 10,000-alias and 10 MB documents are being refused.
 * - memory-peak: time, peak and retained resident memory per size, the former server (exported graphs, no budget)
 *   vs the current one (fused attention, memory plan), side by side.
 * - mid-sd: SD 1.5's structure at reduced width: cold load first vs cached, the UNet step at 512² unfused vs fused
 *   (time, peak and retained memory), memory after a 512² generation, 256² end-to-end vs session.run and PyTorch.
 * - diffusers-checkpoints: graphs built from diffusers' safetensors folders (mini-sd, and random weights at mid-sd's
 *   widths; SD 1.5's with AUTOPIPE_BENCH_SD15=1): first and second load against the exported ONNX, the UNet step at
 *   512² built vs exported-and-fused, resident memory over the fp32 weights.
 * - lora: LoRA adapters on an SD 1.5-structured checkpoint (random weights at mid-sd's widths; SD 1.5's with
 *   AUTOPIPE_BENCH_SD15=1): resident memory with 0, 1 and 3 adapters against a merged copy, the UNet step with a
 *   rank-16 and a rank-128 adapter against none, and the time to switch adapter sets between requests.
 * - time-estimate: the time estimate (service/time-cost.ts) against measured step, VAE and run times for a grid
 *   of sizes on tiny-sd and mid-sd.
 * - redis-jobs: jobs over Redis: queue overhead and cross-process step latency against the in-process path;
 *   checkpoint loads per worker with and without affinity (needs redis-server).
 */
import os from "node:os";
import { benchAborts } from "./aborts.ts";
import { benchCache } from "./cache.ts";
import { benchControlPlane } from "./control-plane.ts";
import { benchDiffusersCheckpoints } from "./diffusers-checkpoints.ts";
import { benchGraphqlLimits } from "./graphql-limits.ts";
import { benchImageTasks } from "./image-tasks.ts";
import { benchJobStore } from "./job-store.ts";
import { benchJobs } from "./jobs.ts";
import { benchLora } from "./lora.ts";
import { benchMemoryPeak } from "./memory-peak.ts";
import { benchMidSd } from "./mid-sd.ts";
import { benchRedisJobs } from "./redis-jobs.ts";
import { benchSafetyChecker } from "./safety-checker.ts";
import { benchSdxl } from "./sdxl.ts";
import { benchStartup } from "./startup.ts";
import { benchTextToImage } from "./text-to-image.ts";
import { benchTimeEstimate } from "./time-estimate.ts";

const SECTIONS: Record<string, () => Promise<void>> = {
  tiny: async () => {
    await benchTextToImage();
    await benchImageTasks();
    await benchCache();
  },
  sdxl: benchSdxl,
  "safety-checker": benchSafetyChecker,
  jobs: benchJobs,
  "job-store": benchJobStore,
  aborts: benchAborts,
  "mid-sd": benchMidSd,
  "control-plane": benchControlPlane,
  startup: benchStartup,
  "graphql-limits": benchGraphqlLimits,
  "memory-peak": benchMemoryPeak,
  "time-estimate": benchTimeEstimate,
  "redis-jobs": benchRedisJobs,
  "diffusers-checkpoints": benchDiffusersCheckpoints,
  lora: benchLora,
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in SECTIONS))
    throw new Error(`unknown bench section '${name}' (sections: ${Object.keys(SECTIONS).join(", ")})`);
}
console.log(
  `autopipe bench — node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})\n`,
);
for (const [name, run] of Object.entries(SECTIONS)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
