/**
 * Pipeline cache figures. Memory is measured in fresh child processes (one per scenario) so that each starts
 * from the same baseline: shared = one checkpoint serving text-to-image, then image-to-image and inpainting;
 * naive = the checkpoint loaded three times, once per task. Then cold vs warm latency, and 8 concurrent
 * requests against 8 sequential ones over HTTP.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generate } from "../server/service/generation.ts";
import { benchServices, liveServer, T2I } from "./setup.ts";
import { fmt, median, quantile } from "./stats.ts";

const MB = 1024 * 1024;

function child(mode: "shared" | "naive"): Record<string, number> {
  const script = fileURLToPath(new URL("memory-child.ts", import.meta.url));
  const out = execFileSync(process.execPath, ["--import", "tsx", "--expose-gc", script, mode], {
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

export async function benchCache(): Promise<void> {
  const shared = child("shared");
  const naive = child("naive");
  const afterT2i = shared.afterTextToImage ?? Number.NaN;
  console.log("pipeline cache: resident memory (tiny-sd, fresh process per scenario)");
  console.log(`  baseline (server, nothing loaded)       ${(shared.baseline! / MB).toFixed(1)} MB`);
  console.log(`  after text-to-image                     ${(afterT2i / MB).toFixed(1)} MB`);
  console.log(`  after + image-to-image + inpainting     ${(shared.afterAllTasks! / MB).toFixed(1)} MB`);
  console.log(
    `  ratio shared                            ${(shared.afterAllTasks! / afterT2i).toFixed(3)}  (target ≤ 1.05)`,
  );
  console.log(`  naive: loaded three times               ${(naive.afterAllTasks! / MB).toFixed(1)} MB`);
  console.log(`  ratio naive                             ${(naive.afterAllTasks! / afterT2i).toFixed(3)}`);
  console.log(
    `  weight bytes held: shared ${(shared.weightBytes! / MB).toFixed(1)} MB, naive ${(naive.weightBytes! / MB).toFixed(1)} MB`,
  );

  const services = benchServices({ AUTOPIPE_MAX_QUEUE: "16" });
  const coldStarted = performance.now();
  await generate(services, "TEXT_TO_IMAGE", T2I);
  const cold = performance.now() - coldStarted;
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    await generate(services, "TEXT_TO_IMAGE", T2I);
    warm.push(performance.now() - started);
  }
  console.log(`\ncold vs warm generate (tiny-sd 64×64, 10 steps)`);
  console.log(`  cold (first request, loads the checkpoint)  ${fmt(cold)}`);
  console.log(`  warm (median of 5)                          ${fmt(median(warm))}`);

  const live = await liveServer(services);
  const one = async () => {
    const started = performance.now();
    const r = await live.client.generate({ textToImage: { ...T2I, seed: "0" } });
    if (r.__typename !== "Generation") throw new Error(`${r.__typename}: ${r.message}`);
    return performance.now() - started;
  };
  const seqStarted = performance.now();
  const sequential: number[] = [];
  for (let i = 0; i < 8; i++) sequential.push(await one());
  const seqTotal = performance.now() - seqStarted;
  const conStarted = performance.now();
  const concurrent = await Promise.all(Array.from({ length: 8 }, one));
  const conTotal = performance.now() - conStarted;
  console.log(`\n8 generate requests over HTTP (AUTOPIPE_MAX_CONCURRENT=${services.config.maxConcurrent})`);
  console.log(
    `  sequential: total ${fmt(seqTotal)}, ${((8 / seqTotal) * 1000).toFixed(2)} req/s, p50 ${fmt(median(sequential))}, p95 ${fmt(quantile(sequential, 0.95))}`,
  );
  console.log(
    `  concurrent: total ${fmt(conTotal)}, ${((8 / conTotal) * 1000).toFixed(2)} req/s, p50 ${fmt(median(concurrent))}, p95 ${fmt(quantile(concurrent, 0.95))}`,
  );
  console.log(`  throughput concurrent / sequential: ${(seqTotal / conTotal).toFixed(2)}×`);
  await live.close();
  await services.dispose();
}
