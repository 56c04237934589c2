/**
 * The onnxruntime door: graph metadata read from the session, and an execution provider that cannot load is
 * logged once and replaced by CPU (no CUDA libraries are installed where the tests run).
 */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OnnxModel, RunTimer } from "../../server/runtime/onnx.ts";

const TEXT_ENCODER = fileURLToPath(new URL("../../models/tiny-sd/text_encoder/model.onnx", import.meta.url));

afterEach(() => vi.restoreAllMocks());

describe("OnnxModel", () => {
  it("reads input and output names, dtypes and ranks from the session", async () => {
    const model = await OnnxModel.load(TEXT_ENCODER, { provider: "cpu", threads: 1 });
    expect(model.inputs).toEqual([{ name: "input_ids", type: "int32", shape: ["batch", "sequence"] }]);
    expect(model.outputs.map((o) => o.name)).toEqual(["last_hidden_state", "pooler_output"]);
    const timer = new RunTimer();
    const ids = new Int32Array(77).fill(999);
    const out = await model.run({ input_ids: { type: "int32", data: ids, dims: [1, 77] } }, timer);
    expect(out.last_hidden_state?.dims).toEqual([1, 77, 32]);
    expect(timer.runs).toBe(1);
    expect(timer.runMs).toBeGreaterThan(0);
    await model.release();
  });

  it("falls back to CPU when a provider cannot load, warning once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const a = await OnnxModel.load(TEXT_ENCODER, { provider: "cuda", threads: 1 });
    const b = await OnnxModel.load(TEXT_ENCODER, { provider: "cuda", threads: 1 });
    expect([a.provider, b.provider]).toEqual(["cpu", "cpu"]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/'cuda' could not load.*using CPU/);
    await Promise.all([a.release(), b.release()]);
  });
});
