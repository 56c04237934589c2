/**
 * Checks the AutoPipeline class resolution against diffusers' `auto_pipeline.py` (0.40.0.dev0). Every expected class,
 * family key and error message below was worked out by hand from that source (the tables, `_get_model`,
 * `_get_task_class`, `_get_connected_pipeline` and the three `from_pretrained` rewrites), not by running this
 * code, so a mismatch points at the port.
 */
import { describe, expect, it } from "vitest";
import {
  connectedPipelineOf,
  familyOf,
  type ResolveOptions,
  resolvePipelineClass,
  type Task,
} from "../../server/auto-pipeline/resolve.ts";
import {
  AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
  AUTO_INPAINT_PIPELINES_MAPPING,
  AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING,
  AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
  ONNX_EXTENSION_MAPPINGS,
  SUPPORTED_TASKS_MAPPINGS,
} from "../../server/auto-pipeline/tables.ts";
import { UnsupportedPipelineError } from "../../server/errors.ts";

const T2I: Task = "TEXT_TO_IMAGE";
const I2I: Task = "IMAGE_TO_IMAGE";
const INP: Task = "INPAINTING";
const CN: ResolveOptions = { controlnet: true };
const PAG: ResolveOptions = { enablePag: true };
const CN_PAG: ResolveOptions = { controlnet: true, enablePag: true };
const NONE: ResolveOptions = {};

/** [source `_class_name`, task, options, expected class, expected family key]. */
type Case = [string, Task, ResolveOptions, string, string];

