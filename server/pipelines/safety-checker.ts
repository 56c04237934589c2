/**
 * Stage 5 (optional): the safety checker, run after decoding as diffusers' `OnnxStableDiffusionPipeline` runs it.
 * Each image goes through the feature extractor (`CLIPImageProcessor` on `numpy_to_pil(image)`, see
 * image/clip-preprocess.ts) and then through `safety_checker/model.onnx` one at a time (the exported graph fails
 * for a batch larger than one) with `clip_input` [1, 3, h, w] and `images` [1, H, W, 3] in [0, 1]; the graph
 * returns the image, black where flagged, and `has_nsfw_concepts`.
 */
import type { SafetyCheckerMode } from "../config.ts";
import { ModelLoadError } from "../errors.ts";
import {
  type ClipProcessorConfig,
  clipPreprocess,
  parseClipProcessorConfig,
} from "../image/clip-preprocess.ts";
import { toUint8Images } from "../image/encode.ts";
import { asFloat, concatBatch, type FloatTensor, floatTensor } from "../runtime/tensor.ts";
import type { SdComponents } from "./components.ts";
import { type RunContext, throwIfAborted } from "./run-context.ts";

export interface SafetyCheckResult {
  /** NHWC float32 in [0, 1]; flagged images are all zeros. */
  readonly images: FloatTensor;
  /** One flag per image: true = the checker found an NSFW concept. */
  readonly nsfwContentDetected: readonly boolean[];
}

/** Whether a request runs the checker, or its config asks for one the checkpoint lacks (`missing`), or neither. */
export type SafetyPlan = "run" | "missing" | "skip";

/**
 * Decides from the effective config's `requiresSafetyChecker` and the server's mode (AUTOPIPE_SAFETY_CHECKER):
 * `auto` follows the config, `on` runs wherever the checkpoint has a checker, `off` never runs it. Without a
 * checker, a config that asks for one gets `missing` (diffusers warns and generates anyway).
 */
export async function safetyPlan(
  c: SdComponents,
  requiresSafetyChecker: boolean,
  mode: SafetyCheckerMode,
): Promise<SafetyPlan> {
  if (mode === "off" || (mode === "auto" && !requiresSafetyChecker)) return "skip";
  if (await c.hasSafetyChecker()) return "run";
  return requiresSafetyChecker ? "missing" : "skip";
}

/** Runs the checkpoint's safety checker on NHWC float images in [0, 1], image by image. */
export async function runSafetyChecker(
  c: SdComponents,
  images: FloatTensor,
  run: RunContext,
): Promise<SafetyCheckResult> {
  const processor = await featureExtractor(c);
  const checker = await c.graph("safety_checker");
  const [batch = 1, height = 0, width = 0, channels = 3] = images.dims;
  const item = height * width * channels;
  // The feature extractor sees what numpy_to_pil makes of the image: (x * 255).round() as uint8.
  const pixels = toUint8Images(images);
  const checked: FloatTensor[] = [];
  const flags: boolean[] = [];
  for (let b = 0; b < batch; b++) {
    throwIfAborted(run.signal);
    const clipInput = clipPreprocess({ width, height, rgb: pixels[b]! }, processor);
    const outputs = await checker.run(
      {
        clip_input: floatTensor(clipInput.data, [1, 3, clipInput.height, clipInput.width]),
        images: floatTensor(images.data.slice(b * item, (b + 1) * item), [1, height, width, channels]),
      },
      run.timer,
    );
    const out = asFloat(outputs.out_images, "safety_checker out_images");
    const flag = outputs.has_nsfw_concepts;
    if (out.data.length !== item || !flag || flag.data.length !== 1) {
      throw new ModelLoadError(c.id, "safety_checker", "the graph's outputs do not have the expected shapes");
    }
    checked.push(floatTensor(out.data, [1, height, width, channels]));
    flags.push(Boolean(Number(flag.data[0])));
  }
  return { images: concatBatch(checked), nsfwContentDetected: flags };
}

async function featureExtractor(c: SdComponents): Promise<ClipProcessorConfig> {
  const raw = await c.featureExtractorConfig();
  if (!raw) {
    throw new ModelLoadError(
      c.id,
      "feature_extractor",
      "feature_extractor/preprocessor_config.json is missing",
    );
  }
  try {
    return parseClipProcessorConfig(raw);
  } catch (error) {
    throw new ModelLoadError(c.id, "feature_extractor", (error as Error).message);
  }
}
