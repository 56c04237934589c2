/**
 * What every resolver can reach: the configuration and the long-lived services built from it. `createServices`
 * is called once per server (tests build their own with a temp config); `dispose` releases every ONNX session.
 * The lifecycle (readiness, drain), the logger and the metrics registry are per server too.
 */
import { CheckpointFactsCache } from "./checkpoints/facts-cache.ts";
import { CheckpointLocator } from "./checkpoints/locate.ts";
import type { Config } from "./config.ts";
import { createLogger, type Logger } from "./observability/logger.ts";
import { Metrics } from "./observability/metrics.ts";
import { Admission } from "./service/admission.ts";
import { Lifecycle } from "./service/lifecycle.ts";
import { PipelineCache } from "./service/pipeline-cache.ts";

export interface Services {
  readonly config: Config;
  readonly locator: CheckpointLocator;
  /** What resolution reads from checkpoint files, kept and revalidated by file identity. */
  readonly facts: CheckpointFactsCache;
  /** Loaded checkpoints, shared by every task and request. */
  readonly pipelines: PipelineCache;
  /** How many generations run and wait at once. */
  readonly admission: Admission;
  /** Readiness and drain (graceful shutdown). */
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  dispose(): Promise<void>;
}

export interface Context {
  readonly services: Services;
  /** Aborted when the HTTP client goes away or a drain's grace runs out; generations stop at their next step. */
  readonly signal: AbortSignal;
}

/** Builds the services for one server from its configuration. */
export function createServices(config: Config, options: { logger?: Logger } = {}): Services {
  const locator = new CheckpointLocator(config, { revalidateMs: config.checkpointRevalidateMs });
  const pipelines = new PipelineCache(config);
  const admission = new Admission(config.maxConcurrent, config.maxQueue);
  const lifecycle = new Lifecycle(admission);
  return {
    config,
    locator,
    facts: new CheckpointFactsCache(config.checkpointRevalidateMs),
    pipelines,
    admission,
    lifecycle,
    logger: options.logger ?? createLogger(config),
    metrics: new Metrics({ admission, pipelines, lifecycle }),
    dispose: () => pipelines.dispose(),
  };
}
