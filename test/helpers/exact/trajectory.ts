/**
 * A denoising loop in float64 around `ExactUNet`, for the fixture's PNDM (`skip_prk_steps`, PLMS), DDIM (eta 0) and
 * Euler (`s_churn` 0) cases with classifier-free guidance, from a case's recorded starting latents and prompt embeddings. The
 * schedules' ᾱ are diffusers' float32 values (server/schedulers/config.ts, checked against diffusers elsewhere);
 * the steps are float64. Step formulas as read in diffusers `src/diffusers/schedulers/scheduling_pndm.py`
 * (`step_plms`, `_get_prev_sample`) at commit 03dd2874fe1e3c9c56e7f21720b7086b4255fd0c and
 * `src/diffusers/schedulers/scheduling_ddim.py` (`step`, eta 0, epsilon) at commit
 * 006f8d3c50d102ec95360fabf6706ad91c56cbdd; Euler's `scale_model_input` and `step` (x₀ = x − σ·ε, x ← x + (σ_next − σ)·ε
 * when `s_churn` is 0) in `src/diffusers/schedulers/scheduling_euler_discrete.py` at commit
 * 003a61b47e2b0637dd2de7fb817a64343914a20a, an older version than the fixture's 0.27.2 (its σ come from the case).
 */

import type { BaseSchedulerParams } from "../../../server/schedulers/config.ts";
import { alphasCumprodOf, betasFromConfig } from "../../../server/schedulers/config.ts";
import { type F64, f64 } from "./float64-ops.ts";
import type { AddedConditions, ExactUNet } from "./unet-float64.ts";

export interface ExactRun {
  readonly scheduler: "PNDMScheduler" | "DDIMScheduler" | "EulerDiscreteScheduler";
  readonly config: BaseSchedulerParams & { readonly set_alpha_to_one?: boolean };
  readonly numInferenceSteps: number;
  /** The timestep of every UNet call, as the case recorded them (PNDM's second timestep twice). */
  readonly calls: readonly number[];
  readonly guidanceScale: number;
  /** [1, 4, h, w]: the latents the loop starts from. */
  readonly latents: F64;
  /** [2, L, D]: unconditional then conditional. */
  readonly promptEmbeds: F64;
  /** SDXL's pooled embeddings and time ids, unconditional then conditional. */
  readonly added?: AddedConditions;
  /** Euler: the schedule's σ (float32 values, a trailing 0 included), one per call. */
  readonly sigmas?: readonly number[];
}

export function exactDenoise(unet: ExactUNet, run: ExactRun): Float64Array {
  const bar = alphasCumprodOf(betasFromConfig(run.scheduler, run.config));
  const final = run.config.set_alpha_to_one ? 1 : bar[0]!;
  const alpha = (t: number) => (t >= 0 ? bar[t]! : final);
  const ratio = Math.floor(run.config.num_train_timesteps / run.numInferenceSteps);
  const n = run.latents.data.length;
  let x: Float64Array = Float64Array.from(run.latents.data);
  const ets: Float64Array[] = [];
  let cur: Float64Array | undefined;
  run.calls.forEach((timestep, counter) => {
    const sigma = run.sigmas?.[counter] ?? 0;
    const input =
      run.scheduler === "EulerDiscreteScheduler" ? x.map((v) => v / Math.sqrt(sigma * sigma + 1)) : x;
    const batch = new Float64Array(2 * n);
    batch.set(input);
    batch.set(input, n);
    const shape = [2, ...run.latents.shape.slice(1)];
    const out = unet.forward(f64(batch, shape), timestep, run.promptEmbeds, run.added).data;
    const eps = new Float64Array(n).map((_, i) => out[i]! + run.guidanceScale * (out[n + i]! - out[i]!));
    if (run.scheduler === "EulerDiscreteScheduler") {
      const next = run.sigmas![counter + 1]!;
      x = x.map((v, i) => v + (next - sigma) * eps[i]!);
      return;
    }
    if (run.scheduler === "DDIMScheduler") {
      const a = alpha(timestep);
      const prev = alpha(timestep - ratio);
      x = x.map((v, i) => {
        const x0 = (v - Math.sqrt(1 - a) * eps[i]!) / Math.sqrt(a);
        return Math.sqrt(prev) * x0 + Math.sqrt(1 - prev) * eps[i]!;
      });
      return;
    }
    // PLMS: the second call repeats the first timestep's step with the averaged prediction.
    let t = timestep;
    let prevT = t - ratio;
    if (counter !== 1) ets.push(eps);
    else {
      prevT = t;
      t = t + ratio;
    }
    let e: Float64Array;
    const [e1, e2, e3, e4] = [ets.at(-1)!, ets.at(-2)!, ets.at(-3)!, ets.at(-4)!];
    if (ets.length === 1 && counter === 0) {
      e = eps;
      cur = x;
    } else if (ets.length === 1 && counter === 1) {
      e = eps.map((v, i) => (v + e1[i]!) / 2);
      x = cur!;
    } else if (ets.length === 2) e = e1.map((v, i) => (3 * v - e2[i]!) / 2);
    else if (ets.length === 3) e = e1.map((v, i) => (23 * v - 16 * e2[i]! + 5 * e3[i]!) / 12);
    else e = e1.map((v, i) => (55 * v - 59 * e2[i]! + 37 * e3[i]! - 9 * e4[i]!) / 24);
    const a = alpha(t);
    const ap = alpha(prevT);
    const sampleCoeff = Math.sqrt(ap / a);
    const denom = a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap);
    x = x.map((v, i) => sampleCoeff * v - ((ap - a) * e[i]!) / denom);
  });
  return x;
}
