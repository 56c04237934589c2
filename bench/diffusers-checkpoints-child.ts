/**
 * One diffusers-checkpoint measurement in a fresh process (run by diffusers-checkpoints.ts), printed as JSON on its
 * last line, so that resident memory belongs to that scenario alone.
 *
 * `load <modelsDir> <model> <cacheDir|off> [variant]`: load the text-to-image graphs (text encoder, UNet, VAE decoder).
 * `unet <modelsDir> <model> <cacheDir>`: the UNet alone (loaded through the service's components, as a request
 *   would), the median of three 512² steps at batch 2 after a warm-up step.
 * `generate <modelsDir> <model> <cacheDir>`: a 512² text-to-image, one step, through the service.
 */
import { generate } from "../server/service/generation.ts";
import { resolveCheckpoint } from "../server/service/resolve-checkpoint.ts";
import { benchServices, T2I } from "./setup.ts";

const rss = () => process.memoryUsage.rss();
const [mode, modelsDir, model, cacheDir, variant] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string?,
];
const services = benchServices({ AUTOPIPE_MODELS_DIR: modelsDir, AUTOPIPE_CACHE_DIR: cacheDir });
const out: Record<string, number> = { baseline: rss() };

const r = await resolveCheckpoint(services, model, "TEXT_TO_IMAGE", {}, variant ?? null);
if (!r.runnable) throw new Error(`${model} is not runnable: ${r.reason}`);
if (mode === "load") {
  const started = performance.now();
  const lease = await services.pipelines.acquire(r.checkpoint, r.modelIndex);
  for (const graph of ["text_encoder", "unet", "vae_decoder"] as const) await lease.components.graph(graph);
  out.loadMs = performance.now() - started;
  out.afterLoad = rss();
  out.weightBytes = lease.components.weightBytes();
  lease.release();
} else if (mode === "unet") {
  const lease = await services.pipelines.acquire(r.checkpoint, r.modelIndex);
  const started = performance.now();
  const unet = await lease.components.graph("unet");
  out.loadMs = performance.now() - started;
  out.afterLoad = rss();
  out.weightBytes = lease.components.weightBytes();
  const width = Number(unet.input("encoder_hidden_states")?.shape[2]) || 768;
  let seed = 1;
  const noise = (n: number) =>
    Float32Array.from({ length: n }, () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1);
  const feeds = {
    sample: { type: "float32" as const, data: noise(2 * 4 * 64 * 64), dims: [2, 4, 64, 64] },
    timestep: { type: "float32" as const, data: new Float32Array([501, 501]), dims: [2] },
    encoder_hidden_states: { type: "float32" as const, data: noise(2 * 77 * width), dims: [2, 77, width] },
  };
  const spec = unet.input("timestep");
  if (spec?.shape.length === 0)
    Object.assign(feeds, { timestep: { ...feeds.timestep, data: new Float32Array([501]), dims: [] } });
  await unet.run(feeds);
  // The median of three timed steps: one step alone swings by a quarter on a small, shared machine.
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const stepStarted = performance.now();
    await unet.run(feeds);
    times.push(performance.now() - stepStarted);
  }
  out.stepMs = times.sort((a, b) => a - b)[1]!;
  out.afterRun = rss();
  lease.release();
} else if (mode === "generate") {
  await generate(services, "TEXT_TO_IMAGE", { ...T2I, model, width: 512, height: 512, numInferenceSteps: 1 });
  out.afterGeneration = rss();
  out.weightBytes = services.pipelines.totalBytes();
}
console.log(JSON.stringify(out));
process.exit(0);