const resolved: Case[] = [
  // Stable Diffusion 1.x / 2.x
  ["StableDiffusionPipeline", T2I, NONE, "StableDiffusionPipeline", "stable-diffusion"],
  ["StableDiffusionPipeline", I2I, NONE, "StableDiffusionImg2ImgPipeline", "stable-diffusion"],
  ["StableDiffusionPipeline", INP, NONE, "StableDiffusionInpaintPipeline", "stable-diffusion"],
  [
    "StableDiffusionPipeline",
    T2I,
    { controlnet: false, enablePag: false },
    "StableDiffusionPipeline",
    "stable-diffusion",
  ],
  ["StableDiffusionPipeline", T2I, CN, "StableDiffusionControlNetPipeline", "stable-diffusion-controlnet"],
  ["StableDiffusionPipeline", T2I, PAG, "StableDiffusionPAGPipeline", "stable-diffusion-pag"],
  ["StableDiffusionPipeline", INP, PAG, "StableDiffusionPAGInpaintPipeline", "stable-diffusion-pag"],
  // An inpaint checkpoint: its family comes from the inpaint table; ControlNet / PAG go before "InpaintPipeline".
  ["StableDiffusionInpaintPipeline", T2I, NONE, "StableDiffusionPipeline", "stable-diffusion"],
  [
    "StableDiffusionInpaintPipeline",
    INP,
    CN,
    "StableDiffusionControlNetInpaintPipeline",
    "stable-diffusion-controlnet",
  ],
  [
    "StableDiffusionInpaintPipeline",
    INP,
    CN_PAG,
    "StableDiffusionControlNetPAGInpaintPipeline",
    "stable-diffusion-controlnet-pag",
  ],
  // Stable Diffusion XL, refiner (Img2Img) checkpoints included
  [
    "StableDiffusionXLPipeline",
    T2I,
    CN_PAG,
    "StableDiffusionXLControlNetPAGPipeline",
    "stable-diffusion-xl-controlnet-pag",
  ],
  ["StableDiffusionXLPipeline", I2I, NONE, "StableDiffusionXLImg2ImgPipeline", "stable-diffusion-xl"],
  ["StableDiffusionXLPipeline", INP, PAG, "StableDiffusionXLPAGInpaintPipeline", "stable-diffusion-xl-pag"],
  [
    "StableDiffusionXLPipeline",
    INP,
    CN,
    "StableDiffusionXLControlNetInpaintPipeline",
    "stable-diffusion-xl-controlnet",
  ],
  ["StableDiffusionXLImg2ImgPipeline", T2I, NONE, "StableDiffusionXLPipeline", "stable-diffusion-xl"],
  [
    "StableDiffusionXLImg2ImgPipeline",
    I2I,
    CN,
    "StableDiffusionXLControlNetImg2ImgPipeline",
    "stable-diffusion-xl-controlnet",
  ],
  [
    "StableDiffusionXLImg2ImgPipeline",
    I2I,
    CN_PAG,
    "StableDiffusionXLControlNetPAGImg2ImgPipeline",
    "stable-diffusion-xl-controlnet-pag",
  ],
  [
    "StableDiffusionXLImg2ImgPipeline",
    I2I,
    PAG,
    "StableDiffusionXLPAGImg2ImgPipeline",
    "stable-diffusion-xl-pag",
  ],
  [
    "StableDiffusionXLInpaintPipeline",
    INP,
    CN,
    "StableDiffusionXLControlNetInpaintPipeline",
    "stable-diffusion-xl-controlnet",
  ],
  [
    "StableDiffusionXLControlNetPipeline",
    I2I,
    NONE,
    "StableDiffusionXLControlNetImg2ImgPipeline",
    "stable-diffusion-xl-controlnet",
  ],
  [
    "StableDiffusionXLControlNetUnionPipeline",
    I2I,
    NONE,
    "StableDiffusionXLControlNetUnionImg2ImgPipeline",
    "stable-diffusion-xl-controlnet-union",
  ],
  // Stable Diffusion 3
  ["StableDiffusion3Pipeline", INP, NONE, "StableDiffusion3InpaintPipeline", "stable-diffusion-3"],
  ["StableDiffusion3Pipeline", I2I, PAG, "StableDiffusion3PAGImg2ImgPipeline", "stable-diffusion-3-pag"],
  [
    "StableDiffusion3Pipeline",
    INP,
    CN,
    "StableDiffusion3ControlNetInpaintingPipeline",
    "stable-diffusion-3-controlnet",
  ],
  // Flux, and Flux-tools `*ControlPipeline` checkpoints
  ["FluxPipeline", INP, NONE, "FluxInpaintPipeline", "flux"],
  ["FluxPipeline", I2I, CN, "FluxControlNetImg2ImgPipeline", "flux-controlnet"],
  ["FluxControlPipeline", T2I, NONE, "FluxControlPipeline", "flux-control"],
  ["FluxControlPipeline", T2I, CN, "FluxControlNetPipeline", "flux-controlnet"],
  ["FluxControlPipeline", I2I, NONE, "FluxControlImg2ImgPipeline", "flux-control"],
  ["FluxControlPipeline", INP, NONE, "FluxControlInpaintPipeline", "flux-control"],
  ["FluxKontextPipeline", I2I, NONE, "FluxKontextPipeline", "flux-kontext"],
  ["Flux2KleinPipeline", T2I, NONE, "Flux2KleinPipeline", "flux2-klein"],
  // Kandinsky: decoder checkpoints find their family in the decoder tables and get the combined pipeline
  ["KandinskyV22Pipeline", T2I, NONE, "KandinskyV22CombinedPipeline", "kandinsky22"],
  ["KandinskyV22Pipeline", INP, NONE, "KandinskyV22InpaintCombinedPipeline", "kandinsky22"],
  ["KandinskyV22Img2ImgPipeline", I2I, NONE, "KandinskyV22Img2ImgCombinedPipeline", "kandinsky22"],
  ["KandinskyPipeline", I2I, NONE, "KandinskyImg2ImgCombinedPipeline", "kandinsky"],
  ["KandinskyCombinedPipeline", INP, NONE, "KandinskyInpaintCombinedPipeline", "kandinsky"],
  ["Kandinsky3Pipeline", I2I, NONE, "Kandinsky3Img2ImgPipeline", "kandinsky3"],
  // Kolors (diffusers appends these rows when sentencepiece is installed)
  ["KolorsPipeline", I2I, NONE, "KolorsImg2ImgPipeline", "kolors"],
  ["KolorsPipeline", T2I, PAG, "KolorsPAGPipeline", "kolors-pag"],
  // DiT families
  ["PixArtAlphaPipeline", T2I, NONE, "PixArtAlphaPipeline", "pixart-alpha"],
  ["PixArtSigmaPipeline", T2I, PAG, "PixArtSigmaPAGPipeline", "pixart-sigma-pag"],
  ["HunyuanDiTPipeline", T2I, PAG, "HunyuanDiTPAGPipeline", "hunyuan-pag"],
  ["SanaPipeline", T2I, PAG, "SanaPAGPipeline", "sana-pag"],
  ["LuminaPipeline", T2I, NONE, "LuminaPipeline", "lumina"],
  ["Lumina2Pipeline", T2I, NONE, "Lumina2Pipeline", "lumina2"],
  ["AuraFlowPipeline", T2I, NONE, "AuraFlowPipeline", "auraflow"],
  ["CogView4ControlPipeline", T2I, NONE, "CogView4ControlPipeline", "cogview4-control"],
  ["QwenImagePipeline", INP, NONE, "QwenImageInpaintPipeline", "qwenimage"],
  ["QwenImagePipeline", T2I, CN, "QwenImageControlNetPipeline", "qwenimage-controlnet"],
  ["QwenImageEditPipeline", INP, NONE, "QwenImageEditInpaintPipeline", "qwenimage-edit"],
  ["ZImagePipeline", I2I, NONE, "ZImageImg2ImgPipeline", "z-image"],
  // Stable Cascade and Würstchen decoders
  ["StableCascadeDecoderPipeline", T2I, NONE, "StableCascadeCombinedPipeline", "cascade"],
  ["WuerstchenDecoderPipeline", T2I, NONE, "WuerstchenCombinedPipeline", "wuerstchen"],
  // DeepFloyd IF: "IFInpaintingPipeline" contains "Inpaint" but not "InpaintPipeline", so ControlNet is a no-op
  ["IFPipeline", I2I, NONE, "IFImg2ImgPipeline", "if"],
  ["IFPipeline", INP, NONE, "IFInpaintingPipeline", "if"],
  ["IFInpaintingPipeline", INP, CN, "IFInpaintingPipeline", "if"],
  // Latent Consistency
  ["LatentConsistencyModelPipeline", I2I, NONE, "LatentConsistencyModelImg2ImgPipeline", "lcm"],
  // ONNX extension rows
  ["OnnxStableDiffusionPipeline", T2I, NONE, "OnnxStableDiffusionPipeline", "stable-diffusion"],
  ["OnnxStableDiffusionPipeline", I2I, NONE, "OnnxStableDiffusionImg2ImgPipeline", "stable-diffusion"],
  ["OnnxStableDiffusionPipeline", INP, NONE, "OnnxStableDiffusionInpaintPipeline", "stable-diffusion"],
  ["OnnxStableDiffusionImg2ImgPipeline", I2I, NONE, "OnnxStableDiffusionImg2ImgPipeline", "stable-diffusion"],
  ["OnnxStableDiffusionInpaintPipeline", T2I, NONE, "OnnxStableDiffusionPipeline", "stable-diffusion"],
  ["OnnxStableDiffusionInpaintPipeline", INP, NONE, "OnnxStableDiffusionInpaintPipeline", "stable-diffusion"],
];

