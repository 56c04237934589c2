/**
 * Readers for the mid-sd fixture (test/fixtures/mid-sd): a random-weight checkpoint with SD 1.5's graph structure
 * at reduced width, and diffusers' seeded reference runs on it (`reference/<case>/params.json`, `image_0.png`,
 * `final_latents.bin`; see the fixture's README.md).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CommonParams } from "../../server/pipelines/setup.ts";
import type { SchedulerName } from "../../server/schedulers/registry.ts";
import { readFloat32 } from "./reference.ts";

export const MID_SD = fileURLToPath(new URL("../fixtures/mid-sd/", import.meta.url));
export const MID_SD_MODELS = `${MID_SD}models/`;

interface MidParams {
  arguments: {
    prompt: string;
    negative_prompt?: string | null;
    height?: number;
    width?: number;
    num_inference_steps: number;
    guidance_scale: number;
    num_images_per_prompt: number;
    strength?: number;
  };
  seed: number;
  scheduler: { class_name: string };
  files: Record<string, { shape?: number[] }>;
  /** [batch, height, width, channels] of the pipeline's output. */
  image_shape: [number, number, number, number];
}

const SCHEDULERS: Record<string, SchedulerName | undefined> = {
  PNDMScheduler: undefined, // the checkpoint's own
  DDIMScheduler: "DDIM",
  EulerAncestralDiscreteScheduler: "EULER_ANCESTRAL_DISCRETE",
};

export class MidSdCase {
  readonly manifest: MidParams;
  constructor(readonly id: string) {
    this.manifest = JSON.parse(readFileSync(this.path("params.json"), "utf8")) as MidParams;
  }

  path(file: string): string {
    return `${MID_SD}reference/${this.id}/${file}`;
  }

  get seed(): number {
    return this.manifest.seed;
  }

  get strength(): number | undefined {
    return this.manifest.arguments.strength;
  }

  params(): CommonParams {
    const a = this.manifest.arguments;
    const name = this.manifest.scheduler.class_name;
    if (!(name in SCHEDULERS)) throw new Error(`case ${this.id}: unknown scheduler ${name}`);
    return {
      prompt: a.prompt,
      negativePrompt: a.negative_prompt ?? null,
      // Image-to-image takes its size from the input image: the output's.
      width: a.width ?? this.manifest.image_shape[2],
      height: a.height ?? this.manifest.image_shape[1],
      numInferenceSteps: a.num_inference_steps,
      guidanceScale: a.guidance_scale,
      numImagesPerPrompt: a.num_images_per_prompt,
      scheduler: SCHEDULERS[name],
    };
  }

  finalLatents(): { data: Float32Array; shape: number[] } {
    return {
      data: readFloat32(this.path("final_latents.bin")),
      shape: this.manifest.files.final_latents?.shape ?? [],
    };
  }

  png(): Buffer {
    return readFileSync(this.path("image_0.png"));
  }
}
