/**
 * model_index.json reading: the bundled tiny-sd parsed into class, version and components (config and metadata
 * keys left out), and each way the file can be unusable turned into an `InvalidModelIndexError` saying which —
 * including a 5 MB file refused from its size, without reading it.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CheckpointLocator } from "../../server/checkpoints/locate.ts";
import {
  MODEL_INDEX_MAX_BYTES,
  parseModelIndex,
  readModelIndex,
} from "../../server/checkpoints/model-index.ts";
import { InvalidModelIndexError } from "../../server/errors.ts";
import { type Layout, makeLayout, writeFiles } from "./layout.ts";

const bundledModels = fileURLToPath(new URL("../../models/", import.meta.url));

let layout: Layout;
beforeEach(async () => {
  layout = await makeLayout();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await layout.cleanup();
});

describe("readModelIndex", () => {
  it("parses the bundled tiny-sd", async () => {
    const checkpoint = await new CheckpointLocator(layout.config({ modelsDir: bundledModels })).locate(
      "tiny-sd",
    );
    const index = await readModelIndex(checkpoint);
    expect(index.className).toBe("OnnxStableDiffusionPipeline");
    expect(index.diffusersVersion).toBe("0.27.2");
    expect(index.components).toEqual([
      { name: "feature_extractor", library: null, className: null },
      { name: "safety_checker", library: null, className: null },
      { name: "scheduler", library: "diffusers", className: "PNDMScheduler" },
      { name: "text_encoder", library: "diffusers", className: "OnnxRuntimeModel" },
      { name: "tokenizer", library: "transformers", className: "CLIPTokenizer" },
      { name: "unet", library: "diffusers", className: "OnnxRuntimeModel" },
      { name: "vae_decoder", library: "diffusers", className: "OnnxRuntimeModel" },
      { name: "vae_encoder", library: "diffusers", className: "OnnxRuntimeModel" },
    ]);
    expect(index.raw["requires_safety_checker"]).toBe(false);
    expect(Object.isFrozen(index.raw)).toBe(true);
    expect(Object.isFrozen(index.raw["unet"])).toBe(true);
  });

  /** The error of reading a checkpoint whose model_index.json holds `content` (or is written by it). */
  async function failure(
    content: string | Buffer | ((file: string) => Promise<void>),
  ): Promise<InvalidModelIndexError> {
    const file = path.join(layout.modelsDir, "bad", "model_index.json");
    await fs.mkdir(path.dirname(file));
    await (typeof content === "function" ? content(file) : fs.writeFile(file, content));
    const checkpoint = await new CheckpointLocator(layout.config()).locate("bad");
    try {
      await readModelIndex(checkpoint);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidModelIndexError);
      const invalid = error as InvalidModelIndexError;
      expect(invalid.model).toBe("bad");
      expect(invalid.message).not.toContain(layout.base);
      return invalid;
    }
    throw new Error("expected readModelIndex to fail");
  }

  it("refuses text that is not JSON", async () => {
    expect((await failure("{ _class_name: nope")).reason).toMatch(/^not valid JSON/);
  });

  it("refuses bytes that are not UTF-8", async () => {
    expect((await failure(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).reason).toMatch(/not valid UTF-8/);
  });

  it.each([
    ["[]", "an array"],
    ["null", "null"],
    ['"StableDiffusionPipeline"', "a string"],
    ["42", "a number"],
  ])("refuses a top level of %s", async (content, kind) => {
    expect((await failure(content)).reason).toBe(`expected a JSON object, got ${kind}`);
  });

  it.each([
    ["{}", "missing"],
    ['{"_class_name": 3}', "a number"],
    ['{"_class_name": ""}', "an empty string"],
    ['{"_class_name": ["StableDiffusionPipeline"]}', "an array"],
  ])("refuses %s for lacking a string _class_name", async (content, got) => {
    expect((await failure(content)).reason).toBe(`lacks a string _class_name (got ${got})`);
  });

  it("refuses a 5 MB file from its size, without reading it", async () => {
    const makeBig = async (file: string) => {
      const handle = await fs.open(file, "w");
      await handle.truncate(5 * 1024 * 1024);
      await handle.close();
    };
    // Watch every file handle readModelIndex opens: none may be read from.
    const open = fs.open;
    const reads: number[] = [];
    vi.spyOn(fs, "open").mockImplementation(async (...args: Parameters<typeof fs.open>) => {
      const handle = await open(...args);
      const read = handle.read.bind(handle) as (...a: unknown[]) => Promise<unknown>;
      const counted = (...a: unknown[]) => {
        reads.push(1);
        return read(...a);
      };
      Object.assign(handle, { read: counted });
      return handle;
    });
    const error = await failure(makeBig);
    expect(error.reason).toBe(`model_index.json is larger than ${MODEL_INDEX_MAX_BYTES} bytes`);
    expect(fs.open).toHaveBeenCalled();
    expect(reads).toEqual([]);
  });

  it("refuses a model_index.json replaced by a folder after locating", async () => {
    await writeFiles(layout.modelsDir, { "swapped/model_index.json": '{"_class_name": "X"}' });
    const checkpoint = await new CheckpointLocator(layout.config()).locate("swapped");
    await fs.rm(path.join(checkpoint.dir, "model_index.json"));
    await fs.mkdir(path.join(checkpoint.dir, "model_index.json"));
    await expect(readModelIndex(checkpoint)).rejects.toThrow(/model_index.json is not a regular file/);
  });

  it("accepts a file right at the cap", async () => {
    const padded = JSON.stringify({ _class_name: "Padded" }).padEnd(MODEL_INDEX_MAX_BYTES, " ");
    await writeFiles(layout.modelsDir, { "big/model_index.json": padded });
    const checkpoint = await new CheckpointLocator(layout.config()).locate("big");
    expect((await readModelIndex(checkpoint)).className).toBe("Padded");
  });

  it("says when model_index.json disappeared after locating", async () => {
    await writeFiles(layout.modelsDir, { "gone/model_index.json": '{"_class_name": "X"}' });
    const checkpoint = await new CheckpointLocator(layout.config()).locate("gone");
    await fs.rm(path.join(checkpoint.dir, "model_index.json"));
    await expect(readModelIndex(checkpoint)).rejects.toThrow(/model_index.json is missing/);
  });
});

describe("parseModelIndex", () => {
  it("keeps config and metadata out of the components", () => {
    const index = parseModelIndex(
      "x",
      JSON.stringify({
        _class_name: "StableDiffusionPipeline",
        _name_or_path: "org/x",
        requires_safety_checker: true,
        image_encoder: [null, null],
        unet: ["diffusers", "UNet2DConditionModel"],
        force_zeros_for_empty_prompt: [true, false],
        scheduler: ["diffusers", "EulerDiscreteScheduler", "extra"],
      }),
    );
    expect(index.diffusersVersion).toBeNull();
    expect(index.components.map((c) => c.name)).toEqual(["image_encoder", "unet"]);
  });

  it("refuses a component name that could not be a folder name", () => {
    expect(() =>
      parseModelIndex("x", JSON.stringify({ _class_name: "P", "../unet": ["diffusers", "M"] })),
    ).toThrow(/component name "..\/unet" is not an identifier/);
  });
});
