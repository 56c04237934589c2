/**
 * The SD 2.x path of single files, which the shared fixture has no file for: the test writes mini-sd2-v's weights in
 * the original layout (`model.diffusion_model.`, `first_stage_model.`, OpenCLIP under `cond_stage_model.model.` with
 * q/k/v fused into `in_proj_*` and the VAE attention as 1×1 convolutions), plus what a real SD 2.x file has beyond
 * diffusers' penultimate-layer text encoder (a last resblock, `text_projection`) and training state (EMA, schedule
 * buffers). The names come from the same tables the key-map test checks against diffusers' scripts (the OpenCLIP
 * table through tiny-sdxl's map). Loaded with the mini-sd2-v folder as configFrom, the file is inferred as SD 2.x,
 * reports the extra layer as unused, and must give the minisd2v_t2i_ddim reference image (v-prediction): final
 * latents within 1e-3 of max-abs, the PNG within one level.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { componentKeyMap } from "../../server/checkpoints/single-file/single-file-weights.ts";
import { createServices, type Services } from "../../server/context.ts";
import { textToImage } from "../../server/pipelines/text-to-image.ts";
import { SafetensorsFile } from "../../server/safetensors/safetensors-file.ts";
import { resolveCheckpoint } from "../../server/service/resolve-checkpoint.ts";
import { SAFETENSORS_FIXTURES } from "../helpers/component-cases.ts";
import { expectParity, runOf } from "../helpers/pipeline-parity.ts";
import { ReferenceCase } from "../helpers/reference.ts";
import { testConfig } from "../helpers/services.ts";

const SOURCE = `${SAFETENSORS_FIXTURES}models/mini-sd2-v`;
const COMPONENTS = [
  ["unet", "diffusion_pytorch_model.safetensors"],
  ["vae", "diffusion_pytorch_model.safetensors"],
  ["text_encoder", "model.safetensors"],
] as const;

/** mini-sd2-v as one original-layout file: name → [shape, F32 bytes]. */
async function originalLayout(): Promise<Map<string, { shape: number[]; bytes: Buffer }>> {
  const out = new Map<string, { shape: number[]; bytes: Buffer }>();
  const fused = new Map<string, Buffer[]>();
  for (const [component, weights] of COMPONENTS) {
    const config = JSON.parse(readFileSync(`${SOURCE}/${component}/config.json`, "utf8"));
    const map = componentKeyMap("v2", component, config)!;
    const file = await SafetensorsFile.open(`${SOURCE}/${component}/${weights}`);
    for (const key of file.names()) {
      const original = map.toOriginal(key);
      if (!original) throw new Error(`no original name for ${component} ${key}`);
      const { shape } = file.tensor(key)!;
      const bytes = await file.readBytes(key);
      if (original.includes(".in_proj_")) {
        // q, k, v rows stacked in that order (open_clip's fused projection).
        const slot = ["q_proj", "k_proj", "v_proj"].findIndex((p) => key.includes(`.${p}.`));
        const parts = fused.get(original) ?? [];
        parts[slot] = bytes;
        fused.set(original, parts);
        if (parts.filter(Boolean).length === 3) {
          out.set(original, { shape: [3 * shape[0]!, ...shape.slice(1)], bytes: Buffer.concat(parts) });
        }
      } else if (/\.mid\.attn_1\.(q|k|v|proj_out)\.weight$/.test(original)) {
        out.set(original, { shape: [...shape, 1, 1], bytes }); // stored as a 1×1 convolution
      } else {
        out.set(original, { shape: [...shape], bytes });
      }
    }
  }
  return out;
}

function writeSafetensors(file: string, tensors: Map<string, { shape: number[]; bytes: Buffer }>) {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, { shape, bytes }] of tensors) {
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([length, json, ...[...tensors.values()].map((t) => t.bytes)]));
}

let services: Services;
let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "autopipe-sd2-single-"));
  cpSync(SOURCE, path.join(tmp, "mini-sd2-v"), {
    recursive: true,
    filter: (src) => !src.endsWith(".safetensors"),
  });
  const tensors = await originalLayout();
  // What a real SD 2.x file holds beyond the 23-of-24-layer text encoder diffusers configures: the last resblock
  // (here a copy of layer 2) and text_projection; and training state.
  const prefix = "cond_stage_model.model.transformer.resblocks.";
  for (const [name, t] of [...tensors])
    if (name.startsWith(`${prefix}2.`)) tensors.set(name.replace(`${prefix}2.`, `${prefix}3.`), t);
  tensors.set("cond_stage_model.model.text_projection", {
    shape: [64, 64],
    bytes: Buffer.alloc(64 * 64 * 4),
  });
  tensors.set("model_ema.decay", { shape: [], bytes: Buffer.alloc(4) });
  tensors.set("alphas_cumprod", { shape: [1000], bytes: Buffer.alloc(4000) });
  writeSafetensors(path.join(tmp, "sd2-v.safetensors"), tensors);
  services = createServices(testConfig({ AUTOPIPE_MODELS_DIR: tmp }));
});
afterAll(async () => {
  await services.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe("an SD 2.x single file (OpenCLIP text encoder, v-prediction via configFrom)", () => {
  it("minisd2v_t2i_ddim from sd2-v.safetensors", async () => {
    const r = await resolveCheckpoint(services, "sd2-v.safetensors", "TEXT_TO_IMAGE", {}, null, "mini-sd2-v");
    expect(r).toMatchObject({
      sourceClass: "StableDiffusionPipeline",
      format: "SINGLE_FILE",
      runnable: true,
      reason: null,
      checkpoint: { singleFile: { type: "v2" } },
    });
    expect(r.notes).toEqual([
      expect.stringMatching(
        /^13 key\(s\) of the single file are read by no graph: 'cond_stage_model\.model\.text_projection', 'cond_stage_model\.model\.transformer\.resblocks\.3\./,
      ),
      "2 training-state key(s) ignored (EMA copies, schedule buffers, position_ids)",
    ]);
    const c = (await services.pipelines.acquire(r.checkpoint, r.modelIndex)).components;
    const ref = new ReferenceCase("minisd2v_t2i_ddim", SAFETENSORS_FIXTURES);
    await expectParity(ref, await textToImage(c, ref.params(), runOf(ref)));
  });
});
