/**
 * The start-up file of named pipelines (AUTOPIPE_PIPELINES_FILE): entries in order, chains merging their configs,
 * served like pipelines made with fromPipe; a bad file stops start-up (the real server process exits) with a
 * message naming the entry and the field.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices } from "../../server/context.ts";
import { createTestApp, testConfig } from "../helpers/services.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("AUTOPIPE_PIPELINES_FILE", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "autopipe-pipelines-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function file(name: string, content: unknown): Promise<string> {
    const target = path.join(dir, name);
    await writeFile(target, typeof content === "string" ? content : JSON.stringify(content));
    return target;
  }

  it("declares named pipelines, chains included, that requests can use", async () => {
    const pipelines = await file("good.json", {
      pipelines: [
        {
          name: "quick",
          from: "tiny-sd",
          task: "TEXT_TO_IMAGE",
          config: { numInferenceSteps: 2, guidanceScale: 3 },
        },
        { name: "quick-i2i", from: "quick", task: "IMAGE_TO_IMAGE", config: { strength: 0.5 } },
      ],
    });
    const app = createTestApp({ AUTOPIPE_PIPELINES_FILE: pipelines });
    try {
      const body = await app.gql<{ pipelineVariants: Record<string, unknown>[] }>(
        "{ pipelineVariants { name from model task pipelineClass config { numInferenceSteps guidanceScale strength } } }",
      );
      expect(body.errors).toBeUndefined();
      expect(body.data!.pipelineVariants).toEqual([
        {
          name: "quick",
          from: "tiny-sd",
          model: "tiny-sd",
          task: "TEXT_TO_IMAGE",
          pipelineClass: "OnnxStableDiffusionPipeline",
          config: { numInferenceSteps: 2, guidanceScale: 3, strength: null },
        },
        {
          name: "quick-i2i",
          from: "quick",
          model: "tiny-sd",
          task: "IMAGE_TO_IMAGE",
          pipelineClass: expect.stringContaining("Img2Img"),
          config: { numInferenceSteps: 2, guidanceScale: 3, strength: 0.5 },
        },
      ]);
      const generated = await app.gql<{ generate: Record<string, unknown> }>(
        `mutation { generate(input: { textToImage: { model: "quick", prompt: "x", width: 16, height: 16, seed: 1 } }) {
          __typename ... on Generation { model timings { sessionRuns } } } }`,
      );
      // The file's two steps, with guidance: text encoder ×2, UNet ×3 (PNDM's PLMS warm-up repeats a step),
      // decoder ×1; the default 50 steps would run the UNet 51 times.
      expect(generated.data!.generate).toEqual({
        __typename: "Generation",
        model: "quick",
        timings: { sessionRuns: 6 },
      });
    } finally {
      await app.close();
    }
  });

  it.each([
    ["not JSON", "{ pipelines: ", /cannot read it as JSON/],
    ["no list", { pipelines: {} }, /expected \{"pipelines": \[\.\.\.\]\}/],
    [
      "a bad config value",
      [
        { name: "ok", from: "tiny-sd", task: "TEXT_TO_IMAGE" },
        { name: "bad", from: "tiny-sd", task: "TEXT_TO_IMAGE", config: { numInferenceSteps: 0 } },
      ],
      /entry 1 \('bad'\), field config\.numInferenceSteps: 0 \(allowed: an integer from 1 to 150\)/,
    ],
    [
      "a shadowing name",
      [{ name: "tiny-sd", from: "tiny-sd", task: "TEXT_TO_IMAGE" }],
      /entry 0 \('tiny-sd'\), field name: .*is a checkpoint/,
    ],
    [
      "an unknown task",
      [{ name: "a", from: "tiny-sd", task: "UPSCALE" }],
      /entry 0 \('a'\), field task: "UPSCALE"/,
    ],
    [
      "an unknown field",
      [{ name: "a", from: "tiny-sd", task: "INPAINTING", steps: 3 }],
      /entry 0 \('a'\), field steps/,
    ],
    [
      "a duplicate",
      [
        { name: "a", from: "tiny-sd", task: "INPAINTING" },
        { name: "a", from: "tiny-sd", task: "INPAINTING" },
      ],
      /entry 1 \('a'\), field name/,
    ],
    [
      "an unknown scheduler",
      [{ name: "a", from: "tiny-sd", task: "TEXT_TO_IMAGE", config: { scheduler: "FAST" } }],
      /field config\.scheduler: "FAST" \(allowed: one of PNDM/,
    ],
  ])("refuses %s, naming the entry and field", async (label, content, message) => {
    const target = await file(`${label.replaceAll(" ", "-")}.json`, content);
    expect(() => createServices(testConfig({ AUTOPIPE_PIPELINES_FILE: target }))).toThrow(message);
  });

  it("a bad file stops the real server at start-up", async () => {
    const target = await file("stop.json", [
      { name: "x", from: "tiny-sd", task: "TEXT_TO_IMAGE", config: { width: -8 } },
    ]);
    const child = spawnSync(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", AUTOPIPE_PIPELINES_FILE: target },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.status).not.toBe(0);
    expect(child.stdout).not.toContain("listening");
    expect(child.stderr).toMatch(/entry 0 \('x'\), field config\.width: -8 \(allowed: a positive integer\)/);
  });

  it("a malformed file is one line on stderr naming the entry and the field, exit 1, no stack trace", async () => {
    const target = await file("one-line.json", {
      pipelines: [
        { name: "ok", from: "tiny-sd", task: "TEXT_TO_IMAGE" },
        { name: "bad", from: "tiny-sd", task: "TXT2IMG" },
      ],
    });
    const child = spawnSync(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", AUTOPIPE_PIPELINES_FILE: target },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.status).toBe(1);
    const lines = child.stderr.split("\n").filter((line) => line.trim() && !line.startsWith("npm warn"));
    expect(lines).toEqual([
      "autopipe: cannot start: AUTOPIPE_PIPELINES_FILE (one-line.json): entry 1 ('bad'), field task: " +
        '"TXT2IMG" (allowed: TEXT_TO_IMAGE, IMAGE_TO_IMAGE, INPAINTING)',
    ]);
  });

  it("a file that is not JSON is one line too", async () => {
    const target = await file("broken.json", '{ "pipelines": [\n  { "name": "x", }\n] }');
    const child = spawnSync(process.execPath, ["--import", "tsx", "server/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", AUTOPIPE_PIPELINES_FILE: target },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.status).toBe(1);
    expect(child.stderr).not.toMatch(/^\s+at /m);
    expect(child.stderr).toMatch(
      /^autopipe: cannot start: AUTOPIPE_PIPELINES_FILE \(broken\.json\): cannot read it as JSON: /m,
    );
  });
});
