/**
 * diffusers' AutoPipeline tables as plain data. Each table maps a family key (diffusers' "model_name", e.g.
 * `stable-diffusion-xl`) to the pipeline class that serves one task for that family, in diffusers' insertion
 * order, as `src/diffusers/pipelines/auto_pipeline.py` defines them at diffusers commit 58eb52c0803e (main,
 * 2026-08-23, 0.40.0.dev0), with the kolors rows that diffusers appends when sentencepiece is installed.
 * test/auto-pipeline/tables-drift.test.ts compares every table here, row by row and in order, with
 * test/fixtures/diffusers-auto-pipeline/diffusers-auto-pipeline-tables.json, the tables as read from that file.
 * Next to them sits a small extension of our own for the ONNX Stable Diffusion classes, which diffusers' tables
 * do not list; it is kept apart so that it can never change how a class that diffusers knows is resolved.
 */

/** A task table: family key → pipeline class name, iterated in diffusers' insertion order. */
export type PipelineMapping = ReadonlyMap<string, string>;

/**
 * A read-only Map. `Object.freeze` does not stop `Map#set`, so the entries live in a private Map and only the
 * reading half of the Map API is exposed.
 */
class FrozenMapping implements PipelineMapping {
  readonly #entries: Map<string, string>;

  constructor(entries: ReadonlyArray<readonly [string, string]>) {
    this.#entries = new Map(entries);
    Object.freeze(this);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): string | undefined {
    return this.#entries.get(key);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  forEach(callback: (value: string, key: string, map: PipelineMapping) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#entries) callback.call(thisArg, value, key, this);
  }

  entries(): MapIterator<[string, string]> {
    return this.#entries.entries();
  }

  keys(): MapIterator<string> {
    return this.#entries.keys();
  }

  values(): MapIterator<string> {
    return this.#entries.values();
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.#entries.entries();
  }

  get [Symbol.toStringTag](): string {
    return "PipelineMapping";
  }
}

function mapping(entries: ReadonlyArray<readonly [string, string]>): PipelineMapping {
  return new FrozenMapping(entries);
}

/** diffusers' `AUTO_TEXT2IMAGE_PIPELINES_MAPPING`, kolors rows included (diffusers appends them last). */
export const AUTO_TEXT2IMAGE_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["stable-diffusion", "StableDiffusionPipeline"],
  ["stable-diffusion-xl", "StableDiffusionXLPipeline"],
  ["stable-diffusion-3", "StableDiffusion3Pipeline"],
  ["stable-diffusion-3-pag", "StableDiffusion3PAGPipeline"],
  ["if", "IFPipeline"],
  ["hunyuan", "HunyuanDiTPipeline"],
  ["hunyuan-pag", "HunyuanDiTPAGPipeline"],
  ["kandinsky", "KandinskyCombinedPipeline"],
  ["kandinsky22", "KandinskyV22CombinedPipeline"],
  ["kandinsky3", "Kandinsky3Pipeline"],
  ["stable-diffusion-controlnet", "StableDiffusionControlNetPipeline"],
  ["stable-diffusion-xl-controlnet", "StableDiffusionXLControlNetPipeline"],
  ["stable-diffusion-xl-controlnet-union", "StableDiffusionXLControlNetUnionPipeline"],
  ["stable-diffusion-3-controlnet", "StableDiffusion3ControlNetPipeline"],
  ["wuerstchen", "WuerstchenCombinedPipeline"],
  ["cascade", "StableCascadeCombinedPipeline"],
  ["lcm", "LatentConsistencyModelPipeline"],
  ["pixart-alpha", "PixArtAlphaPipeline"],
  ["pixart-sigma", "PixArtSigmaPipeline"],
  ["sana", "SanaPipeline"],
  ["sana-pag", "SanaPAGPipeline"],
  ["stable-diffusion-pag", "StableDiffusionPAGPipeline"],
  ["stable-diffusion-controlnet-pag", "StableDiffusionControlNetPAGPipeline"],
  ["stable-diffusion-xl-pag", "StableDiffusionXLPAGPipeline"],
  ["stable-diffusion-xl-controlnet-pag", "StableDiffusionXLControlNetPAGPipeline"],
  ["pixart-sigma-pag", "PixArtSigmaPAGPipeline"],
  ["auraflow", "AuraFlowPipeline"],
  ["flux", "FluxPipeline"],
  ["flux-control", "FluxControlPipeline"],
  ["flux-controlnet", "FluxControlNetPipeline"],
  ["flux-kontext", "FluxKontextPipeline"],
  ["flux2-klein", "Flux2KleinPipeline"],
  ["flux2", "Flux2Pipeline"],
  ["ideogram4", "Ideogram4Pipeline"],
  ["krea2", "Krea2Pipeline"],
  ["lumina", "LuminaPipeline"],
  ["lumina2", "Lumina2Pipeline"],
  ["chroma", "ChromaPipeline"],
  ["cogview3", "CogView3PlusPipeline"],
  ["cogview4", "CogView4Pipeline"],
  ["glm_image", "GlmImagePipeline"],
  ["helios", "HeliosPipeline"],
  ["helios-pyramid", "HeliosPyramidPipeline"],
  ["cogview4-control", "CogView4ControlPipeline"],
  ["nucleusmoe-image", "NucleusMoEImagePipeline"],
  ["qwenimage", "QwenImagePipeline"],
  ["qwenimage-controlnet", "QwenImageControlNetPipeline"],
  ["z-image", "ZImagePipeline"],
  ["z-image-controlnet", "ZImageControlNetPipeline"],
  ["z-image-controlnet-inpaint", "ZImageControlNetInpaintPipeline"],
  ["z-image-omni", "ZImageOmniPipeline"],
  ["ovis", "OvisImagePipeline"],
  ["prx", "PRXPipeline"],
  ["kolors", "KolorsPipeline"],
  ["kolors-pag", "KolorsPAGPipeline"],
]);

