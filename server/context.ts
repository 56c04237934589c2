/**
 * What every resolver can reach: the configuration and the long-lived services built from it. `createServices`
 * is called once per server (tests build their own with a temp config); `dispose` releases every ONNX session.
 */
import { CheckpointLocator } from "./checkpoints/locate.ts";
import type { Config } from "./config.ts";
import type { SecurityContext } from "./security/security.ts";
import { Admission } from "./service/admission.ts";
import { PipelineCache } from "./service/pipeline-cache.ts";

export interface Services {
  readonly config: Config;
  readonly locator: CheckpointLocator;
  /** Loaded checkpoints, shared by every task and request. */
  readonly pipelines: PipelineCache;
  /** How many generations run and wait at once. */
  readonly admission: Admission;
  dispose(): Promise<void>;
}

/** Per request: the services, the client's abort signal, and who is calling (`auth`, see server/security/). */
export interface Context extends SecurityContext {
  readonly services: Services;
  /** Aborted when the HTTP client goes away; generations stop at their next step. */
  readonly signal: AbortSignal;
}

/** Builds the services for one server from its configuration. */
export function createServices(config: Config): Services {
  const locator = new CheckpointLocator(config);
  const pipelines = new PipelineCache(config);
  return {
    config,
    locator,
    pipelines,
    admission: new Admission(config.maxConcurrent, config.maxQueue),
    dispose: () => pipelines.dispose(),
  };
}
