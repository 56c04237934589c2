/**
 * A request's `loras` checked up front (server/loras/lora-request.ts, lora-registry.ts, lora-match.ts): where ids
 * resolve (AUTOPIPE_LORAS_DIR with subfolders, the Hugging Face cache as `org/repo` or `org/repo/file.safetensors`),
 * what is refused by name (non-finite scales, pickle files, malformed ids, too many adapters, checkpoints whose
 * graphs are exported ONNX), what is reported in notes (layers matching no layer, keys that are not LoRA factors)
 * and what the admission cost model counts for them.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../server/context.ts";
import { InvalidInputError } from "../../server/errors.ts";
import { loraRegistry } from "../../server/loras/lora-registry.ts";
import { planLoras } from "../../server/loras/lora-request.ts";
import type { SdComponents } from "../../server/pipelines/components.ts";
import { SafetensorsFile } from "../../server/safetensors/safetensors-file.ts";
import { planGeneration } from "../../server/service/generation-plan.ts";
import { fromPipe } from "../../server/service/pipeline-variants.ts";
import { payloadOf, requestOf } from "../../server/service/redis/codec.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { LORA_FIXTURES, safetensorsBytes } from "../helpers/lora.ts";
import { REPO_MODELS, testConfig } from "../helpers/services.ts";

const ADAPTERS = `${LORA_FIXTURES}adapters/`;
let work: string;
let services: Services;
let onnx: Services;

async function components(s: Services, model: string): Promise<SdComponents> {
  const r = await resolveCheckpoint(s, model, "TEXT_TO_IMAGE", {}, null);
  return (await s.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "autopipe-loras-"));
  const loras = path.join(work, "loras");
  mkdirSync(path.join(loras, "styles"), { recursive: true });
  copyFileSync(`${ADAPTERS}mini-sd-lora-b.kohya.safetensors`, path.join(loras, "styles", "b.safetensors"));
  writeFileSync(path.join(loras, "old.ckpt"), "pickle");
  // Adapter B plus one layer no mini-sd layer has and one LyCORIS key: applied, with notes.
  const b = await SafetensorsFile.open(`${ADAPTERS}mini-sd-lora-b.diffusers.safetensors`);
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const name of b.names())
    tensors.set(name, { shape: b.tensor(name)!.shape, data: await b.readFloat32(name) });
  tensors.set("unet.no_such_block.proj.lora_A.weight", { shape: [8, 32], data: new Float32Array(256) });
  tensors.set("unet.no_such_block.proj.lora_B.weight", { shape: [32, 8], data: new Float32Array(256) });
  tensors.set("unet.down_blocks.0.resnets.0.conv1.hada_w1_a", { shape: [4], data: new Float32Array(4) });
  writeFileSync(path.join(loras, "b-extra.safetensors"), safetensorsBytes(tensors, b.metadata));
  // Not an adapter: left out of the list, refused when named.
  writeFileSync(
    path.join(loras, "not-a-lora.safetensors"),
    safetensorsBytes(new Map([["weight", { shape: [2], data: new Float32Array(2) }]])),
  );
  // The Hugging Face cache: org/style with one file at the top of its refs/main snapshot.
  const repo = path.join(work, "hub", "models--org--style");
  mkdirSync(path.join(repo, "refs"), { recursive: true });
  mkdirSync(path.join(repo, "snapshots", "c0ffee"), { recursive: true });
  writeFileSync(path.join(repo, "refs", "main"), "c0ffee");
  copyFileSync(
    `${ADAPTERS}mini-sd-lora-a.diffusers.safetensors`,
    path.join(repo, "snapshots", "c0ffee", "a.safetensors"),
  );
  services = createServices(
    testConfig({
      AUTOPIPE_MODELS_DIR: `${SAFETENSORS_FIXTURES}models`,
      AUTOPIPE_LORAS_DIR: loras,
      HF_HUB_CACHE: path.join(work, "hub"),
    }),
  );
  onnx = createServices(testConfig({ AUTOPIPE_MODELS_DIR: REPO_MODELS, AUTOPIPE_LORAS_DIR: loras }));
});
afterAll(async () => {
  await services.dispose();
  await onnx.dispose();
  rmSync(work, { recursive: true, force: true });
});

/** The InvalidInputError `work` throws. */
async function refusal(work: Promise<unknown>): Promise<InvalidInputError> {
  const error = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

describe("where adapters come from", () => {
  it("lists AUTOPIPE_LORAS_DIR (subfolders included) and the cache; leaves out pickle and non-adapters", async () => {
    const ids = (await loraRegistry(services.config).list()).map((l) => l.id).sort();
    expect(ids).toEqual(["b-extra", "org/style/a.safetensors", "styles/b"]);
  });

  it("resolves a subfolder id, a cache repo and a cache file", async () => {
    const c = await components(services, "mini-sd");
    const planned = await planLoras(
      services.config,
      c,
      [{ id: "styles/b", scale: 0.5 }, { id: "org/style" }, { id: "org/style/a.safetensors", scale: 0 }],
      "textToImage",
    );
    expect(planned.adapters.map((a) => [a.id, a.scale, a.layers.length])).toEqual([
      ["styles/b", 0.5, 200],
      ["org/style", 1, 270],
      ["org/style/a.safetensors", 0, 270],
    ]);
    expect(planned.notes).toEqual([]);
  });
});

describe("the adapter cache", () => {
  it("reads a file once, and again once it changes (file identity)", async () => {
    const registry = loraRegistry(services.config);
    const first = await registry.load("styles/b", "id");
    expect(await registry.load("styles/b", "id")).toBe(first);
    const file = path.join(work, "loras", "styles", "b.safetensors");
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const again = await registry.load("styles/b", "id");
    expect(again).not.toBe(first);
    expect(again.layers).toHaveLength(first.layers.length);
  });
});

describe("what is refused, by name", () => {
  it("a scale that is not finite", async () => {
    const c = await components(services, "mini-sd");
    for (const scale of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = await refusal(
        planLoras(services.config, c, [{ id: "styles/b" }, { id: "b-extra", scale }], "textToImage"),
      );
      expect([e.field, e.value, e.allowed]).toEqual([
        "textToImage.loras[1].scale",
        String(scale),
        "a finite number",
      ]);
    }
  });

  it("pickle files, malformed ids, unknown ids and files that are not adapters", async () => {
    const c = await components(services, "mini-sd");
    const plan = (id: string) => planLoras(services.config, c, [{ id }], "imageToImage");
    expect((await refusal(plan("old.ckpt"))).allowed).toContain("pickle");
    expect((await refusal(plan("../loras/styles/b"))).field).toBe("imageToImage.loras[0].id");
    expect((await refusal(plan("/etc/passwd"))).field).toBe("imageToImage.loras[0].id");
    expect((await refusal(plan("old"))).allowed).toContain("`loras` query");
    expect((await refusal(plan("not-a-lora"))).allowed).toContain("holds no LoRA layer");
  });

  it("more adapters than a request may combine", async () => {
    const c = await components(services, "mini-sd");
    const many = Array.from({ length: 9 }, () => ({ id: "styles/b" }));
    expect((await refusal(planLoras(services.config, c, many, "inpainting"))).field).toBe("inpainting.loras");
  });

  it("nothing for a single file: its layers are its config checkpoint's, whatever the file's own key names", async () => {
    const r = await resolveCheckpoint(onnx, "mini-sd.safetensors", "TEXT_TO_IMAGE", {}, null, "mini-sd");
    const c = (await onnx.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
    const planned = await planLoras(onnx.config, c, [{ id: "styles/b", scale: 0.5 }], "textToImage");
    expect(planned.adapters[0]!.layers).toHaveLength(200);
    expect(planned.notes).toEqual([]);
  });

  it("a checkpoint whose graphs are exported ONNX", async () => {
    const c = await components(onnx, "tiny-sd");
    const e = await refusal(planLoras(onnx.config, c, [{ id: "styles/b" }], "textToImage"));
    expect(e.field).toBe("textToImage.loras[0].id");
    expect(e.allowed).toContain("exported ONNX graph");
  });
});

describe("jobs over Redis", () => {
  it("carry the adapters in the payload's input, a named pipeline's included", async () => {
    await fromPipe(services, {
      name: "mini-sd-styled",
      from: "mini-sd",
      task: "TEXT_TO_IMAGE",
      config: { loras: [{ id: "styles/b", scale: 0.25 }] },
    });
    const plan = await planGeneration(services, "TEXT_TO_IMAGE", {
      model: "mini-sd-styled",
      prompt: "a cat",
      numInferenceSteps: 2,
      width: 64,
      height: 64,
    });
    expect(plan.loras.adapters.map((a) => [a.id, a.scale])).toEqual([["styles/b", 0.25]]);
    const payload = JSON.parse(JSON.stringify(await payloadOf(plan, services.config)));
    // The request names the pipeline; `target` carries what it resolved to, the pipeline's adapters included.
    expect(payload.input.model).toBe("mini-sd-styled");
    expect(payload.target).toMatchObject({
      model: "mini-sd",
      overrides: { loras: [{ id: "styles/b", scale: 0.25 }] },
    });
    // A worker that does not know the named pipeline plans the payload to the same adapters.
    services.variants.remove("mini-sd-styled");
    const replanned = await planGeneration(
      services,
      "TEXT_TO_IMAGE",
      requestOf(payload) as Parameters<typeof planGeneration>[2],
      { target: payload.target },
    );
    expect(replanned.loras.adapters.map((a) => [a.id, a.scale])).toEqual([["styles/b", 0.25]]);
  });
});

describe("what is reported", () => {
  it("layers that match no layer, and keys that are not LoRA factors, are applied around and noted", async () => {
    const c = await components(services, "mini-sd");
    const planned = await planLoras(services.config, c, [{ id: "b-extra" }], "textToImage");
    expect(planned.adapters[0]!.layers).toHaveLength(200);
    expect(planned.notes).toEqual([
      "LoRA 'b-extra': 1 of 201 layers match no layer of 'mini-sd' and were not applied (first: 'unet.no_such_block.proj.lora_A.weight').",
      "LoRA 'b-extra': 1 keys are not LoRA factors (lora_A/lora_B, lora_down/lora_up, alpha) and were not applied (first: 'unet.down_blocks.0.resnets.0.conv1.hada_w1_a').",
    ]);
  });
});

describe("admission", () => {
  it("counts a request's factors twice (loaded and combined) in the memory it plans", async () => {
    const request = { model: "mini-sd", prompt: "a cat", numInferenceSteps: 2, width: 64, height: 64 };
    const loras = [
      { id: "styles/b", scale: 1 },
      { id: "org/style", scale: 0.5 },
    ];
    const styled = await planGeneration(services, "TEXT_TO_IMAGE", { ...request, loras });
    const base = await planGeneration(services, "TEXT_TO_IMAGE", request);
    // The factors' bytes, from the two files' headers: every factor fits a layer of mini-sd; kohya's `.alpha`
    // scalars are not factors.
    let factorBytes = 0;
    for (const file of ["mini-sd-lora-b.kohya", "mini-sd-lora-a.diffusers"]) {
      const st = await SafetensorsFile.open(`${ADAPTERS}${file}.safetensors`);
      for (const name of st.names()) {
        if (/\.(lora_down|lora_up|lora_A|lora_B)\.weight$/.test(name))
          factorBytes += st.tensor(name)!.byteLength;
      }
    }
    expect(factorBytes).toBeGreaterThan(1_500_000);
    expect(styled.loras.bytes).toBe(factorBytes);
    // Same plan (guidance batched, no tiling), the factors counted on top: what a budget is held against.
    expect(styled.memory).toMatchObject({
      splitGuidance: base.memory.splitGuidance,
      vaeTiling: base.memory.vaeTiling,
    });
    expect(styled.memory.bytes - base.memory.bytes).toBe(2 * factorBytes);
  });
});
