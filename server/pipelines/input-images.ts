/**
 * Input images of image-to-image and inpainting: read (upload or base64, size-capped), decoded (pixel-capped,
 * EXIF-oriented, alpha dropped), and preprocessed once the output size is known. The default output size is the
 * input image's, rounded down to what the UNet and VAE need.
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import type { Config } from "../config.ts";
import { InvalidInputError } from "../errors.ts";
import { decodeImage, decodeMask } from "../image/decode.ts";
import type { LumaImage, RgbImage } from "../image/pil.ts";
import { maskAspectNote, preprocessImage, preprocessMask } from "../image/preprocess.ts";
import { type ImageInputValue, readImageInput } from "../image/read-input.ts";
import type { FloatTensor } from "../runtime/tensor.ts";
import type { ComponentFacts } from "./components.ts";

export type { ImageInputValue } from "../image/read-input.ts";

export interface PreparedImages {
  /** [1, 3, H, W] in [−1, 1]. */
  readonly image: FloatTensor;
  /** [1, 1, H, W], 0 = keep, 1 = repaint (inpainting only). */
  readonly mask?: FloatTensor;
}

export interface InputImages {
  readonly notes: readonly string[];
  /** The default output size: the image's, rounded down to what the checkpoint's UNet and VAE need. */
  defaultSize(facts: ComponentFacts): { width: number; height: number };
  /** Resizes and normalises for the chosen output size. */
  prepare(size: { width: number; height: number }, facts: ComponentFacts): PreparedImages;
}

/**
 * Reads and decodes the task's input images (none for text-to-image). Needs no checkpoint, so a bad image is
 * refused before the request waits for a slot or loads anything.
 */
export async function readInputImages(
  task: Task,
  input: { image?: ImageInputValue | null; maskImage?: ImageInputValue | null },
  config: Pick<Config, "maxPixels" | "maxUploadBytes">,
  prefix: string,
): Promise<InputImages | undefined> {
  if (task === "TEXT_TO_IMAGE") return undefined;
  const image = await decodeImage(await read(input.image, `${prefix}.image`, config), {
    field: `${prefix}.image`,
    maxPixels: config.maxPixels,
  });
  let mask: LumaImage | undefined;
  if (task === "INPAINTING") {
    mask = await decodeMask(await read(input.maskImage, `${prefix}.maskImage`, config), {
      field: `${prefix}.maskImage`,
      maxPixels: config.maxPixels,
    });
  }
  const note = mask ? maskAspectNote(image, mask) : null;
  return {
    notes: note ? [note] : [],
    defaultSize: ({ sizeMultiple }) => ({
      width: image.width - (image.width % sizeMultiple),
      height: image.height - (image.height % sizeMultiple),
    }),
    prepare: (target, facts) => prepareImages(image, mask, target, facts.vaeScaleFactor, prefix),
  };
}

function prepareImages(
  image: RgbImage,
  mask: LumaImage | undefined,
  size: { width: number; height: number },
  vaeScaleFactor: number,
  prefix: string,
): PreparedImages {
  const options = { vaeScaleFactor, width: size.width, height: size.height };
  const pre = preprocessImage(image, { ...options, field: `${prefix}.image` });
  if (!mask) return { image: pre.tensor };
  return {
    image: pre.tensor,
    mask: preprocessMask(mask, { ...options, field: `${prefix}.maskImage` }).tensor,
  };
}

async function read(
  value: ImageInputValue | null | undefined,
  field: string,
  config: Pick<Config, "maxUploadBytes">,
): Promise<Uint8Array> {
  if (!value) throw new InvalidInputError(field, "nothing", "an upload or base64 image");
  return readImageInput(value, { field, maxBytes: config.maxUploadBytes });
}
