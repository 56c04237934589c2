/**
 * The web page's LoRA picker in headless Chromium against the real server on a real port (AUTOPIPE_LORAS_DIR: the
 * fixture's adapters): the picker offers the server's adapters, a row with an adapter and a scale goes into the
 * request, and the image shown is byte for byte the PNG the API returns for the same input; a scale that is not a
 * number is refused next to the picker before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AutopipeClient, createClient } from "../../client/index.ts";
import { type LaunchedBrowser, launchBrowser } from "../helpers/browser.ts";
import { LORA_FIXTURES } from "../helpers/lora.ts";
import { startHttpServer } from "../helpers/services.ts";

describe("the web page's LoRA picker in headless Chromium", () => {
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let browser: LaunchedBrowser;
  let client: AutopipeClient;

  beforeAll(async () => {
    server = await startHttpServer({
      AUTOPIPE_LORAS_DIR: `${LORA_FIXTURES}adapters`,
      AUTOPIPE_SAFETY_CHECKER: "off",
    });
    client = createClient({ url: server.url });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("applies a picked adapter at its scale: the image is the API's PNG byte for byte", async () => {
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(server.url.replace(/graphql$/, ""));
    await page.locator("#pipeline-body dl").waitFor();
    await page.selectOption("#model", "mini-sd");
    for (const [id, value] of Object.entries({
      prompt: "a photo of a cat",
      numInferenceSteps: "3",
      width: "64",
      height: "64",
      seed: "11",
    })) {
      await page.fill(`#${id}`, value);
    }
    await page.getByRole("button", { name: "Add adapter" }).click();
    const options = await page
      .locator("#lora-rows select option")
      .evaluateAll((els) => els.map((el) => (el as HTMLOptionElement).value));
    expect(options).toEqual((await client.loras()).map((l) => l.id));
    await page.selectOption("#lora-rows select", "mini-sd-lora-b.kohya");

    // A scale that is not a number is refused by the page itself.
    await page.fill("#lora-rows .lora-scale", "");
    await page.locator("#lora-rows .lora-scale").pressSequentially("1e");
    await page.getByRole("button", { name: "Generate" }).click();
    const error = page.locator("#loras-error");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toContain("adapter 1");

    await page.fill("#lora-rows .lora-scale", "0.6");
    await page.getByRole("button", { name: "Generate" }).click();
    const image = page.getByTestId("result-image");
    await image.waitFor();
    expect(await page.locator("#status").getAttribute("data-status")).toBe("SUCCEEDED");
    const src = (await image.getAttribute("src"))!;
    const direct = await client.generate({
      textToImage: {
        model: "mini-sd",
        prompt: "a photo of a cat",
        numInferenceSteps: 3,
        guidanceScale: 7.5,
        width: 64,
        height: 64,
        seed: "11",
        loras: [{ id: "mini-sd-lora-b.kohya", scale: 0.6 }],
      },
    });
    if (direct.__typename !== "Generation") throw new Error(direct.message);
    const shown = Buffer.from(src.slice("data:image/png;base64,".length), "base64");
    expect(shown.equals(Buffer.from(direct.images[0]!.base64, "base64"))).toBe(true);
    // And not the image without the adapter.
    const plain = await client.generate({
      textToImage: {
        model: "mini-sd",
        prompt: "a photo of a cat",
        numInferenceSteps: 3,
        width: 64,
        height: 64,
        seed: "11",
      },
    });
    if (plain.__typename !== "Generation") throw new Error(plain.message);
    expect(shown.equals(Buffer.from(plain.images[0]!.base64, "base64"))).toBe(false);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
