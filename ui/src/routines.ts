import type { Api } from "./api";
import { message } from "./api";
import type { RiskSeverity, RoutineChange, RoutineLine, RoutineStatus, RoutineView, RunStatus } from "./bindings";
import { button, el, field, revealed, when } from "./dom";
import { ARM_MS } from "./review";

/** Every routine status in words: a status added in Rust fails to compile here until named. */
const ROUTINE_STATUS_WORDS: Record<RoutineStatus, string> = {
  pending: "Waiting for you",
  active: "Running",
  paused: "Paused",
  rejected: "Rejected",
  revoked: "Revoked",
  expired: "Expired",
};

/** Every run outcome in words. */
const RUN_STATUS_WORDS: Record<RunStatus, string> = {
  running: "Running now",
  succeeded: "Done",
  failed: "Failed",
  held: "Held for you",
  outcome_unknown: "Outcome unknown",
  missed: "Missed",
};

const SEVERITY_WORDS: Record<RiskSeverity, string> = { danger: "Danger", caution: "Caution", info: "Note" };

export function routineStatusWords(status: RoutineStatus): string {
  return ROUTINE_STATUS_WORDS[status];
}

function routineItem(line: RoutineLine, open: (id: string) => void): HTMLElement {
  const link = el("a", { href: `#routine/${encodeURIComponent(line.id)}`, class: "headline" }, ...revealed(line.headline));
  link.addEventListener("click", (event) => {
    event.preventDefault();
    open(line.id);
  });
  return el(
    "li",
    { class: `card routine routine-${line.status}`, "data-id": line.id },
    link,
    el(
      "p",
      { class: "meta" },
      `${routineStatusWords(line.status)} · from ${line.agent}`,
      line.expires === null ? null : ` · stops ${line.expires}`,
      line.expires_soon ? el("strong", { class: "expires-soon" }, " · stops within 7 days") : null,
    ),
  );
}

/** The routines screen: what each routine does, its status, and when it stops. */
export function routinesPage(lines: RoutineLine[], open: (id: string) => void): HTMLElement {
  const pending = lines.filter((l) => l.status === "pending");
  const others = lines.filter((l) => l.status !== "pending");
  return el(
    "section",
    { class: "page", "aria-labelledby": "routines-title" },
    el("h1", { id: "routines-title" }, "Routines"),
    el(
      "p",
      { class: "hint" },
      "A routine is work an agent asked to do regularly. You vet it once; Countersign then runs it itself within its bounds, and holds anything outside them for you.",
    ),
    lines.length === 0 ? el("p", { id: "no-routines" }, "No routines yet.") : null,
    pending.length === 0 ? null : el("h2", {}, "Waiting for you"),
    pending.length === 0 ? null : el("ul", { class: "cards", id: "pending-routines" }, ...pending.map((l) => routineItem(l, open))),
    others.length === 0 ? null : el("h2", {}, "All routines"),
    others.length === 0 ? null : el("ul", { class: "cards", id: "routines" }, ...others.map((l) => routineItem(l, open))),
  );
}

function list(title: string, id: string, items: string[]): HTMLElement | null {
  if (items.length === 0) return null;
  return el("section", { "aria-labelledby": `${id}-title` }, el("h2", { id: `${id}-title` }, title), el("ul", { id }, ...items.map((i) => el("li", {}, ...revealed(i)))));
}

/** One routine: its words, bounds, risks and runs; approve (word and second factor), reject,
 * pause, resume, revoke. */
