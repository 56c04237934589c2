/**
 * Peak and retained resident memory of one text-to-image run, before and after the change, side by side:
 * "before" is the former server: the graphs as exported (no fused attention: AUTOPIPE_CACHE_DIR=off) and no
 * budget, everything at once; "after" is the server as configured now: fused attention, cost-based admission under
 * the default budget (or AUTOPIPE_MEMORY_BUDGET_BYTES), split guidance and a tiled VAE where needed, refusals by
 * type. Each run is a fresh process (memory-peak-child.ts), killed past 10 GB resident. Sizes: 512², 768², 1024²
 * (AUTOPIPE_BENCH_SIZES) on tiny-sd and the SD 1.5-shaped mid-sd fixture. One step with guidance 7.5: the UNet sees
 * its full batch of two, and the VAE decodes once, as in a longer run.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MODELS } from "./setup.ts";

const GB = 2 ** 30;
const KILL_BYTES = 10 * 10 ** 9;
const CHILD = fileURLToPath(new URL("memory-peak-child.ts", import.meta.url));
const MID_SD = fileURLToPath(new URL("../test/fixtures/mid-sd/models/", import.meta.url));
const SIZES = (process.env.AUTOPIPE_BENCH_SIZES ?? "512,768,1024").split(",").map(Number);

interface ChildResult {
  before?: number;
  peak?: number;
  denoisePeak?: number;
  after?: number;
  ms?: number;
  error?: string;
  plan?: { splitGuidance: boolean; vaeTiling: boolean; bytes: number };
  killed?: boolean;
}

/** Runs the child, polling its resident memory and killing it past KILL_BYTES. */
function runChild(
  modelsDir: string,
  model: string,
  size: number,
  env: Record<string, string>,
): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--expose-gc", CHILD, modelsDir, model, String(size), String(size)],
      { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } },
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

function show(r: ChildResult): string {
  if (r.killed) return "killed past 10 GB";
  if (r.error) return r.error.length > 90 ? `${r.error.slice(0, 90)}…` : r.error;
  const gb = (bytes = 0) => {
    const delta = (bytes - (r.before ?? 0)) / GB;
    return `${delta < 0 ? "−" : "+"}${Math.abs(delta).toFixed(2)} GB`;
  };
  const plan = r.plan
    ? `${r.plan.splitGuidance ? "split" : "batched"}/${r.plan.vaeTiling ? "tiled" : "whole"}, estimate ${(r.plan.bytes / GB).toFixed(2)} GB`
    : "";
  return `${((r.ms ?? 0) / 1000).toFixed(1)} s, peak ${gb(r.peak)} (denoising ${gb(r.denoisePeak)}), retained ${gb(r.after)}; ${plan}`;
}

export async function benchMemoryPeak(): Promise<void> {
  const budget = process.env.AUTOPIPE_MEMORY_BUDGET_BYTES;
  console.log(
    `Memory per text-to-image run (1 step, guidance 7.5; before: exported graphs, no budget; after: fused, budget ${budget ? `${(Number(budget) / GB).toFixed(1)} GB` : "default"})`,
  );
  const before = { AUTOPIPE_CACHE_DIR: "off", AUTOPIPE_MEMORY_BUDGET_BYTES: String(10 ** 15) };
  for (const [dir, model] of [
    [MODELS, "tiny-sd"],
    [MID_SD, "mid-sd"],
  ] as const) {
    if (!existsSync(`${dir}/${model}/model_index.json`)) continue;
    for (const size of SIZES) {
      // One pair per size, before then after, so that the two stay close in time on a shared machine.
      const old = await runChild(dir, model, size, before);
      const now = await runChild(dir, model, size, {});
      console.log(`  ${model} ${size}²  before: ${show(old)}`);
      console.log(
        `  ${" ".repeat(model.length)} ${" ".repeat(String(size).length + 1)}  after:  ${show(now)}`,
      );
    }
  }
  console.log("");
}
