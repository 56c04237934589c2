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
}

/** Throws CancelledError between steps when the run's signal is aborted (the client went away). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
