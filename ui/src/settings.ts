import type { Api } from "./api";
import { message } from "./api";
import type { CredentialView, SettingsView } from "./bindings";
import { releaseSelect } from "./credentials";
import { button, el, field } from "./dom";

const LOCK_CHOICES: [number, string][] = [
  [0, "Never"],
  [60, "After 1 minute"],
  [300, "After 5 minutes"],
  [900, "After 15 minutes"],
  [1800, "After 30 minutes"],
  [3600, "After 1 hour"],
];

/** Second-factor enrolment: a QR code to scan, then a code from the app to confirm it. */
export function enrolment(api: Api, enrolled: boolean, changed: () => void): HTMLElement {
  const section = el("section", { class: "enrol", "aria-labelledby": "enrol-title" });
  const status = el("p", { role: "status", id: "enrol-status" });
  section.append(
    el("h2", { id: "enrol-title" }, "Second factor"),
    el(
      "p",
      { id: "enrol-state" },
      enrolled
        ? "Set up. Approvals that need it, and unlocking, ask for a code from your authenticator app."
        : "Not set up. Payments over your threshold and controlled-substance prescriptions need it.",
    ),
    button(enrolled ? "Replace it with a new one" : "Set up a second factor", { id: "enrol-start" }, () => {
      api
        .beginEnrolment()
        .then((view) => {
          const code = el("input", { id: "enrol-code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
          section.replaceChildren(
            el("h2", { id: "enrol-title" }, "Second factor"),
            el("p", {}, "Scan this with an authenticator app (Google Authenticator, 1Password, Authy…), then type the code it shows."),
            el("img", { src: view.qr_data_url, alt: "QR code for your authenticator app", id: "enrol-qr", width: "220", height: "220" }),
            el("p", {}, "Or type this key into the app: ", el("code", { id: "enrol-key" }, view.manual_key)),
            field("The 6-digit code the app shows", code),
            button("Confirm", { id: "enrol-confirm", class: "primary" }, () => {
              api
                .confirmEnrolment(code.value)
                .then(() => {
                  status.textContent = "Your second factor is set up.";
                  changed();
                })
                .catch((e: unknown) => {
                  status.textContent = message(e);
                });
            }),
            status,
          );
        })
        .catch((e: unknown) => {
          status.textContent = message(e);
        });
    }),
    status,
  );
  return section;
}

/** The settings screen: auto-lock, money threshold, second factor, default release choices. */
export function settingsPage(api: Api, view: SettingsView, credentials: CredentialView[], changed: () => void): HTMLElement {
  const s = view.settings;
  const choices = LOCK_CHOICES.some(([v]) => v === s.auto_lock_seconds)
    ? LOCK_CHOICES
    : [...LOCK_CHOICES, [s.auto_lock_seconds, `After ${s.auto_lock_seconds} seconds`] as [number, string]];
  const lock = el("select", { id: "auto-lock" }, ...choices.map(([v, words]) => el("option", { value: String(v), selected: v === s.auto_lock_seconds }, words)));
  const amount = el("input", { id: "threshold-amount", type: "text", inputmode: "decimal", value: s.threshold?.amount ?? "", autocomplete: "off" });
  const currency = el("input", { id: "threshold-currency", type: "text", value: s.threshold?.currency ?? "USD", maxlength: "3", autocomplete: "off" });
  const status = el("p", { role: "status", id: "settings-status" });
  const releaseStatus = el("p", { role: "status" });
  return el(
    "section",
    { class: "page", "aria-labelledby": "settings-title" },
    el("h1", { id: "settings-title" }, "Settings"),
    el(
      "section",
      { "aria-labelledby": "general-title" },
      el("h2", { id: "general-title" }, "Safety"),
      field("Lock Countersign when I am away", lock),
      field("Ask for my second factor for payments over", amount, "Leave empty for no threshold."),
      field("Currency", currency),
      button("Save", { id: "settings-save", class: "primary" }, () => {
        const threshold = amount.value.trim() === "" ? null : { amount: amount.value.trim(), currency: currency.value.trim().toUpperCase() };
        api
          .saveSettings({ auto_lock_seconds: Number(lock.value), threshold })
          .then(() => {
            status.textContent = "Saved.";
            changed();
          })
          .catch((e: unknown) => {
            status.textContent = message(e);
          });
      }),
      status,
    ),
    enrolment(api, view.second_factor_enrolled, changed),
    el(
      "section",
      { "aria-labelledby": "release-title" },
      el("h2", { id: "release-title" }, "What agents receive by default"),
      credentials.length === 0
        ? el("p", {}, "Add a credential first.")
        : el("div", {}, ...credentials.map((c) => releaseSelect(api, c, releaseStatus))),
      releaseStatus,
    ),
    safekeeping(api),
    support(api),
    el(
      "section",
      { "aria-labelledby": "guide-title" },
      el("h2", { id: "guide-title" }, "Getting started"),
      el("p", {}, "The guide walks through the second factor, a first account and connecting an assistant, and offers the demo."),
      el("a", { href: "#welcome", id: "open-guide", class: "button secondary" }, "Show the getting-started guide"),
    ),
  );
}

/** "Back up my records": one file to keep elsewhere or to restore on a new computer. */
function safekeeping(api: Api): HTMLElement {
  const status = el("p", { role: "status", id: "backup-status" });
  return el(
    "section",
    { "aria-labelledby": "backup-title" },
    el("h2", { id: "backup-title" }, "Keeping your records safe"),
    el(
      "p",
      {},
      "A backup is one file with your audit log, proposals, credential settings and checkpoints. It holds no secret: on a new computer you type each credential's secret again (countersign restore FILE).",
    ),
    button("Back up my records", { id: "backup-records", class: "secondary" }, () => {
      status.textContent = "Choose where to save the backup…";
      api
        .backup()
        .then((path) => {
          status.textContent = path === null ? "No backup was made." : `Backed up to ${path}. Keep it somewhere other than this computer.`;
        })
        .catch((e: unknown) => {
          status.textContent = message(e);
        });
    }),
    status,
  );
}

/** "Copy a diagnostic report": versions, paths, counts and recent warnings, for support. */
function support(api: Api): HTMLElement {
  const status = el("p", { role: "status", id: "diagnostics-status" });
  const report = el("pre", { id: "diagnostics-report", class: "diagnostics", tabindex: "0", hidden: true });
  return el(
    "section",
    { "aria-labelledby": "support-title" },
    el("h2", { id: "support-title" }, "Support"),
    el("p", {}, "The report lists versions, where your files are, how many proposals, credentials and agents there are, and recent warnings. It holds no secret and no proposal's content."),
    button("Copy a diagnostic report", { id: "copy-diagnostics", class: "secondary" }, () => {
      api
        .diagnostics()
        .then(async (view) => {
          report.textContent = view.text;
          report.hidden = false;
          try {
            await navigator.clipboard.writeText(view.text);
            status.textContent = "Copied. Paste it into your message to support.";
          } catch {
            status.textContent = "The report is below: select it and copy it.";
          }
        })
        .catch((e: unknown) => {
          status.textContent = message(e);
        });
    }),
    status,
    report,
  );
}

/** The lock screen: with a second factor, its code unlocks. */
export function lockScreen(api: Api, enrolled: boolean, unlocked: () => void): HTMLElement {
  const error = el("p", { class: "error", role: "alert", id: "unlock-error" });
  const code = el("input", { id: "unlock-code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
  const unlock = (): void => {
    api
      .unlock(enrolled ? code.value.trim() : null)
      .then(unlocked)
      .catch((e: unknown) => {
        error.textContent = message(e);
        code.value = "";
      });
  };
  code.addEventListener("keydown", (event) => {
    if (event.key === "Enter") unlock();
  });
  return el(
    "section",
    { class: "page lock-screen", "aria-labelledby": "lock-title", id: "lock-screen" },
    el("h1", { id: "lock-title" }, "Countersign is locked"),
    el("p", {}, "It locked itself after a while without use, so nobody can approve in your name."),
    enrolled ? field("Code from your authenticator app", code) : null,
    button("Unlock", { id: "unlock", class: "primary" }, unlock),
    error,
  );
}
