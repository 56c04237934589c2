/**
 * The autopipe web page: a form for one generation (checkpoint, task, prompt, settings, source image and a painted
 * or uploaded mask), run as a job through the `@autopipe/client` package — submitGeneration, then jobUpdates over
 * Server-Sent Events for the queue position, per-step progress and live previews, cancelJob on Cancel — and a
 * "Which pipeline?" panel kept in step with the checkpoint and task. Typed errors land next to the field they name.
 * With API keys on, the key typed in the header is kept for this tab only (sessionStorage) and sent as
 * `Authorization: Bearer` on every request, the SSE streams included; a refusal (401, 403) says so by the key field.
 */
import { type AutopipeClient, ClientError, createClient, type GenerateResult } from "@autopipe/client";
import { byId } from "./dom.ts";
import { clearFieldErrors, FieldError, readInput, selectedTask, showFieldError } from "./form.ts";
import { jobView } from "./job-view.ts";
import { loraPicker } from "./lora-picker.ts";
import { MaskPainter } from "./mask-painter.ts";
import { pipelinePanel } from "./pipeline-panel.ts";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** Where the API key lives: this tab's session only, never localStorage or a cookie. */
const KEY_STORAGE = "autopipe.apiKey";

/** `fetch` with the tab's API key, if any, as `Authorization: Bearer`; the client uses it for SSE streams too. */
const fetchWithKey: typeof fetch = (input, init) => {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) return fetch(input, init);
  const headers = new Headers(init?.headers);
  headers.set("authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

const client: AutopipeClient = createClient({
  url: new URL("/graphql", location.href).href,
  fetch: fetchWithKey,
});
const form = byId<HTMLFormElement>("form");
const banner = byId("banner");
const modelSelect = byId<HTMLSelectElement>("model");
const schedulerSelect = byId<HTMLSelectElement>("scheduler");
const imageInput = byId<HTMLInputElement>("image");
const maskInput = byId<HTMLInputElement>("mask");
const sourcePreview = byId<HTMLImageElement>("source-preview");
const canvas = byId<HTMLCanvasElement>("mask-canvas");
const brush = byId<HTMLInputElement>("brush");
const generateButton = byId<HTMLButtonElement>("generate");
const cancelButton = byId<HTMLButtonElement>("cancel");
const seedInput = byId<HTMLInputElement>("seed");

const view = jobView();
const picker = loraPicker(byId("lora-rows"), byId<HTMLButtonElement>("add-lora"));
const painter = new MaskPainter(canvas);
const panel = pipelinePanel(client, byId("pipeline-body"));
let imageFile: File | null = null;
let currentJob: string | null = null;

function showBanner(message: string): void {
  banner.textContent = message;
  banner.hidden = false;
}

function hideBanner(): void {
  banner.hidden = true;
  banner.textContent = "";
}

const keyInput = byId<HTMLInputElement>("api-key");
const keyStatus = byId("key-status");

function setKeyState(state: "none" | "accepted" | "refused", message: string): void {
  keyStatus.dataset["state"] = state;
  keyStatus.textContent = message;
  if (state === "refused") keyInput.setAttribute("aria-invalid", "true");
  else keyInput.removeAttribute("aria-invalid");
}

/**
 * A refusal of the key (HTTP 401: none, or not accepted; 403: it lacks a scope): shown by the key field and in the
 * banner, with the server's own message. True when `error` was one.
 */
function showKeyRefusal(error: unknown): boolean {
  if (!(error instanceof ClientError) || (error.status !== 401 && error.status !== 403)) return false;
  const hasKey = Boolean(sessionStorage.getItem(KEY_STORAGE));
  const what =
    error.status === 403
      ? "This API key may not do that"
      : hasKey
        ? "The server did not accept this API key"
        : "This server needs an API key: enter it above";
  setKeyState("refused", `${what} (HTTP ${error.status}).`);
  showBanner(`${what}. The server said: ${error.message.replace(/^Subscription to job \S+ failed: /, "")}`);
  if (error.status === 401) keyInput.focus();
  return true;
}

/**
 * A typed error from the server: next to its field when it names one the page has (true), else in the banner
 * (false).
 */
function showResultError(result: Exclude<GenerateResult, { __typename: "Generation" }>): boolean {
  if (result.__typename === "InvalidInputError" && showFieldError(result.field, result.message)) return true;
  if (result.__typename === "BusyError") {
    showBanner(`${result.message} Try again in about ${Math.ceil(result.retryAfterMs / 1000)} s.`);
    return false;
  }
  showBanner(result.message);
  return false;
}

/** The API's default strength per image task, shown until the user sets one. */
const DEFAULT_STRENGTH: Partial<Record<string, string>> = { IMAGE_TO_IMAGE: "0.8", INPAINTING: "1" };
let strengthEdited = false;

/** Shows the parts of the form the task uses, and asks which pipeline serves it. */
function onTaskOrModelChange(): void {
  const task = selectedTask(form);
  const strength = byId<HTMLInputElement>("strength");
  if (!strengthEdited) strength.value = DEFAULT_STRENGTH[task] ?? strength.value;
  byId("image-section").hidden = task === "TEXT_TO_IMAGE";
  byId("mask-tools").hidden = task !== "INPAINTING";
  canvas.hidden = task !== "INPAINTING";
  void panel.refresh(modelSelect.value, task);
}

async function loadChoices(): Promise<void> {
  try {
    const [models, schedulers, loras] = await Promise.all([
      client.models(),
      client.schedulers(),
      client.loras(),
    ]);
    picker.setChoices(loras);
    if (sessionStorage.getItem(KEY_STORAGE)) setKeyState("accepted", "Key accepted. Kept for this tab only.");
    if (models.length === 0) showBanner("The server finds no checkpoints: add one to its models directory.");
    modelSelect.replaceChildren(
      ...models.map((m) => new Option(m.sourceClass ? `${m.id} — ${m.sourceClass}` : m.id, m.id)),
    );
    schedulerSelect.replaceChildren(
      new Option("Default", ""),
      ...schedulers.map((s) => new Option(s.className, s.name)),
    );
  } catch (error) {
    if (!showKeyRefusal(error)) showBanner(`Cannot reach the autopipe server: ${(error as Error).message}`);
  }
  onTaskOrModelChange();
}

/** Keeps the typed key for this tab (an empty field forgets it) and asks the server again with it. */
function useKey(): void {
  const key = keyInput.value.trim();
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  keyInput.value = "";
  keyInput.placeholder = key
    ? "•••••• (in use; type another to replace it)"
    : "only if the server asks for one";
  hideBanner();
  setKeyState("none", key ? "Checking the key…" : "No key in use.");
  void loadChoices();
}

async function onImageChosen(): Promise<void> {
  const file = imageInput.files?.[0] ?? null;
  imageFile = file;
  const stage = byId("stage");
  if (!file) {
    stage.hidden = true;
    return;
  }
  const url = URL.createObjectURL(file);
  sourcePreview.src = url;
  try {
    await sourcePreview.decode();
  } catch {
    imageFile = null;
    stage.hidden = true;
    showFieldError("image", `“${file.name}” is not an image this browser can read`);
    return;
  }
  painter.reset(sourcePreview.naturalWidth, sourcePreview.naturalHeight);
  stage.hidden = false;
}

async function onMaskChosen(): Promise<void> {
  const file = maskInput.files?.[0];
  maskInput.value = "";
  if (!file) return;
  if (!imageFile) {
    showFieldError("maskImage", "Upload the image first, then its mask");
    return;
  }
  try {
    await painter.load(file);
  } catch {
    showFieldError("maskImage", `“${file.name}” is not an image this browser can read`);
  }
}

function setRunning(running: boolean): void {
  generateButton.disabled = running;
  generateButton.textContent = running ? "Generating…" : "Generate";
  cancelButton.disabled = !running;
}

async function generate(): Promise<void> {
  clearFieldErrors(form);
  hideBanner();
  let input: Awaited<ReturnType<typeof readInput>>;
  try {
    input = await readInput(form, {
      image: imageFile,
      mask: async () => (painter.isEmpty ? null : painter.toBlob()),
      loras: () => picker.value(),
    });
  } catch (error) {
    // Whatever an earlier run left in the result card ("Done in 15 s.", its images) is not this request's.
    if (error instanceof FieldError && showFieldError(error.field, error.message)) {
      view.idle("Not started: fix the highlighted field.");
      return;
    }
    view.idle("Not started: see the message above.");
    showBanner((error as Error).message);
    return;
  }
  const steps = Number(byId<HTMLInputElement>("numInferenceSteps").value) || 50;
  setRunning(true);
  view.start();
  try {
    const submitted = await client.submitGeneration(input);
    if (submitted.__typename !== "GenerationJob") {
      // Only a field the page has can be highlighted (`width×height`, say, highlights both); else the banner says.
      const highlighted = showResultError(submitted);
      view.idle(
        highlighted ? "Not started: fix the highlighted field." : "Not started: see the message above.",
      );
      return;
    }
    currentJob = submitted.id;
    view.update(submitted, null);
    let result: GenerateResult | null = null;
    // A preview every step for short runs, every other step for long ones.
    for await (const update of client.jobUpdates(submitted.id, { previewEvery: steps > 50 ? 2 : 1 })) {
      if (update.__typename !== "JobUpdate") {
        showBanner(update.message);
        break;
      }
      view.update(update.job, update.preview ?? null);
      if (TERMINAL.has(update.job.status) && update.job.result) result = update.job.result;
    }
    result ??= (await client.job(submitted.id))?.result ?? null;
    if (!result) {
      showBanner("The job ended without a result (it may have expired).");
      return;
    }
    view.finish(result, (seed) => {
      seedInput.value = seed;
      seedInput.focus();
    });
    if (result.__typename !== "Generation" && result.__typename !== "CancelledError") showResultError(result);
  } catch (error) {
    if (showKeyRefusal(error)) view.idle("Not started: the server refused the API key.");
    else {
      view.setStatus("FAILED", "Lost contact with the server.");
      showBanner((error as Error).message);
    }
  } finally {
    currentJob = null;
    setRunning(false);
    // The checkpoint may be loaded now: the panel says so.
    void panel.refresh(modelSelect.value, selectedTask(form));
  }
}

async function cancel(): Promise<void> {
  if (!currentJob) return;
  cancelButton.disabled = true;
  view.setStatus("RUNNING", "Cancelling…");
  try {
    const r = await client.cancelJob(currentJob);
    if (r.__typename === "JobNotFoundError") showBanner(r.message);
  } catch (error) {
    showBanner(`Cancel failed: ${(error as Error).message}`);
    cancelButton.disabled = false;
  }
}

byId<HTMLFormElement>("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  useKey();
});
if (sessionStorage.getItem(KEY_STORAGE)) keyInput.placeholder = "•••••• (in use; type another to replace it)";
form.addEventListener("submit", (e) => {
  e.preventDefault();
  void generate();
});
cancelButton.addEventListener("click", () => void cancel());
modelSelect.addEventListener("change", onTaskOrModelChange);
for (const radio of form.querySelectorAll('input[name="task"]'))
  radio.addEventListener("change", onTaskOrModelChange);
imageInput.addEventListener("change", () => void onImageChosen());
maskInput.addEventListener("change", () => void onMaskChosen());
byId("strength").addEventListener("input", () => {
  strengthEdited = true;
});
byId("clear-mask").addEventListener("click", () => painter.clear());
brush.addEventListener("input", () => {
  painter.brush = Number(brush.value);
  byId("brush-size").textContent = `${brush.value} px`;
});
byId("random-seed").addEventListener("click", () => {
  seedInput.value = "";
  seedInput.focus();
});
// A field's error goes away once it is edited.
form.addEventListener("input", (e) => {
  const target = e.target as HTMLElement;
  if (target.getAttribute("aria-invalid") !== "true") return;
  target.removeAttribute("aria-invalid");
  const error = document.getElementById(`${target.id === "mask" ? "maskImage" : target.id}-error`);
  if (error) error.hidden = true;
});

void loadChoices();
