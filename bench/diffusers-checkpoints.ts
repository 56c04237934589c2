/**
 * diffusers-layout checkpoints (graphs built from config.json + safetensors) against exported ONNX. Every figure
 * comes from a fresh child process (diffusers-checkpoints-child.ts); built and exported scenarios alternate.
 *
 * Checkpoints: the fixture's mini-sd (SD 1.5 topology, small width); `mid-sd-st`, written here with random weights
 * at mid-sd's widths from mid-sd's own component configs (so its structure equals the exported mid-sd's); and, with
 * AUTOPIPE_BENCH_SD15=1, `sd15-st` at SD 1.5's widths (UNet block_out_channels [320, 640, 1280, 1280], cross-attention
 * 768, CLIP text width 768 with 12 layers, VAE [128, 256, 512, 512]; about 1.1 B parameters, 4.3 GB as fp32).
 *
 * 1. Loading the text-to-image graphs: first load (build, optimize, save to the graph cache) and second load
 *    (the cache entry), built vs the exported ONNX (first load: fuse, verify, optimize, save).
 * 2. UNet step at 512² batch 2: built vs exported-and-fused (target: built ≤ 1.0×).
 * 3. Resident memory after load and after a 512² one-step generation, as a multiple of the fp32 weights (target ≤ 1.15×).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, median } from "./stats.ts";
import { writeSyntheticDiffusers } from "./synthetic-checkpoint.ts";

const MB = 1024 * 1024;
const SCRIPT = fileURLToPath(new URL("diffusers-checkpoints-child.ts", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../test/fixtures/diffusers-safetensors/models/", import.meta.url));
const MID_SD = fileURLToPath(new URL("../test/fixtures/mid-sd/models/", import.meta.url));

function child(...args: string[]): Record<string, number> {
  const out = execFileSync(process.execPath, ["--import", "tsx", SCRIPT, ...args], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

const json = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

/** mid-sd's component configs with random weights, in diffusers' layout; `widen` rewrites them (SD 1.5 widths). */
export async function writeFromMidSd(
  dir: string,
  widen?: (folder: string, c: Record<string, unknown>) => Record<string, unknown>,
) {
  const mid = path.join(MID_SD, "mid-sd");
  const configs: Record<string, Record<string, unknown>> = {
    unet: json(path.join(mid, "unet", "config.json")),
    vae: json(path.join(mid, "vae_decoder", "config.json")),
    text_encoder: json(path.join(mid, "text_encoder", "config.json")),
  };
  // optimum's export marker is not part of a transformers config.
  delete configs.text_encoder!.export_model_type;
  if (widen) for (const [folder, config] of Object.entries(configs)) configs[folder] = widen(folder, config);
  return writeSyntheticDiffusers(
    dir,
    configs,
    { tokenizer: path.join(mid, "tokenizer"), scheduler: path.join(mid, "scheduler") },
    json(path.join(mid, "model_index.json")),
  );
}

const SD15_WIDTHS: Record<string, Record<string, unknown>> = {
  unet: { block_out_channels: [320, 640, 1280, 1280], cross_attention_dim: 768, attention_head_dim: 8 },
  vae: { block_out_channels: [128, 256, 512, 512] },
  text_encoder: { hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12 },
};

export async function benchDiffusersCheckpoints(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), "autopipe-bench-st-"));
  const caches: string[] = [];
  const fresh = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "autopipe-bench-cache-"));
    caches.push(dir);
    return dir;
  };
  try {
    const written = await writeFromMidSd(path.join(work, "mid-sd-st"));
    console.log(
      `diffusers checkpoints (graphs built from configs) vs exported ONNX; mid-sd-st: ${(written.parameters / 1e6).toFixed(1)} M parameters of random weights at mid-sd's widths`,
    );
    const scenarios: [label: string, dir: string, model: string][] = [
      ["mini-sd (built)", FIXTURES, "mini-sd"],
      ["mid-sd-st (built)", work, "mid-sd-st"],
      ["mid-sd (exported)", MID_SD, "mid-sd"],
    ];
    if (process.env.AUTOPIPE_BENCH_SD15 === "1") {
      const sd15 = await writeFromMidSd(path.join(work, "sd15-st"), (folder, c) => ({
        ...c,
        ...SD15_WIDTHS[folder],
      }));
      console.log(`  sd15-st: ${(sd15.parameters / 1e6).toFixed(0)} M parameters at SD 1.5's widths`);
      scenarios.push(["sd15-st (built)", work, "sd15-st"]);
    }
    const cacheOf = new Map<string, string>();
    console.log("  load text encoder + UNet + VAE decoder (median of 2; first = empty graph cache)");
    for (const [label, dir, model] of scenarios) {
      const first: number[] = [];
      const second: number[] = [];
      const resident: number[] = [];
      let weights = 0;
      for (let round = 0; round < 2; round++) {
        const cache = fresh();
        cacheOf.set(model, cache);
        first.push(child("load", dir, model, cache).loadMs!);
        const again = child("load", dir, model, cache);
        second.push(again.loadMs!);
        resident.push(again.afterLoad! - again.baseline!);
        weights = again.weightBytes!;
      }
      console.log(
        `    ${label.padEnd(20)} first ${fmt(median(first)).padStart(9)}  second ${fmt(median(second)).padStart(9)}  resident after load ${mb(median(resident))} = ${(median(resident) / weights).toFixed(2)}× the fp32 weights (${mb(weights)})`,
      );
    }

    console.log(
      "  UNet step, 512² (64×64 latents, batch 2), median of 3 steps after a warm-up, per process (median of 2, alternating)",
    );
    const steps: Record<string, number[]> = { built: [], exported: [] };
    for (let round = 0; round < 2; round++) {
      steps.built!.push(child("unet", work, "mid-sd-st", cacheOf.get("mid-sd-st")!).stepMs!);
      steps.exported!.push(child("unet", MID_SD, "mid-sd", cacheOf.get("mid-sd")!).stepMs!);
    }
    const built = median(steps.built!);
    const exported = median(steps.exported!);
    console.log(`    mid-sd-st built      ${fmt(built)}`);
    console.log(
      `    mid-sd exported+fused ${fmt(exported)}   built/exported ${(built / exported).toFixed(2)}× (target ≤ 1.0×)`,
    );
    if (cacheOf.has("sd15-st")) {
      console.log(
        `    sd15-st built        ${fmt(child("unet", work, "sd15-st", cacheOf.get("sd15-st")!).stepMs!)}`,
      );
    }

    console.log("  text-to-image 512², 1 step, through the service: resident memory over the fp32 weights");
    for (const [label, dir, model] of scenarios) {
      if (model === "mini-sd") continue;
      const g = child("generate", dir, model, cacheOf.get(model)!);
      const held = g.afterGeneration! - g.baseline!;
      console.log(
        `    ${label.padEnd(20)} ${mb(held)} = ${(held / g.weightBytes!).toFixed(2)}× the weights (${mb(g.weightBytes!)}) (target ≤ 1.15×)`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    for (const dir of caches) rmSync(dir, { recursive: true, force: true });
  }
}
