/**
 * A request's adapters as the feeds of the built graphs' LoRA inputs (GraphBuilder `loraDelta`): for every layer
 * any adapter patches, the adapters' factors concatenated along the rank, each adapter's `up` multiplied by its
 * scale × alpha / rank. The branch then computes Σᵢ sᵢ·(αᵢ/rᵢ)·upᵢ·(downᵢ·x) — diffusers'
 * `set_adapters(names, adapter_weights)` with the same scale for the UNet and the text encoders — beside the base
 * layer's W·x, whose weights are never touched. Layers no adapter patches are not fed (their rank-1 zero
 * defaults apply).
 *
 * Layout: Linear layers (and the 1×1 convolutions the graph runs as one) take down [in, R] and up [R, out]
 * (transposed from the file's [r, in(, 1, 1)] / [out, r(, 1, 1)]); convolutions take down [R, in, k, k] and up
 * [out, R, 1, 1].
 */
import { isLoraInput, loraInputNames } from "../graph-builder/graph-builder.ts";
import type { ValueSpec } from "../runtime/onnx.ts";
import type { HostTensor } from "../runtime/tensor.ts";
import type { MatchedLayer } from "./lora-match.ts";
import type { LoraComponent } from "./lora-names.ts";

/** One adapter of a request: its matched layers, their factors and its scale. */
export interface AppliedAdapter {
  readonly layers: readonly MatchedLayer[];
  readonly data: ReadonlyMap<string, { readonly down: Float32Array; readonly up: Float32Array }>;
  readonly scale: number;
}

/** The feeds of each component's graph. */
export function composeLoraFeeds(
  adapters: readonly AppliedAdapter[],
): Map<LoraComponent, Record<string, HostTensor>> {
  // Per component and module, the adapters' contributions in request order.
  const byModule = new Map<
    string,
    { layer: MatchedLayer; down: Float32Array; up: Float32Array; s: number }[]
  >();
  for (const adapter of adapters) {
    for (const layer of adapter.layers) {
      const data = adapter.data.get(layer.entry.downKey);
      if (!data) throw new Error(`LoRA factors of '${layer.entry.downKey}' were not loaded`);
      const key = `${layer.component}\u0000${layer.module}`;
      const list = byModule.get(key) ?? [];
      byModule.set(key, list);
      list.push({ layer, down: data.down, up: data.up, s: adapter.scale * layer.entry.factor });
    }
  }
  const out = new Map<LoraComponent, Record<string, HostTensor>>();
  for (const parts of byModule.values()) {
    const { component, module, layer } = parts[0]!.layer;
    const R = parts.reduce((n, p) => n + p.layer.entry.rank, 0);
    const feeds = out.get(component) ?? {};
    out.set(component, feeds);
    const names = loraInputNames(module);
    if (layer.kind === "linear") {
      const { inFeatures: n, outFeatures: m } = layer;
      const down = new Float32Array(n * R);
      const up = new Float32Array(R * m);
      let offset = 0;
      for (const p of parts) {
        const r = p.layer.entry.rank;
        for (let k = 0; k < r; k++) {
          for (let i = 0; i < n; i++) down[i * R + offset + k] = p.down[k * n + i]!;
          for (let o = 0; o < m; o++) up[(offset + k) * m + o] = p.up[o * r + k]! * p.s;
        }
        offset += r;
      }
      feeds[names.down] = { type: "float32", data: down, dims: [n, R] };
      feeds[names.up] = { type: "float32", data: up, dims: [R, m] };
    } else {
      const { inChannels, outChannels: m, kernel } = layer;
      const per = inChannels * kernel * kernel;
      const down = new Float32Array(R * per);
      const up = new Float32Array(m * R);
      let offset = 0;
      for (const p of parts) {
        const r = p.layer.entry.rank;
        down.set(p.down.subarray(0, r * per), offset * per);
        for (let o = 0; o < m; o++) {
          for (let k = 0; k < r; k++) up[o * R + offset + k] = p.up[o * r + k]! * p.s;
        }
        offset += r;
      }
      feeds[names.down] = { type: "float32", data: down, dims: [R, inChannels, kernel, kernel] };
      feeds[names.up] = { type: "float32", data: up, dims: [m, R, 1, 1] };
    }
  }
  return out;
}

/**
 * The feeds a LoRA-capable graph runs with when no adapter patches a layer: rank-1 factors of zeros for every
 * LoRA input of `inputs` (the branch adds exact zeros). Bound once per loaded graph.
 */
export function zeroLoraFeeds(inputs: readonly ValueSpec[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const spec of inputs) {
    if (!isLoraInput(spec.name)) continue;
    const dims = spec.shape.map((d) => (typeof d === "number" ? d : 1));
    feeds[spec.name] = { type: "float32", data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
  }
  return feeds;
}
