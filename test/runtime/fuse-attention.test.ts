/**
 * The attention rewriter on real exports: every attention of the mid-sd UNet (SD 1.5's structure) and VAE is fused,
 * graphs whose softmax is not plain attention (CLIP's causal mask) are left alone, and a block that departs from
 * the pattern (a non-zero bias added to its scores) is skipped while the others are fused. Numerical agreement of
 * fused and original graphs is checked at load time (load-graph.test.ts) and by the mid-sd parity tests.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fuseAttention } from "../../server/runtime/graph/fuse-attention.ts";
import { danglingInputs, decodeModel, onnx } from "../../server/runtime/graph/onnx-model.ts";
import { MID_SD_MODELS } from "../helpers/mid-sd.ts";

const graphOf = (component: string) =>
  decodeModel(readFileSync(`${MID_SD_MODELS}mid-sd/${component}/model.onnx`)).graph!;

describe("fuseAttention", () => {
  it("fuses all 32 attention blocks of the mid-sd UNet into MultiHeadAttention with 8 heads", () => {
    const graph = graphOf("unet");
    const before = graph.node!.length;
    const report = fuseAttention(graph);
    expect(report).toMatchObject({ fused: 32, skipped: 0 });
    const fused = graph.node!.filter((n) => n.opType === "MultiHeadAttention");
    expect(fused).toHaveLength(32);
    for (const node of fused) {
      expect(node.domain).toBe("com.microsoft");
      expect(Number(node.attribute!.find((a) => a.name === "num_heads")!.i)).toBe(8);
      // The export's own scale, 1/√(head size): channels 32, 64 and 128 over 8 heads.
      const scale = node.attribute!.find((a) => a.name === "scale")!.f!;
      expect([0.5, 8 ** -0.5, 0.25].some((s) => Math.abs(s - scale) < 1e-6)).toBe(true);
    }
    expect(graph.node!.some((n) => n.opType === "Softmax")).toBe(false);
    expect(graph.node!.length).toBe(before - report.prunedNodes);
    expect(danglingInputs(graph)).toEqual([]);
  });

  it("fuses the VAE's mid-block attention (one head, scores upcast to float before the softmax)", () => {
    for (const component of ["vae_decoder", "vae_encoder"]) {
      const graph = graphOf(component);
      expect(fuseAttention(graph)).toMatchObject({ fused: 1, skipped: 0 });
      const [node] = graph.node!.filter((n) => n.opType === "MultiHeadAttention");
      expect(Number(node!.attribute!.find((a) => a.name === "num_heads")!.i)).toBe(1);
      expect(danglingInputs(graph)).toEqual([]);
    }
  });

  it("leaves the text encoder's masked attention alone", () => {
    const graph = graphOf("text_encoder");
    const nodes = graph.node!.length;
    expect(fuseAttention(graph)).toEqual({ fused: 0, skipped: 4, prunedNodes: 0 });
    expect(graph.node!.length).toBe(nodes);
  });

  it("skips a block whose scores get a non-zero bias and fuses the rest", () => {
    const graph = graphOf("unet");
    // Turn the first block's zero bias (baddbmm's beta = 0) into a real one.
    const softmax = graph.node!.find((n) => n.opType === "Softmax")!;
    const add = graph.node!.find((n) => n.output![0] === softmax.input![0])!;
    const beta = graph.node!.find((n) => n.output!.includes(add.input![1]!))!;
    const constant = graph.node!.find((n) => n.output![0] === beta.input![1])!;
    constant.attribute![0]!.t = onnx.TensorProto.create({
      dataType: 1,
      rawData: new Uint8Array([0, 0, 128, 63]),
    });
    expect(fuseAttention(graph)).toMatchObject({ fused: 31, skipped: 1 });
    expect(graph.node!.filter((n) => n.opType === "Softmax")).toHaveLength(1);
    expect(danglingInputs(graph)).toEqual([]);
  });
});
