/**
 * One log line and the metrics of each generation: task, checkpoint, outcome (ok or the error's type), duration,
 * steps and steps per second, timings, and the request id of the request that asked for it. Prompts are logged
 * only with `AUTOPIPE_LOG_PROMPTS=1`.
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import type { Config } from "../config.ts";
import { AutopipeError } from "../errors.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";
import { currentScope } from "./request-scope.ts";

/** What a generation's log line needs from its request. */
export interface ObservedRequest {
  readonly model: string;
  readonly prompt?: string | null;
  readonly negativePrompt?: string | null;
  readonly numInferenceSteps?: number | null;
  readonly strength?: number | null;
}

/** What it needs from its result. */
export interface ObservedResult {
  readonly timings: { readonly totalMs: number; readonly inferenceMs: number };
  readonly images: readonly unknown[];
}

export interface Observers {
  readonly config: Pick<Config, "logPrompts">;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Whether `model` is a loaded checkpoint: only those become metric labels (ids come from clients). */
  isLoaded(model: string): boolean;
}

/** The observers of a server's services: only loaded checkpoints become metric labels. */
export function observersOf(services: {
  readonly config: Pick<Config, "logPrompts">;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly pipelines: { info(): readonly { readonly model: string }[] };
}): Observers {
  return {
    config: services.config,
    logger: services.logger,
    metrics: services.metrics,
    isLoaded: (model) => services.pipelines.info().some((entry) => entry.model === model),
  };
}

/** Runs a generation, then logs and counts it, whether it succeeded or threw. */
export async function observeGeneration<R extends ObservedResult>(
  observers: Observers,
  task: Task,
  input: ObservedRequest,
  run: () => Promise<R>,
): Promise<R> {
  const started = performance.now();
  const requestId = currentScope()?.requestId;
  const prompts = observers.config.logPrompts
    ? { prompt: input.prompt ?? null, negativePrompt: input.negativePrompt ?? null }
    : {};
  try {
    const result = await run();
    const steps = denoisingSteps(task, input);
    const stepsPerSecond = result.timings.inferenceMs > 0 ? steps / (result.timings.inferenceMs / 1000) : 0;
    const labels = { task, model: labelOf(observers, input.model) };
    observers.metrics.generationDuration.observe({ ...labels, outcome: "ok" }, result.timings.totalMs / 1000);
    observers.metrics.generationSteps.inc(labels, steps);
    observers.metrics.stepsPerSecond.set(labels, stepsPerSecond);
    observers.logger.info(
      {
        requestId,
        event: "generation",
        task,
        model: input.model,
        outcome: "ok",
        steps,
        stepsPerSecond: round(stepsPerSecond),
        images: result.images.length,
        durationMs: round(result.timings.totalMs),
        timings: Object.fromEntries(
          Object.entries(result.timings).map(([k, v]) => [k, typeof v === "number" ? round(v) : v]),
        ),
        ...prompts,
      },
      "generation finished",
    );
    return result;
  } catch (error) {
    const outcome = error instanceof Error ? error.name : "Error";
    const durationMs = performance.now() - started;
    observers.metrics.generationDuration.observe(
      { task, model: labelOf(observers, input.model), outcome },
      durationMs / 1000,
    );
    // Expected failures (bad input, busy, cancelled) are routine; anything else is a server error.
    const level = error instanceof AutopipeError ? "info" : "error";
    observers.logger[level](
      {
        requestId,
        event: "generation",
        task,
        model: input.model,
        outcome,
        errorType: outcome,
        error: error instanceof Error ? error.message : String(error),
        durationMs: round(durationMs),
        ...prompts,
      },
      "generation failed",
    );
    throw error;
  }
}

/** Denoising steps a request runs: image tasks run the last `strength` of the schedule (diffusers' get_timesteps). */
function denoisingSteps(task: Task, input: ObservedRequest): number {
  const steps = input.numInferenceSteps ?? 50;
  if (task === "TEXT_TO_IMAGE") return steps;
  const strength = input.strength ?? (task === "IMAGE_TO_IMAGE" ? 0.8 : 1);
  return Math.trunc(steps * strength);
}

function labelOf(observers: Observers, model: string): string {
  return observers.isLoaded(model) ? model : "other";
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
