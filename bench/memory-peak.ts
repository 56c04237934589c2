/**
 * Peak and retained resident memory of one text-to-image run, before and after cost-based admission, side by side:
 * "before" runs everything at once as diffusers does (an unlimited budget: the server's former behaviour), "after"
 * runs under a budget (AUTOPIPE_MEMORY_BUDGET_BYTES, default 8 GB here), so large requests run with split guidance
 * and a tiled VAE, or are refused by type. Each run is a fresh process (memory-peak-child.ts), killed past
 * 10 GB resident; the two variants alternate. A run whose all-at-once estimate exceeds 10 GB is not started.
 * Sizes: 512², 768², 1024² on tiny-sd and, when present, the SD 1.5-shaped checkpoint in ../shared/fixtures/mid-sd
 * (AUTOPIPE_BENCH_MID_SD overrides its models folder). 2 steps, guidance 7.5.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CheckpointLocator } from "../server/checkpoints/locate.ts";
import { loadConfig } from "../server/config.ts";
import { estimateRunBytes, readCostSpec } from "../server/service/cost.ts";
import { MODELS } from "./setup.ts";

const GB = 2 ** 30;
const KILL_BYTES = 10 * 10 ** 9;
const CHILD = fileURLToPath(new URL("memory-peak-child.ts", import.meta.url));
const MID_SD =
  process.env.AUTOPIPE_BENCH_MID_SD ??
  fileURLToPath(new URL("../../shared/fixtures/mid-sd/models/", import.meta.url));
const SIZES = (process.env.AUTOPIPE_BENCH_SIZES ?? "512,768,1024").split(",").map(Number);

interface ChildResult {
  before?: number;
  peak?: number;
  after?: number;
  ms?: number;
  error?: string;
  plan?: { splitGuidance: boolean; vaeTiling: boolean; bytes: number };
  killed?: boolean;
}

/** Runs the child, polling its resident memory and killing it past KILL_BYTES. */
function runChild(modelsDir: string, model: string, size: number, budget: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--expose-gc", CHILD, modelsDir, model, String(size), String(size), String(budget)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    let killed = false;
    child.stdout.on("data", (chunk) => (out += chunk));
    const watch = setInterval(() => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0);
        if (kb * 1024 > KILL_BYTES) {
          killed = true;
          child.kill("SIGKILL");
        }
      } catch {
        // The child is gone.
      }
    }, 50);
    child.on("exit", () => {
      clearInterval(watch);
      if (killed) return resolve({ killed: true });
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"));
      } catch {
        resolve({ error: "no result" });
      }
    });
  });
}

function show(r: ChildResult | string): string {
  if (typeof r === "string") return r;
  if (r.killed) return "killed past 10 GB";
  if (r.error) return r.error.replace(/^(\w+): .*/, "$1");
  const plan = r.plan
    ? `${r.plan.splitGuidance ? "split" : "batched"}/${r.plan.vaeTiling ? "tiled" : "whole"}`
    : "";
  return `${((r.ms ?? 0) / 1000).toFixed(1)} s, peak +${(((r.peak ?? 0) - (r.before ?? 0)) / GB).toFixed(2)} GB, retained +${(((r.after ?? 0) - (r.before ?? 0)) / GB).toFixed(2)} GB ${plan}`;
}

export async function benchMemoryPeak(): Promise<void> {
  const budget = Number(process.env.AUTOPIPE_MEMORY_BUDGET_BYTES ?? 8 * 10 ** 9);
  console.log(
    `Memory per text-to-image run (2 steps; before: all at once; after: budget ${(budget / GB).toFixed(1)} GB)`,
  );
  const checkpoints: [string, string][] = [[MODELS, "tiny-sd"]];
  if (existsSync(`${MID_SD}/mid-sd/model_index.json`)) checkpoints.push([MID_SD, "mid-sd"]);
  for (const [dir, model] of checkpoints) {
    const locator = new CheckpointLocator(loadConfig({ ...process.env, AUTOPIPE_MODELS_DIR: dir }));
    const spec = await readCostSpec(await locator.locate(model));
    for (const size of SIZES) {
      const req = { width: size, height: size, images: 1, guidance: true, encodesImage: false };
      const whole = estimateRunBytes(spec, req, { splitGuidance: false, vaeTiling: false });
      // Alternate: before, then after (one pair per size; the machine is shared, so A/B stay close in time).
      const before =
        whole + spec.weightBytes > KILL_BYTES
          ? `not started (estimate ${(whole / GB).toFixed(1)} GB: the old server allocates this and is OOM-killed)`
          : await runChild(dir, model, size, 10 ** 15);
      const after = await runChild(dir, model, size, budget);
      console.log(`  ${model} ${size}²  before: ${show(before)}`);
      console.log(
        `  ${" ".repeat(model.length)} ${" ".repeat(String(size).length + 1)}  after:  ${show(after)}`,
      );
    }
  }
  console.log("");
}
