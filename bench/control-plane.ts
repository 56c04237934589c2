/**
 * Control-plane figures against a real server process (autocannon drives the load from this process, so the
 * server's event loop is its own):
 *
 * 1. `resolvePipeline` against a bare `{ __typename }`: throughput and p99 at 50 connections, rounds alternating
 *    A/B so that drift in the machine's speed hits both alike (target: resolvePipeline ≥ 80 % of bare).
 * 2. While generations run (one running, the queue full, more arriving): a bare query's p99 and how long a
 *    BusyError takes to come back (target ≤ 50 ms each).
 */
import autocannon from "autocannon";
import { startServerProcess } from "../test/helpers/server-process.ts";
import { fmt, median, quantile } from "./stats.ts";

const CONNECTIONS = 50;
const SECONDS = Number(process.env.AUTOPIPE_BENCH_SECONDS ?? 3);
const ROUNDS = 3;

const BARE = JSON.stringify({ query: "{ __typename }" });
const RESOLVE = JSON.stringify({
  query:
    '{ resolvePipeline(model: "tiny-sd", task: TEXT_TO_IMAGE) { __typename ... on PipelineResolution { pipelineClass runnable } } }',
});
const generateBody = (steps: number) =>
  JSON.stringify({
    query: `mutation { generate(input: { textToImage: { model: "tiny-sd", prompt: "a cat", numInferenceSteps: ${steps}, seed: 1 } }) { __typename } }`,
  });

async function load(url: string, body: string, connections = CONNECTIONS, duration = SECONDS) {
  const result = await autocannon({
    url,
    connections,
    duration,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

export async function benchControlPlane(): Promise<void> {
  const server = await startServerProcess({
    // Production's default level: one JSON line per request is part of what a request costs.
    LOG_LEVEL: "info",
    AUTOPIPE_WARMUP: "tiny-sd",
    AUTOPIPE_MAX_CONCURRENT: "1",
    AUTOPIPE_MAX_QUEUE: "2",
  });
  try {
    await server.waitFor((line) => line.event === "ready" || line.level === "fatal");
    const url = `${server.base}/graphql`;
    console.log(
      `control plane: autocannon, ${CONNECTIONS} connections, ${SECONDS} s rounds, A/B alternating`,
    );
    await load(url, BARE, 10, 1); // warm-up of both paths
    await load(url, RESOLVE, 10, 1);
    const bare: { rps: number; p99: number }[] = [];
    const resolve: { rps: number; p99: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      bare.push(await load(url, BARE));
      resolve.push(await load(url, RESOLVE));
    }
    const bareRps = median(bare.map((r) => r.rps));
    const resolveRps = median(resolve.map((r) => r.rps));
    console.log(
      `  { __typename }            ${bareRps.toFixed(0)} req/s, p99 ${fmt(median(bare.map((r) => r.p99)))}`,
    );
    console.log(
      `  resolvePipeline           ${resolveRps.toFixed(0)} req/s, p99 ${fmt(median(resolve.map((r) => r.p99)))}`,
    );
    console.log(
      `  ratio                     ${((resolveRps / bareRps) * 100).toFixed(0)} %  (target ≥ 80 %)`,
    );

    // Generations keep the one slot busy and the queue full; extra ones are refused with BusyError.
    let stop = false;
    const pressure = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: generateBody(20),
        });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const during = await load(url, BARE, 10, SECONDS);
    const busyMs: number[] = [];
    let busy = 0;
    for (let i = 0; i < 40; i++) {
      const started = performance.now();
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: generateBody(20),
      });
      const body = (await response.json()) as { data?: { generate?: { __typename?: string } } };
      if (body.data?.generate?.__typename === "BusyError") {
        busy += 1;
        busyMs.push(performance.now() - started);
      }
    }
    stop = true;
    await Promise.all(pressure);
    console.log(`  while generations run:`);
    console.log(
      `  { __typename } p99        ${fmt(during.p99)} at 10 connections (${during.rps.toFixed(0)} req/s)`,
    );
    console.log(
      `  BusyError latency         median ${fmt(median(busyMs))}, p99 ${fmt(quantile(busyMs, 0.99))} (${busy} of 40 refused; target ≤ 50 ms)\n`,
    );
  } finally {
    server.child.kill("SIGTERM");
    await server.exited;
  }
}
