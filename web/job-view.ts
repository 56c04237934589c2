/**
 * The result card: the job's status in words (an aria-live line), a progress bar with ETA, the live preview
 * (latent-resolution PNGs scaled up with `image-rendering: pixelated`) and, at the end, the images with their
 * seed, a one-click "Reuse seed" and a download link.
 */
import type { GenerateResult, JobView, PreviewImage } from "@autopipe/client";
import { byId, h } from "./dom.ts";

export type Status = JobView["status"] | "IDLE" | "SUBMITTING";

/** "1.4 s", "2 min 5 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 100) / 10);
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function jobView() {
  const status = byId("status");
  const bar = byId("progress");
  const fill = byId("progress-fill");
  const text = byId("progress-text");
  const previewFrame = byId("preview-frame");
  const preview = byId<HTMLImageElement>("preview");
  const results = byId("results");

  function setStatus(kind: Status, message: string): void {
    status.dataset["status"] = kind;
    // Only a changed message is written, so screen readers hear status changes rather than every step.
    if (status.textContent !== message) status.textContent = message;
  }

  function setProgress(percent: number, detail: string): void {
    const p = Math.max(0, Math.min(100, Math.round(percent)));
    bar.hidden = false;
    text.hidden = false;
    bar.setAttribute("aria-valuenow", String(p));
    bar.setAttribute("aria-valuetext", `${p} %`);
    fill.style.width = `${p}%`;
    text.textContent = detail;
  }

  return {
    setStatus,

    /** Back to no job (a request refused before it started): nothing of an earlier run stays on show. */
    idle(message: string): void {
      setStatus("IDLE", message);
      bar.hidden = true;
      text.hidden = true;
      previewFrame.hidden = true;
      preview.removeAttribute("src");
      results.replaceChildren();
    },

    /** A fresh run: no progress, preview or results yet. */
    start(): void {
      setStatus("SUBMITTING", "Submitting…");
      setProgress(0, "Waiting for the server…");
      previewFrame.hidden = true;
      preview.removeAttribute("src");
      results.replaceChildren();
    },

    /** One update from the job's stream. */
    update(job: JobView, image: PreviewImage | null): void {
      const { step, totalSteps, etaMs, elapsedMs } = job.progress;
      if (job.status === "QUEUED") {
        setStatus("QUEUED", `Queued — position ${job.queuePosition ?? "?"} in line`);
        setProgress(0, "Waiting for a free generation slot…");
      } else if (job.status === "RUNNING") {
        setStatus("RUNNING", step === 0 ? "Loading the checkpoint and encoding the prompt…" : "Denoising…");
        const percent = totalSteps > 0 ? (100 * step) / totalSteps : 0;
        const eta = etaMs == null ? "estimating time left" : `about ${formatDuration(etaMs)} left`;
        setProgress(percent, `Step ${step} of ${totalSteps} · ${Math.round(percent)} % · ${eta}`);
      } else {
        const percent = job.status === "SUCCEEDED" ? 100 : totalSteps > 0 ? (100 * step) / totalSteps : 0;
        setProgress(percent, `${step} of ${totalSteps} steps in ${formatDuration(elapsedMs)}`);
      }
      if (image) {
        preview.src = `data:${image.mimeType};base64,${image.base64}`;
        preview.width = image.width;
        preview.height = image.height;
        previewFrame.hidden = false;
      }
    },

    /** The job's end: its images with their seed, or the reason it has none (the caller shows typed errors in full). */
    finish(result: GenerateResult, onReuseSeed: (seed: string) => void): void {
      if (result.__typename === "CancelledError") {
        setStatus("CANCELLED", "Cancelled.");
        return;
      }
      if (result.__typename !== "Generation") {
        setStatus("FAILED", `Failed: ${result.message}`);
        return;
      }
      setStatus("SUCCEEDED", `Done in ${formatDuration(result.timings.totalMs)}.`);
      previewFrame.hidden = true;
      const figures = result.images.map((image, i) => {
        const src = `data:${image.mimeType};base64,${image.base64}`;
        const reuse = h(
          "button",
          { type: "button", class: "secondary", "data-seed": result.seed },
          "Reuse seed",
        );
        reuse.addEventListener("click", () => onReuseSeed(result.seed));
        return h(
          "figure",
          { class: "result" },
          h("img", {
            src,
            width: String(image.width),
            height: String(image.height),
            alt: `Result ${i + 1} of ${result.images.length}, seed ${result.seed}`,
            "data-testid": "result-image",
          }),
          h(
            "figcaption",
            {},
            h("span", {}, "Seed ", h("code", { "data-testid": "result-seed" }, result.seed)),
            reuse,
            h("a", { href: src, download: `autopipe-${result.seed}-${i + 1}.png` }, "Download"),
          ),
        );
      });
      const notes = result.notes.length ? ` · ${result.notes.join(" · ")}` : "";
      results.replaceChildren(
        ...figures,
        h(
          "p",
          { class: "meta" },
          `${result.pipelineClass} · ${result.scheduler} · ${result.images[0]?.width ?? "?"}×${
            result.images[0]?.height ?? "?"
          }${result.seedReproducible ? "" : " · this checkpoint's seed does not fix the result"}${notes}`,
        ),
      );
    },
  };
}
