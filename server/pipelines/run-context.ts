/**
 * What one pipeline run carries besides its parameters: the seeded generator every random draw comes from (in
 * diffusers' order), the timer that sums `session.run` time, and an abort signal checked between steps.
 */
import { CancelledError } from "../errors.ts";
import type { RunTimer } from "../runtime/onnx.ts";
import type { TorchGenerator } from "../runtime/rng.ts";

export interface RunContext {
  readonly generator: TorchGenerator;
  readonly timer: RunTimer;
  readonly signal?: AbortSignal;
  /** How to stay inside the memory budget (server/service/cost.ts); absent: diffusers' default, all at once. */
  readonly memory?: {
    readonly splitGuidance: boolean;
    readonly vaeTiling: boolean;
    /** diffusers' tile_latent_min_size (VAE sample_size / factor), used when `vaeTiling`. */
    readonly vaeTileLatent?: number;
  };
}

/** Throws CancelledError between steps when the run's signal is aborted (the client went away). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
