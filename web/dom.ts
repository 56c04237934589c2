/**
 * Two small DOM helpers the page's modules share: a typed `getElementById` that fails loudly when index.html and
 * the code disagree, and an element builder for the few nodes made at run time.
 */

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

/** `h("p", { class: "meta" }, "text", child)`: an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/**
 * A class name such as `StableDiffusionXLControlNetPAGImg2ImgPipeline` that a narrow screen may wrap between its
 * words (before each capital that starts a word) rather than mid-word: the text with `<wbr>` break opportunities.
 */
export function wrappableName(name: string): (Node | string)[] {
  const words = name.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/);
  return words.flatMap((word, i) => (i === 0 ? [word] : [document.createElement("wbr"), word]));
}
