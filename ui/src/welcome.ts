// The first-run guide: what Countersign does, the second factor, a first account from a template,
// connecting an assistant (a check that turns green when it first asks what it may use), and the
// demo. Every step can be skipped; Settings opens the guide again.

import { connected } from "./agents";
import type { Api } from "./api";
import { message } from "./api";
import type { AgentView, FirstRunView } from "./bindings";
import { credentialBuilder } from "./credentials";
import { button, el, field } from "./dom";
import { enrolment } from "./settings";

/** How often the assistant check asks whether the assistant got through. */
const CHECK_MS = 1000;

const STEPS = ["What Countersign does", "Your second factor", "Your first account", "Your assistant", "Ready"] as const;

/** Where the guide goes when it ends: the inbox, or the demo in this window. */
export interface GuideExits {
  finished(): void;
  demo(): void;
}

function checkLine(agent: AgentView): HTMLElement {
  const through = agent.checked_in_at !== null;
  return el(
    "li",
    { class: through ? "check done" : "check waiting", "data-agent": agent.name },
    through
      ? `✓ “${agent.name}” reached Countersign and can propose.`
      : `Waiting for “${agent.name}” to ask Countersign what it may use… Paste the configuration, then start or restart the assistant.`,
  );
}

/** The guide, starting at `step` (0–4). */
export function firstRunPage(api: Api, view: FirstRunView, exits: GuideExits, step = 0): HTMLElement {
  let state = view;
  let at = step;
  let polling: number | undefined;
  const stopPolling = (): void => {
    if (polling !== undefined) window.clearInterval(polling);
    polling = undefined;
  };
  const progress = el("ol", { class: "steps", id: "guide-steps", "aria-label": "Steps" });
  const body = el("div", { class: "guide-step" });
  const status = el("p", { role: "status", id: "guide-status" });
  const page = el(
    "section",
    { class: "page guide", "aria-labelledby": "guide-page-title", id: "guide" },
    el("h1", { id: "guide-page-title" }, "Getting started"),
    progress,
    body,
    status,
  );
  page.addEventListener("countersign:leave", stopPolling);

  const refresh = async (): Promise<void> => {
    state = await api.firstRun();
  };
  const done = (index: number): boolean =>
    (index === 1 && state.second_factor_enrolled) ||
    (index === 2 && state.credentials.length > 0) ||
    (index === 3 && state.agents.some((a) => a.checked_in_at !== null));

  const finish = (skipped: boolean): void => {
    stopPolling();
    api
      .finishFirstRun(skipped)
      .then(() => exits.finished())
      .catch((e: unknown) => {
        status.textContent = message(e);
      });
  };
  const go = (index: number): void => {
    stopPolling();
    at = index;
    render();
    page.querySelector<HTMLElement>("#guide-step-title")?.focus();
  };
  const moves = (): HTMLElement =>
    el(
      "div",
      { class: "actions guide-moves", id: "guide-moves" },
      at > 0 ? button("Back", { id: "guide-back", class: "secondary" }, () => go(at - 1)) : null,
      at < STEPS.length - 1
        ? button(done(at) || at === 0 ? "Next" : "Skip this step", { id: "guide-next", class: done(at) || at === 0 ? "primary" : "secondary" }, () => go(at + 1))
        : null,
      at < STEPS.length - 1 ? button("Skip the guide", { id: "guide-skip", class: "secondary" }, () => finish(true)) : null,
    );

  const heading = (): HTMLElement => el("h2", { id: "guide-step-title", tabindex: "-1" }, `Step ${at + 1} of ${STEPS.length}: ${STEPS[at]}`);

  const about = (): HTMLElement[] => [
    el("p", {}, "Countersign lets an AI assistant work for you without ever holding your passwords or keys."),
    el(
      "ul",
      {},
      el("li", {}, "The assistant proposes one exact thing: a payment, a look-up, an email."),
      el("li", {}, "Countersign explains it in plain words, from the request itself — never from what the assistant says about it."),
      el("li", {}, "You approve or reject. Only what you approved runs, once, with the secret kept in this computer's keychain."),
      el("li", {}, "You choose what the assistant sees of the result, and every step is written to a log nobody can quietly change."),
    ),
    el("p", {}, "The next steps take a few minutes. You can skip any of them and come back from Settings."),
  ];

  const secondFactor = (): HTMLElement[] => [
    el("p", {}, "A code from an authenticator app on your phone guards the approvals that matter most — large payments, controlled-substance prescriptions — and unlocks Countersign after a while away."),
    enrolment(api, state.second_factor_enrolled, () => {
      void refresh().then(() => {
        status.textContent = "Your second factor is set up.";
        page.querySelector("#guide-moves")?.replaceWith(moves());
      });
    }),
  ];

  const account = (): HTMLElement[] => {
    const slot = el("div", {});
    const added = el(
      "p",
      { id: "guide-accounts" },
      state.credentials.length === 0 ? "No account yet." : `Added: ${state.credentials.map((c) => `“${c}”`).join(", ")}.`,
    );
    const pick = el(
      "ul",
      { class: "cards templates", id: "guide-templates" },
      ...state.templates.map((t) =>
        el(
          "li",
          { class: "card", "data-template": t.key },
          el("h3", {}, t.title),
          el("p", {}, t.words),
          button("Choose", { class: "secondary", id: `template-${t.key}`, "aria-label": `Choose ${t.title}` }, () => {
            slot.replaceChildren(
              credentialBuilder(
                api,
                (notice) => {
                  void refresh().then(() => {
                    status.textContent = notice;
                    go(2);
                  });
                },
                state.templates,
                t.key,
              ),
            );
            slot.querySelector<HTMLElement>("#add-credential-title")?.scrollIntoView?.({ block: "start" });
          }),
        ),
      ),
    );
    return [
      el("p", {}, "Pick what your assistant should be able to use. Countersign fills in where its secret may be sent; you type the rest. The secret itself goes into a separate window, never this page."),
      added,
      pick,
      slot,
    ];
  };

  const assistant = (): HTMLElement[] => {
    const checks = el("ul", { class: "checks", id: "agent-checks", "aria-live": "polite" }, ...state.agents.map(checkLine));
    const slot = el("div", {});
    const name = el("input", { id: "guide-agent-name", type: "text", autocomplete: "off", value: "my-assistant" });
    const watch = (): void => {
      stopPolling();
      polling = window.setInterval(() => {
        void api
          .firstRun()
          .then((next) => {
            const before = state.agents.filter((a) => a.checked_in_at !== null).length;
            state = next;
            // Replaced in place, without moving focus: the person may be copying the key.
            checks.replaceChildren(...state.agents.map(checkLine));
            if (state.agents.filter((a) => a.checked_in_at !== null).length > before) {
              page.querySelector("#guide-moves")?.replaceWith(moves());
            }
            if (state.agents.every((a) => a.checked_in_at !== null)) stopPolling();
          })
          .catch(() => undefined);
      }, CHECK_MS);
    };
    if (state.agents.some((a) => a.checked_in_at === null)) watch();
    return [
      el("p", {}, "Connect Claude Desktop, Claude Code, Cursor or any assistant that speaks MCP. It gets a key that lets it propose, nothing more."),
      field("A name for this assistant", name, "Letters, digits, dots and dashes, for example claude-desktop"),
      button("Connect it", { id: "guide-connect", class: "primary" }, () => {
        api
          .connectAgent(name.value)
          .then(async (agent) => {
            slot.replaceChildren(connected(agent));
            await refresh();
            checks.replaceChildren(...state.agents.map(checkLine));
            status.textContent = `Connected “${agent.name}”. Paste its configuration into the assistant.`;
            watch();
          })
          .catch((e: unknown) => {
            status.textContent = message(e);
          });
      }),
      checks,
      slot,
    ];
  };

  const ready = (): HTMLElement[] => [
    el(
      "ul",
      { id: "guide-summary" },
      el("li", {}, state.second_factor_enrolled ? "Second factor: set up." : "Second factor: not set up (Settings → Second factor)."),
      el("li", {}, state.credentials.length === 0 ? "Accounts: none yet (Credentials)." : `Accounts: ${state.credentials.join(", ")}.`),
      el(
        "li",
        {},
        state.agents.length === 0
          ? "Assistants: none yet (Agents)."
          : `Assistants: ${state.agents.map((a) => `${a.name}${a.checked_in_at === null ? " (not heard from yet)" : ""}`).join(", ")}.`,
      ),
    ),
    el("p", {}, "Proposals from your assistant will wait in the inbox for you."),
    el(
      "div",
      { class: "actions" },
      button("Go to my inbox", { id: "guide-finish", class: "primary" }, () => finish(false)),
      button("Try the demo first", { id: "guide-demo", class: "secondary" }, () => {
        status.textContent = "Starting the demo (its practice services and a demo assistant)…";
        api
          .startDemo()
          .then(() => exits.demo())
          .catch((e: unknown) => {
            status.textContent = message(e);
          });
      }),
    ),
    el("p", { class: "hint" }, "The demo uses practice services: nothing real is charged, booked or sent. Quit and open Countersign again to come back to your own records."),
  ];

  const render = (): void => {
    progress.replaceChildren(
      ...STEPS.map((title, index) =>
        el("li", { "aria-current": index === at ? "step" : false, class: done(index) ? "done" : "" }, done(index) ? `${title} ✓` : title),
      ),
    );
    const parts = [about, secondFactor, account, assistant, ready][at]?.() ?? [];
    body.replaceChildren(heading(), ...parts, moves());
  };
  render();
  return page;
}
