/**
 * One mid-sd measurement in a fresh process (run by mid-sd.ts), printed as JSON on its last line, so that every
 * figure starts from the same baseline and peak resident memory (VmHWM) belongs to that scenario alone.
 *
 * `unet <fused|unfused>`: the UNet alone, one 512² step at batch 2 (classifier-free guidance) after a warm-up.
 * `generate <fused|unfused>`: a 512² text-to-image through the service, one step.
 * `load <plain|cached> <cacheDir>`: loading the text-to-image graphs (text encoder, UNet, VAE decoder).
 * `t2i256`: the reference case mid_t2i_pndm_256 (256², 10 steps) end to end, after a warm-up.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadGraph } from "../server/runtime/load-graph.ts";
import { OnnxModel } from "../server/runtime/onnx.ts";
import { generate } from "../server/service/generation.ts";
import { resolveCheckpoint } from "../server/service/resolve-checkpoint.ts";
import { benchServices, T2I } from "./setup.ts";

export const MID_SD_MODELS = fileURLToPath(new URL("../test/fixtures/mid-sd/models/", import.meta.url));
const UNET = path.join(MID_SD_MODELS, "mid-sd", "unet", "model.onnx");

const rss = () => process.memoryUsage.rss();
/** Peak resident set size of this process so far (Linux /proc; NaN elsewhere). */
const peak = () => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : Number.NaN;
};
const services = (env: Record<string, string>) =>
  benchServices({ AUTOPIPE_MODELS_DIR: MID_SD_MODELS, ...env });
const [mode, variant, cacheDir] = process.argv.slice(2);
// A guard for shared machines: a scenario that passes 10 GB resident stops rather than starve its neighbours.
const LIMIT = 10 * 1024 ** 3;
setInterval(() => {
  if (rss() > LIMIT) {
    console.error(`mid-sd bench: ${mode} ${variant} passed ${LIMIT / 1024 ** 3} GB resident; stopped`);
    process.exit(3);
  }
}, 50).unref();
const out: Record<string, number> = { baseline: rss() };

if (mode === "unet") {
  const started = performance.now();
  const options = { provider: "cpu" as const, threads: Number(process.env.AUTOPIPE_THREADS ?? 2) };
  const model =
    variant === "fused"
      ? (await loadGraph(UNET, { ...options, cacheDir: cacheDir! })).model
      : await OnnxModel.load(UNET, options);
  out.loadMs = performance.now() - started;
  out.afterLoad = rss();
  let seed = 1;
  const noise = (n: number) =>
    Float32Array.from({ length: n }, () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1);
  const feeds = {
    sample: { type: "float32" as const, data: noise(2 * 4 * 64 * 64), dims: [2, 4, 64, 64] },
    timestep: { type: "float32" as const, data: new Float32Array([501]), dims: [] },
    encoder_hidden_states: { type: "float32" as const, data: noise(2 * 77 * 128), dims: [2, 77, 128] },
  };
  await model.run(feeds);
  const stepStarted = performance.now();
  await model.run(feeds);
  out.stepMs = performance.now() - stepStarted;
  out.afterRun = rss();
} else if (mode === "generate") {
  const s = services(variant === "fused" ? { AUTOPIPE_CACHE_DIR: cacheDir! } : { AUTOPIPE_CACHE_DIR: "off" });
  const request = { ...T2I, model: "mid-sd", width: 512, height: 512, numInferenceSteps: 1 };
  await generate(s, "TEXT_TO_IMAGE", request);
  out.afterGeneration = rss();
  out.weightBytes = s.pipelines.totalBytes();
  out.residentBytes = s.pipelines.info()[0]?.residentBytes ?? Number.NaN;
} else if (mode === "load") {
  const s = services(variant === "plain" ? { AUTOPIPE_CACHE_DIR: "off" } : { AUTOPIPE_CACHE_DIR: cacheDir! });
  const r = await resolveCheckpoint(s, "mid-sd", "TEXT_TO_IMAGE");
  const started = performance.now();
  const lease = await s.pipelines.acquire(r.checkpoint, r.modelIndex);
  for (const graph of ["text_encoder", "unet", "vae_decoder"] as const) await lease.components.graph(graph);
  out.loadMs = performance.now() - started;
  lease.release();
} else if (mode === "t2i256") {
  const s = services({ AUTOPIPE_CACHE_DIR: cacheDir! });
  const request = { ...T2I, model: "mid-sd", width: 256, height: 256, numInferenceSteps: 10 };
  await generate(s, "TEXT_TO_IMAGE", request);
  const result = await generate(s, "TEXT_TO_IMAGE", request);
  out.totalMs = result.timings.totalMs;
  out.sessionRunMs = result.timings.sessionRunMs;
  out.sessionRuns = result.timings.sessionRuns;
}
out.peak = peak();
console.log(JSON.stringify(out));
process.exit(0);
