/**
 * What a model output means under each `prediction_type`: the conversions to the predicted clean sample x̂₀ and to
 * the predicted noise ε̂ that diffusers' schedulers write out inline. Two parameterizations occur: the VP process
 * x_t = α_t·x₀ + σ_t·ε of the DDPM family and DPM-Solver (α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t)), and the k-diffusion
 * form x = x₀ + σ·ε of Euler and LMS. Element-wise float32 arithmetic in PyTorch's evaluation order; every result is
 * a new array.
 */
import type { PredictionType } from "./config.ts";
import { f32 } from "./numerics.ts";

/** x̂₀ of a VP process at (α_t, σ_t): ε → (x − σ_t·ε)/α_t, v → α_t·x − σ_t·v, sample → the output itself. */
export function vpOriginalSample(
  predictionType: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  alpha: number,
  sigma: number,
): Float32Array {
  const n = sample.length;
  const x0 = new Float32Array(n);
  if (predictionType === "epsilon") {
    for (let i = 0; i < n; i++) x0[i] = f32(sample[i]! - f32(sigma * modelOutput[i]!)) / alpha;
  } else if (predictionType === "sample") {
    x0.set(modelOutput);
  } else {
    for (let i = 0; i < n; i++) x0[i] = f32(alpha * sample[i]!) - f32(sigma * modelOutput[i]!);
  }
  return x0;
}

/** ε̂ of a VP process at (α_t, σ_t): ε → the output itself, sample → (x − α_t·x̂₀)/σ_t, v → α_t·v + σ_t·x. */
export function vpEpsilon(
  predictionType: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  alpha: number,
  sigma: number,
): Float32Array {
  const n = sample.length;
  const eps = new Float32Array(n);
  if (predictionType === "epsilon") {
    eps.set(modelOutput);
  } else if (predictionType === "sample") {
    for (let i = 0; i < n; i++) eps[i] = f32(sample[i]! - f32(alpha * modelOutput[i]!)) / sigma;
  } else {
    for (let i = 0; i < n; i++) eps[i] = f32(alpha * modelOutput[i]!) + f32(sigma * sample[i]!);
  }
  return eps;
}

/**
 * x̂₀ at noise level σ of x = x₀ + σ·ε (k-diffusion's `denoised`): ε → x − σ·ε, v → v·(−σ/√(σ²+1)) + x/(σ²+1),
 * sample → the output itself.
 */
export function sigmaOriginalSample(
  predictionType: PredictionType,
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
): Float32Array {
  const n = sample.length;
  const x0 = new Float32Array(n);
  if (predictionType === "epsilon") {
    for (let i = 0; i < n; i++) x0[i] = sample[i]! - f32(sigma * modelOutput[i]!);
  } else if (predictionType === "v_prediction") {
    const s2p1 = f32(f32(sigma * sigma) + 1);
    const cOut = f32(-sigma / f32(Math.sqrt(s2p1)));
    for (let i = 0; i < n; i++) x0[i] = f32(modelOutput[i]! * cOut) + f32(sample[i]! / s2p1);
  } else {
    x0.set(modelOutput);
  }
  return x0;
}
