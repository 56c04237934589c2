/**
 * The single-file key conversion against the shared key maps (test/fixtures/diffusers-safetensors/single-file/
 * key-map-*.json, made by running diffusers' own conversion scripts on element-tagged tensors): every key of
 * mini-sd.safetensors (SD 1.5 layout) and tiny-sdxl.safetensors (SDXL sgm layout) must convert to the diffusers
 * component, key and layout change the map gives — entry by entry — with no key left over. Also checked: the
 * inverse names, training-state keys ignored, SD 2.x's last OpenCLIP layer left unused, and model-type inference.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { inferSingleFileType } from "../../../server/checkpoints/single-file/model-type.ts";
import {
  componentKeyMap,
  convertSingleFile,
} from "../../../server/checkpoints/single-file/single-file-weights.ts";
import { SAFETENSORS_FIXTURES } from "../../helpers/component-cases.ts";

interface KeyMapEntry {
  component: string;
  key?: string;
  shape: number[];
  transform: "none" | "reshape" | "transpose" | "concat_dim0";
  sources?: { key: string; rows: [number, number] }[];
}
interface KeyMapFile {
  prefixes: Record<string, string>;
  keys: Record<string, KeyMapEntry>;
}

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const CASES = [
  { name: "mini-sd", checkpoint: "mini-sd", type: "v1" },
  { name: "tiny-sdxl", checkpoint: "tiny-sdxl", type: "xl_base" },
] as const;

/** What the shared map says an original key holds, in the shape `toDiffusers` answers. */
function expected(entry: KeyMapEntry) {
  if (entry.transform === "concat_dim0") {
    return entry.sources!.map((s) => ({
      component: entry.component,
      key: s.key,
      transform: { kind: "rows", begin: s.rows[0], end: s.rows[1] },
    }));
  }
  const base = { component: entry.component, key: entry.key! };
  return [entry.transform === "none" ? base : { ...base, transform: { kind: entry.transform } }];
}

describe.each(CASES)("$name.safetensors key conversion", ({ name, checkpoint, type }) => {
  const map = readJson(`${SAFETENSORS_FIXTURES}single-file/key-map-${name}.json`) as KeyMapFile;
  const shapes = new Map(Object.entries(map.keys).map(([k, e]) => [k, e.shape] as const));
  const components = [...new Set(Object.values(map.prefixes))];
  const maps = components.map((component) => {
    const config = readJson(`${SAFETENSORS_FIXTURES}models/${checkpoint}/${component}/config.json`);
    return componentKeyMap(type, component, config)!;
  });

  it(`is inferred as ${type}`, () => {
    expect(inferSingleFileType(shapes)).toEqual({ kind: "known", type });
  });

  it("converts every key as the shared map says, none left over", () => {
    const converted = convertSingleFile(shapes, maps);
    expect(converted.unused).toEqual([]);
    expect(converted.ignored).toBe(0);
    let checked = 0;
    for (const [key, entry] of Object.entries(map.keys)) {
      expect({ key, targets: converted.targets.get(key) }).toEqual({ key, targets: expected(entry) });
      checked++;
    }
    expect(checked).toBe(Object.keys(map.keys).length);
    // Each diffusers tensor comes from exactly one original key.
    const all = [...converted.targets.values()].flat().map((t) => `${t.component}:${t.key}`);
    expect(new Set(all).size).toBe(all.length);
  });

  it("names every diffusers key's original key (messages)", () => {
    for (const [key, entry] of Object.entries(map.keys)) {
      const m = maps.find((x) => x.component === entry.component)!;
      for (const target of expected(entry)) expect(m.toOriginal(target.key)).toBe(key);
    }
  });

  it("ignores EMA copies, schedule buffers and position_ids; reports other strangers unused", () => {
    const extra = new Map(shapes);
    const someKey = [...shapes.keys()][0]!;
    extra.set(`model_ema.${someKey.replaceAll(".", "")}`, [4]);
    extra.set("betas", [1000]);
    extra.set("alphas_cumprod", [1000]);
    extra.set(
      `${Object.keys(map.prefixes).find((p) => p.includes("transformer"))}text_model.embeddings.position_ids`,
      [1, 77],
    );
    extra.set("model.diffusion_model.not_a_module.weight", [3]);
    const converted = convertSingleFile(extra, maps);
    expect(converted.ignored).toBe(4);
    expect(converted.unused).toEqual(["model.diffusion_model.not_a_module.weight"]);
  });
});

