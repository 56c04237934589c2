/**
 * Built graphs and the optimized-graph cache: the first load builds from config + safetensors and saves
 * onnxruntime's optimized graph, the second opens the entry (no build) with the same outputs, and a weight file
 * that changes gets a new entry — never the stale graph. Attention is born fused: the report counts it.
 */

import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zeroLoraFeeds } from "../../server/loras/lora-feeds.ts";
import {
  type BuiltGraphSpec,
  loadBuiltGraph,
  peekBuiltGraph,
} from "../../server/runtime/load-built-graph.ts";
import type { HostTensor } from "../../server/runtime/tensor.ts";
import { SafetensorsFile } from "../../server/safetensors/safetensors-file.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";

let work: string;
let cacheDir: string;
let spec: BuiltGraphSpec;
beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "autopipe-built-"));
  cacheDir = path.join(work, "cache");
  await cp(`${SAFETENSORS_FIXTURES}models/mini-sd2-v/unet`, path.join(work, "unet"), { recursive: true });
  spec = {
    graph: "unet",
    folder: "unet",
    tag: "unet",
    configFile: path.join(work, "unet", "config.json"),
    weightFiles: [path.join(work, "unet", "diffusion_pytorch_model.safetensors")],
  };
});
afterAll(() => rm(work, { recursive: true, force: true }));

const options = () => ({ provider: "cpu" as const, threads: 2, cacheDir });
const feeds: Record<string, HostTensor> = {
  sample: {
    type: "float32",
    data: Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i)),
    dims: [1, 4, 8, 8],
  },
  timestep: { type: "float32", data: Float32Array.of(500), dims: [1] },
  encoder_hidden_states: {
    type: "float32",
    data: Float32Array.from({ length: 77 * 64 }, (_, i) => Math.cos(i)),
    dims: [1, 77, 64],
  },
};

async function outputOf() {
  const { model, report } = await loadBuiltGraph(spec, options());
  try {
    // The UNet is built with LoRA side branches: without adapters they take rank-1 zero factors.
    const all = { ...zeroLoraFeeds(model.inputs), ...feeds };
    return { out: (await model.run(all)).out_sample!.data as Float32Array, report };
  } finally {
    await model.release();
  }
}

describe("built graphs in the optimized-graph cache", () => {
  it("builds once, then opens the cached entry with the same outputs", async () => {
    expect(await peekBuiltGraph(spec, options())).toBeUndefined();
    const first = await outputOf();
    expect(first.report.fromCache).toBe(false);
    // mini-sd2-v: two transformer blocks per level with self and cross attention, all MultiHeadAttention.
    expect(first.report.fusedAttention).toBeGreaterThan(0);
    expect(await peekBuiltGraph(spec, options())).toMatchObject({ fromCache: true });
    const second = await outputOf();
    expect(second.report.fromCache).toBe(true);
    expect(second.out).toEqual(first.out);
    expect((await readdir(path.join(cacheDir, "graphs"))).filter((d) => !d.startsWith("."))).toHaveLength(1);
  });

  it("never serves a stale graph: changed weights get a new entry and new outputs", async () => {
    const before = await outputOf();
    const file = spec.weightFiles[0]!;
    // Add 1 to every element of conv_out.bias in place (same size, new content and modification time).
    const bias = (await SafetensorsFile.open(file)).tensor("conv_out.bias")!;
    const bytes = await readFile(file);
    const view = new DataView(bytes.buffer, bytes.byteOffset + bias.byteOffset, bias.byteLength);
    for (let i = 0; i < bias.byteLength; i += 4) view.setFloat32(i, view.getFloat32(i, true) + 1, true);
    await writeFile(file, bytes);
    const after = await outputOf();
    expect(after.report.fromCache).toBe(false);
    // out_sample = conv_out(…) + bias: every output moved by exactly the change of its channel's bias.
    let moved = 0;
    for (let i = 0; i < after.out.length; i++)
      moved = Math.max(moved, Math.abs(after.out[i]! - before.out[i]! - 1));
    expect(moved).toBeLessThan(1e-5);
  });
});
