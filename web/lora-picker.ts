/**
 * The LoRA picker: rows of an adapter (from the server's `loras` query) and its scale, added and removed at will;
 * read into the generation input's `loras`. An empty picker sends nothing (the pipeline config's adapters apply).
 */
import type { LoraInput, LorasQuery } from "@autopipe/client";
import { h } from "./dom.ts";

type Lora = LorasQuery["loras"][number];

export interface LoraPicker {
  /** The adapters the server offers (the row selects list them). */
  setChoices(loras: readonly Lora[]): void;
  /** The rows as `LoraInput`s, in order; a scale that is not a number is reported by its row's index. */
  value(): { loras: LoraInput[] } | { invalidRow: number };
}

export function loraPicker(rows: HTMLElement, addButton: HTMLButtonElement): LoraPicker {
  let choices: readonly Lora[] = [];
  const label = (l: Lora) =>
    `${l.id} — ${l.format.toLowerCase()}, rank ${l.rank}${l.family ? `, ${l.family}` : ""}`;

  function addRow(): void {
    const index = rows.children.length;
    const select = h("select", { "aria-label": `Adapter ${index + 1}`, class: "lora-id" });
    select.append(...choices.map((l) => new Option(label(l), l.id)));
    const scale = h("input", {
      type: "number",
      step: "0.05",
      value: "1",
      inputmode: "decimal",
      "aria-label": `Scale of adapter ${index + 1}`,
      class: "lora-scale",
    });
    const remove = h(
      "button",
      { type: "button", class: "icon secondary", "aria-label": "Remove this adapter" },
      "✕",
    );
    const row = h("div", { class: "lora-row" }, select, scale, remove);
    remove.addEventListener("click", () => row.remove());
    rows.append(row);
  }

  addButton.addEventListener("click", () => {
    if (choices.length > 0) addRow();
  });

  return {
    setChoices(loras) {
      choices = loras;
      addButton.disabled = loras.length === 0;
      addButton.title = loras.length === 0 ? "The server has no LoRA adapters (AUTOPIPE_LORAS_DIR)" : "";
    },
    value() {
      const loras: LoraInput[] = [];
      for (const [i, row] of [...rows.children].entries()) {
        const id = row.querySelector<HTMLSelectElement>(".lora-id")?.value ?? "";
        const input = row.querySelector<HTMLInputElement>(".lora-scale");
        // A number field holding text reads as "" with `badInput` set: that is not "empty, use 1".
        if (input?.validity.badInput) return { invalidRow: i };
        const raw = input?.value.trim() ?? "";
        const scale = raw === "" ? 1 : Number(raw);
        if (!Number.isFinite(scale)) return { invalidRow: i };
        if (id) loras.push({ id, scale });
      }
      return { loras };
    },
  };
}
