import type { Api } from "./api";
import { message } from "./api";
import type { ProposalView, RiskSeverity } from "./bindings";
import { button, el, field, highlightedJson, revealed } from "./dom";
import { statusWords } from "./inbox";
import { resultSection } from "./result";

/** How long a proposal must be on screen before Approve arms (design.md §9). */
export const ARM_MS = 1500;

/** Every severity in words: a severity added in Rust fails to compile here until it is named. */
const SEVERITY_WORDS: Record<RiskSeverity, string> = { danger: "Danger", caution: "Caution", info: "Note" };

function comparison(view: ProposalView): HTMLElement {
  return el(
    "section",
    { class: "comparison", "aria-labelledby": "comparison-title" },
    el("h2", { id: "comparison-title", class: "visually-hidden" }, "The agent's claim and what will really happen"),
    el(
      "div",
      { class: "claim" },
      el("h3", {}, "What the agent says"),
      el("p", { id: "agent-summary" }, ...revealed(view.agent_summary)),
      el("p", { class: "hint" }, "Purpose given: ", ...revealed(view.purpose)),
    ),
    el(
      "div",
      { class: "reality" },
      el("h3", {}, "What it will really do"),
      el("p", { class: "headline-again" }, view.line.headline),
      el(
        "dl",
        { class: "details" },
        ...view.details.flatMap((d) => [el("dt", {}, d.label), el("dd", {}, ...revealed(d.value))]),
      ),
    ),
  );
}

function risks(view: ProposalView): HTMLElement | null {
  if (view.risks.length === 0) return null;
  return el(
    "section",
    { class: "risks", "aria-labelledby": "risks-title" },
    el("h2", { id: "risks-title" }, "Check before you approve"),
    el(
      "ul",
      {},
      ...view.risks.map((risk) =>
        el(
          "li",
          { class: `risk risk-${risk.severity}`, "data-code": risk.code },
          el("span", { class: `badge badge-${risk.severity}` }, SEVERITY_WORDS[risk.severity]),
          " ",
          risk.message,
        ),
      ),
    ),
  );
}

function artifact(view: ProposalView): HTMLElement {
  const pre = el("pre", { id: "artifact-text", class: "artifact", hidden: true, tabindex: "0" }, ...highlightedJson(view.artifact_text));
  const toggle = button("Show the exact request", { id: "show-artifact", "aria-expanded": "false", "aria-controls": "artifact-text" }, () => {
    const open = pre.hidden;
    pre.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide the exact request" : "Show the exact request";
  });
  return el(
    "section",
    { class: "exact", "aria-labelledby": "exact-title" },
    el("h2", { id: "exact-title" }, "Where it goes"),
    el(
      "dl",
      { class: "details" },
      el("dt", {}, "Credential"),
      el("dd", { id: "credential" }, view.credential ?? "None (no secret is used)"),
      el("dt", {}, "Destination"),
      el("dd", { id: "destination" }, ...revealed(view.destination)),
      el("dt", {}, "Fingerprint"),
      el("dd", { class: "hash" }, view.artifact_sha256),
    ),
    toggle,
    pre,
  );
}

/** Keeps Approve disarmed until the proposal has been on screen for ARM_MS, and re-arms after
 *  anything that may have changed what the person saw. */
class Arming {
  private timer: ReturnType<typeof setTimeout> | undefined;
  armed = false;
  constructor(private readonly changed: () => void) {}
  restart(): void {
    this.armed = false;
    this.changed();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.armed = true;
      this.changed();
    }, ARM_MS);
  }
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

