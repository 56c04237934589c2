/**
 * The per-component input → output pairs of test/fixtures/diffusers-safetensors/verify/<checkpoint>/<component>/
 * (diffusers' and transformers' own modules run on fixed inputs), and a runner that builds one component's graph
 * from the checkpoint's files and runs it on onnxruntime. The bar (issue: graphs built from configs) is
 * max |ours − diffusers'| / max(1, max |diffusers'|) ≤ 1e-4 for every output.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildComponentGraph, type ComponentBuilder } from "../../server/models/build-component.ts";
import { OnnxModel } from "../../server/runtime/onnx.ts";
import type { HostTensor } from "../../server/runtime/tensor.ts";

export const SAFETENSORS_FIXTURES = fileURLToPath(
  new URL("../fixtures/diffusers-safetensors/", import.meta.url),
);

interface ArrayEntry {
  readonly file: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

export interface ComponentCase {
  readonly name: string;
  readonly inputs: Readonly<Record<string, ArrayEntry>>;
  readonly outputs: Readonly<Record<string, ArrayEntry>>;
}

export interface VerifyFolder {
  readonly dir: string;
  readonly manifest: {
    readonly weights: string;
    readonly cases: readonly ComponentCase[];
    readonly [k: string]: unknown;
  };
}

/** The verify folder of `checkpoint`/`component` (e.g. "mini-sd", "unet"). */
export function verifyFolder(checkpoint: string, component: string): VerifyFolder {
  const dir = path.join(SAFETENSORS_FIXTURES, "verify", checkpoint, component);
  return { dir, manifest: JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) };
}

/** Reads one array of a case as a host tensor (float32, int64 or uint8 → as stored). */
export function readArray(dir: string, entry: ArrayEntry): HostTensor {
  const bytes = readFileSync(path.join(dir, entry.file));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const dims = [...entry.shape];
  switch (entry.dtype) {
    case "float32":
      return { type: "float32", data: new Float32Array(buffer), dims };
    case "int64":
      return { type: "int64", data: new BigInt64Array(buffer), dims };
    case "int32":
      return { type: "int32", data: new Int32Array(buffer), dims };
    case "uint8":
      return { type: "float32", data: Float32Array.from(new Uint8Array(buffer)), dims };
    default:
      throw new Error(`dtype ${entry.dtype} is not read by the tests`);
  }
}

/** max |a − b| / max(1, max |b|). */
export function relativeDiff(
  actual: ArrayLike<number | bigint>,
  expected: ArrayLike<number | bigint>,
): number {
  if (actual.length !== expected.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    const e = Number(expected[i]);
    const d = Math.abs(Number(actual[i]) - e);
    diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(e));
  }
  return diff / scale;
}

/**
 * Builds `component` of `checkpoint` (diffusers layout under the fixture's models/) with `builder`, from the weight
 * file `weights` (relative to the component folder), and opens it on CPU with 2 threads (the reference's setting).
 */
export async function openBuilt(
  checkpoint: string,
  folder: string,
  builder: ComponentBuilder,
  weights: string,
): Promise<OnnxModel> {
  const dir = path.join(SAFETENSORS_FIXTURES, "models", checkpoint, folder);
  const built = await buildComponentGraph(
    { component: folder, configFile: path.join(dir, "config.json"), weightFiles: [path.join(dir, weights)] },
    builder,
  );
  return OnnxModel.load(built.bytes, { provider: "cpu", threads: 2, externalDataFolder: built.dataFolder });
}
