/**
 * LoRA adapters on an SD 1.5-structured checkpoint (`mid-sd-st`: random weights at mid-sd's widths, written from
 * mid-sd's own configs, as the diffusers-checkpoints section does; SD 1.5's widths with AUTOPIPE_BENCH_SD15=1) and
 * random adapters written here in the diffusers/PEFT convention (UNet attention q/k/v/out, feed-forward, proj_in /
 * proj_out; text encoder q/k/v/out, fc1/fc2), rank 16 and 128. Each figure comes from a fresh child process
 * (lora-child.ts).
 *
 * 1. Resident memory with 0, 1 and 3 rank-16 adapters applied (UNet + text encoder loaded, one 512² UNet step run):
 *    the growth over the base against the adapters' bytes (target: base + adapter bytes + ≤ 5 %), and what one
 *    merged copy of the UNet (a second session with its own weights) adds instead.
 * 2. UNet step at 512² batch 2: the graph without side branches, the LoRA-capable graph with no adapter, with one
 *    adapter of rank 16 and of rank 128, run in turn in one process (target ≤ 1.10× at rank 16); the fastest of 7
 *    runs is compared, the median shown beside it (a shared machine slows some runs, never speeds one up).
 * AUTOPIPE_BENCH_LORA_PIXELS sets the side of the UNet runs (default 512); AUTOPIPE_BENCH_LORA_STEP_ONLY=1 runs
 * section 2 alone.
 *
 * 3. Switching adapter sets between two requests through the service: binding the next set (factors cached, or read
 *    from the file the first time), and how many times the checkpoint loaded (target: once).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeFromMidSd } from "./diffusers-checkpoints.ts";
import { writeRandomLora } from "./lora-files.ts";
import { fmt, median } from "./stats.ts";

const MB = 1024 * 1024;
const SCRIPT = fileURLToPath(new URL("lora-child.ts", import.meta.url));
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

function child(...args: string[]): Record<string, number> {
  const out = execFileSync(process.execPath, ["--import", "tsx", SCRIPT, ...args], {
    encoding: "utf8",
    maxBuffer: 64 * MB,
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

export async function benchLora(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), "autopipe-bench-lora-"));
  try {
    const sd15 = process.env.AUTOPIPE_BENCH_SD15 === "1";
    const model = sd15 ? "sd15-st" : "mid-sd-st";
    const written = await writeFromMidSd(
      path.join(work, "models", model),
      sd15
        ? (folder, c) => ({
            ...c,
            ...(
              {
                unet: {
                  block_out_channels: [320, 640, 1280, 1280],
                  cross_attention_dim: 768,
                  attention_head_dim: 8,
                },
                vae: { block_out_channels: [128, 256, 512, 512] },
                text_encoder: {
                  hidden_size: 768,
                  intermediate_size: 3072,
                  num_attention_heads: 12,
                  num_hidden_layers: 12,
                },
              } as Record<string, Record<string, unknown>>
            )[folder],
          })
        : undefined,
    );
    const models = path.join(work, "models");
    const loras = path.join(work, "loras");
    const checkpoint = path.join(models, model);
    const sizes: Record<string, number> = {};
    for (const [name, rank, seed] of [
      ["r16-a", 16, 1],
      ["r16-b", 16, 2],
      ["r16-c", 16, 3],
      ["r128", 128, 4],
    ] as const) {
      sizes[name] = await writeRandomLora(checkpoint, path.join(loras, `${name}.safetensors`), rank, seed);
    }
    console.log(
      `LoRA adapters on ${model} (${(written.parameters / 1e6).toFixed(1)} M parameters, random weights); adapters: rank 16 ${mb(sizes["r16-a"]!)} each, rank 128 ${mb(sizes.r128!)}`,
    );
    const cache = path.join(work, "cache");
    // AUTOPIPE_BENCH_LORA_STEP_ONLY=1: the step times alone (SD 1.5's widths take long on a small machine).
    const stepOnly = process.env.AUTOPIPE_BENCH_LORA_STEP_ONLY === "1";
    const pixels = Number(process.env.AUTOPIPE_BENCH_LORA_PIXELS || 512);
    if (!stepOnly) memoryFigures(models, model, cache, loras, pixels);

    console.log(
      `  UNet step, ${pixels}² (${pixels / 8}×${pixels / 8} latents, batch 2): the variants in turn, 7 rounds; fastest (median), ratios of the fastest`,
    );
    const t = child("step", models, model, cache, loras, "0");
    const row = (label: string, key: string, target = "") =>
      console.log(
        `    ${label.padEnd(30)}${fmt(t[`${key}MinMs`]!).padStart(10)} (${fmt(t[`${key}Ms`]!)})  ${(t[`${key}MinMs`]! / t.plainMinMs!).toFixed(3)}× the graph without branches, ${(t[`${key}MinMs`]! / t.noneMinMs!).toFixed(3)}× no adapter${target}`,
      );
    row("graph without side branches", "plain");
    row("LoRA-capable, no adapter", "none");
    row("1 adapter, rank 16", "r16", " (target ≤ 1.10×)");
    row("1 adapter, rank 128", "r128");

    if (stepOnly) return;
    const s = child("switch", models, model, cache, loras, "0");
    console.log("  switching adapter sets between two requests (through the service, 64² one-step requests)");
    console.log(`    first set (r16-a), factors read from the file      ${fmt(s.firstBindMs!)}`);
    console.log(`    next set (r16-b + r16-c at 0.5), files read        ${fmt(s.secondBindMs!)}`);
    console.log(`    back to r16-a (factors cached)                     ${fmt(s.cachedBindMs!)}`);
    console.log(
      `    checkpoint loads over the three requests           ${s.loads} (target: 1, no base reload)`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Resident memory with 0, 1 and 3 adapters, and what a merged copy adds instead. */
function memoryFigures(models: string, model: string, cache: string, loras: string, pixels: number): void {
  // Fill the graph cache once, so every child loads the optimized graphs.
  child("memory", models, model, cache, loras, "0");
  console.log(
    `  resident memory over the base at steady state (UNet + text encoder loaded, one ${pixels}² step run; median of 3)`,
  );
  for (const n of [0, 1, 3]) {
    const runs = [0, 1, 2].map(() => child("memory", models, model, cache, loras, String(n)));
    const base = median(runs.map((r) => r.afterBase! - r.baseline!));
    const bound = median(runs.map((r) => r.afterBind! - r.afterBase!));
    const ran = median(runs.map((r) => r.afterRun! - r.afterBase!));
    const { adapterBytes, boundBytes } = runs[0]!;
    const beyond = (grown: number) =>
      `${((100 * (grown - adapterBytes! - boundBytes!)) / base).toFixed(1)} %`;
    console.log(
      `    ${n} adapter${n === 1 ? " " : "s"}  base ${mb(base)}; adapters bound: +${mb(bound)}, after a step with them: +${mb(ran)} — factors ${mb(adapterBytes!)} loaded + ${mb(boundBytes!)} combined for the request; beyond them ${beyond(bound)} / ${beyond(ran)} of the base (target ≤ 5 %)`,
    );
  }
  const merged = child("merged", models, model, cache, loras, "1");
  console.log(
    `    a merged copy instead: a second UNet session adds ${mb(merged.copyBytes!)} (the UNet's weights again), per adapter set`,
  );
}