/** diffusers' `AUTO_TEXT2AUDIO_PIPELINES_MAPPING`. */
export const AUTO_TEXT2AUDIO_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["audioldm2", "AudioLDM2Pipeline"],
  ["stable-audio", "StableAudioPipeline"],
  ["stable-audio-3", "StableAudio3Pipeline"],
  ["longcat-audio-dit", "LongCatAudioDiTPipeline"],
]);

/** diffusers' `AUTO_IMAGE2IMAGE_PIPELINES_MAPPING`, kolors row included (diffusers appends it last). */
export const AUTO_IMAGE2IMAGE_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["stable-diffusion", "StableDiffusionImg2ImgPipeline"],
  ["stable-diffusion-xl", "StableDiffusionXLImg2ImgPipeline"],
  ["stable-diffusion-3", "StableDiffusion3Img2ImgPipeline"],
  ["stable-diffusion-3-pag", "StableDiffusion3PAGImg2ImgPipeline"],
  ["if", "IFImg2ImgPipeline"],
  ["kandinsky", "KandinskyImg2ImgCombinedPipeline"],
  ["kandinsky22", "KandinskyV22Img2ImgCombinedPipeline"],
  ["kandinsky3", "Kandinsky3Img2ImgPipeline"],
  ["stable-diffusion-controlnet", "StableDiffusionControlNetImg2ImgPipeline"],
  ["stable-diffusion-pag", "StableDiffusionPAGImg2ImgPipeline"],
  ["stable-diffusion-xl-controlnet", "StableDiffusionXLControlNetImg2ImgPipeline"],
  ["stable-diffusion-xl-controlnet-union", "StableDiffusionXLControlNetUnionImg2ImgPipeline"],
  ["stable-diffusion-xl-pag", "StableDiffusionXLPAGImg2ImgPipeline"],
  ["stable-diffusion-xl-controlnet-pag", "StableDiffusionXLControlNetPAGImg2ImgPipeline"],
  ["lcm", "LatentConsistencyModelImg2ImgPipeline"],
  ["flux", "FluxImg2ImgPipeline"],
  ["flux-controlnet", "FluxControlNetImg2ImgPipeline"],
  ["flux-control", "FluxControlImg2ImgPipeline"],
  ["flux-kontext", "FluxKontextPipeline"],
  ["flux2-klein", "Flux2KleinPipeline"],
  ["flux2", "Flux2Pipeline"],
  ["qwenimage", "QwenImageImg2ImgPipeline"],
  ["qwenimage-edit", "QwenImageEditPipeline"],
  ["qwenimage-edit-plus", "QwenImageEditPlusPipeline"],
  ["qwenimage-layered", "QwenImageLayeredPipeline"],
  ["z-image", "ZImageImg2ImgPipeline"],
  ["kolors", "KolorsImg2ImgPipeline"],
]);

/** diffusers' `AUTO_INPAINT_PIPELINES_MAPPING`. */
export const AUTO_INPAINT_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["stable-diffusion", "StableDiffusionInpaintPipeline"],
  ["stable-diffusion-xl", "StableDiffusionXLInpaintPipeline"],
  ["stable-diffusion-3", "StableDiffusion3InpaintPipeline"],
  ["if", "IFInpaintingPipeline"],
  ["kandinsky", "KandinskyInpaintCombinedPipeline"],
  ["kandinsky22", "KandinskyV22InpaintCombinedPipeline"],
  ["stable-diffusion-controlnet", "StableDiffusionControlNetInpaintPipeline"],
  ["stable-diffusion-controlnet-pag", "StableDiffusionControlNetPAGInpaintPipeline"],
  ["stable-diffusion-xl-controlnet", "StableDiffusionXLControlNetInpaintPipeline"],
  ["stable-diffusion-xl-controlnet-union", "StableDiffusionXLControlNetUnionInpaintPipeline"],
  ["stable-diffusion-3-controlnet", "StableDiffusion3ControlNetInpaintingPipeline"],
  ["stable-diffusion-xl-pag", "StableDiffusionXLPAGInpaintPipeline"],
  ["flux", "FluxInpaintPipeline"],
  ["flux-controlnet", "FluxControlNetInpaintPipeline"],
  ["flux-control", "FluxControlInpaintPipeline"],
  ["stable-diffusion-pag", "StableDiffusionPAGInpaintPipeline"],
  ["qwenimage", "QwenImageInpaintPipeline"],
  ["qwenimage-edit", "QwenImageEditInpaintPipeline"],
  ["z-image", "ZImageInpaintPipeline"],
]);

