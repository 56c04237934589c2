/**
 * The generation service behind the `generate` mutation: plan the request (generation-plan.ts), take the shared
 * components from the cache, run the task's pipeline with a generator seeded like torch's and the request's
 * adapters bound, and encode PNGs. Returns timings (for the benchmark) and notes (what the caller should know).
 */

import type { Task } from "../auto-pipeline/resolve.ts";
import type { Services } from "../context.ts";
import { encodePngs } from "../image/encode.ts";
import { bindLoras } from "../loras/lora-request.ts";
import type { SdComponents } from "../pipelines/components.ts";
import { xlConditioningNotes } from "../pipelines/micro-conditioning.ts";
import { type RunContext, throwIfAborted } from "../pipelines/run-context.ts";
import { runSafetyChecker, type SafetyPlan, safetyPlan } from "../pipelines/safety-checker.ts";
import type { PipelineOutput } from "../pipelines/setup.ts";
import { runTask } from "../pipelines/tasks.ts";
import { RunTimer } from "../runtime/onnx.ts";
import { TorchGenerator } from "../runtime/rng.ts";
import { SCHEDULERS, type SchedulerName } from "../schedulers/registry.ts";
import {
  confirmMemoryPlan,
  type GenerationPlan,
  planGeneration,
  type TaskRequest,
} from "./generation-plan.ts";
import { calibrationFor, unetChunk } from "./time-cost.ts";

export interface GeneratedPng {
  readonly width: number;
  readonly height: number;
  readonly mimeType: "image/png";
  readonly png: Buffer;
}

export interface Timings {
  /** Whole request, validation to PNG bytes. */
  readonly totalMs: number;
  /** Waiting for the checkpoint's graphs (0 when already loaded). */
  readonly loadMs: number;
  /** Reading and decoding input images (their resizing counts as inference). */
  readonly imageDecodeMs: number;
  /** Prompt encoding, denoising and decoding. */
  readonly inferenceMs: number;
  /** Time inside onnxruntime's `session.run`, summed. */
  readonly sessionRunMs: number;
  readonly sessionRuns: number;
  /** PNG encoding. */
  readonly encodeMs: number;
}

export interface GenerationResult {
  readonly model: string;
  readonly task: Task;
  readonly pipelineClass: string;
  readonly scheduler: string;
  readonly seed: bigint;
  /** False when a VAE encoder drew its noise inside its graph: the seed does not fix the result. */
  readonly seedReproducible: boolean;
  readonly images: readonly GeneratedPng[];
  /** One flag per image when the safety checker ran (flagged images are black); null when it did not. */
  readonly nsfwContentDetected: readonly boolean[] | null;
  readonly notes: readonly string[];
  readonly timings: Timings;
}

/** Runs one task for a request, or throws one of the expected errors: plan, wait for a slot, run. */
export async function generate(
  services: Pick<Services, "config" | "locator" | "pipelines" | "admission" | "variants">,
  task: Task,
  input: TaskRequest,
  signal?: AbortSignal,
): Promise<GenerationResult> {
  const plan = await planGeneration(services, task, input, { synchronous: true });
  return services.admission.run(() => runPlan(services, plan, { signal }), signal);
}

/** What a running generation reports to whoever waits for it. */
export interface RunHooks {
  /** Aborted → CancelledError at the next step. */
  readonly signal?: AbortSignal;
  /** Called after every denoising step (see RunContext.onStep). */
  readonly onStep?: RunContext["onStep"];
}

