/**
 * Text-to-image figures: end-to-end time, `session.run` share, overhead, and HTTP against in-process.
 */
import { generate } from "../server/service/generation.ts";
import { benchServices, liveServer, T2I } from "./setup.ts";
import { fmt, median, sample } from "./stats.ts";

const RUNS = 7;
const WARMUPS = 2;

export async function benchTextToImage(): Promise<void> {
  const services = benchServices();
  console.log(`text-to-image tiny-sd 64×64, 10 steps, median of ${RUNS} after ${WARMUPS} warm-ups`);
  const direct = await sample(RUNS, WARMUPS, () => generate(services, "TEXT_TO_IMAGE", T2I));
  const t = direct.results.map((r) => r.timings);
  const overhead = t.map((x) => 1 - x.sessionRunMs / x.totalMs);
  console.log(`  end-to-end generate       ${fmt(median(t.map((x) => x.totalMs)))}`);
  console.log(
    `  session.run (summed)      ${fmt(median(t.map((x) => x.sessionRunMs)))}  (${t[0]?.sessionRuns} runs)`,
  );
  console.log(`  PNG encode                ${fmt(median(t.map((x) => x.encodeMs)))}`);
  console.log(`  overhead share            ${(median(overhead) * 100).toFixed(1)} %  (target < 10 %)`);

  // HTTP and in-process calls alternate, so that drift in the machine's speed hits both alike.
  const live = await liveServer(services);
  const viaHttp = async () => {
    const r = await live.client.generate({ textToImage: { ...T2I, seed: "0" } });
    if (r.__typename !== "Generation") throw new Error(`${r.__typename}: ${r.message}`);
  };
  const httpMs: number[] = [];
  const directMs: number[] = [];
  for (let i = 0; i < WARMUPS + RUNS; i++) {
    let started = performance.now();
    await viaHttp();
    if (i >= WARMUPS) httpMs.push(performance.now() - started);
    started = performance.now();
    await generate(services, "TEXT_TO_IMAGE", T2I);
    if (i >= WARMUPS) directMs.push(performance.now() - started);
  }
  const http = median(httpMs);
  const inProcess = median(directMs);
  console.log(`  HTTP round trip (client)  ${fmt(http)}`);
  console.log(`  in-process call           ${fmt(inProcess)}`);
  console.log(
    `  HTTP + GraphQL cost       ${fmt(http - inProcess)} (${(((http - inProcess) / inProcess) * 100).toFixed(1)} %)\n`,
  );
  await live.close();
  await services.dispose();
}
