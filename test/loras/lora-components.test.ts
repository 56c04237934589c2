/**
 * LoRA side branches per component against diffusers' modules with the adapters fused
 * (test/fixtures/diffusers-lora/verify/mini-sd-lora-a): mini-sd's UNet and text encoder on fixed inputs, without
 * adapters, with adapter A at 1.0 and 0.5 and with A 0.7 + B 0.5, each from the diffusers/PEFT files and from the
 * kohya files, within 1e-4 of max(1, max |reference|) (the bar of the built graphs).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { bindLoras, planLoras } from "../../server/loras/lora-request.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import type { HostTensor } from "../../server/runtime/tensor.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { readArray, relativeDiff, SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { LORA_FIXTURES } from "../helpers/lora.ts";
import { testConfig } from "../helpers/services.ts";

const VERIFY = `${LORA_FIXTURES}verify/mini-sd-lora-a`;

interface Entry {
  file: string;
  dtype: string;
  shape: number[];
}
const manifest = (await import(`${VERIFY}/manifest.json`, { with: { type: "json" } })).default as {
  cases: { name: string; inputs: Record<string, Entry>; outputs: Record<string, Entry> }[];
};

let services: Services;
let c: SdComponents;
beforeAll(async () => {
  services = createServices(
    testConfig({
      AUTOPIPE_MODELS_DIR: `${SAFETENSORS_FIXTURES}models`,
      AUTOPIPE_LORAS_DIR: `${LORA_FIXTURES}adapters`,
    }),
  );
  const r = await resolveCheckpoint(services, "mini-sd", "TEXT_TO_IMAGE", {}, null);
  c = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
});
afterAll(() => services.dispose());

const VARIANTS: [variant: string, loras: [string, number][]][] = [
  ["base", []],
  ["a1.0", [["mini-sd-lora-a", 1]]],
  ["a0.5", [["mini-sd-lora-a", 0.5]]],
  [
    "a0.7_b0.5",
    [
      ["mini-sd-lora-a", 0.7],
      ["mini-sd-lora-b", 0.5],
    ],
  ],
];

async function outputsWith(
  graph: "unet" | "text_encoder",
  feeds: Record<string, HostTensor>,
  loras: { id: string; scale: number }[],
) {
  const planned = await planLoras(services.config, c, loras, "textToImage");
  expect(planned.notes).toEqual([]);
  const bound = await bindLoras(services.config, c, planned.adapters);
  try {
    return await (await c.graphFor(graph, { loras: bound.feeds })).run(feeds);
  } finally {
    await bound.release();
  }
}

/** The verify case's UNet inputs, `perturb`: every 7th sample value × (1 + 1e-6). */
function unetFeeds(perturb = false): { feeds: Record<string, HostTensor>; outputs: Record<string, Entry> } {
  const testCase = manifest.cases.find((k) => k.name === "unet_b2_t981")!;
  const feeds: Record<string, HostTensor> = {};
  for (const [name, entry] of Object.entries(testCase.inputs)) feeds[name] = readArray(VERIFY, entry);
  feeds.timestep = { type: "float32", data: feeds.timestep!.data, dims: [1] };
  if (perturb) {
    const data = Float32Array.from(feeds.sample!.data as Float32Array, (v, i) =>
      i % 7 === 0 ? v * (1 + 1e-6) : v,
    );
    feeds.sample = { type: "float32", data, dims: feeds.sample!.dims };
  }
  return { feeds, outputs: testCase.outputs };
}

/**
 * Variants whose UNet output cannot be compared within 1e-4: the function itself is ill-conditioned there (see the
 * conditioning test below), so float32 rounding that differs between PyTorch and onnxruntime by an ulp is amplified
 * past the bar. Measured (diffusers and kohya files alike): a1.0 1.6e-1, a0.7_b0.5 1.2e-3 of max |reference|; the
 * same weights merged into a copy of the UNet file (no side branch) miss a1.0 by 1.5e-1 too. Against the exact
 * (float64) value, diffusers' own outputs miss by 1.1e-1 and 9.4e-4 (lora-exact-arithmetic.parity.test.ts).
 */
