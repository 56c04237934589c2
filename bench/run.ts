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
 * 4. Jobs over Redis (redis-jobs.ts): queue overhead and cross-process step latency against the in-process path;
 *    checkpoint loads per worker with and without affinity.
 */
import os from "node:os";
import { benchCache } from "./cache.ts";
import { benchImageTasks } from "./image-tasks.ts";
import { benchRedisJobs } from "./redis-jobs.ts";
import { benchTextToImage } from "./text-to-image.ts";

console.log(
  `autopipe bench — node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"})\n`,
);
await benchTextToImage();
await benchImageTasks();
await benchCache();
await benchRedisJobs();
