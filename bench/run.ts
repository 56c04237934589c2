/**
 * `npm run bench`: performance figures on the bundled tiny checkpoints (printed, never asserted).
 *
 * Text-to-image, tiny-sd, 64×64, 10 steps, PNDM, median of 7 after 2 warm-ups: end-to-end generate time, the
 * summed `session.run` time inside it, and the overhead share (everything that is not onnxruntime); then the
 * same request as an HTTP round trip through the typed client against the in-process call.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { createClient } from "../client/index.ts";
import { loadConfig } from "../server/config.ts";
import { createServices } from "../server/context.ts";
import { generate } from "../server/pipelines/generate.ts";
import { createAutopipeYoga } from "../server/yoga.ts";
import { fmt, median, sample } from "./stats.ts";

const RUNS = 7;
const WARMUPS = 2;
const models = fileURLToPath(new URL("../models/", import.meta.url));
const config = loadConfig({ ...process.env, AUTOPIPE_MODELS_DIR: models });
const services = createServices(config);
const request = {
  model: "tiny-sd",
  prompt: "a photo of an astronaut riding a horse",
  width: 64,
  height: 64,
  numInferenceSteps: 10,
  guidanceScale: 7.5,
  seed: 0n,
};

console.log(
  `autopipe bench — node ${process.version}, ${os.cpus().length} cores, ${config.threads} ORT threads`,
);
console.log(`text-to-image tiny-sd 64×64, 10 steps, median of ${RUNS} after ${WARMUPS} warm-ups\n`);

const inProcess = await sample(RUNS, WARMUPS, () => generate(services, "TEXT_TO_IMAGE", request));
const total = median(inProcess.results.map((r) => r.timings.totalMs));
const runMs = median(inProcess.results.map((r) => r.timings.sessionRunMs));
const shares = inProcess.results.map((r) => 1 - r.timings.sessionRunMs / r.timings.totalMs);
console.log(`  end-to-end generate       ${fmt(total)}`);
console.log(`  session.run (summed)      ${fmt(runMs)}  (${inProcess.results[0]?.timings.sessionRuns} runs)`);
console.log(`  PNG encode                ${fmt(median(inProcess.results.map((r) => r.timings.encodeMs)))}`);
console.log(`  overhead share            ${(median(shares) * 100).toFixed(1)} %  (target < 10 %)`);

const server = createServer(createAutopipeYoga(services, { graphiql: false }));
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
const client = createClient({ url });
const http = await sample(RUNS, WARMUPS, async () => {
  const r = await client.generate({ textToImage: { ...request, seed: "0" } });
  if (r.__typename !== "Generation") throw new Error(`${r.__typename}: ${r.message}`);
  return r;
});
const httpMs = median(http.ms);
const directMs = median(inProcess.ms);
console.log(`\n  HTTP round trip (client)  ${fmt(httpMs)}`);
console.log(`  in-process call           ${fmt(directMs)}`);
console.log(
  `  HTTP + GraphQL cost       ${fmt(httpMs - directMs)} (${(((httpMs - directMs) / directMs) * 100).toFixed(1)} %)`,
);

server.close();
await services.dispose();
