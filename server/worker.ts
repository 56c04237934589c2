/**
 * Entry point of `npm run worker` (and of `npm start` with `AUTOPIPE_ROLE=worker`): runs generation jobs from
 * Redis on this process's pipeline cache and serves no GraphQL, only `/healthz` (alive), `/readyz` (Redis
 * reachable) and `/metrics` (what it holds and has run, as JSON) on `PORT`. SIGINT/SIGTERM: finish the running
 * job, then exit.
 */
import { createServer } from "node:http";
import { CheckpointLocator } from "./checkpoints/locate.ts";
import { loadConfig } from "./config.ts";
import { PipelineCache } from "./service/pipeline-cache.ts";
import { PipelineVariants } from "./service/pipeline-variants.ts";
import { loadPipelinesFile } from "./service/pipelines-file.ts";
import { JobWorker } from "./service/redis/worker.ts";

const config = loadConfig();
if (!config.redisUrl) {
  console.error("A worker needs AUTOPIPE_REDIS_URL (e.g. redis://127.0.0.1:6379).");
  process.exit(2);
}
const pipelines = new PipelineCache(config);
/** The named pipelines of AUTOPIPE_PIPELINES_FILE (API instances send requests already resolved to checkpoints). */
function namedPipelines(c: typeof config): PipelineVariants {
  return c.pipelinesFile ? loadPipelinesFile(c.pipelinesFile, c) : new PipelineVariants();
}
const worker = new JobWorker(
  { config, locator: new CheckpointLocator(config), pipelines, variants: namedPipelines(config) },
  { url: config.redisUrl, attempts: config.jobAttempts, lockMs: config.jobLockMs },
);

const server = createServer((request, response) => {
  const path = (request.url ?? "/").split("?")[0];
  const send = (status: number, body: unknown) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(body));
  };
  if (path === "/healthz") send(200, { ok: true });
  else if (path === "/readyz") send(worker.ready() ? 200 : 503, { ready: worker.ready() });
  else if (path === "/metrics") send(200, worker.state());
  else send(404, { error: "a worker serves /healthz, /readyz and /metrics only" });
});

await worker.start();
server.listen(config.port, () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  console.log(`autopipe worker ${worker.id} ready; health on http://localhost:${port}/healthz`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    void worker
      .close()
      .then(() => pipelines.dispose())
      .finally(() => process.exit(0));
  });
}
