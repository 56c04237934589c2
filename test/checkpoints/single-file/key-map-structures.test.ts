/**
 * The key tables against structures the fixtures do not have: every parameter autopipe's UNet builder reads for an
 * SDXL-structured config (three levels, the first without attention, transformer depth 1/2/10, `text_time`) must
 * have an original name that converts back to it, and the LDM numbering must land where the original layout puts
 * each block (downsamplers, the upsamplers of levels with attention, SDXL's label embedding, the deep mid block).
 * Widths are small: names do not depend on them. The parameter list comes from the builder itself (the weight
 * source's `expect` hook tells every weight and shape it asks for).
 */
import { describe, expect, it } from "vitest";
import { ldmUnetKeyMap } from "../../../server/checkpoints/single-file/key-map-ldm.ts";
import { GraphBuilder, type WeightRef } from "../../../server/graph-builder/graph-builder.ts";
import { modelModule } from "../../../server/models/registry.ts";

/** Every weight the `graph` builder reads for `config`, with its shape. */
function parameters(graph: string, config: Record<string, unknown>): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const source = {
    expect: (name: string, shape: readonly number[]) => void shapes.set(name, [...shape]),
    get: (name: string): WeightRef | undefined => {
      const shape = shapes.get(name);
      return shape && { file: "/p/w", dtype: "F32", shape, byteOffset: 0, byteLength: 0 };
    },
  };
  modelModule(graph).build(new GraphBuilder(source, { component: "unet", dataFolder: "/p" }), config);
  return shapes;
}

const SDXL_STRUCTURE = {
  _class_name: "UNet2DConditionModel",
  in_channels: 4,
  out_channels: 4,
  sample_size: 16,
  block_out_channels: [32, 64, 128],
  layers_per_block: 2,
  down_block_types: ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
  up_block_types: ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
  transformer_layers_per_block: [1, 2, 10],
  attention_head_dim: [1, 2, 4],
  cross_attention_dim: 64,
  use_linear_projection: true,
  addition_embed_type: "text_time",
  addition_time_embed_dim: 8,
  projection_class_embeddings_input_dim: 80,
  norm_num_groups: 32,
};

describe("LDM UNet names for an SDXL-structured config", () => {
  const params = parameters("unet", SDXL_STRUCTURE);
  const map = ldmUnetKeyMap(SDXL_STRUCTURE);

  it("every parameter the builder reads has an original name that converts back to it", () => {
    expect(params.size).toBeGreaterThan(500);
    for (const [name, shape] of params) {
      const original = map.toOriginal(name);
      expect({ name, original: original !== null }).toEqual({ name, original: true });
      expect(map.toDiffusers(original!, shape)).toEqual([{ component: "unet", key: name }]);
    }
  });

  it.each([
    ["down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight"],
    [
      "down_blocks.1.attentions.1.transformer_blocks.1.attn2.to_k.weight",
      "input_blocks.5.1.transformer_blocks.1.attn2.to_k.weight",
    ],
    ["down_blocks.2.resnets.0.conv_shortcut.weight", "input_blocks.7.0.skip_connection.weight"],
    [
      "mid_block.attentions.0.transformer_blocks.9.ff.net.2.weight",
      "middle_block.1.transformer_blocks.9.ff.net.2.weight",
    ],
    ["mid_block.resnets.1.time_emb_proj.weight", "middle_block.2.emb_layers.1.weight"],
    ["up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.2.conv.weight"],
    ["up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"],
    ["up_blocks.2.resnets.2.norm2.weight", "output_blocks.8.0.out_layers.0.weight"],
    ["add_embedding.linear_2.weight", "label_emb.0.2.weight"],
  ])("%s is %s", (diffusers, original) => {
    expect(params.has(diffusers)).toBe(true);
    expect(map.toOriginal(diffusers)).toBe(`model.diffusion_model.${original}`);
  });

  it("a level without attention puts its upsampler at .1 (SD 1.x's first up level)", () => {
    const sd = {
      ...SDXL_STRUCTURE,
      up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    };
    expect(ldmUnetKeyMap(sd).toOriginal("up_blocks.0.upsamplers.0.conv.bias")).toBe(
      "model.diffusion_model.output_blocks.2.1.conv.bias",
    );
  });
});
