import { el } from "./dom";
import { inboxPage } from "./inbox";

/** Lays out the app shell: a banner, the navigation and the current page. */
export function mountApp(root: HTMLElement): void {
  const main = el("main", { id: "main", tabindex: "-1" }, inboxPage());
  root.replaceChildren(
    el("a", { class: "skip-link", href: "#main" }, "Skip to content"),
    el(
      "header",
      { class: "banner" },
      el("span", { class: "brand" }, "Countersign"),
      el("span", { class: "tagline" }, "Agents propose. You decide."),
    ),
    el(
      "div",
      { class: "layout" },
      el(
        "nav",
        { "aria-label": "Sections" },
        el("ul", {}, el("li", {}, el("a", { href: "#inbox", "aria-current": "page" }, "Inbox"))),
      ),
      main,
    ),
  );
}
