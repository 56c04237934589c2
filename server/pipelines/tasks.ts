/**
 * Dispatch from a task to its pipeline: the one place that knows which pipeline function runs which task.
 */
import type { Task } from "../auto-pipeline/resolve.ts";
import type { SdComponents } from "./components.ts";
import { type ImageTaskOutput, imageToImage } from "./image-to-image.ts";
import { inpainting } from "./inpainting.ts";
import type { PreparedImages } from "./input-images.ts";
import type { RunContext } from "./run-context.ts";
import type { CommonParams } from "./setup.ts";
import { textToImage } from "./text-to-image.ts";

export async function runTask(
  c: SdComponents,
  task: Task,
  params: CommonParams,
  strength: number,
  images: PreparedImages | undefined,
  run: RunContext,
): Promise<ImageTaskOutput> {
  if (task === "TEXT_TO_IMAGE") return { ...(await textToImage(c, params, run)), seedReproducible: true };
  if (!images) throw new Error(`${task} needs input images`);
  if (task === "IMAGE_TO_IMAGE") return imageToImage(c, { ...params, image: images.image, strength }, run);
  if (!images.mask) throw new Error("inpainting needs a mask");
  return inpainting(c, { ...params, image: images.image, mask: images.mask, strength }, run);
}
