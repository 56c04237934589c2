/**
 * Start-up figures of the production start (`node dist/server/main.js`, built first by `npm run build`): time
 * from spawning the process to listening and to ready (AUTOPIPE_WARMUP=tiny-sd loaded), then from ready to the
 * first tiny-sd image (64×64, 10 steps) over HTTP. Median of three starts.
 */
import { execFileSync } from "node:child_process";
import { REPO_ROOT, startServerProcess } from "../test/helpers/server-process.ts";
import { fmt, median } from "./stats.ts";

const STARTS = 3;

export async function benchStartup(): Promise<void> {
  execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "--silent", "build"], {
    cwd: REPO_ROOT,
  });
  const listening: number[] = [];
  const ready: number[] = [];
  const firstImage: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const spawned = performance.now();
    const server = await startServerProcess(
      { LOG_LEVEL: "info", AUTOPIPE_WARMUP: "tiny-sd" },
      { file: process.execPath, args: ["dist/server/main.js"] },
    );
    listening.push(performance.now() - spawned);
    await server.waitFor((line) => line.event === "ready");
    const readyAt = performance.now();
    ready.push(readyAt - spawned);
    const result = await server.gql<{ generate: { __typename: string } }>(
      'mutation { generate(input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: 10, seed: 0 } }) { __typename } }',
    );
    if (result.generate.__typename !== "Generation") throw new Error(result.generate.__typename);
    firstImage.push(performance.now() - readyAt);
    server.child.kill("SIGTERM");
    await server.exited;
  }
  console.log(`start-up: node dist/server/main.js, AUTOPIPE_WARMUP=tiny-sd, median of ${STARTS}`);
  console.log(`  spawn → listening         ${fmt(median(listening))}`);
  console.log(`  spawn → ready             ${fmt(median(ready))}`);
  console.log(
    `  ready → first image       ${fmt(median(firstImage))}  (tiny-sd 64×64, 10 steps; target < 1 s)\n`,
  );
}
