/**
 * Prometheus metrics (prom-client), one registry per server so that tests build as many servers as they like.
 * Counted as things happen: GraphQL operations and their errors by type, generation durations by task, checkpoint
 * and outcome, denoising steps and steps per second. Read when scraped: readiness, running and queued generations,
 * loaded pipelines and their weight bytes, and the process (memory, CPU, event-loop lag, GC) from prom-client's
 * default collectors. Every label value comes from a bounded set the server defines, never from the client: an
 * operation is labelled by its name only when it is one of the bundled client's operations (`other` otherwise),
 * a model only while it is loaded.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Admission } from "../service/admission.ts";
import type { Lifecycle } from "../service/lifecycle.ts";
import type { PipelineCache } from "../service/pipeline-cache.ts";

/**
 * The operations of the bundled client (client/operations/*.graphql, which the web page uses too; a test keeps
 * this list in step with them): the only operation names that become label values.
 */
export const KNOWN_OPERATIONS: ReadonlySet<string> = new Set([
  "CancelJob",
  "FromPipe",
  "Generate",
  "Job",
  "JobUpdates",
  "Jobs",
  "LoadPipeline",
  "Loras",
  "Models",
  "PipelineVariants",
  "Pipelines",
  "RemovePipelineVariant",
  "ResolvePipeline",
  "Schedulers",
  "SubmitGeneration",
  "UnloadPipeline",
]);

/** The `operation` label of an operation name: the name when known, `anonymous` when unnamed, else `other`. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return "anonymous";
  return KNOWN_OPERATIONS.has(name) ? name : "other";
}

/** What the scrape-time gauges read. */
export interface MetricsSources {
  readonly admission: Admission;
  readonly pipelines: PipelineCache;
  readonly lifecycle: Lifecycle;
}

export class Metrics {
  readonly registry = new Registry();
  /** GraphQL operations executed, by operation name (see `operationLabel`) and type (query, mutation). */
  readonly operations: Counter<"operation" | "type">;
  /** Errors returned: typed union members by `__typename`, and GraphQL errors as `GraphQLError`. */
  readonly errors: Counter<"operation" | "type">;
  readonly requestDuration: Histogram<"operation">;
  readonly generationDuration: Histogram<"task" | "model" | "outcome">;
  readonly generationSteps: Counter<"task" | "model">;
  readonly stepsPerSecond: Gauge<"task" | "model">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.operations = new Counter({
      name: "autopipe_graphql_operations_total",
      help: "GraphQL operations executed, by operation name and type.",
      labelNames: ["operation", "type"],
      registers,
    });
    this.errors = new Counter({
      name: "autopipe_graphql_errors_total",
      help: "Errors returned, by operation and error type (typed results by __typename; GraphQLError otherwise).",
      labelNames: ["operation", "type"],
      registers,
    });
    this.requestDuration = new Histogram({
      name: "autopipe_graphql_request_duration_seconds",
      help: "GraphQL request duration, by operation name.",
      labelNames: ["operation"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.generationDuration = new Histogram({
      name: "autopipe_generation_duration_seconds",
      help: "Generation duration from request to PNG bytes, by task, checkpoint and outcome (ok or error type).",
      labelNames: ["task", "model", "outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160],
      registers,
    });
    this.generationSteps = new Counter({
      name: "autopipe_generation_steps_total",
      help: "Denoising steps run by finished generations, by task and checkpoint.",
      labelNames: ["task", "model"],
      registers,
    });
    this.stepsPerSecond = new Gauge({
      name: "autopipe_generation_steps_per_second",
      help: "Denoising steps per second of the last finished generation, by task and checkpoint.",
      labelNames: ["task", "model"],
      registers,
    });
    new Gauge({
      name: "autopipe_ready",
      help: "1 when the server is ready to generate (warm-up done, not draining), 0 otherwise.",
      registers,
      collect() {
        this.set(sources.lifecycle.ready ? 1 : 0);
      },
    });
    new Gauge({
      name: "autopipe_generations_running",
      help: "Generations running now.",
      registers,
      collect() {
        this.set(sources.admission.active);
      },
    });
    new Gauge({
      name: "autopipe_generation_queue_length",
      help: "Generations waiting for a slot.",
      registers,
      collect() {
        this.set(sources.admission.waiting);
      },
    });
    new Gauge({
      name: "autopipe_pipelines_loaded",
      help: "Checkpoints loaded in the pipeline cache.",
      registers,
      collect() {
        this.set(sources.pipelines.info().length);
      },
    });
    new Gauge({
      name: "autopipe_pipeline_bytes",
      help: "Weight bytes of each loaded checkpoint.",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const entry of sources.pipelines.info()) this.set({ model: entry.model }, entry.bytes);
      },
    });
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async scrape(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
