/**
 * The class-name rewriting that diffusers' three `AutoPipelineFor*.from_pretrained` methods apply to a
 * checkpoint's `_class_name` before looking it up: asking for a ControlNet or for PAG (perturbed-attention
 * guidance) turns e.g. `StableDiffusionXLPipeline` into `StableDiffusionXLControlNetPAGPipeline`, whose family
 * key then picks the task's class. The three methods differ in which suffix they rewrite, so each has its own
 * function here; they only transform strings and never consult the tables.
 */

/** Which ControlNet `from_pretrained` was given: a plain ControlNet model, or a `ControlNetUnionModel`. */
export type ControlNetKind = "controlnet" | "union";

/** The `from_pretrained` keyword arguments that change the class name. */
export interface RewriteOptions {
  /** Set when a `controlnet` argument is passed; absent when it is not. */
  readonly controlnet?: ControlNetKind | undefined;
  /** `enable_pag`; false and absent both leave the name alone. */
  readonly enablePag?: boolean | undefined;
}

/**
 * `AutoPipelineForText2Image.from_pretrained`: the suffix rewritten is `ControlPipeline` for Flux-tools style
 * checkpoints and `Pipeline` otherwise. Unlike the other two tasks, the ControlNet rewrite replaces that suffix
 * by `ControlNetPipeline` outright, so `FluxControlPipeline` becomes `FluxControlNetPipeline`.
 */
export function rewriteForText2Image(className: string, options: RewriteOptions = {}): string {
  const toReplace = className.includes("ControlPipeline") ? "ControlPipeline" : "Pipeline";
  let name = className;
  if (options.controlnet !== undefined) {
    // Python's str.replace replaces every occurrence, as replaceAll does.
    name = name.replaceAll(
      toReplace,
      options.controlnet === "union" ? "ControlNetUnionPipeline" : "ControlNetPipeline",
    );
  }
  if (options.enablePag === true) {
    // After a ControlNet rewrite of a `*ControlPipeline` name the suffix is gone, so PAG then changes nothing.
    name = name.replaceAll(toReplace, "PAGPipeline");
  }
  return name;
}

/**
 * `AutoPipelineForImage2Image.from_pretrained`: the suffix rewritten is `Img2ImgPipeline` for refiner-style
 * checkpoints (any name containing `Img2Img`), `ControlPipeline` for Flux-tools checkpoints, else `Pipeline`.
 * ControlNet and PAG are inserted in front of that suffix, and a `ControlPipeline` suffix finally becomes
 * `ControlImg2ImgPipeline`.
 */
export function rewriteForImage2Image(className: string, options: RewriteOptions = {}): string {
  return rewriteTaskSuffix(className, options, "Img2Img", "Img2ImgPipeline", "ControlImg2ImgPipeline");
}

/**
 * `AutoPipelineForInpainting.from_pretrained`: as for image-to-image, with `Inpaint` / `InpaintPipeline` for
 * inpaint-specific checkpoints and `ControlInpaintPipeline` as the Flux-tools target.
 */
export function rewriteForInpainting(className: string, options: RewriteOptions = {}): string {
  return rewriteTaskSuffix(className, options, "Inpaint", "InpaintPipeline", "ControlInpaintPipeline");
}

/** The shared shape of the image-to-image and inpainting rewrites. */
function rewriteTaskSuffix(
  className: string,
  options: RewriteOptions,
  marker: string,
  taskSuffix: string,
  controlTarget: string,
): string {
  // diffusers tests `marker` (e.g. "Inpaint") but then replaces `taskSuffix` (e.g. "InpaintPipeline"); a name
  // such as IFInpaintingPipeline matches the first and lacks the second, so its rewrites change nothing.
  const toReplace = className.includes(marker)
    ? taskSuffix
    : className.includes("ControlPipeline")
      ? "ControlPipeline"
      : "Pipeline";
  let name = className;
  if (options.controlnet !== undefined) {
    const prefix = options.controlnet === "union" ? "ControlNetUnion" : "ControlNet";
    name = name.replaceAll(toReplace, prefix + toReplace);
  }
  if (options.enablePag === true) {
    name = name.replaceAll(toReplace, "PAG" + toReplace);
  }
  if (toReplace === "ControlPipeline") {
    name = name.replaceAll(toReplace, controlTarget);
  }
  return name;
}
