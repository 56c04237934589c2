/**
 * What every resolver can reach: the configuration and the long-lived services built from it. `createServices`
 * is called once per server (tests build their own with a temp config); `dispose` releases every ONNX session.
 */
import { CheckpointLocator } from "./checkpoints/locate.ts";
import type { Config } from "./config.ts";
import { Admission } from "./service/admission.ts";
import { type JobService, LocalJobs } from "./service/jobs.ts";
import { PipelineCache } from "./service/pipeline-cache.ts";
import { loadPipelinesFile, PipelineVariants } from "./service/pipeline-variants.ts";

export interface Services {
  readonly config: Config;
  readonly locator: CheckpointLocator;
  /** Loaded checkpoints, shared by every task and request. */
  readonly pipelines: PipelineCache;
  /** How many generations run and wait at once. */
  readonly admission: Admission;
  /** Generation jobs: submitted, followed, cancelled. `generate` runs through them too. */
  readonly jobs: JobService;
  /** Named pipelines (fromPipe and AUTOPIPE_PIPELINES_FILE); they hold no weights of their own. */
  readonly variants: PipelineVariants;
  dispose(): Promise<void>;
}

export interface Context {
  readonly services: Services;
  /** Aborted when the HTTP client goes away; generations stop at their next step. */
  readonly signal: AbortSignal;
}

/**
 * Builds the services for one server from its configuration. Throws (stopping start-up) when the
 * AUTOPIPE_PIPELINES_FILE is malformed, naming the entry and the field.
 */
export function createServices(config: Config): Services {
  const variants = config.pipelinesFile
    ? loadPipelinesFile(config.pipelinesFile, config)
    : new PipelineVariants();
  const locator = new CheckpointLocator(config);
  const pipelines = new PipelineCache(config);
  const admission = new Admission(config.maxConcurrent, config.maxQueue);
  const jobs = new LocalJobs({ config, admission, pipelines });
  return {
    config,
    locator,
    pipelines,
    admission,
    jobs,
    variants,
    dispose: async () => {
      await jobs.dispose();
      await pipelines.dispose();
    },
  };
}
