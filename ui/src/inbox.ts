import type { InboxView, ProposalLine, Status } from "./bindings";
import { el, when } from "./dom";

/** When the person opens a proposal. */
export type Open = (id: string) => void;

function badges(line: ProposalLine): HTMLElement {
  const list = el("span", { class: "badges" });
  if (line.danger > 0) {
    list.append(el("span", { class: "badge badge-danger" }, `${line.danger} danger`));
  }
  if (line.caution > 0) {
    list.append(el("span", { class: "badge badge-caution" }, `${line.caution} caution`));
  }
  return list;
}

function row(line: ProposalLine, open: Open): HTMLElement {
  const link = el(
    "a",
    { href: `#proposal/${encodeURIComponent(line.id)}`, class: "proposal-link", "data-id": line.id },
    line.headline,
  );
  link.addEventListener("click", (event) => {
    event.preventDefault();
    open(line.id);
  });
  return el(
    "li",
    { class: `proposal status-${line.status}` },
    link,
    line.routine_id === null ? null : el("span", { class: "badge badge-danger held-run" }, "Held run of a routine"),
    badges(line),
    el("span", { class: "meta" }, `${line.agent} · ${when(line.received_at)}`),
    line.status === "pending" ? null : el("span", { class: "status-word" }, statusWords(line.status)),
  );
}

/** Every status in words; a new status fails to compile until it is named here. */
const STATUS_WORDS: Record<Status, string> = {
  pending: "Waiting for you",
  approved: "Approved",
  executing: "Running",
  succeeded: "Done",
  failed: "Failed",
  outcome_unknown: "Outcome unknown — check it yourself",
  rejected: "Rejected",
  withdrawn: "Withdrawn by the agent",
  expired: "Expired",
};

/** A status in the person's words. */
export function statusWords(status: Status): string {
  return STATUS_WORDS[status];
}

/** The inbox page: pending proposals first, newest first; alerts; recent decisions. */
export function inboxPage(inbox: InboxView | null, open: Open): HTMLElement {
  const page = el("section", { class: "page", "aria-labelledby": "inbox-title" });
  page.append(el("h1", { id: "inbox-title" }, "Inbox"));
  if (inbox !== null && inbox.alerts.length > 0) {
    page.append(
      el(
        "section",
        { class: "alerts", role: "alert", "aria-labelledby": "alerts-title" },
        el("h2", { id: "alerts-title" }, "Refused: a credential asked for where it is not allowed"),
        el(
          "ul",
          {},
          ...inbox.alerts.map((alert) =>
            el(
              "li",
              { class: "alert" },
              `${alert.agent} tried to use “${alert.credential}” outside what you allowed, and Countersign refused it. `,
              el("span", { class: "meta" }, `${when(alert.at)} — ${alert.message}`),
            ),
          ),
        ),
      ),
    );
  }
  if (inbox !== null && inbox.pending_routines > 0) {
    page.append(
      el(
        "p",
        { class: "routines-waiting", id: "routines-waiting" },
        el("a", { href: "#routines" }, inbox.pending_routines === 1 ? "1 routine is waiting for you to vet it." : `${inbox.pending_routines} routines are waiting for you to vet them.`),
      ),
    );
  }
  if (inbox === null || inbox.pending.length === 0) {
    page.append(
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
  } else {
    page.append(el("h2", { id: "pending-title" }, `Waiting for you (${inbox.pending_total})`));
    if (inbox.pending_total > inbox.pending.length) {
      page.append(
        el(
          "p",
          { id: "pending-more", class: "hint" },
          `Showing the ${inbox.pending.length} newest of ${inbox.pending_total} waiting. ` +
            "Deal with these and the older ones appear; proposals not decided in time expire on their own.",
        ),
      );
    }
    page.append(
      el("ul", { class: "proposals", id: "pending", "aria-labelledby": "pending-title" }, ...inbox.pending.map((l) => row(l, open))),
    );
  }
  if (inbox !== null && inbox.recent.length > 0) {
    page.append(
      el("h2", { id: "recent-title" }, "Recently decided"),
      el("ul", { class: "proposals", id: "recent", "aria-labelledby": "recent-title" }, ...inbox.recent.map((l) => row(l, open))),
    );
  }
  return page;
}