/** [source `_class_name`, task, options, diffusers' error message, family key in the error or null]. */
type ErrorCase = [string, Task, ResolveOptions, string, string | null];

const rejected: ErrorCase[] = [
  // diffusers has no StableDiffusionControlNetPAGImg2ImgPipeline: its image-to-image table lacks the family
  [
    "StableDiffusionPipeline",
    I2I,
    CN_PAG,
    "StableDiffusionControlNetPAGPipeline for stable-diffusion-controlnet-pag",
    "stable-diffusion-controlnet-pag",
  ],
  ["ShapEImg2ImgPipeline", I2I, NONE, "ShapEImg2ImgPipeline for None", null],
  ["PixArtAlphaPipeline", I2I, NONE, "PixArtAlphaPipeline for pixart-alpha", "pixart-alpha"],
  ["PixArtAlphaPipeline", T2I, PAG, "PixArtAlphaPAGPipeline for None", null],
  [
    "StableDiffusionXLPipeline",
    INP,
    CN_PAG,
    "StableDiffusionXLControlNetPAGPipeline for stable-diffusion-xl-controlnet-pag",
    "stable-diffusion-xl-controlnet-pag",
  ],
  [
    "StableDiffusion3Pipeline",
    INP,
    PAG,
    "StableDiffusion3PAGPipeline for stable-diffusion-3-pag",
    "stable-diffusion-3-pag",
  ],
  ["KolorsPipeline", INP, NONE, "KolorsPipeline for kolors", "kolors"],
  ["KolorsPipeline", I2I, PAG, "KolorsPAGPipeline for kolors-pag", "kolors-pag"],
  // The message names the rewritten class, not the checkpoint's own
  ["FluxControlPipeline", I2I, CN, "FluxControlNetControlImg2ImgPipeline for None", null],
  ["FluxControlPipeline", T2I, PAG, "FluxPAGPipeline for None", null],
  ["CogView4ControlPipeline", I2I, NONE, "CogView4ControlImg2ImgPipeline for None", null],
  ["StableDiffusionXLImg2ImgPipeline", T2I, CN, "StableDiffusionXLImg2ImgControlNetPipeline for None", null],
  ["StableDiffusionInpaintPipeline", T2I, CN, "StableDiffusionInpaintControlNetPipeline for None", null],
  [
    "StableDiffusionXLControlNetPipeline",
    T2I,
    CN,
    "StableDiffusionXLControlNetControlNetPipeline for None",
    null,
  ],
  ["ZImagePipeline", INP, CN, "ZImageControlNetPipeline for z-image-controlnet", "z-image-controlnet"],
  ["KandinskyV22PriorPipeline", T2I, NONE, "KandinskyV22PriorPipeline for None", null],
  ["StableCascadeCombinedPipeline", I2I, NONE, "StableCascadeCombinedPipeline for cascade", "cascade"],
  ["LatentConsistencyModelPipeline", INP, NONE, "LatentConsistencyModelPipeline for lcm", "lcm"],
  ["AuraFlowPipeline", I2I, NONE, "AuraFlowPipeline for auraflow", "auraflow"],
  ["LuminaPipeline", INP, NONE, "LuminaPipeline for lumina", "lumina"],
  ["Kandinsky3Pipeline", INP, NONE, "Kandinsky3Pipeline for kandinsky3", "kandinsky3"],
  ["QwenImageEditPipeline", T2I, NONE, "QwenImageEditPipeline for qwenimage-edit", "qwenimage-edit"],
  ["IFSuperResolutionPipeline", T2I, NONE, "IFSuperResolutionPipeline for None", null],
  // Video and audio families are known (so the family shows) but serve none of the image tasks
  ["WanPipeline", T2I, NONE, "WanPipeline for wan", "wan"],
  ["StableAudioPipeline", T2I, NONE, "StableAudioPipeline for stable-audio", "stable-audio"],
  // Unknown to every table
  ["MyCustomPipeline", T2I, NONE, "MyCustomPipeline for None", null],
  // ONNX classes take the same rewrites, and no ONNX ControlNet / PAG / upscale class exists
  ["OnnxStableDiffusionPipeline", T2I, CN, "OnnxStableDiffusionControlNetPipeline for None", null],
  ["OnnxStableDiffusionPipeline", I2I, PAG, "OnnxStableDiffusionPAGPipeline for None", null],
  ["OnnxStableDiffusionUpscalePipeline", T2I, NONE, "OnnxStableDiffusionUpscalePipeline for None", null],
];

