/**
 * The "Which pipeline?" panel: `resolvePipeline` for the chosen checkpoint and task, shown as the pipeline class
 * diffusers' AutoPipeline picks, whether this server runs it (and why not), the inpainting path and the
 * checkpoint's components. A newer request supersedes an older one still in flight.
 */
import type { AutopipeClient, ResolvePipelineResult, Task } from "@autopipe/client";
import { h, wrappableName } from "./dom.ts";

export function pipelinePanel(client: AutopipeClient, body: HTMLElement) {
  let latest = 0;

  async function refresh(model: string, task: Task): Promise<void> {
    const ticket = ++latest;
    if (!model) {
      body.replaceChildren(h("p", { class: "hint" }, "Pick a checkpoint."));
      return;
    }
    body.setAttribute("aria-busy", "true");
    let content: Node[];
    try {
      content = render(await client.resolvePipeline({ model, task }));
    } catch (error) {
      content = [h("p", { class: "field-error" }, `Could not ask the server: ${(error as Error).message}`)];
    }
    if (ticket !== latest) return;
    body.removeAttribute("aria-busy");
    body.replaceChildren(...content);
  }

  return { refresh };
}

function render(r: ResolvePipelineResult): Node[] {
  if (r.__typename !== "PipelineResolution") {
    return [h("p", { class: "field-error" }, r.message)];
  }
  const rows: [string, Node | string][] = [
    ["Pipeline", h("code", { "data-testid": "pipeline-class" }, ...wrappableName(r.pipelineClass))],
    [
      "Runnable",
      h(
        "span",
        { class: `badge ${r.runnable ? "yes" : "no"}`, "data-testid": "pipeline-runnable" },
        r.runnable ? "yes" : "no",
      ),
    ],
  ];
  if (r.reason) rows.push(["Reason", r.reason]);
  if (r.inpaintingMode)
    rows.push([
      "Inpainting",
      r.inpaintingMode === "NINE_CHANNEL"
        ? "9-channel inpainting UNet"
        : "blend (4-channel UNet, kept area re-noised each step)",
    ]);
  rows.push(["Checkpoint class", h("code", {}, ...wrappableName(r.sourceClass))]);
  rows.push(["Family", h("code", {}, r.family)]);
  rows.push(["Loaded", r.loaded ? "in memory" : "not yet (loads on first use)"]);
  const dl = h("dl", {});
  for (const [term, detail] of rows) dl.append(h("dt", {}, term), h("dd", {}, detail));
  const table = h(
    "table",
    { class: "components" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Component"), h("th", { scope: "col" }, "Class"))),
    h(
      "tbody",
      {},
      ...r.components.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, h("code", {}, c.name)),
          h(
            "td",
            {},
            ...(c.className
              ? wrappableName(`${c.library ?? ""}${c.library ? "." : ""}${c.className}`)
              : ["—"]),
          ),
        ),
      ),
    ),
  );
  return [dl, table];
}
