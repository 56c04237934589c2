/**
 * A UNet's float32 weights with LoRA adapters fused the way the diffusers-lora fixture fused them (its README,
 * "Merging and scaling"): w_up = up·alpha/rank, fusion = w_up·down in float32, W' = W + scale·fusion, adapters one
 * after the other, every result rounded to float32. The products of the rank-long sums are accumulated with fused
 * multiply-adds in index order, which reproduces the fixture's merged-weight samples bit for bit (checked by the
 * test that uses this). Independent of server/loras: the alphas are read from `lora_adapter_metadata` here.
 */

import { SafetensorsFile } from "../../../server/safetensors/safetensors-file.ts";
import { fmaF32 } from "../../../server/schedulers/numerics.ts";
import { type F64, f64 } from "./float64-ops.ts";

export interface Tensor32 {
  data: Float32Array;
  readonly shape: readonly number[];
}

export async function readWeights(file: string): Promise<Map<string, Tensor32>> {
  const st = await SafetensorsFile.open(file);
  const out = new Map<string, Tensor32>();
  for (const name of st.names())
    out.set(name, { data: await st.readFloat32(name), shape: st.tensor(name)!.shape });
  return out;
}

/** Fuses the `component` part of a diffusers/PEFT adapter file into `weights` (in place) at `scale`. */
export async function fuseAdapter(
  weights: Map<string, Tensor32>,
  adapterFile: string,
  component: string,
  scale: number,
): Promise<number> {
  const st = await SafetensorsFile.open(adapterFile);
  const meta = JSON.parse(st.metadata.lora_adapter_metadata ?? "{}") as Record<string, unknown>;
  const alphas = (meta[`${component}.alpha_pattern`] ?? {}) as Record<string, number>;
  const defaultAlpha = meta[`${component}.lora_alpha`] as number;
  let fused = 0;
  for (const key of st.names()) {
    const m = key.match(new RegExp(`^${component}\\.(.+)\\.lora_A\\.weight$`));
    if (!m) continue;
    const module = m[1]!;
    const down = await st.readFloat32(key);
    const up = await st.readFloat32(`${component}.${module}.lora_B.weight`);
    const rank = st.tensor(key)!.shape[0]!;
    const alpha = alphas[module] ?? defaultAlpha;
    const target = weights.get(`${module}.weight`);
    if (!target) throw new Error(`${key}: no weight ${module}.weight`);
    const outF = target.shape[0]!;
    const inner = down.length / rank;
    const wUp = up.map((u) => Math.fround(Math.fround(u * alpha) / rank));
    const merged = new Float32Array(target.data.length);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0;
        for (let r = 0; r < rank; r++) acc = fmaF32(wUp[o * rank + r]!, down[r * inner + i]!, acc);
        const at = o * inner + i;
        // The scale is a float32 scalar to PyTorch (0.7 is 0.699999988…).
        merged[at] = target.data[at]! + Math.fround(Math.fround(scale) * acc);
      }
    }
    target.data = merged;
    fused++;
  }
  return fused;
}

/** A lookup of float64 copies of `weights`, made once per name. */
export function float64Lookup(weights: Map<string, Tensor32>): (name: string) => F64 {
  const cache = new Map<string, F64>();
  return (name) => {
    let t = cache.get(name);
    if (!t) {
      const w = weights.get(name);
      if (!w) throw new Error(`no weight ${name}`);
      t = f64(Float64Array.from(w.data), w.shape);
      cache.set(name, t);
    }
    return t;
  };
}
