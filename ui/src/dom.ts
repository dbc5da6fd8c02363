// The only way the UI builds elements. Content is always inserted as text nodes: proposal text
// comes from agents, and nothing an agent wrote may ever be parsed as HTML (design.md §15).

export type Child = Node | string | null | undefined | false;

export interface Attributes {
  [name: string]: string | boolean | undefined;
}

/** Creates `<tag>` with the given attributes; string children become text nodes, never markup. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) {
      // Event handlers are attached with addEventListener by the caller, never as attributes.
      throw new Error(`refusing to set the event attribute ${name}`);
    }
    if (value === true) element.setAttribute(name, "");
    else if (typeof value === "string") element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}