/** Runs a planned request on the checkpoint's shared components (the caller holds a generation slot). */
export async function runPlan(
  services: Pick<Services, "config" | "pipelines">,
  plan: GenerationPlan,
  hooks: RunHooks = {},
): Promise<GenerationResult> {
  const { task, input, common, size, resolution } = plan;
  throwIfAborted(hooks.signal);
  const lease = await services.pipelines.acquire(resolution.checkpoint, resolution.modelIndex, task);
  try {
    const components = lease.components;
    const facts = await components.facts();
    // The safety checker loads with the first request that runs it.
    const safety = await safetyPlan(components, plan.requiresSafetyChecker, services.config.safetyChecker);
    const graphs = components.taskGraphs(task);
    if (safety === "run") graphs.push("safety_checker");
    const loadMs = await timed(() => Promise.all(graphs.map((g) => components.graph(g))));
    const memory = await confirmMemoryPlan(services, plan, components);
    // The adapters' factors, combined and bound on the inference thread for this request (no graph reloads).
    const loras = await bindLoras(services.config, components, plan.loras.adapters);
    try {
      const timer = new RunTimer();
      // Step times, for the time estimate's calibration (the first step also pays for warming the session up).
      const stepEnds: number[] = [];
      const run: RunContext = {
        generator: new TorchGenerator(common.seed),
        timer,
        signal: hooks.signal,
        onStep: (progress) => {
          stepEnds.push(performance.now());
          hooks.onStep?.(progress);
        },
        memory,
        ...(loras.feeds.size > 0 ? { loras: loras.feeds } : {}),
        // A long step runs in parts, so that a cancelled request stops within it.
        unetChunk: unetChunk(plan.time, common.numImagesPerPrompt * (common.guidanceScale > 1 ? 2 : 1)),
      };
      const inferenceStarted = performance.now();
      const params = { ...common, ...size, scheduler: input.scheduler ?? undefined, xl: plan.xl };
      const prepared = plan.images?.prepare(size, facts);
      const output = await runTask(components, task, params, plan.strength, prepared, run);
      const checked = safety === "run" ? await runSafetyChecker(components, output.images, run) : null;
      const inferenceMs = performance.now() - inferenceStarted;
      observeSteps(services.pipelines, plan, stepEnds);

      const encodeStarted = performance.now();
      const pngs = await encodePngs(checked?.images ?? output.images);
      const encodeMs = performance.now() - encodeStarted;
      return {
        model: input.model,
        task,
        pipelineClass: resolution.pipelineClass,
        scheduler: schedulerClass(components, input.scheduler),
        seed: common.seed,
        seedReproducible: output.seedReproducible,
        images: pngs.map((png) => ({ width: size.width, height: size.height, mimeType: "image/png", png })),
        nsfwContentDetected: checked?.nsfwContentDetected ?? null,
        notes: [
          ...(plan.images?.notes ?? []),
          ...plan.loras.notes,
          ...xlConditioningNotes(task, facts.xl, plan.xl),
          ...notesOf(output),
          ...safetyNotes(safety, components.id, checked?.nsfwContentDetected),
        ],
        timings: {
          totalMs: performance.now() - plan.started,
          loadMs,
          imageDecodeMs: plan.imageDecodeMs,
          inferenceMs,
          sessionRunMs: timer.runMs,
          sessionRuns: timer.runs,
          encodeMs,
        },
      };
    } finally {
      await loras.release();
    }
  } finally {
    lease.release();
  }
}

/**
 * Tells the checkpoint's time calibration how long its steps took against the estimate: the median of the steps
 * after the first (which also warms the session up), when the estimate is long enough (≥ 20 ms) for the model
 * rather than fixed per-call costs to decide it.
 */
function observeSteps(pipelines: object, plan: GenerationPlan, stepEnds: readonly number[]): void {
  const estimated = plan.time.stepSeconds / plan.time.factor;
  if (stepEnds.length < 2 || estimated < 0.02) return;
  const steps = stepEnds.slice(1).map((end, i) => end - (stepEnds[i] as number));
  steps.sort((a, b) => a - b);
  const median = steps[Math.floor(steps.length / 2)] as number;
  calibrationFor(pipelines).observe(plan.resolution.checkpoint.id, estimated, median / 1000);
}

function safetyNotes(plan: SafetyPlan, model: string, flags: readonly boolean[] | undefined): string[] {
  if (plan === "missing") {
    return [
      `The pipeline's config asks for a safety checker (requires_safety_checker), but '${model}' has none ` +
        "(safety_checker/model.onnx and feature_extractor/preprocessor_config.json): the images were not checked.",
    ];
  }
  if (!flags) return [];
  const flagged = flags.filter(Boolean).length;
  return [
    `The safety checker ran: ${flagged} of ${flags.length} image(s) flagged (nsfwContentDetected)` +
      (flagged ? "; flagged images are returned black." : "."),
  ];
}

function schedulerClass(components: SdComponents, override: SchedulerName | null | undefined): string {
  if (override) return SCHEDULERS.get(override)?.className ?? override;
  return String(components.schedulerConfig._class_name ?? "unknown");
}

function notesOf(output: PipelineOutput & { seedReproducible?: boolean }): string[] {
  return output.seedReproducible === false
    ? [
        "The checkpoint's VAE encoder samples inside its graph: this result is not reproducible from the seed.",
      ]
    : [];
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
