/**
 * The scheduler registry: every supported scheduler under its API name with diffusers' class name, and
 * `createScheduler`, which builds a fresh instance per request from a checkpoint's `scheduler_config.json`, either
 * the class the checkpoint names or, with diffusers' `from_config` semantics, another one the caller picked.
 */
import { DDIMScheduler } from "./ddim.ts";
import { DPMSolverMultistepScheduler } from "./dpm-solver-multistep.ts";
import { EulerAncestralDiscreteScheduler } from "./euler-ancestral-discrete.ts";
import { EulerDiscreteScheduler } from "./euler-discrete.ts";
import { LCMScheduler } from "./lcm.ts";
import { LMSDiscreteScheduler } from "./lms-discrete.ts";
import { PNDMScheduler } from "./pndm.ts";
import type { Scheduler } from "./scheduler.ts";

/** API names of the supported schedulers. */
export type SchedulerName =
  | "PNDM"
  | "DDIM"
  | "EULER_DISCRETE"
  | "EULER_ANCESTRAL_DISCRETE"
  | "DPM_SOLVER_MULTISTEP"
  | "LMS_DISCRETE"
  | "LCM";

/** A registry entry: diffusers' class name and a factory taking any config (from_config semantics). */
export interface SchedulerEntry {
  readonly className: string;
  create(config: Record<string, unknown>): Scheduler;
}

/** Every supported scheduler, by API name. */
export const SCHEDULERS: ReadonlyMap<SchedulerName, SchedulerEntry> = new Map<SchedulerName, SchedulerEntry>([
  ["PNDM", { className: PNDMScheduler.className, create: (c) => new PNDMScheduler(c) }],
  ["DDIM", { className: DDIMScheduler.className, create: (c) => new DDIMScheduler(c) }],
  [
    "EULER_DISCRETE",
    { className: EulerDiscreteScheduler.className, create: (c) => new EulerDiscreteScheduler(c) },
  ],
  [
    "EULER_ANCESTRAL_DISCRETE",
    {
      className: EulerAncestralDiscreteScheduler.className,
      create: (c) => new EulerAncestralDiscreteScheduler(c),
    },
  ],
  [
    "DPM_SOLVER_MULTISTEP",
    { className: DPMSolverMultistepScheduler.className, create: (c) => new DPMSolverMultistepScheduler(c) },
  ],
  ["LMS_DISCRETE", { className: LMSDiscreteScheduler.className, create: (c) => new LMSDiscreteScheduler(c) }],
  ["LCM", { className: LCMScheduler.className, create: (c) => new LCMScheduler(c) }],
]);

/** The API name of a diffusers scheduler class name, or undefined when it is not supported. */
export function schedulerNameOf(className: string): SchedulerName | undefined {
  for (const [name, entry] of SCHEDULERS) if (entry.className === className) return name;
  return undefined;
}

/**
 * Build a fresh scheduler (per request: state never shared) from a checkpoint's scheduler_config.json, optionally
 * swapped to another class with from_config semantics. Unknown _class_name without an override → throw an Error
 * naming it.
 */
export function createScheduler(
  checkpointConfig: Record<string, unknown>,
  override?: SchedulerName,
): Scheduler {
  if (override !== undefined) {
    const entry = SCHEDULERS.get(override);
    if (entry === undefined) throw new Error(`Unknown scheduler '${String(override)}'`);
    return entry.create(checkpointConfig);
  }
  const className = checkpointConfig["_class_name"];
  const name = typeof className === "string" ? schedulerNameOf(className) : undefined;
  if (name === undefined) {
    const supported = [...SCHEDULERS.values()].map((e) => e.className).join(", ");
    throw new Error(`Unsupported scheduler class '${String(className)}' (supported: ${supported})`);
  }
  return SCHEDULERS.get(name)!.create(checkpointConfig);
}