describe("single-file model types", () => {
  const shapes = (entries: [string, number[]][]) => new Map(entries);
  const unet = (inChannels: number, cross: number): [string, number[]][] => [
    ["model.diffusion_model.input_blocks.0.0.weight", [320, inChannels, 3, 3]],
    ["model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight", [320, cross]],
  ];
  it.each([
    [
      "SD 1.x",
      [...unet(4, 768), ["cond_stage_model.transformer.text_model.final_layer_norm.weight", [768]]],
      "v1",
    ],
    [
      "SD 2.x (OpenCLIP-H width)",
      [...unet(4, 1024), ["cond_stage_model.model.ln_final.weight", [1024]]],
      "v2",
    ],
    ["SD 1.x inpainting", [...unet(9, 768)], "inpainting"],
    ["SD 2.x inpainting", [...unet(9, 1024)], "inpainting_v2"],
    [
      "SDXL base",
      [...unet(4, 2048), ["conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias", [1280]]],
      "xl_base",
    ],
    [
      "SDXL refiner",
      [...unet(4, 1280), ["conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias", [1280]]],
      "xl_refiner",
    ],
  ] as [string, [string, number[]][], string][])("%s", (_name, entries, type) => {
    expect(inferSingleFileType(shapes(entries))).toEqual({ kind: "known", type });
  });

  it("a file without a UNet is unknown, naming the keys found", () => {
    const r = inferSingleFileType(
      shapes([
        ["lora_unet_down.alpha", [1]],
        ["encoder.weight", [2]],
      ]),
    );
    expect(r.kind).toBe("unknown");
    expect(r.kind === "unknown" && r.reason).toContain("'encoder.weight.…'");
  });

  it("families diffusers knows but this server does not run are named", () => {
    const r = inferSingleFileType(shapes([["control_model.time_embed.0.weight", [1280, 320]]]));
    expect(r).toEqual({ kind: "unknown", reason: expect.stringContaining("ControlNet") });
  });
});

describe("CLIP-L names without the text_model level (some SD 1.x files)", () => {
  it("are read as transformers' names; the original name given back is the usual one", () => {
    const config = readJson(`${SAFETENSORS_FIXTURES}models/mini-sd/text_encoder/config.json`);
    const map = componentKeyMap("v1", "text_encoder", config)!;
    expect(
      map.toDiffusers("cond_stage_model.transformer.encoder.layers.1.mlp.fc1.weight", [256, 64]),
    ).toEqual([{ component: "text_encoder", key: "text_model.encoder.layers.1.mlp.fc1.weight" }]);
    expect(map.toDiffusers("cond_stage_model.transformer.final_layer_norm.bias", [64])).toEqual([
      { component: "text_encoder", key: "text_model.final_layer_norm.bias" },
    ]);
    expect(map.toOriginal("text_model.encoder.layers.1.mlp.fc1.weight")).toBe(
      "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc1.weight",
    );
  });
});

describe("SD 2.x OpenCLIP conversion (mini-sd2-v's text encoder config: 3 of 4 layers)", () => {
  const config = readJson(`${SAFETENSORS_FIXTURES}models/mini-sd2-v/text_encoder/config.json`);
  const map = componentKeyMap("v2", "text_encoder", config)!;
  it("splits in_proj into q/k/v rows and leaves the penultimate-skipped layer and text_projection unused", () => {
    const h = config.hidden_size as number;
    const n = config.num_hidden_layers as number;
    expect(
      map.toDiffusers("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", [3 * h, h]),
    ).toEqual(
      ["q", "k", "v"].map((p, i) => ({
        component: "text_encoder",
        key: `text_model.encoder.layers.0.self_attn.${p}_proj.weight`,
        transform: { kind: "rows", begin: i * h, end: (i + 1) * h },
      })),
    );
    expect(map.toDiffusers(`cond_stage_model.model.transformer.resblocks.${n}.ln_1.weight`, [h])).toBeNull();
    expect(map.toDiffusers("cond_stage_model.model.text_projection", [h, h])).toBeNull();
    expect(map.toDiffusers("cond_stage_model.model.positional_embedding", [77, h])).toEqual([
      { component: "text_encoder", key: "text_model.embeddings.position_embedding.weight" },
    ]);
  });
});
