/**
 * Cancellation inside a denoising step (pipelines/denoise.ts, RunContext.unetChunk). onnxruntime-node cannot stop
 * a `session.run` it started, so a step whose run would be long is split along the batch and the abort is checked
 * between the parts. On tiny-sd with two images and guidance (four UNet samples a step), one sample per run: an
 * abort after the first UNet run ends the generation with three runs of that step left undone, where the whole
 * batch in one run finishes the step first; and the split runs give the same latents as the whole batch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { CancelledError } from "../../server/errors.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import type { RunContext } from "../../server/pipelines/run-context.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { testConfig } from "../helpers/services.ts";

const PARAMS = {
  prompt: "a cat",
  negativePrompt: null,
  width: 64,
  height: 64,
  numInferenceSteps: 3,
  guidanceScale: 7.5,
  numImagesPerPrompt: 2,
};

/** A run timer that aborts `controller` once `abortAt` graph runs have finished (a real timer, observed). */
function abortingTimer(controller: AbortController, abortAt: number): RunTimer {
  const timer = new RunTimer();
  let runs = 0;
  Object.defineProperty(timer, "runs", {
    get: () => runs,
    set: (value: number) => {
      runs = value;
      if (runs === abortAt) controller.abort();
    },
  });
  return timer;
}

describe("cancelling inside a step", () => {
  let services: Services;
  let components: SdComponents;
  beforeAll(async () => {
    services = createServices(testConfig());
    const r = await resolveCheckpoint(services, "tiny-sd", "TEXT_TO_IMAGE");
    components = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
  });
  afterAll(() => services.dispose());

  async function run(unetChunk: number | undefined, abortAt?: number) {
    const controller = new AbortController();
    const timer = abortAt === undefined ? new RunTimer() : abortingTimer(controller, abortAt);
    const runsAtStep: number[] = [];
    const context: RunContext = {
      generator: new TorchGenerator(0n),
      timer,
      signal: controller.signal,
      unetChunk,
      onStep: () => void runsAtStep.push(timer.runs),
    };
    try {
      return { output: await textToImage(components, PARAMS, context), runsAtStep, runs: timer.runs };
    } catch (error) {
      return { error, runsAtStep, runs: timer.runs };
    }
  }

  it("one sample per run: four runs a step, the same latents as the whole batch", async () => {
    const whole = await run(undefined);
    const split = await run(1);
    const [first = 0, second = 0] = split.runsAtStep;
    expect(second - first).toBe(4);
    expect((whole.runsAtStep[1] ?? 0) - (whole.runsAtStep[0] ?? 0)).toBe(1);
    const a = whole.output?.latents.data ?? new Float32Array();
    const b = split.output?.latents.data ?? new Float32Array(1);
    expect(b.length).toBe(a.length);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    expect(diff).toBeLessThan(1e-4);
  });

  it("an abort after the first UNet run stops before the step's second run; whole, the step ends first", async () => {
    // Graph runs before the loop (the text encoder): those before the first step's UNet runs.
    const reference = await run(1);
    const before = (reference.runsAtStep[0] ?? 0) - 4;
    expect(before).toBeGreaterThan(0);

    const split = await run(1, before + 1);
    expect(split.error).toBeInstanceOf(CancelledError);
    expect(split.runs).toBe(before + 1);
    expect(split.runsAtStep).toEqual([]);

    const whole = await run(undefined, before + 1);
    expect(whole.error).toBeInstanceOf(CancelledError);
    expect(whole.runs).toBe(before + 1);
    expect(whole.runsAtStep).toEqual([before + 1]);
  });
});