const ILL_CONDITIONED = new Set(["a1.0", "a0.7_b0.5"]);

describe.each(["diffusers", "kohya"])("mini-sd with adapters from the %s files", (convention) => {
  const ids = (loras: [string, number][]) =>
    loras.map(([id, scale]) => ({ id: `${id}.${convention}`, scale }));

  for (const [variant, loras] of VARIANTS) {
    const test = ILL_CONDITIONED.has(variant) ? it.fails : it;
    test(`UNet, variant ${variant}`, async () => {
      const { feeds, outputs } = unetFeeds();
      const out = (await outputsWith("unet", feeds, ids(loras))).out_sample!;
      const expected = readArray(VERIFY, outputs[`out_sample_${variant}`]!);
      expect(relativeDiff(out.data, expected.data)).toBeLessThanOrEqual(1e-4);
    });
  }

  it.each(VARIANTS)("text encoder, variant %s", async (variant, loras) => {
    const testCase = manifest.cases.find((k) => k.name === "text_encoder_prompt_b2")!;
    const feeds: Record<string, HostTensor> = {};
    for (const [name, entry] of Object.entries(testCase.inputs)) feeds[name] = readArray(VERIFY, entry);
    const out = await outputsWith("text_encoder", feeds, ids(loras));
    for (const [name, entry] of Object.entries(testCase.outputs)) {
      if (!name.endsWith(`_${variant}`)) continue;
      const output = name
        .slice(0, -`_${variant}`.length)
        .replace(/^hidden_states_(\d+)$/, "hidden_states.$1");
      expect(out[output], output).toBeDefined();
      expect(relativeDiff(out[output]!.data, readArray(VERIFY, entry).data), name).toBeLessThanOrEqual(1e-4);
    }
  });

  it("the UNet with A at 1.0 and with A 0.7 + B 0.5 still moves the output the way diffusers' does", async () => {
    // Where parity within 1e-4 is out of reach, the result must still be diffusers' up to conditioning: far
    // closer to its reference than to the base output or to the other variant's.
    for (const [variant, loras] of VARIANTS.filter(([v]) => ILL_CONDITIONED.has(v))) {
      const { feeds, outputs } = unetFeeds();
      const out = (await outputsWith("unet", feeds, ids(loras))).out_sample!;
      const expected = readArray(VERIFY, outputs[`out_sample_${variant}`]!).data;
      const base = readArray(VERIFY, outputs.out_sample_base!).data;
      expect(relativeDiff(out.data, expected)).toBeLessThan(0.25 * relativeDiff(base, expected));
    }
  });
});

describe("conditioning of the mini-sd UNet with adapter A", () => {
  /** Relative change of the output when every 7th input value moves by one part in a million. */
  async function sensitivity(scale: number): Promise<number> {
    const loras = [{ id: "mini-sd-lora-a.diffusers", scale }];
    const a = (await outputsWith("unet", unetFeeds().feeds, loras)).out_sample!;
    const b = (await outputsWith("unet", unetFeeds(true).feeds, loras)).out_sample!;
    return relativeDiff(b.data, a.data);
  }

  it("is well-conditioned at 0.5 and ill-conditioned at 1.0 (what the 1e-4 bar cannot survive)", async () => {
    // Measured: 4.6e-6 at 0.5 (a gain of about 5); about 1.4e-1 at 1.0 (a gain of 1e5: the perturbation grows
    // smoothly through every block, no single layer explodes). An ulp of float32 rounding is 6e-8.
    expect(await sensitivity(0.5)).toBeLessThan(1e-4);
    expect(await sensitivity(1)).toBeGreaterThan(1e-2);
  });
});