/** diffusers' `AUTO_TEXT2VIDEO_PIPELINES_MAPPING`. */
export const AUTO_TEXT2VIDEO_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["anyflow", "AnyFlowPipeline"],
  ["wan", "WanPipeline"],
]);

/** diffusers' `AUTO_CONDITION2VIDEO_PIPELINES_MAPPING`. */
export const AUTO_CONDITION2VIDEO_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["cosmos3-omni", "Cosmos3OmniPipeline"],
]);

/** diffusers' `AUTO_IMAGE2VIDEO_PIPELINES_MAPPING`. */
export const AUTO_IMAGE2VIDEO_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["anyflow-far", "AnyFlowFARPipeline"],
  ["wan-i2v", "WanImageToVideoPipeline"],
]);

/** diffusers' `AUTO_VIDEO2VIDEO_PIPELINES_MAPPING`. */
export const AUTO_VIDEO2VIDEO_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["anyflow-far", "AnyFlowFARPipeline"],
  ["wan", "WanVideoToVideoPipeline"],
]);

/**
 * diffusers' private `_AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING`: the decoder halves of prior + decoder
 * families. Listing them is what lets a decoder checkpoint (e.g. a Kandinsky 2.2 decoder) find its family.
 */
export const AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["kandinsky", "KandinskyPipeline"],
  ["kandinsky22", "KandinskyV22Pipeline"],
  ["wuerstchen", "WuerstchenDecoderPipeline"],
  ["cascade", "StableCascadeDecoderPipeline"],
]);

/** diffusers' private `_AUTO_IMAGE2IMAGE_DECODER_PIPELINES_MAPPING`. */
export const AUTO_IMAGE2IMAGE_DECODER_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["kandinsky", "KandinskyImg2ImgPipeline"],
  ["kandinsky22", "KandinskyV22Img2ImgPipeline"],
]);

/** diffusers' private `_AUTO_INPAINT_DECODER_PIPELINES_MAPPING`. */
export const AUTO_INPAINT_DECODER_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["kandinsky", "KandinskyInpaintPipeline"],
  ["kandinsky22", "KandinskyV22InpaintPipeline"],
]);

/**
 * diffusers' `SUPPORTED_TASKS_MAPPINGS`: every table, in the order in which a class name is searched for its
 * family key. The first table, and within it the first row, that lists the class wins. The table file the drift
 * test reads does not record this list: the three image tables first and the three decoder tables last is the
 * order of diffusers' file at commit 8091ba898748 (which had only those six); where the video and audio tables
 * sit between them has not been checked against a copy of diffusers' file.
 */
export const SUPPORTED_TASKS_MAPPINGS: readonly PipelineMapping[] = Object.freeze([
  AUTO_TEXT2IMAGE_PIPELINES_MAPPING,
  AUTO_IMAGE2IMAGE_PIPELINES_MAPPING,
  AUTO_INPAINT_PIPELINES_MAPPING,
  AUTO_TEXT2VIDEO_PIPELINES_MAPPING,
  AUTO_CONDITION2VIDEO_PIPELINES_MAPPING,
  AUTO_IMAGE2VIDEO_PIPELINES_MAPPING,
  AUTO_VIDEO2VIDEO_PIPELINES_MAPPING,
  AUTO_TEXT2AUDIO_PIPELINES_MAPPING,
  AUTO_TEXT2IMAGE_DECODER_PIPELINES_MAPPING,
  AUTO_IMAGE2IMAGE_DECODER_PIPELINES_MAPPING,
  AUTO_INPAINT_DECODER_PIPELINES_MAPPING,
]);

/**
 * Extension (not in diffusers): the ONNX Stable Diffusion classes, for text-to-image. Consulted only for class
 * names that no diffusers table lists, and then instead of the diffusers tables.
 */
export const ONNX_TEXT2IMAGE_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["stable-diffusion", "OnnxStableDiffusionPipeline"],
]);

/** Extension (not in diffusers): the ONNX Stable Diffusion class for image-to-image. */
export const ONNX_IMAGE2IMAGE_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["stable-diffusion", "OnnxStableDiffusionImg2ImgPipeline"],
]);

/** Extension (not in diffusers): the ONNX Stable Diffusion class for inpainting. */
export const ONNX_INPAINT_PIPELINES_MAPPING: PipelineMapping = mapping([
  ["stable-diffusion", "OnnxStableDiffusionInpaintPipeline"],
]);

/** The extension tables, in the order in which a class name is searched for its family key. */
export const ONNX_EXTENSION_MAPPINGS: readonly PipelineMapping[] = Object.freeze([
  ONNX_TEXT2IMAGE_PIPELINES_MAPPING,
  ONNX_IMAGE2IMAGE_PIPELINES_MAPPING,
  ONNX_INPAINT_PIPELINES_MAPPING,
]);
