/**
 * Test helpers over the diffusers reference fixtures: case manifests, raw float32 arrays, the checkpoint's
 * scheduler config, a replaying NoiseSource that checks every draw against the recorded call sites, and a
 * seeded Gaussian source for synthetic tests.
 */
import { readFileSync } from "node:fs";
import { parsePythonJson } from "../../server/checkpoints/python-json.ts";

const parseSchedulerConfigJson = (text: string) => parsePythonJson(text) as Record<string, unknown>;

import type { NoiseSource } from "../../server/schedulers/scheduler.ts";

const ROOT = new URL("../fixtures/diffusers-reference/", import.meta.url);

export interface ArrayEntry {
  readonly file: string;
  readonly dtype: string;
  readonly shape: number[];
}

export interface NoiseEntry extends ArrayEntry {
  readonly index: number;
  readonly site: string;
}

export interface CaseManifest {
  readonly id: string;
  readonly params: {
    readonly num_inference_steps: number;
    readonly guidance_scale: number;
    readonly strength: number | null;
    readonly num_images_per_prompt: number;
  };
  readonly scheduler: {
    readonly class: string;
    readonly extra_kwargs: Record<string, unknown>;
    readonly timesteps_after_set_timesteps: number[];
    readonly init_noise_sigma: number;
    readonly sigmas?: number[];
  };
  readonly noise: NoiseEntry[];
  readonly trace_unet_timesteps: number[];
  readonly trace_step_timesteps: number[];
  readonly arrays: Record<string, ArrayEntry>;
}

/** A float32 tensor read from the fixtures. */
export interface Tensor {
  readonly data: Float32Array;
  readonly shape: number[];
}

/** Python-written JSON (it may hold -Infinity, e.g. DPM-Solver's lambda_min_clipped). */
function readJson(relative: string): unknown {
  return parseSchedulerConfigJson(readFileSync(new URL(relative, ROOT), "utf8"));
}

function readF32(relative: string): Float32Array {
  const buf = readFileSync(new URL(relative, ROOT));
  // Copy into an aligned buffer: the fixtures are raw little-endian float32 in C order.
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Case ids in fixture order. */
export const CASE_IDS: readonly string[] = (readJson("reference/cases/index.json") as { cases: string[] })
  .cases;

/** The checkpoint's own scheduler config (PNDM, SD 1.5 settings), as shipped with the checkpoint. */
export const CHECKPOINT_SCHEDULER_CONFIG: Record<string, unknown> = parseSchedulerConfigJson(
  readFileSync(new URL("torch-config/tiny-sd/scheduler/scheduler_config.json", ROOT), "utf8"),
);

/** One reference case: its manifest, arrays and scheduler config. */
export class ReferenceCase {
  readonly manifest: CaseManifest;
  readonly schedulerConfig: Record<string, unknown>;
  private readonly dir: string;

  constructor(readonly id: string) {
    this.dir = `reference/cases/${id}/`;
    this.manifest = readJson(`${this.dir}manifest.json`) as CaseManifest;
    this.schedulerConfig = parseSchedulerConfigJson(
      readFileSync(new URL(`${this.dir}scheduler_config.json`, ROOT), "utf8"),
    );
  }

  /** A named array (`initial_latents`, `trace_unet_out`, …). */
  array(name: string): Tensor {
    const entry = this.manifest.arrays[name];
    if (entry === undefined) throw new Error(`${this.id} has no array ${name}`);
    return { data: readF32(this.dir + entry.file), shape: entry.shape };
  }

  /** The recorded noise arrays, in draw order. */
  noise(): (Tensor & { site: string })[] {
    return this.manifest.noise.map((n) => ({
      data: readF32(this.dir + n.file),
      shape: n.shape,
      site: n.site,
    }));
  }

  /** Classifier-free guidance is on when guidance_scale > 1 (diffusers' rule). */
  get cfg(): boolean {
    return this.manifest.params.guidance_scale > 1;
  }
}

/** Element `index` of the leading axis of `t`. */
export function slice0(t: Tensor, index: number): Tensor {
  const per = t.data.length / t.shape[0]!;
  return { data: t.data.subarray(index * per, (index + 1) * per), shape: t.shape.slice(1) };
}

/** max |a − b| / max |ref| (0 when both are 0). */
export function relDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** A NoiseSource that hands out recorded arrays in order and logs the shapes it was asked for. */
export class ReplayNoise implements NoiseSource {
  readonly requested: number[][] = [];
  private next = 0;

  constructor(private readonly arrays: readonly Tensor[]) {}

  randn(shape: readonly number[]): Float32Array {
    this.requested.push([...shape]);
    const t = this.arrays[this.next++];
    if (t === undefined)
      throw new Error(`unexpected noise draw #${this.next} of shape [${shape.join(", ")}]`);
    return Float32Array.from(t.data);
  }

  get remaining(): number {
    return this.arrays.length - this.next;
  }
}

/** Seeded standard normal noise (xorshift + Box–Muller) for synthetic runs. */
export class SeededNoise implements NoiseSource {
  readonly requested: number[][] = [];
  private state: number;

  constructor(seed = 1) {
    this.state = seed >>> 0 || 1;
  }

  private uniform(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return (this.state + 0.5) / 4294967296;
  }

  randn(shape: readonly number[]): Float32Array {
    this.requested.push([...shape]);
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
    }
    return out;
  }
}
