import { el } from "./dom";

/** The inbox page. Until an agent is connected there is nothing to review, and it says so. */
export function inboxPage(): HTMLElement {
  return el(
    "section",
    { class: "page", "aria-labelledby": "inbox-title" },
    el("h1", { id: "inbox-title" }, "Inbox"),
    el(
      "div",
      { class: "empty-state", role: "status" },
      el("h2", { id: "empty-inbox-heading" }, "No proposals waiting."),
      el("p", {}, "Connect an agent to get started."),
      el(
        "p",
        { class: "hint" },
        "When an agent asks to pay, change a record or send an email, it appears here for you " +
          "to read and approve or reject. Nothing happens without you.",
      ),
    ),
  );
}
