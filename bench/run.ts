/**
 * `npm run bench`: performance figures on the bundled tiny checkpoints, printed, never asserted.
 *
 * 1. Text-to-image, tiny-sd, 64×64, 10 steps (median of 7 after 2 warm-ups): end-to-end generate time, summed
 *    `session.run` time, overhead share (target < 10 %); the HTTP round trip through the client vs in-process.
 * 2. Image-to-image (tiny-sd) and inpainting (tiny-sd-inpaint), 64×64, 10 steps: end-to-end, session.run
 *    share, image decoding and PNG encoding time.
 * 3. The pipeline cache: resident memory after text-to-image, then after image-to-image and inpainting on the
 *    same checkpoint (target ratio ≤ 1.05), against loading the checkpoint three times; cold vs warm latency;
 *    8 concurrent requests against 8 sequential ones, p50/p95.
 * 4. The control plane (autocannon, real server process): resolvePipeline against a bare query, throughput and
 *    p99 at 50 connections; a bare query's p99 and BusyError latency while generations run.
 * 5. Start-up: spawn → ready with AUTOPIPE_WARMUP, and ready → first tiny-sd image.
 *
 * `npm run bench -- control-plane startup` runs only the sections named (text-to-image, image-tasks, cache,
 * control-plane, startup).
 */
import os from "node:os";
import { benchCache } from "./cache.ts";
import { benchControlPlane } from "./control-plane.ts";
import { benchImageTasks } from "./image-tasks.ts";
import { benchStartup } from "./startup.ts";
import { benchTextToImage } from "./text-to-image.ts";

console.log(
  `autopipe bench — node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})\n`,
);
const sections: [string, () => Promise<void>][] = [
  ["text-to-image", benchTextToImage],
  ["image-tasks", benchImageTasks],
  ["cache", benchCache],
  ["control-plane", benchControlPlane],
  ["startup", benchStartup],
];
const only = process.argv.slice(2);
for (const [name, run] of sections) if (only.length === 0 || only.includes(name)) await run();
