/**
 * What one pipeline run carries besides its parameters: the seeded generator every random draw comes from (in
 * diffusers' order), the timer that sums `session.run` time, an abort signal checked between graph runs, and a
 * callback told about every finished denoising step (progress and live previews of submitted jobs).
 */
import { CancelledError } from "../errors.ts";
import type { BoundFeeds } from "../runtime/graph.ts";
import type { RunTimer } from "../runtime/onnx.ts";
import type { TorchGenerator } from "../runtime/rng.ts";
import type { FloatTensor } from "../runtime/tensor.ts";

/** One finished denoising step, as the loop reports it. */
export interface StepEvent {
  /** 1 … totalSteps. */
  readonly step: number;
  readonly totalSteps: number;
  /**
   * The model's current guess of the clean latents (x̂₀) of the first image, [1, C, h, w], computed only when
   * called: what a preview shows of where the image is heading.
   */
  predictedLatents(): FloatTensor;
}

export interface RunContext {
  readonly generator: TorchGenerator;
  readonly timer: RunTimer;
  readonly signal?: AbortSignal;
  /**
   * Most samples one UNet run takes (absent: the whole batch). onnxruntime-node cannot stop a run once started
   * (its RunOptions have no `terminate`), so a step whose one run would be long is split into shorter runs along
   * the batch, and the abort is checked between them (see service/time-cost.ts `unetChunk`).
   */
  readonly unetChunk?: number;
  /** Called synchronously after each scheduler step; must be cheap (defer heavy work). */
  readonly onStep?: (event: StepEvent) => void;
  /**
   * The request's LoRA adapters: the combined factors of each graph they patch ("unet", "text_encoder", …),
   * bound on the inference thread (server/loras/lora-feeds.ts); absent: no adapter.
   */
  readonly loras?: ReadonlyMap<string, BoundFeeds>;
  /** How to stay inside the memory budget (server/service/cost.ts); absent: diffusers' default, all at once. */
  readonly memory?: {
    readonly splitGuidance: boolean;
    readonly vaeTiling: boolean;
    /** diffusers' tile_latent_min_size (VAE sample_size / factor), used when `vaeTiling`. */
    readonly vaeTileLatent?: number;
  };
}

/** Throws CancelledError between graph runs when the run's signal is aborted (the client went away). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