describe("resolvePipelineClass", () => {
  it.each(resolved)("%s for %s %o → %s (%s)", (sourceClass, task, options, pipelineClass, family) => {
    expect(resolvePipelineClass(sourceClass, task, options)).toEqual({ sourceClass, family, pipelineClass });
  });

  it.each(rejected)("%s for %s %o fails: %s", (sourceClass, task, options, tail, family) => {
    let caught: unknown;
    try {
      resolvePipelineClass(sourceClass, task, options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedPipelineError);
    const error = caught as UnsupportedPipelineError;
    expect(error.message).toBe(`AutoPipeline can't find a pipeline linked to ${tail}`);
    expect(error.sourceClass).toBe(sourceClass);
    expect(error.family).toBe(family);
    expect(error.code).toBe("UNSUPPORTED_PIPELINE");
  });

  it("treats options as absent when not given", () => {
    expect(resolvePipelineClass("StableDiffusionXLPipeline", T2I).pipelineClass).toBe(
      "StableDiffusionXLPipeline",
    );
  });
});

describe("familyOf", () => {
  it.each([
    ["StableDiffusionXLPipeline", "stable-diffusion-xl"],
    ["StableDiffusionXLInpaintPipeline", "stable-diffusion-xl"],
    ["KandinskyV22Pipeline", "kandinsky22"],
    ["KolorsPAGPipeline", "kolors-pag"],
    ["WanVideoToVideoPipeline", "wan"],
    ["AnyFlowFARPipeline", "anyflow-far"],
    ["OnnxStableDiffusionInpaintPipeline", "stable-diffusion"],
    ["MyCustomPipeline", null],
  ])("%s → %s", (sourceClass, family) => {
    expect(familyOf(sourceClass)).toBe(family);
  });
});

describe("connectedPipelineOf", () => {
  it.each([
    ["KandinskyV22Pipeline", "KandinskyV22CombinedPipeline"],
    ["KandinskyImg2ImgPipeline", "KandinskyImg2ImgCombinedPipeline"],
    ["KandinskyV22InpaintPipeline", "KandinskyV22InpaintCombinedPipeline"],
    ["StableCascadeDecoderPipeline", "StableCascadeCombinedPipeline"],
    ["StableDiffusionPipeline", null],
  ])("%s → %s", (pipelineClass, connected) => {
    expect(connectedPipelineOf(pipelineClass)).toBe(connected);
  });
});

describe("tables", () => {
  it("hold diffusers' rows in diffusers' order", () => {
    expect(AUTO_TEXT2IMAGE_PIPELINES_MAPPING.size).toBe(55);
    expect(AUTO_IMAGE2IMAGE_PIPELINES_MAPPING.size).toBe(27);
    expect(AUTO_INPAINT_PIPELINES_MAPPING.size).toBe(19);
    expect(SUPPORTED_TASKS_MAPPINGS).toHaveLength(11);
    expect([...AUTO_TEXT2IMAGE_PIPELINES_MAPPING.keys()].slice(0, 3)).toEqual([
      "stable-diffusion",
      "stable-diffusion-xl",
      "stable-diffusion-3",
    ]);
    expect([...AUTO_TEXT2IMAGE_PIPELINES_MAPPING.keys()].slice(-3)).toEqual(["prx", "kolors", "kolors-pag"]);
    expect([...AUTO_IMAGE2IMAGE_PIPELINES_MAPPING.keys()].slice(-2)).toEqual(["z-image", "kolors"]);
    expect(SUPPORTED_TASKS_MAPPINGS.at(-3)).toBe(AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING);
  });

  it("are read-only", () => {
    expect("set" in AUTO_TEXT2IMAGE_PIPELINES_MAPPING).toBe(false);
    expect(Object.isFrozen(AUTO_TEXT2IMAGE_PIPELINES_MAPPING)).toBe(true);
    expect(Object.isFrozen(SUPPORTED_TASKS_MAPPINGS)).toBe(true);
  });

  it("keep the ONNX extension apart from every class diffusers lists", () => {
    const diffusersClasses = new Set(SUPPORTED_TASKS_MAPPINGS.flatMap((table) => [...table.values()]));
    for (const table of ONNX_EXTENSION_MAPPINGS) {
      for (const onnxClass of table.values()) expect(diffusersClasses.has(onnxClass)).toBe(false);
    }
  });
});
