/**
 * mid-sd figures (SD 1.5's structure at reduced width; at 512² its attention sizes are SD 1.5's). Every figure
 * comes from a fresh child process (mid-sd-child.ts); A and B scenarios alternate so that drift in the machine's
 * load hits both alike.
 *
 * 1. Cold load of the text-to-image graphs: plain onnxruntime, first load through the graph cache (fuse, verify,
 *    optimize, save) and a cached load, alternating, two rounds.
 * 2. UNet step at 512² (batch 2): time, resident memory after load, peak, and retained after the step; the graph
 *    as exported against the fused one, alternating, two rounds.
 * 3. A 512² text-to-image (one step) through the service: resident memory against the weights, unfused and fused,
 *    and what that implies for an SD 1.5-sized checkpoint.
 * 4. The reference case mid_t2i_pndm_256 end to end against its `session.run` time and the reference's PyTorch
 *    time.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, median } from "./stats.ts";

const MB = 1024 * 1024;
const GB = 1024 * MB;
const SCRIPT = fileURLToPath(new URL("mid-sd-child.ts", import.meta.url));
const REFERENCE = fileURLToPath(new URL("../test/fixtures/mid-sd/reference/index.json", import.meta.url));

function child(...args: string[]): Record<string, number> {
  const out = execFileSync(process.execPath, ["--import", "tsx", SCRIPT, ...args], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

export async function benchMidSd(): Promise<void> {
  const dirs: string[] = [];
  const freshCache = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "autopipe-bench-cache-"));
    dirs.push(dir);
    return dir;
  };
  try {
    console.log("mid-sd (SD 1.5 structure, reduced width), fresh process per figure, A/B alternating");
    const plain: number[] = [];
    const cold: number[] = [];
    const cached: number[] = [];
    let cache = "";
    for (let round = 0; round < 2; round++) {
      plain.push(child("load", "plain").loadMs!);
      cache = freshCache();
      cold.push(child("load", "cached", cache).loadMs!);
      cached.push(child("load", "cached", cache).loadMs!);
    }
    console.log("  load text encoder + UNet + VAE decoder (median of 2)");
    console.log(`    plain onnxruntime (no cache)            ${fmt(median(plain))}`);
    console.log(`    first load (fuse, verify, optimize, save) ${fmt(median(cold))}`);
    console.log(
      `    cached load                             ${fmt(median(cached))}  (${(median(cached) / median(cold)).toFixed(2)} of the first, ${(median(cached) / median(plain)).toFixed(2)} of plain)`,
    );

    const unet: Record<"unfused" | "fused", Record<string, number>[]> = { unfused: [], fused: [] };
    for (let round = 0; round < 2; round++) {
      unet.unfused.push(child("unet", "unfused"));
      unet.fused.push(child("unet", "fused", cache));
    }
    console.log("  UNet step, 512² (64×64 latents, batch 2), after one warm-up step (median of 2)");
    for (const variant of ["unfused", "fused"] as const) {
      const runs = unet[variant];
      const m = (key: string) => median(runs.map((r) => r[key]!));
      console.log(
        `    ${variant.padEnd(8)} step ${fmt(m("stepMs")).padStart(10)}   resident after load ${mb(m("afterLoad"))}, peak ${mb(m("peak"))}, after the steps ${mb(m("afterRun"))}`,
      );
    }
    const speedup = median(unet.unfused.map((r) => r.stepMs!)) / median(unet.fused.map((r) => r.stepMs!));
    console.log(`    fused speed-up ${speedup.toFixed(2)}×  (target ≥ 1.25×)`);

    console.log("  text-to-image 512², 1 step, through the service: resident memory");
    const generations = { unfused: child("generate", "unfused"), fused: child("generate", "fused", cache) };
    for (const variant of ["unfused", "fused"] as const) {
      const g = generations[variant];
      const held = g.afterGeneration! - g.baseline!;
      console.log(
        `    ${variant.padEnd(8)} weights ${mb(g.weightBytes!)}, process grew ${mb(held)} (${(held / g.weightBytes!).toFixed(2)}× the weights), peak ${mb(g.peak! - g.baseline!)} over baseline, residentBytes ${mb(g.residentBytes!)}`,
      );
    }
    // SD 1.5 has the same attention sizes but 10× the channels and 98× the weights: the weights' share scales
    // with the weights, the activation buffers at most with the channels (10×).
    const f = generations.fused;
    const overhead = f.afterGeneration! - f.baseline! - f.weightBytes!;
    const sd15 = 4.3 * GB;
    console.log(
      `    implies for SD 1.5 (4.3 GB of weights): ≤ ${((sd15 + 10 * Math.max(0, overhead)) / GB).toFixed(2)} GB retained = weights + ${(((10 * Math.max(0, overhead)) / sd15) * 100).toFixed(0)} % (target ≤ + 25 %), if the overhead beyond the weights grew 10× with the channels`,
    );

    const t = child("t2i256", "fused", cache);
    const reference = JSON.parse(readFileSync(REFERENCE, "utf8")) as { case: string; timing_s: number }[];
    const torch = reference.find((c) => c.case === "mid_t2i_pndm_256")?.timing_s ?? Number.NaN;
    console.log("  text-to-image 256², 10 steps (mid_t2i_pndm_256), fused, after one warm-up");
    console.log(
      `    end-to-end ${fmt(t.totalMs!)}, session.run ${fmt(t.sessionRunMs!)} (${t.sessionRuns} runs)`,
    );
    console.log(`    overhead ${(((t.totalMs! - t.sessionRunMs!) / t.totalMs!) * 100).toFixed(1)} %`);
    console.log(
      `    diffusers on PyTorch (reference README, 1 run, loaded machine) ${(torch * 1000).toFixed(0)} ms: ${((torch * 1000) / t.totalMs!).toFixed(1)}× slower\n`,
    );
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
