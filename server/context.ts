/**
 * What every resolver can reach: the configuration and the long-lived services built from it. `createServices`
 * is called once per server (tests build their own with a temp config); `dispose` releases every ONNX session.
 */
import { CheckpointLocator } from "./checkpoints/locate.ts";
import type { Config } from "./config.ts";
import { Admission } from "./service/admission.ts";
import { type JobService, LocalJobs } from "./service/jobs.ts";
import { PipelineCache } from "./service/pipeline-cache.ts";
import { JobWorker } from "./service/redis/worker.ts";
import { RedisJobs } from "./service/redis-jobs.ts";

export interface Services {
  readonly config: Config;
  readonly locator: CheckpointLocator;
  /** Loaded checkpoints, shared by every task and request. */
  readonly pipelines: PipelineCache;
  /** How many generations run and wait at once. */
  readonly admission: Admission;
  /** Generation jobs: submitted, followed, cancelled. `generate` runs through them too. */
  readonly jobs: JobService;
  dispose(): Promise<void>;
}

export interface Context {
  readonly services: Services;
  /** Aborted when the HTTP client goes away; generations stop at their next step. */
  readonly signal: AbortSignal;
}

/** Builds the services for one server from its configuration. */
export function createServices(config: Config): Services {
  const locator = new CheckpointLocator(config);
  const pipelines = new PipelineCache(config);
  const admission = new Admission(config.maxConcurrent, config.maxQueue);
  // AUTOPIPE_REDIS_URL: jobs go through Redis; role `all` also runs a worker on this process's cache.
  const jobs: JobService = config.redisUrl
    ? new RedisJobs({ config, url: config.redisUrl })
    : new LocalJobs({ config, admission, pipelines });
  const worker =
    config.redisUrl && config.role === "all"
      ? new JobWorker(
          { config, locator, pipelines },
          {
            url: config.redisUrl,
            attempts: config.jobAttempts,
            lockMs: config.jobLockMs,
          },
        )
      : null;
  worker?.start().catch((error) => console.error("job worker:", error));
  return {
    config,
    locator,
    pipelines,
    admission,
    jobs,
    dispose: async () => {
      await worker?.close();
      await jobs.dispose();
      await pipelines.dispose();
    },
  };
}
