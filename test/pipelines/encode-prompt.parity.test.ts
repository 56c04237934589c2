/**
 * Prompt encoding parity: for all 11 reference prompts, our tokenizer + the bundled text encoder (onnxruntime)
 * give diffusers' `last_hidden_state` within 1e-4.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { encodeText } from "../../server/pipelines/encode-prompt.ts";
import { RunTimer } from "../../server/runtime/onnx.ts";
import { TorchGenerator } from "../../server/runtime/rng.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { maxAbsDiff, REFERENCE, readFloat32 } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

const DIR = `${REFERENCE}reference/tokenizer/`;
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, "utf8")) as {
  prompts: { name: string; prompt: string }[];
};
const hidden = readFloat32(`${DIR}last_hidden_state.bin`);
const ITEM = 77 * 32;

describe("text encoder parity with diffusers (tiny-sd)", () => {
  let services: Services;
  let components: SdComponents;
  beforeAll(async () => {
    services = createServices(testConfig());
    const r = await resolveCheckpoint(services, "tiny-sd", "TEXT_TO_IMAGE");
    components = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
  });
  afterAll(() => services.dispose());

  it.each(manifest.prompts.map((p, i) => [p.name, p.prompt, i] as const))("%s", async (_name, prompt, i) => {
    const out = await encodeText(components, prompt, {
      generator: new TorchGenerator(0),
      timer: new RunTimer(),
    });
    expect(out.dims).toEqual([1, 77, 32]);
    expect(maxAbsDiff(out.data, hidden.subarray(i * ITEM, (i + 1) * ITEM)).diff).toBeLessThanOrEqual(1e-4);
  });
});
