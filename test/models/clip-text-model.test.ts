/**
 * CLIPTextModel / CLIPTextModelWithProjection built from config.json + safetensors against transformers' own
 * outputs (test/fixtures/diffusers-safetensors/verify/<checkpoint>/text_encoder[_2]: every hidden state, the last
 * hidden state and the pooled or projected output), mini-sd's fp16 variant against its fp32 build, and refusals.
 */

import path from "node:path";
import { describe, expect, it } from "vitest";
import { UnsupportedComponentError } from "../../server/errors.ts";
import { buildComponentGraph } from "../../server/models/build-component.ts";
import { buildClipTextModel, parseClipTextConfig } from "../../server/models/clip-text-model.ts";
import {
  openBuilt,
  readArray,
  relativeDiff,
  SAFETENSORS_FIXTURES,
  verifyFolder,
} from "../helpers/component-cases.ts";

/** The fixture names hidden state i `hidden_states_i`; the graph `hidden_states.i`. */
const graphName = (fixtureName: string) => fixtureName.replace(/^hidden_states_(\d+)$/, "hidden_states.$1");

describe.each([
  ["mini-sd", "text_encoder"],
  ["mini-sd2-v", "text_encoder"],
  ["tiny-sdxl", "text_encoder"],
  ["tiny-sdxl", "text_encoder_2"],
])("%s %s", (checkpoint, component) => {
  it("every output of every case within 1e-4 of transformers'", async () => {
    const { dir, manifest } = verifyFolder(checkpoint, component);
    const model = await openBuilt(checkpoint, component, buildClipTextModel, "model.safetensors");
    try {
      for (const c of manifest.cases) {
        const out = await model.run({ input_ids: readArray(dir, c.inputs.input_ids!) });
        const names = Object.keys(c.outputs);
        expect(Object.keys(out).sort()).toEqual(names.map(graphName).sort());
        for (const name of names) {
          const expected = readArray(dir, c.outputs[name]!);
          const actual = out[graphName(name)]!;
          expect(actual.dims).toEqual(expected.dims);
          const diff = relativeDiff(actual.data as Float32Array, expected.data as Float32Array);
          console.log(`${checkpoint} ${component} ${c.name} ${name}: ${diff.toExponential(2)}`);
          expect(diff).toBeLessThanOrEqual(1e-4);
        }
      }
    } finally {
      await model.release();
    }
  });

  it("reads every weight of the file", async () => {
    const dir = path.join(SAFETENSORS_FIXTURES, "models", checkpoint, component);
    const built = await buildComponentGraph(
      {
        component,
        configFile: path.join(dir, "config.json"),
        weightFiles: [path.join(dir, "model.safetensors")],
      },
      buildClipTextModel,
    );
    expect(built.unusedWeights).toEqual([]);
  });
});

describe("CLIPTextModel from mini-sd's fp16 variant weights", () => {
  it("stays within 1e-2 of the fp32 build, and differs from it", async () => {
    const { dir, manifest } = verifyFolder("mini-sd", "text_encoder");
    const feeds = { input_ids: readArray(dir, manifest.cases[0]!.inputs.input_ids!) };
    const outputs = [];
    for (const weights of ["model.safetensors", "model.fp16.safetensors"]) {
      const model = await openBuilt("mini-sd", "text_encoder", buildClipTextModel, weights);
      outputs.push(await model.run(feeds));
      await model.release();
    }
    const [full, half] = outputs;
    for (const name of ["last_hidden_state", "pooler_output"]) {
      const diff = relativeDiff(half![name]!.data as Float32Array, full![name]!.data as Float32Array);
      console.log(`mini-sd text_encoder fp16 vs fp32 ${name}: ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-2);
      expect(diff).toBeGreaterThan(0);
    }
  });
});

describe("parseClipTextConfig", () => {
  const base = { architectures: ["CLIPTextModel"], hidden_size: 64, num_attention_heads: 4, eos_token_id: 2 };

  it("takes transformers' defaults and reads the architecture", () => {
    expect(parseClipTextConfig(base)).toMatchObject({
      hiddenSize: 64,
      intermediateSize: 2048,
      numHiddenLayers: 12,
      hiddenAct: "quick_gelu",
      layerNormEps: 1e-5,
      maxPositionEmbeddings: 77,
      eosTokenId: 2,
      withProjection: false,
    });
    expect(
      parseClipTextConfig({ ...base, architectures: ["CLIPTextModelWithProjection"] }).withProjection,
    ).toBe(true);
  });

  it.each([
    ["hidden_act", "relu"],
    ["architectures", ["CLIPModel"]],
    ["num_attention_heads", 5],
    ["model_type", "t5"],
    ["pruned_heads", { "0": [1] }],
    ["rope_theta", 10000],
  ])("refuses %s = %j, naming key and value", (key, value) => {
    const attempt = () => parseClipTextConfig({ ...base, [key]: value }, "text_encoder");
    expect(attempt).toThrow(UnsupportedComponentError);
    const shown = JSON.stringify(value).replace(/[[\]{}]/g, "\\$&");
    expect(attempt).toThrow(new RegExp(`^text_encoder: ${key} = ${shown} is `));
  });
});
