/**
 * One LoRA measurement in a fresh process (run by lora.ts), printed as JSON on its last line.
 *
 * `memory <modelsDir> <model> <cacheDir> <lorasDir> <n>`: UNet + text encoder through the service's components and
 *   one 512² UNet step + text-encoder call without adapters (the base at steady state); then n rank-16 adapters
 *   (r16-a, r16-b, r16-c) bound, and the step run again with them.
 * `merged …`: the UNet through the service, then a second UNet session of its own (what a merged copy costs).
 * `step …`: the UNet step at 512² batch 2 in this process, built without side branches and LoRA-capable with no
 *   adapter, one rank-16 and one rank-128 adapter: one warm-up each, then 7 rounds in turn; medians and minima.
 * `switch …`: three 64² one-step requests with different adapter sets through the service; the time to bind each
 *   set and the checkpoint's load count.
 */
import path from "node:path";
import { composeLoraFeeds, zeroLoraFeeds } from "../server/loras/lora-feeds.ts";
import { loraRegistry } from "../server/loras/lora-registry.ts";
import { bindLoras, planLoras } from "../server/loras/lora-request.ts";
import { buildComponentGraph } from "../server/models/build-component.ts";
import { buildUNet2DConditionModel } from "../server/models/unet-2d-condition.ts";
import type { BoundFeeds } from "../server/runtime/graph.ts";
import { OnnxModel } from "../server/runtime/onnx.ts";
import type { HostTensor } from "../server/runtime/tensor.ts";
import { generate } from "../server/service/generation.ts";
import { resolveCheckpoint } from "../server/service/resolve-checkpoint.ts";
import { benchServices, T2I } from "./setup.ts";
import { median } from "./stats.ts";

const rss = () => process.memoryUsage.rss();
const [mode, modelsDir, model, cacheDir, lorasDir, arg] = process.argv.slice(2) as string[];
const services = benchServices({
  AUTOPIPE_MODELS_DIR: modelsDir!,
  AUTOPIPE_CACHE_DIR: cacheDir!,
  AUTOPIPE_LORAS_DIR: lorasDir!,
  AUTOPIPE_SAFETY_CHECKER: "off",
});
const out: Record<string, number> = { baseline: rss() };
const r = await resolveCheckpoint(services, model!, "TEXT_TO_IMAGE", {}, null);
if (!r.runnable) throw new Error(`${model} is not runnable: ${r.reason}`);

let seed = 1;
const noise = (n: number) =>
  Float32Array.from({ length: n }, () => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 2 - 1);
/** Latent side of the UNet runs: 64 (512²), or AUTOPIPE_BENCH_LORA_PIXELS / 8. */
const SIDE = Math.round(Number(process.env.AUTOPIPE_BENCH_LORA_PIXELS || 512) / 8);
function unetFeeds(width: number): Record<string, HostTensor> {
  return {
    sample: { type: "float32", data: noise(2 * 4 * SIDE * SIDE), dims: [2, 4, SIDE, SIDE] },
    timestep: { type: "float32", data: new Float32Array([501]), dims: [1] },
    encoder_hidden_states: { type: "float32", data: noise(2 * 77 * width), dims: [2, 77, width] },
  };
}

