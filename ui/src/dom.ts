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

/** A labelled form control: the label's `for` points at the control's id. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  const hintId = hint === undefined ? undefined : `${control.id}-hint`;
  if (hintId !== undefined) control.setAttribute("aria-describedby", hintId);
  return el(
    "div",
    { class: "field" },
    el("label", { for: control.id }, label),
    control,
    hint === undefined ? null : el("p", { class: "hint", id: hintId }, hint),
  );
}

/** A button that runs `action` on click (and on Space/Enter, as buttons do). */
export function button(
  text: string,
  attributes: Attributes,
  action: (event: MouseEvent) => void,
): HTMLButtonElement {
  const node = el("button", { type: "button", ...attributes }, text);
  node.addEventListener("click", action);
  return node;
}

/**
 * Text with Countersign's hidden-character markers (`⟨U+202E⟩`) wrapped in <mark>, so they stand
 * out. Everything stays text; nothing is parsed as markup.
 */
export function revealed(text: string): Node[] {
  const parts = text.split(/(⟨U\+[0-9A-F]{4,6}⟩)/u);
  return parts
    .filter((part) => part !== "")
    .map((part) =>
      /^⟨U\+[0-9A-F]{4,6}⟩$/u.test(part)
        ? el("mark", { class: "hidden-char", title: "A hidden character" }, part)
        : document.createTextNode(part),
    );
}

/**
 * JSON text with its parts coloured by kind (keys, strings, numbers, literals) and hidden-character
 * markers marked. Everything stays text nodes inside spans; nothing is parsed as markup.
 */
export function highlightedJson(text: string): Node[] {
  const token = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/gu;
  const nodes: Node[] = [];
  let last = 0;
  for (const match of text.matchAll(token)) {
    const at = match.index;
    if (at > last) nodes.push(document.createTextNode(text.slice(last, at)));
    const [whole, string, colon, number, literal] = match;
    if (string !== undefined) {
      nodes.push(el("span", { class: colon === undefined ? "json-string" : "json-key" }, ...revealed(string)));
      if (colon !== undefined) nodes.push(document.createTextNode(colon));
    } else if (number !== undefined) {
      nodes.push(el("span", { class: "json-number" }, number));
    } else if (literal !== undefined) {
      nodes.push(el("span", { class: "json-literal" }, literal));
    } else {
      nodes.push(document.createTextNode(whole));
    }
    last = at + whole.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** A moment (RFC 3339 from Rust) in this computer's words; the text itself if it is not one. */
export function when(at: string): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? at : date.toLocaleString();
}
