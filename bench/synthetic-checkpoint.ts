/**
 * Random-weight checkpoints in diffusers' layout for the benchmarks: the parameter list of each component comes
 * from autopipe's own model modules (a `WeightSource` that is told every weight the graph asks for, with its
 * shape), and the values are PyTorch-default-like (uniform ±1/√fan_in; norm weights 1, biases small). The files are
 * real safetensors files (8-byte header length, JSON header padded to 8 bytes, tensors packed), so loading them
 * exercises exactly what a downloaded checkpoint does.
 *
 * @example
 * await writeSyntheticDiffusers("/tmp/mid-sd-st", { unet, vae, text_encoder }, { tokenizer, scheduler });
 */
import { copyFile, mkdir, open, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { GraphBuilder, type WeightRef } from "../server/graph-builder/graph-builder.ts";
import { modelModule } from "../server/models/registry.ts";

/** The graphs that read each component folder's weights. */
const GRAPHS: Record<string, string[]> = {
  unet: ["unet"],
  vae: ["vae_encoder", "vae_decoder"],
  text_encoder: ["text_encoder"],
  text_encoder_2: ["text_encoder_2"],
};

/** Parameter names and shapes the model modules read from a component with `config`. */
export function parameterList(folder: string, config: Record<string, unknown>): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const source = {
    expect: (name: string, shape: readonly number[]) => void shapes.set(name, [...shape]),
    get: (name: string): WeightRef | undefined => {
      const shape = shapes.get(name);
      return shape && { file: "/synthetic/w", dtype: "F32", shape, byteOffset: 0, byteLength: 0 };
    },
  };
  for (const graph of GRAPHS[folder] ?? []) {
    modelModule(graph).build(
      new GraphBuilder(source, { component: folder, dataFolder: "/synthetic" }),
      config,
    );
  }
  return shapes;
}

/** Writes one safetensors file of random F32 (or F16) tensors; returns its size in bytes. */
export async function writeRandomSafetensors(
  file: string,
  tensors: Map<string, number[]>,
  dtype: "F32" | "F16" = "F32",
  seed = 1,
): Promise<number> {
  const bytesPer = dtype === "F32" ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const shape = tensors.get(name)!;
    const size = shape.reduce((a, b) => a * b, 1) * bytesPer;
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const handle = await open(file, "w");
  let state = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: fast, deterministic, good enough for weights nobody looks at.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  try {
    await handle.write(Buffer.concat([length, Buffer.from(json)]));
    for (const name of names) {
      const shape = tensors.get(name)!;
      const n = shape.reduce((a, b) => a * b, 1);
      const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
      const bound = 1 / Math.sqrt(fanIn);
      const isNormWeight = shape.length === 1 && /norm|ln_|layer_norm/.test(name) && name.endsWith(".weight");
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++)
        values[i] = isNormWeight ? 1 : (random() * 2 - 1) * (shape.length === 1 ? 0.02 : bound);
      const out = dtype === "F32" ? Buffer.from(values.buffer) : Buffer.from(toHalf(values).buffer);
      await handle.write(out);
    }
  } finally {
    await handle.close();
  }
  return 8 + json.length + offset;
}

function toHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    if (exp <= 0) out[i] = sign;
    else if (exp >= 31) out[i] = sign | 0x7c00;
    else out[i] = sign | (exp << 10) | ((x >>> 13) & 0x3ff);
  }
  return out;
}

/**
 * A diffusers-layout checkpoint at `dir`: `configs` per component folder (unet, vae, text_encoder, …) with random
 * weights, plus `copy` folders taken as they are (tokenizer, scheduler) and a model_index.json.
 */
export async function writeSyntheticDiffusers(
  dir: string,
  configs: Record<string, Record<string, unknown>>,
  copy: Record<string, string>,
  modelIndex: Record<string, unknown>,
  dtype: "F32" | "F16" = "F32",
): Promise<{ bytes: number; parameters: number }> {
  let bytes = 0;
  let parameters = 0;
  let seed = 1;
  for (const [folder, config] of Object.entries(configs)) {
    await mkdir(path.join(dir, folder), { recursive: true });
    await writeFile(path.join(dir, folder, "config.json"), JSON.stringify(config, null, 2));
    const tensors = parameterList(folder, config);
    for (const shape of tensors.values()) parameters += shape.reduce((a, b) => a * b, 1);
    const stem = folder === "unet" || folder === "vae" ? "diffusion_pytorch_model" : "model";
    bytes += await writeRandomSafetensors(
      path.join(dir, folder, `${stem}.safetensors`),
      tensors,
      dtype,
      seed++,
    );
  }
  for (const [folder, from] of Object.entries(copy)) {
    await mkdir(path.join(dir, folder), { recursive: true });
    for (const name of await readdir(from))
      await copyFile(path.join(from, name), path.join(dir, folder, name));
  }
  await writeFile(path.join(dir, "model_index.json"), JSON.stringify(modelIndex, null, 2));
  return { bytes, parameters };
}
