/**
 * Safety checker and named-pipeline figures (`npx tsx bench/safety-checker.ts`, also part of `npm run bench`):
 * tiny-sd-safety's `safety_t2i_pndm` request (64×64, 10 steps) with the checker (AUTOPIPE_SAFETY_CHECKER=auto:
 * the checkpoint asks for it) and without (`off`), calls alternating between the two servers so that drift in the
 * machine's speed hits both alike; the checker's own share; and what a named pipeline adds to the cache (loads,
 * weight bytes) — expected nothing.
 */
import { fileURLToPath } from "node:url";
import { runSafetyChecker } from "../server/pipelines/safety-checker.ts";
import { RunTimer } from "../server/runtime/onnx.ts";
import { TorchGenerator } from "../server/runtime/rng.ts";
import { floatTensor } from "../server/runtime/tensor.ts";
import { generate } from "../server/service/generation.ts";
import { fromPipe } from "../server/service/pipeline-variants.ts";
import { resolveCheckpoint } from "../server/service/resolve-checkpoint.ts";
import { benchServices, T2I } from "./setup.ts";
import { fmt, median, sample } from "./stats.ts";

const MODELS = fileURLToPath(new URL("../test/fixtures/diffusers-reference-next/models/", import.meta.url));
const RUNS = 7;
const WARMUPS = 2;
const REQUEST = { ...T2I, model: "tiny-sd-safety" };

export async function benchSafetyChecker(): Promise<void> {
  const checked = benchServices({ AUTOPIPE_MODELS_DIR: MODELS, AUTOPIPE_SAFETY_CHECKER: "auto" });
  const unchecked = benchServices({ AUTOPIPE_MODELS_DIR: MODELS, AUTOPIPE_SAFETY_CHECKER: "off" });
  console.log(
    `safety checker, tiny-sd-safety 64×64, 10 steps, median of ${RUNS} after ${WARMUPS} warm-ups (A/B alternating)`,
  );
  const on: { total: number; runs: number; run: number }[] = [];
  const off: { total: number; runs: number; run: number }[] = [];
  for (let i = 0; i < WARMUPS + RUNS; i++) {
    const a = await generate(checked, "TEXT_TO_IMAGE", REQUEST);
    const b = await generate(unchecked, "TEXT_TO_IMAGE", REQUEST);
    if (i < WARMUPS) continue;
    if (!a.nsfwContentDetected || b.nsfwContentDetected)
      throw new Error("the checker ran where it should not, or not");
    on.push({ total: a.timings.totalMs, runs: a.timings.sessionRuns, run: a.timings.sessionRunMs });
    off.push({ total: b.timings.totalMs, runs: b.timings.sessionRuns, run: b.timings.sessionRunMs });
  }
  const onMs = median(on.map((x) => x.total));
  const offMs = median(off.map((x) => x.total));
  console.log(`  with the checker          ${fmt(onMs)}  (${on[0]?.runs} session runs)`);
  console.log(`  without                   ${fmt(offMs)}  (${off[0]?.runs} session runs)`);
  console.log(
    `  checker cost per image    ${fmt(onMs - offMs)} (${(((onMs - offMs) / offMs) * 100).toFixed(1)} %)`,
  );
  // The stage alone (preprocessing + graph), far below the noise of whole generations on a busy machine.
  const resolved = await resolveCheckpoint(checked, "tiny-sd-safety", "TEXT_TO_IMAGE");
  const lease = await checked.pipelines.acquire(resolved.checkpoint, resolved.modelIndex);
  const image = floatTensor(new Float32Array(64 * 64 * 3).fill(0.5), [1, 64, 64, 3]);
  const stage = await sample(30, 3, () =>
    runSafetyChecker(lease.components, image, { generator: new TorchGenerator(0n), timer: new RunTimer() }),
  );
  lease.release();
  console.log(`  checker stage alone       ${fmt(median(stage.ms))} per 64×64 image (median of 30)`);
  const [entry] = checked.pipelines.info();
  console.log(`  weights held              ${entry?.bytes} bytes, graphs ${entry?.components.join(", ")}`);

  await fromPipe(checked, { name: "bench-named", from: "tiny-sd-safety", task: "TEXT_TO_IMAGE" });
  await generate(checked, "TEXT_TO_IMAGE", { ...REQUEST, model: "bench-named" });
  const [after] = checked.pipelines.info();
  console.log(
    `  named pipeline adds       ${(after?.loads ?? 0) - (entry?.loads ?? 0)} loads, ${(after?.bytes ?? 0) - (entry?.bytes ?? 0)} weight bytes, ${checked.pipelines.info().length - 1} cache entries\n`,
  );
  await checked.dispose();
  await unchecked.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSafetyChecker();
