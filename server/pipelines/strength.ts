/**
 * diffusers' `get_timesteps` for image-to-image and inpainting: with N steps and strength s, only the last
 * `min(int(N·s), N)` steps run, starting at index `N − init` (times the scheduler's order), and the scheduler is
 * told where it begins so that index-based schedulers (Euler, DPM, LMS) pick the right sigma.
 */
import type { Scheduler } from "../schedulers/scheduler.ts";

export function strengthTimesteps(
  scheduler: Scheduler,
  numInferenceSteps: number,
  strength: number,
): number[] {
  // Python's int() truncates; N·s is computed in double precision as Python does.
  const initTimestep = Math.min(Math.trunc(numInferenceSteps * strength), numInferenceSteps);
  const tStart = Math.max(numInferenceSteps - initTimestep, 0);
  const begin = tStart * scheduler.order;
  scheduler.setBeginIndex?.(begin);
  return scheduler.timesteps.slice(begin);
}