const lease = await services.pipelines.acquire(r.checkpoint, r.modelIndex);
const c = lease.components;
const ids = ["r16-a", "r16-b", "r16-c"];
if (mode === "memory") {
  const unet = await c.graph("unet");
  const encoder = await c.graph("text_encoder");
  const width = Number(unet.input("encoder_hidden_states")?.shape[2]) || 768;
  const ids77 = { type: "int64" as const, data: new BigInt64Array(77).fill(1n), dims: [1, 77] };
  const step = async (run: { loras?: Map<string, BoundFeeds> }) => {
    await (await c.graphFor("unet", run)).run(unetFeeds(width));
    await (await c.graphFor("text_encoder", run)).run({ [encoder.inputs[0]!.name]: ids77 });
  };
  // The base at steady state: graphs loaded and one step run without adapters (its activations come and go).
  await step({});
  out.afterBase = rss();
  const n = Number(arg);
  const planned = await planLoras(
    services.config,
    c,
    ids.slice(0, n).map((id) => ({ id, scale: 1 })),
    "bench",
  );
  const bound = await bindLoras(services.config, c, planned.adapters);
  out.afterBind = rss();
  await step({ loras: bound.feeds });
  out.afterRun = rss();
  out.adapterBytes = planned.bytes;
  out.boundBytes = [...bound.feeds.values()].reduce((a, b) => a + b.bytes, 0);
  await bound.release();
} else if (mode === "merged") {
  await c.graph("unet");
  const before = rss();
  const folder = path.join(modelsDir!, model!, "unet");
  const built = await buildComponentGraph(
    {
      component: "unet",
      configFile: path.join(folder, "config.json"),
      weightFiles: [path.join(folder, "diffusion_pytorch_model.safetensors")],
    },
    buildUNet2DConditionModel,
  );
  const copy = await OnnxModel.load(built.bytes, {
    provider: "cpu",
    threads: 2,
    externalDataFolder: built.dataFolder,
  });
  out.copyBytes = rss() - before;
  await copy.release();
} else if (mode === "step") {
  // Both graphs in this process, the variants run in turn (5 rounds), so that load on the machine hits them alike.
  const folder = path.join(modelsDir!, model!, "unet");
  const load = async (lora: boolean) => {
    const built = await buildComponentGraph(
      {
        component: "unet",
        configFile: path.join(folder, "config.json"),
        weightFiles: [path.join(folder, "diffusion_pytorch_model.safetensors")],
        lora,
      },
      buildUNet2DConditionModel,
    );
    return OnnxModel.load(built.bytes, {
      provider: "cpu",
      threads: services.config.threads,
      externalDataFolder: built.dataFolder,
    });
  };
  const plain = await load(false);
  const capable = await load(true);
  const width = Number(plain.input("encoder_hidden_states")?.shape[2]) || 768;
  const inputs = unetFeeds(width);
  const zeros = zeroLoraFeeds(capable.inputs);
  const withAdapter = async (id: string) => {
    const planned = await planLoras(services.config, c, [{ id, scale: 1 }], "bench");
    const loaded = await loraRegistry(services.config).load(id, "bench");
    const composed = composeLoraFeeds(planned.adapters.map((a) => ({ ...a, data: loaded.data })));
    return { ...zeros, ...inputs, ...(composed.get("unet") ?? {}) };
  };
  const variants: [string, OnnxModel, Record<string, HostTensor>][] = [
    ["plain", plain, inputs],
    ["none", capable, { ...zeros, ...inputs }],
    ["r16", capable, await withAdapter("r16-a")],
    ["r128", capable, await withAdapter("r128")],
  ];
  const times: Record<string, number[]> = {};
  for (const [name, graph, feeds] of variants) {
    await graph.run(feeds);
    times[name] = [];
  }
  for (let round = 0; round < 7; round++) {
    for (const [name, graph, feeds] of variants) {
      const started = performance.now();
      await graph.run(feeds);
      times[name]!.push(performance.now() - started);
    }
  }
  for (const [name, ms] of Object.entries(times)) {
    out[`${name}Ms`] = median(ms);
    out[`${name}MinMs`] = Math.min(...ms);
  }
  await plain.release();
  await capable.release();
} else if (mode === "switch") {
  const request = { ...T2I, model: model!, width: 64, height: 64, numInferenceSteps: 1 };
  const timeBind = async (loras: { id: string; scale: number }[]) => {
    const planned = await planLoras(services.config, c, loras, "bench");
    const started = performance.now();
    const bound = await bindLoras(services.config, c, planned.adapters);
    const ms = performance.now() - started;
    await bound.release();
    await generate(services, "TEXT_TO_IMAGE", { ...request, loras });
    return ms;
  };
  await generate(services, "TEXT_TO_IMAGE", request);
  out.firstBindMs = await timeBind([{ id: "r16-a", scale: 1 }]);
  out.secondBindMs = await timeBind([
    { id: "r16-b", scale: 0.5 },
    { id: "r16-c", scale: 0.5 },
  ]);
  out.cachedBindMs = await timeBind([{ id: "r16-a", scale: 1 }]);
  out.loads = services.pipelines.info().find((e) => e.model === model)?.loads ?? -1;
}
lease.release();
console.log(JSON.stringify(out));
process.exit(0);
