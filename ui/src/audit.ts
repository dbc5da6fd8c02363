import type { Api } from "./api";
import { message } from "./api";
import type { AuditLine, AuditQuery } from "./bindings";
import { button, el, field } from "./dom";

const EVENTS = [
  "proposal.received", "proposal.refused", "proposal.withdrawn", "proposal.expired", "proposal.viewed",
  "decision.approved", "decision.rejected", "second_factor.succeeded", "second_factor.failed",
  "grant.consumed", "execution.started", "execution.succeeded", "execution.failed",
  "execution.outcome_unknown", "result.released", "credential.added", "credential.removed",
  "credential.scope_violation", "agent.added", "agent.revoked", "app.unlocked", "app.locked",
  "settings.changed", "audit.verified", "audit.exported", "audit.checkpoint",
];

function rows(entries: AuditLine[]): HTMLElement {
  return el(
    "table",
    { class: "audit", id: "audit-entries" },
    el("caption", {}, `${entries.length} entr${entries.length === 1 ? "y" : "ies"}, newest first`),
    el("thead", {}, el("tr", {}, ...["#", "When (UTC)", "Who", "What", "Proposal", "Credential", "Outcome", "Details"].map((h) => el("th", { scope: "col" }, h)))),
    el(
      "tbody",
      {},
      ...entries.map((e) =>
        el(
          "tr",
          { "data-event": e.event },
          el("td", {}, String(e.seq)),
          el("td", {}, e.at),
          el("td", {}, e.actor),
          el("td", {}, e.event),
          el("td", {}, e.proposal_id ?? ""),
          el("td", {}, e.credential ?? ""),
          el("td", {}, e.outcome ?? ""),
          el("td", { class: "details-cell" }, e.details === "{}" ? "" : e.details),
        ),
      ),
    ),
  );
}

/** The audit screen: browse and filter, verify, export, checkpoint. */
export function auditPage(api: Api): HTMLElement {
  const input = (id: string, placeholder: string): HTMLInputElement => el("input", { id, type: "text", placeholder, autocomplete: "off" });
  const from = input("audit-from", "2026-11-01");
  const to = input("audit-to", "2026-12-01");
  const actor = input("audit-actor", "agent:claude");
  const event = el("select", { id: "audit-event" }, el("option", { value: "" }, "Any event"), ...EVENTS.map((e) => el("option", { value: e }, e)));
  const proposal = input("audit-proposal", "prop_…");
  const verdict = el("p", { id: "audit-verdict", role: "status" });
  const status = el("p", { id: "audit-status", role: "status" });
  const list = el("div", { id: "audit-list" });
  const query = (): AuditQuery => ({ from: from.value, to: to.value, actor: actor.value, event: event.value, proposal: proposal.value });
  const load = (): void => {
    api
      .auditEntries(query())
      .then((entries) => list.replaceChildren(rows(entries)))
      .catch((e: unknown) => {
        status.textContent = message(e);
      });
  };
  const exporter = (format: "csv" | "json"): void => {
    api
      .exportAudit(format, query())
      .then((path) => {
        status.textContent = path === null ? "Export cancelled." : `Exported to ${path}.`;
      })
      .catch((e: unknown) => {
        status.textContent = message(e);
      });
  };
  const page = el(
    "section",
    { class: "page", "aria-labelledby": "audit-title" },
    el("h1", { id: "audit-title" }, "Audit log"),
    el("p", { class: "hint" }, "Every step is recorded here before it happens. Entries are chained, so any change or removal shows when you verify."),
    el(
      "div",
      { class: "actions" },
      button("Verify the log", { id: "audit-verify", class: "primary" }, () => {
        verdict.textContent = "Checking every entry…";
        verdict.className = "";
        api
          .verifyAudit()
          .then((v) => {
            verdict.textContent = v.message;
            verdict.className = v.intact ? "verdict-ok" : "verdict-bad";
            load();
          })
          .catch((e: unknown) => {
            verdict.textContent = message(e);
          });
      }),
      button("Export CSV", { id: "audit-export-csv" }, () => exporter("csv")),
      button("Export JSON", { id: "audit-export-json" }, () => exporter("json")),
      button("Save a signed checkpoint", { id: "audit-checkpoint" }, () => {
        api
          .checkpoint()
          .then((text) => {
            status.textContent = text ?? "Cancelled.";
          })
          .catch((e: unknown) => {
            status.textContent = message(e);
          });
      }),
    ),
    verdict,
    status,
    el(
      "fieldset",
      { class: "filters" },
      el("legend", {}, "Show only"),
      field("From (date or time)", from),
      field("Before", to),
      field("Who", actor),
      field("Event", event),
      field("Proposal", proposal),
      button("Apply", { id: "audit-apply" }, load),
    ),
    list,
  );
  load();
  return page;
}