/** The review screen for one proposal. `done` is called with the updated view. */
export function reviewPage(
  view: ProposalView,
  api: Api,
  enrolled: boolean,
  done: (updated: ProposalView) => void,
): HTMLElement {
  const page = el("section", { class: "page review", "aria-labelledby": "review-headline", "data-id": view.line.id });
  page.append(
    el("p", { class: "meta" }, `Proposed by ${view.line.agent} · ${statusWords(view.line.status)}`),
    el("h1", { id: "review-headline" }, view.line.headline),
  );
  if (view.mismatch) {
    page.append(
      el(
        "div",
        { class: "mismatch", role: "alert", id: "mismatch" },
        el("strong", {}, "The agent's description does not match what this would do. "),
        "Read what it will really do below; the agent's words are only its claim.",
      ),
    );
  }
  page.append(comparison(view));
  const riskList = risks(view);
  if (riskList !== null) page.append(riskList);
  page.append(artifact(view));

  if (view.decided_by !== null) page.append(el("p", { id: "decided-by" }, `Decided by ${view.decided_by}`));
  if (view.line.status !== "pending") {
    if (view.reason !== null) page.append(el("p", { id: "reject-reason-shown" }, `Reason: ${view.reason}`));
    if (view.result !== null) page.append(resultSection(view, api, done));
    return page;
  }

  if (view.first_approved_by !== null) {
    page.append(
      el(
        "p",
        { class: "first-approval", id: "first-approval" },
        `${view.first_approved_by} approved this first. The team's rule needs a second person: it runs only when someone else approves it.`,
      ),
    );
  }
  const decision = el("section", { class: "decision", "aria-labelledby": "decision-title" });
  decision.append(el("h2", { id: "decision-title" }, view.signing === null ? "Your decision" : "Sign this prescription"));
  const error = el("p", { class: "error", role: "alert", id: "decision-error" });
  let word: HTMLInputElement | null = null;
  let code: HTMLInputElement | null = null;
  if (view.signing !== null) {
    // 21 CFR 1311.140: the prescription and the attestation stay on screen while the code is
    // entered; completing it is the signature.
    decision.append(
      el(
        "div",
        { class: "signing", id: "signing" },
        el("dl", { class: "details" }, ...view.details.flatMap((d) => [el("dt", {}, d.label), el("dd", {}, ...revealed(d.value))])),
        el("p", { class: "attestation", id: "attestation" }, view.signing.attestation),
      ),
    );
  }
  if (view.confirmation_word !== null) {
    word = el("input", { id: "confirm-word", type: "text", autocomplete: "off", spellcheck: "false" });
    decision.append(
      field(`Type “${view.confirmation_word}” to approve despite the danger warning`, word, "This is on purpose: danger warnings need a typed confirmation."),
    );
  }
  if (view.requires_second_factor) {
    if (!enrolled) {
      decision.append(el("p", { class: "error" }, "This needs your second factor, which is not set up yet. Set it up in Settings."));
    }
    code = el("input", { id: "second-factor", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
    decision.append(
      field(
        view.signing === null ? "Code from your authenticator app" : "Code from your authenticator app (this signs the prescription)",
        code,
      ),
    );
  }
  const armNote = el("p", { class: "hint", id: "arm-note", "aria-live": "polite" });
  const approve = el("button", { type: "button", id: "approve", class: "primary", disabled: true, "aria-describedby": "arm-note" }, view.signing === null ? "Approve" : "Sign and send");
  const reason = el("textarea", { id: "reject-reason", rows: "2" });
  const reject = button("Reject", { id: "reject", class: "secondary" }, () => {
    reject.disabled = true;
    api
      .reject(view.line.id, reason.value)
      .then(done)
      .catch((e: unknown) => {
        error.textContent = message(e);
        reject.disabled = false;
      });
  });

  const ready = (): boolean =>
    (word === null || word.value.trim().toLowerCase() === view.confirmation_word) &&
    (code === null || /^\d{6}$/.test(code.value.trim()));
  const arming = new Arming(() => {
    approve.disabled = !(arming.armed && ready());
    armNote.textContent = !arming.armed
      ? "Approve becomes available in a moment, after you have read the proposal."
      : ready()
        ? "Enter never approves: press the button itself (Space or a click)."
        : "Fill in the fields above to approve.";
  });
  for (const input of [word, code]) {
    input?.addEventListener("input", () => {
      approve.disabled = !(arming.armed && ready());
      armNote.textContent = arming.armed && ready() ? "Enter never approves: press the button itself (Space or a click)." : armNote.textContent;
    });
  }
  // Enter never approves: not on the button, not from a field.
  page.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target !== reject && event.target !== reason) event.preventDefault();
  });
  approve.addEventListener("click", () => {
    if (!arming.armed || !ready()) return;
    approve.disabled = true;
    error.textContent = "";
    api
      .approve(view.line.id, word?.value.trim() ?? null, code?.value.trim() ?? null)
      .then((updated) => {
        arming.stop();
        done(updated);
      })
      .catch((e: unknown) => {
        error.textContent = message(e);
        if (code !== null) code.value = "";
        arming.restart();
      });
  });
  // What the person sees may have changed while the window was hidden or unfocused.
  const rearm = (): void => arming.restart();
  document.addEventListener("visibilitychange", rearm);
  window.addEventListener("focus", rearm);
  page.addEventListener("countersign:leave", () => {
    arming.stop();
    document.removeEventListener("visibilitychange", rearm);
    window.removeEventListener("focus", rearm);
  });
  arming.restart();

  decision.append(
    el("div", { class: "actions" }, approve, armNote),
    field("Reason for rejecting (optional, the agent sees it)", reason),
    el("div", { class: "actions" }, reject),
    error,
  );
  page.append(decision);
  return page;
}
