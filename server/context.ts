/**
 * What every resolver can reach: the configuration and the long-lived services built from it. `createServices`
 * is called once per server (tests build their own with a temp config); `dispose` ends the jobs and releases every
 * ONNX session. The lifecycle (readiness, drain), the logger and the metrics registry are per server too.
 */
import { CheckpointFactsCache } from "./checkpoints/facts-cache.ts";
import { CheckpointLocator } from "./checkpoints/locate.ts";
import type { Config } from "./config.ts";
import { createLogger, type Logger } from "./observability/logger.ts";
import { Metrics } from "./observability/metrics.ts";
import type { SecurityContext } from "./security/security.ts";
import { Admission } from "./service/admission.ts";
import { type JobService, LocalJobs } from "./service/jobs.ts";
import { Lifecycle } from "./service/lifecycle.ts";
import { PipelineCache } from "./service/pipeline-cache.ts";
import { PipelineVariants } from "./service/pipeline-variants.ts";
import { loadPipelinesFile } from "./service/pipelines-file.ts";
import { JobWorker } from "./service/redis/worker.ts";
import { RedisJobs } from "./service/redis-jobs.ts";

export interface Services {
  readonly config: Config;
  readonly locator: CheckpointLocator;
  /** What resolution reads from checkpoint files, kept and revalidated by file identity. */
  readonly facts: CheckpointFactsCache;
  /** Loaded checkpoints, shared by every task and request. */
  readonly pipelines: PipelineCache;
  /** How many generations run and wait at once. */
  readonly admission: Admission;
  /** Generation jobs: submitted, followed, cancelled. `generate` runs through them too. */
  readonly jobs: JobService;
  /** Named pipelines (fromPipe and AUTOPIPE_PIPELINES_FILE); they hold no weights of their own. */
  readonly variants: PipelineVariants;
  /** Readiness and drain (graceful shutdown). */
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  dispose(): Promise<void>;
}

/** Per request: the services, the client's abort signal, and who is calling (`auth`, see server/security/). */
export interface Context extends SecurityContext {
  readonly services: Services;
  /** Aborted when the HTTP client goes away or the drain's grace period ends; generations stop at their next step. */
  readonly signal: AbortSignal;
}

/**
 * Builds the services for one server from its configuration. Throws (stopping start-up) when the
 * AUTOPIPE_PIPELINES_FILE is malformed, naming the entry and the field.
 */
export function createServices(config: Config, options: { logger?: Logger } = {}): Services {
  const variants = config.pipelinesFile
    ? loadPipelinesFile(config.pipelinesFile, config)
    : new PipelineVariants();
  const locator = new CheckpointLocator(config, { revalidateMs: config.checkpointRevalidateMs });
  const facts = new CheckpointFactsCache(config.checkpointRevalidateMs);
  const pipelines = new PipelineCache(config);
  const admission = new Admission(config.maxConcurrent, config.maxQueue);
  const lifecycle = new Lifecycle(admission);
  const logger = options.logger ?? createLogger(config);
  const metrics = new Metrics({ admission, pipelines, lifecycle });
  // AUTOPIPE_REDIS_URL: jobs go through Redis; role `all` also runs a worker on this process's cache.
  const jobs: JobService = config.redisUrl
    ? new RedisJobs({ config, url: config.redisUrl })
    : new LocalJobs({ config, admission, pipelines, lifecycle, logger, metrics, locator, variants });
  const worker =
    config.redisUrl && config.role === "all"
      ? new JobWorker(
          { config, locator, pipelines, variants },
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
    facts,
    pipelines,
    admission,
    jobs,
    variants,
    lifecycle,
    logger,
    metrics,
    dispose: async () => {
      await worker?.close();
      await jobs.dispose();
      await pipelines.dispose();
    },
  };
}
