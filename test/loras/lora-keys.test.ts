/**
 * The key conventions, entry by entry against the fixture's key map (test/fixtures/diffusers-lora/verify/keymap.json:
 * every key of every adapter file → the diffusers module it targets, and the key diffusers' `lora_state_dict` turns
 * it into): each key is found, by its own convention, on the layer the key map names — kohya names through the
 * checkpoint's layer table (SDXL's SGM block names included) — and diffusers' older spellings parse to the same
 * module. Each layer's alpha / rank is the fixture's, from the kohya `.alpha` tensors and from the diffusers
 * files' `lora_adapter_metadata` (alpha_pattern included).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { inspectLoraFile } from "../../server/loras/lora-file.ts";
import type { CheckpointTargets } from "../../server/loras/lora-match.ts";
import { parseDiffusersKey, parseKohyaKey } from "../../server/loras/lora-names.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { LORA_FIXTURES } from "../helpers/lora.ts";
import { testConfig } from "../helpers/services.ts";

interface KeyEntry {
  component: string;
  module: string;
  role: "down" | "up" | "alpha";
  lora_state_dict_key?: string;
}
interface KeyMap {
  files: Record<string, Record<string, KeyEntry>>;
  adapters: Record<
    string,
    {
      base: string;
      files: { diffusers: string; kohya: string };
      modules: { component: string; module: string; rank: number; alpha_over_rank: number }[];
    }
  >;
}
const keymap = JSON.parse(readFileSync(`${LORA_FIXTURES}verify/keymap.json`, "utf8")) as KeyMap;

let services: Services;
const targets = new Map<string, CheckpointTargets>();
beforeAll(async () => {
  services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: `${SAFETENSORS_FIXTURES}models` }));
  for (const model of ["mini-sd", "tiny-sdxl"]) {
    const r = await resolveCheckpoint(services, model, "TEXT_TO_IMAGE", {}, null);
    const c = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
    targets.set(model, await c.loraTargets());
  }
});
afterAll(() => services.dispose());

describe.each(Object.entries(keymap.adapters))("adapter %s", (name, adapter) => {
  it.each(Object.entries(adapter.files))("every key of the %s file names the key map's layer", (_, file) => {
    const t = targets.get(adapter.base)!;
    for (const [key, entry] of Object.entries(keymap.files[file]!)) {
      const kohya = parseKohyaKey(key);
      const parsed = kohya ?? parseDiffusersKey(key);
      expect(parsed, key).not.toBeNull();
      expect(parsed!.component, key).toBe(entry.component);
      expect(parsed!.part, key).toBe(entry.role);
      const component = t.get(parsed!.component as "unet")!;
      const module = kohya ? component.byKohya.get(kohya.module) : parsed!.module;
      expect(module, key).toBe(entry.module);
      expect(component.layers.has(entry.module), key).toBe(true);
    }
  });

  it("diffusers' lora_state_dict spellings of every key parse to the same module", () => {
    for (const file of Object.values(adapter.files)) {
      for (const [key, entry] of Object.entries(keymap.files[file]!)) {
        if (!entry.lora_state_dict_key) continue;
        const parsed = parseDiffusersKey(entry.lora_state_dict_key);
        expect(parsed?.module, `${key} → ${entry.lora_state_dict_key}`).toBe(entry.module);
        expect(parsed?.component).toBe(entry.component);
      }
    }
  });

  it.each(["diffusers", "kohya"] as const)(
    "alpha / rank of every layer from the %s file",
    async (convention) => {
      const info = await inspectLoraFile(`${LORA_FIXTURES}${adapter.files[convention]}`);
      expect(info.format).toBe(convention === "kohya" ? "KOHYA" : "DIFFUSERS");
      expect(info.layers).toHaveLength(adapter.modules.length);
      expect(info.ignoredKeys).toEqual([]);
      const t = targets.get(adapter.base)!;
      const factors = new Map(
        info.layers.map((l) => [
          `${l.component}.${convention === "kohya" ? t.get(l.component)!.byKohya.get(l.module) : l.module}`,
          [l.rank, l.factor],
        ]),
      );
      for (const m of adapter.modules) {
        expect(factors.get(`${m.component}.${m.module}`), `${name} ${m.module}`).toEqual([
          m.rank,
          m.alpha_over_rank,
        ]);
      }
    },
  );
});

describe("kohya names that do not parse", () => {
  it("leaves keys outside the three parts or prefixes to the ignored list", () => {
    expect(parseKohyaKey("lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a")).toBeNull();
    expect(parseKohyaKey("lora_unet_down_blocks_0_resnets_0_conv1.dora_scale")).toBeNull();
    expect(parseKohyaKey("lora_vae_decoder_conv_in.lora_down.weight")).toBeNull();
    expect(parseDiffusersKey("unet.down_blocks.0.resnets.0.conv1.lora_magnitude_vector")).toBeNull();
  });
});
