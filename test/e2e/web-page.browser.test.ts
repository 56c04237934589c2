/**
 * The web page in a real browser: headless Chromium (bundled in the @sparticuz/chromium package) drives the page
 * served by the real server on a real port, as a person would — typing, clicking, uploading, painting a mask with
 * mouse drags. A text-to-image whose progress reaches 100 % and whose shown image is byte for byte the PNG the
 * API returns for the same input and seed; a typed error shown next to its field; a cancel; an inpainting.
 * If Chromium cannot start, the suite fails with the reason (it never skips).
 */
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, createClient } from "../../client/index.ts";
import { type LaunchedBrowser, launchBrowser } from "../helpers/browser.ts";
import { startHttpServer } from "../helpers/services.ts";

const INIT_IMAGE = fileURLToPath(
  new URL("../fixtures/diffusers-reference/reference/inputs/init_image_64x64.png", import.meta.url),
);

describe("the web page in headless Chromium", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let browser: LaunchedBrowser;
  let client: AutopipeClient;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startHttpServer({ AUTOPIPE_MAX_CONCURRENT: "1" });
    client = createClient({ url: server.url });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // The page's content security policy must not block anything it does.
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) pageErrors.push(message.text());
    });
    await page.goto(server.url.replace(/graphql$/, ""));
    // The checkpoints and the pipeline panel come from the API once the page has loaded.
    await page.locator("#pipeline-body dl").waitFor();
    // The bundled checkpoints in the order models lists them; the tests below run on tiny-sd (the fastest).
    expect(
      await page.locator("#model option").evaluateAll((o) => o.map((e) => (e as HTMLOptionElement).value)),
    ).toEqual(["mini-sd", "mini-sd.safetensors", "tiny-sd", "tiny-sd-inpaint", "tiny-sdxl"]);
    await page.selectOption("#model", "tiny-sd");
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** Fills the shared fields of the form. */
  async function fill(fields: Record<string, string>): Promise<void> {
    for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  }

  it("shows a typed error from the server next to the field it names", async () => {
    expect(await page.locator("#model").inputValue()).toBe("tiny-sd");
    await fill({ prompt: "a red cube", numInferenceSteps: "4", width: "33", height: "32", seed: "7" });
    await page.getByRole("button", { name: "Generate" }).click();
    const error = page.locator("#width-error");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toContain("textToImage.width");
    expect(await page.locator("#width").getAttribute("aria-invalid")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("width");
    expect(await page.locator("#banner").isHidden()).toBe(true);
    expect(await page.locator("#height-error").isHidden()).toBe(true);
  });

  it("text-to-image: progress reaches 100 % with previews, and the image is the API's PNG byte for byte", async () => {
    await fill({ prompt: "a red cube", numInferenceSteps: "4", width: "32", height: "32", seed: "1234" });
    // Record every progress value and preview the page shows while the job runs.
    await page.evaluate(() => {
      const seen: string[] = [];
      const previews = new Set<string>();
      (window as unknown as { seen: unknown }).seen = { seen, previews };
      const bar = document.getElementById("progress")!;
      const preview = document.getElementById("preview") as HTMLImageElement;
      new MutationObserver(() => {
        seen.push(bar.getAttribute("aria-valuenow") ?? "");
        if (preview.getAttribute("src")) previews.add(preview.getAttribute("src")!);
      }).observe(document.body, {
        attributes: true,
        subtree: true,
        attributeFilter: ["aria-valuenow", "src"],
      });
    });
    await page.getByRole("button", { name: "Generate" }).click();
    const image = page.getByTestId("result-image");
    await image.waitFor();
    expect(await page.locator("#status").getAttribute("data-status")).toBe("SUCCEEDED");
    expect(await page.locator("#progress").getAttribute("aria-valuenow")).toBe("100");
    expect(await page.locator("#progress-text").textContent()).toMatch(/^(\d+) of \1 steps/);
    const { seen, previews } = await page.evaluate(() => {
      const w = window as unknown as { seen: { seen: string[]; previews: Set<string> } };
      return { seen: w.seen.seen, previews: [...w.seen.previews] };
    });
    expect(seen.some((v) => Number(v) > 0 && Number(v) < 100)).toBe(true);
    expect(previews.length).toBeGreaterThan(1);
    expect(await page.getByTestId("result-seed").textContent()).toBe("1234");

    const src = (await image.getAttribute("src"))!;
    expect(src.startsWith("data:image/png;base64,")).toBe(true);
    const direct = await client.generate({
      textToImage: {
        model: "tiny-sd",
        prompt: "a red cube",
        numInferenceSteps: 4,
        guidanceScale: 7.5,
        width: 32,
        height: 32,
        seed: "1234",
      },
    });
    if (direct.__typename !== "Generation") throw new Error(direct.message);
    const shown = Buffer.from(src.slice("data:image/png;base64,".length), "base64");
    expect(shown.equals(Buffer.from(direct.images[0]!.base64, "base64"))).toBe(true);

    // One click puts the seed back in the form.
    await page.fill("#seed", "");
    await page.getByRole("button", { name: "Reuse seed" }).click();
    expect(await page.locator("#seed").inputValue()).toBe("1234");
  });

  it("shows the queue position, then cancels the running job: the page ends CANCELLED and the server agrees", async () => {
    // Another client's long job holds the only slot, so the page's job waits first in line.
    const other = await client.submitGeneration({
      textToImage: { model: "tiny-sd", prompt: "x", width: 32, height: 32, numInferenceSteps: 150, seed: 1 },
    });
    if (other.__typename !== "GenerationJob") throw new Error(other.message);
    await fill({ prompt: "a long one", numInferenceSteps: "150", width: "32", height: "32", seed: "5" });
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator('#status[data-status="QUEUED"]', { hasText: "position 1" }).waitFor();
    await client.cancelJob(other.id);
    await page.locator("#progress-text", { hasText: /^Step [1-9]/ }).waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.locator('#status[data-status="CANCELLED"]').waitFor();
    expect(Number(await page.locator("#progress").getAttribute("aria-valuenow"))).toBeLessThan(100);
    expect(await page.getByTestId("result-image").count()).toBe(0);
    await page.waitForFunction(() => !(document.getElementById("generate") as HTMLButtonElement).disabled);
    const [latest] = await client.jobs({ first: 1 });
    expect(latest?.status).toBe("CANCELLED");
    expect(latest?.progress.step).toBeLessThan(latest?.progress.totalSteps ?? 0);
  });

  it("inpaints on tiny-sd-inpaint with a mask painted by mouse drags", async () => {
    await page.selectOption("#model", "tiny-sd-inpaint");
    await page.getByText("Inpainting", { exact: true }).click();
    // The panel follows the checkpoint and task.
    await page.locator("#pipeline-body", { hasText: "9-channel" }).waitFor();
    expect(await page.getByTestId("pipeline-class").textContent()).toBe("OnnxStableDiffusionInpaintPipeline");
    await page.setInputFiles("#image", INIT_IMAGE);
    await page.locator("#mask-canvas").waitFor({ state: "visible" });
    await fill({ prompt: "a window", numInferenceSteps: "3", width: "", height: "", seed: "99" });

    // Without a mask the page says so next to the mask tools.
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator("#maskImage-error").waitFor({ state: "visible" });

    const box = (await page.locator("#mask-canvas").boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.5, { steps: 10 });
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 10 });
    await page.mouse.up();
    // Painted pixels are on the canvas (alpha > 0 where the drag went).
    const painted = await page.evaluate(() => {
      const canvas = document.getElementById("mask-canvas") as HTMLCanvasElement;
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
      return { n, total: data.length / 4 };
    });
    expect(painted.n).toBeGreaterThan(0);
    expect(painted.n).toBeLessThan(painted.total);

    await page.getByRole("button", { name: "Generate" }).click();
    const image = page.getByTestId("result-image");
    await image.waitFor();
    expect(await page.locator("#status").getAttribute("data-status")).toBe("SUCCEEDED");
    expect(await image.getAttribute("width")).toBe("64");
    const [latest] = await client.jobs({ first: 1 });
    expect(latest?.task).toBe("INPAINTING");
    expect(latest?.model).toBe("tiny-sd-inpaint");
    expect(pageErrors).toEqual([]);
  });
});
