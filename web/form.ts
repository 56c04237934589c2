/**
 * The form: reads the fields into the API's `GenerateInput` for the chosen task, and shows errors next to the
 * field they name. The server's `InvalidInputError.field` is a path such as `textToImage.width` or
 * `inpainting.maskImage.base64`; its first segment after the task names the input (see `FIELDS`).
 */
import type { GenerateInput, LoraInput, SchedulerName, Task } from "@autopipe/client";
import { byId } from "./dom.ts";

/** API argument → the element that edits it (ids in index.html are the argument names). */
const FIELDS: Record<string, string> = {
  model: "model",
  prompt: "prompt",
  negativePrompt: "negativePrompt",
  numInferenceSteps: "numInferenceSteps",
  guidanceScale: "guidanceScale",
  scheduler: "scheduler",
  width: "width",
  height: "height",
  seed: "seed",
  strength: "strength",
  image: "image",
  maskImage: "mask",
  loras: "add-lora",
};

const TASK_KEYS: Record<Task, "textToImage" | "imageToImage" | "inpainting"> = {
  TEXT_TO_IMAGE: "textToImage",
  IMAGE_TO_IMAGE: "imageToImage",
  INPAINTING: "inpainting",
};

/** A problem found before sending: shown next to `field` like the server's own. */
export class FieldError extends Error {
  override name = "FieldError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function selectedTask(form: HTMLFormElement): Task {
  const checked = form.querySelector<HTMLInputElement>('input[name="task"]:checked');
  return (checked?.value ?? "TEXT_TO_IMAGE") as Task;
}

function value(id: string): string {
  return byId<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>(id).value.trim();
}

/** A number field: undefined when empty, the number otherwise (the server validates ranges and says what is allowed). */
function numberValue(id: string): number | undefined {
  const raw = value(id);
  if (raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new FieldError(id, `“${raw}” is not a number`);
  return n;
}

export interface ImageSources {
  image: File | null;
  /** The mask to send (inpainting): null when nothing is painted or uploaded. */
  mask: () => Promise<Blob | null>;
  /** The LoRA picker's rows (web/lora-picker.ts). */
  loras: () => { loras: LoraInput[] } | { invalidRow: number };
}

/** Builds the request for the selected task; throws FieldError for what the page can tell before sending. */
export async function readInput(form: HTMLFormElement, sources: ImageSources): Promise<GenerateInput> {
  const task = selectedTask(form);
  const model = value("model");
  if (!model) throw new FieldError("model", "Pick a checkpoint");
  const seed = value("seed");
  if (seed !== "" && !/^\d+$/.test(seed))
    throw new FieldError(
      "seed",
      `“${seed}” is not a seed: use a whole number from 0 to 2^64−1, or leave it empty`,
    );
  const common = {
    model,
    prompt: byId<HTMLTextAreaElement>("prompt").value,
    negativePrompt: value("negativePrompt") || undefined,
    numInferenceSteps: numberValue("numInferenceSteps"),
    guidanceScale: numberValue("guidanceScale"),
    scheduler: (value("scheduler") || undefined) as SchedulerName | undefined,
    width: numberValue("width"),
    height: numberValue("height"),
    seed: seed === "" ? undefined : seed,
    loras: pickedLoras(sources),
  };
  if (task === "TEXT_TO_IMAGE") return { textToImage: common };
  if (!sources.image) throw new FieldError("image", "Upload the image to start from");
  const image = { upload: sources.image };
  const strength = numberValue("strength");
  if (task === "IMAGE_TO_IMAGE") return { imageToImage: { ...common, image, strength } };
  const mask = await sources.mask();
  if (!mask) throw new FieldError("maskImage", "Paint the area to repaint on the image, or upload a mask");
  return { inpainting: { ...common, image, strength, maskImage: { upload: mask } } };
}

function pickedLoras(sources: ImageSources): LoraInput[] | undefined {
  const picked = sources.loras();
  if ("invalidRow" in picked) {
    throw new FieldError("loras", `The scale of adapter ${picked.invalidRow + 1} is not a number`);
  }
  return picked.loras.length > 0 ? picked.loras : undefined;
}

/** The element id for an API field path (`textToImage.width` → `width`), or null when the page has no such field. */
export function elementForField(path: string): string | null {
  const parts = path.split(".");
  const first = parts[0] ?? "";
  const name = (Object.values(TASK_KEYS) as string[]).includes(first) ? parts[1] : first;
  // `textToImage.loras[1].id`: the picker.
  return name ? (FIELDS[name.replace(/\[\d+\]$/, "")] ?? null) : null;
}

/**
 * Shows `message` under the field `path` names; false when the page has no such field (show it elsewhere). A
 * path naming two fields at once (`textToImage.width×height`) marks each, and the message goes under the first.
 */
export function showFieldError(path: string, message: string, focus = true): boolean {
  const last = path.lastIndexOf(".");
  const names = path.slice(last + 1).split("×");
  if (names.length > 1) {
    const prefix = path.slice(0, last + 1);
    const [first, ...rest] = names;
    if (!showFieldError(`${prefix}${first}`, message, focus)) return false;
    for (const name of rest) {
      const id = elementForField(`${prefix}${name}`);
      if (id) document.getElementById(id)?.setAttribute("aria-invalid", "true");
    }
    return true;
  }
  const id = elementForField(path);
  if (!id) return false;
  const error = document.getElementById(
    `${id === "mask" ? "maskImage" : id === "add-lora" ? "loras" : id}-error`,
  );
  const input = document.getElementById(id);
  if (!error || !input) return false;
  error.textContent = message;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  if (focus) {
    // A field inside the closed settings panel is opened first so the focus lands somewhere visible.
    const details = input.closest("details");
    if (details) details.open = true;
    input.focus();
  }
  return true;
}

export function clearFieldErrors(form: HTMLFormElement): void {
  for (const el of form.querySelectorAll<HTMLElement>(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}
