/**
 * Readers for the diffusers reference fixtures (test/fixtures/diffusers-reference*): case manifests and their
 * raw little-endian arrays, plus the comparison the parity tests use (max |a − b| relative to max |reference|).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parsePythonJson } from "../../server/checkpoints/python-json.ts";
import type { CommonParams } from "../../server/pipelines/setup.ts";
import type { SchedulerName } from "../../server/schedulers/registry.ts";

export const REFERENCE = fileURLToPath(new URL("../fixtures/diffusers-reference/", import.meta.url));
export const REFERENCE_NEXT = fileURLToPath(
  new URL("../fixtures/diffusers-reference-next/", import.meta.url),
);

export interface ArrayEntry {
  file: string;
  dtype?: string;
  shape: number[];
}

export interface CaseManifest {
  id: string;
  checkpoint: string;
  params: {
    prompt: string;
    negative_prompt: string | null;
    num_inference_steps: number;
    guidance_scale: number;
    num_images_per_prompt: number;
    height: number;
    width: number;
    strength: number | null;
  };
  seed: number;
  scheduler: { class: string; config: Record<string, unknown> };
  arrays: Record<string, ArrayEntry>;
  noise: (ArrayEntry & { site: string })[];
  png: string[];
  [key: string]: unknown;
}

export class ReferenceCase {
  readonly manifest: CaseManifest;
  constructor(
    readonly id: string,
    readonly root = REFERENCE,
  ) {
    this.manifest = parsePythonJson(readFileSync(this.path("manifest.json"), "utf8")) as CaseManifest;
  }

  path(file: string): string {
    return `${this.root}reference/cases/${this.id}/${file}`;
  }

  /** A named float32 array of the case (`final_latents`, `image`, ...). */
  array(name: string): Float32Array {
    const entry = this.manifest.arrays[name];
    if (!entry) throw new Error(`case ${this.id} has no array ${name}`);
    return readFloat32(this.path(entry.file));
  }

  shape(name: string): number[] {
    return this.manifest.arrays[name]!.shape;
  }

  /** The case's parameters as the pipelines take them, with its scheduler (undefined = the checkpoint's PNDM). */
  params(): CommonParams {
    const p = this.manifest.params;
    return {
      prompt: p.prompt,
      negativePrompt: p.negative_prompt,
      width: p.width,
      height: p.height,
      numInferenceSteps: p.num_inference_steps,
      guidanceScale: p.guidance_scale,
      numImagesPerPrompt: p.num_images_per_prompt,
      scheduler: SCHEDULER_NAMES[this.manifest.scheduler.class],
    };
  }

  png(index = 0): Buffer {
    return readFileSync(this.path(`image_${index}.png`));
  }
}

/** diffusers' scheduler classes of the reference cases, by our enum names. */
const SCHEDULER_NAMES: Record<string, SchedulerName | undefined> = {
  PNDMScheduler: undefined, // the checkpoints' own
  DDIMScheduler: "DDIM",
  EulerDiscreteScheduler: "EULER_DISCRETE",
  EulerAncestralDiscreteScheduler: "EULER_ANCESTRAL_DISCRETE",
  DPMSolverMultistepScheduler: "DPM_SOLVER_MULTISTEP",
  LMSDiscreteScheduler: "LMS_DISCRETE",
  LCMScheduler: "LCM",
};

export function readFloat32(file: string): Float32Array {
  const buf = readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function readInt32(file: string): Int32Array {
  const buf = readFileSync(file);
  return new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** max |actual − expected| and max |expected|. */
export function maxAbsDiff(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): { diff: number; scale: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return { diff, scale };
}