export function routinePage(view: RoutineView, api: Api, enrolled: boolean, update: (view: RoutineView) => void): HTMLElement {
  const status = el("p", { role: "status", id: "routine-status" });
  const act = (change: RoutineChange, reason = ""): void => {
    api
      .changeRoutine(view.line.id, change, reason)
      .then(update)
      .catch((e: unknown) => {
        status.textContent = message(e);
      });
  };
  const steps = el(
    "ol",
    { id: "routine-steps" },
    ...view.steps.map((step, i) =>
      el(
        "li",
        {},
        ...revealed(step),
        view.at_limits[i] === null || view.at_limits[i] === undefined ? null : el("p", { class: "hint" }, "At its limits: ", ...revealed(view.at_limits[i] ?? "")),
      ),
    ),
  );
  const risks =
    view.risks.length === 0
      ? null
      : el(
          "ul",
          { class: "risks", id: "routine-risks" },
          ...view.risks.map((risk) =>
            el("li", { class: `risk risk-${risk.severity}`, "data-code": risk.code }, el("span", { class: `badge badge-${risk.severity}` }, SEVERITY_WORDS[risk.severity]), " ", risk.message),
          ),
        );
  const runs =
    view.runs.length === 0
      ? el("p", { id: "no-runs" }, "No runs yet.")
      : el(
          "table",
          { id: "runs" },
          el("caption", {}, "Runs, newest first"),
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Started"), el("th", { scope: "col" }, "Asked by"), el("th", { scope: "col" }, "Outcome"), el("th", { scope: "col" }, "Why"))),
          el(
            "tbody",
            {},
            ...view.runs.map((run) =>
              el(
                "tr",
                { "data-id": run.id, "data-status": run.status },
                el("td", {}, when(run.started_at)),
                el("td", {}, run.requested_by),
                el("td", {}, RUN_STATUS_WORDS[run.status], run.proposal_id === null ? null : el("a", { href: `#proposal/${encodeURIComponent(run.proposal_id)}` }, " (review it)")),
                el("td", {}, ...revealed(run.reason ?? "")),
              ),
            ),
          ),
        );
  const decision = (() => {
    if (view.line.status === "pending") {
      const word = el("input", { id: "routine-word", type: "text", autocomplete: "off", spellcheck: "false" });
      const code = el("input", { id: "routine-code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
      const approve = el("button", { type: "button", id: "approve-routine", disabled: true }, "Approve routine");
      let armed = false;
      const ready = (): boolean => armed && word.value.trim().toLowerCase() === view.confirmation_word && /^\d{6}$/.test(code.value.trim());
      const refresh = (): void => {
        approve.disabled = !ready();
      };
      setTimeout(() => {
        armed = true;
        refresh();
      }, ARM_MS);
      word.addEventListener("input", refresh);
      code.addEventListener("input", refresh);
      approve.addEventListener("click", () => {
        if (!ready()) return;
        approve.disabled = true;
        api
          .approveRoutine(view.line.id, word.value.trim(), code.value.trim())
          .then(update)
          .catch((e: unknown) => {
            status.textContent = message(e);
            refresh();
          });
      });
      const reason = el("input", { id: "routine-reject-reason", type: "text", autocomplete: "off" });
      return el(
        "section",
        { class: "decision", "aria-labelledby": "routine-decide-title" },
        el("h2", { id: "routine-decide-title" }, "Your decision"),
        el("p", {}, "A routine runs without asking you again. Approve it only if every run within these bounds is fine with you."),
        enrolled ? null : el("p", { role: "alert" }, "Approving a routine needs your second factor: set one up in Settings first."),
        field(`Type “${view.confirmation_word}” to approve`, word),
        field("Second-factor code", code),
        approve,
        field("Reason for rejecting (optional)", reason),
        button("Reject", { id: "reject-routine" }, () => act("reject", reason.value)),
      );
    }
    const controls: HTMLElement[] = [];
    if (view.line.status === "active") controls.push(button("Pause", { id: "pause-routine" }, () => act("pause")));
    if (view.line.status === "paused") controls.push(button("Resume", { id: "resume-routine" }, () => act("resume")));
    if (view.line.status === "active" || view.line.status === "paused") controls.push(button("Revoke for good", { id: "revoke-routine" }, () => act("revoke")));
    return controls.length === 0 ? null : el("section", { class: "decision" }, ...controls);
  })();
  return el(
    "section",
    { class: "page routine-review", "data-id": view.line.id, "aria-labelledby": "routine-title" },
    el("h1", { id: "routine-title" }, ...revealed(view.line.headline)),
    el("p", { class: "meta" }, `${routineStatusWords(view.line.status)} · proposed by ${view.line.agent} · ${when(view.line.received_at)}`),
    el("p", { id: "routine-schedule" }, view.schedule),
    el("section", { "aria-labelledby": "routine-steps-title" }, el("h2", { id: "routine-steps-title" }, "What each run does"), steps),
    list("Its bounds", "routine-bounds", view.bounds),
    list("Its limits", "routine-limits", [...view.limits, view.expiry]),
    el("p", { id: "routine-release" }, view.release),
    risks,
    el(
      "section",
      { class: "claim", "aria-labelledby": "routine-claim-title" },
      el("h2", { id: "routine-claim-title" }, "What the agent says"),
      el("p", {}, ...revealed(view.agent_summary)),
      el("p", { class: "hint" }, "Purpose given: ", ...revealed(view.purpose)),
    ),
    el("details", { id: "routine-exact" }, el("summary", {}, "The exact routine"), el("pre", { class: "artifact", tabindex: "0" }, ...revealed(view.routine_text)), el("p", { class: "hint" }, `SHA-256 ${view.routine_sha256}`)),
    decision,
    status,
    el("section", { "aria-labelledby": "runs-title" }, el("h2", { id: "runs-title" }, "Runs"), runs),
  );
}
