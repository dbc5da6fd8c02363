// The sign-in screen of a team desk (design.md §19): a person gives their name in the team and
// the code their authenticator shows; the desk then opens as theirs, and every decision made
// here is recorded under their name. A wrong code leaves this screen up to try again.

import type { Api } from "./api";
import { message } from "./api";
import type { SignInView } from "./bindings";
import { button, el, field } from "./dom";

const DEMO_CODE_REFRESH_MS = 10_000;

/** On a desk of the team demo: its people's codes now, kept current while the screen is up. */
function demoCodes(team: SignInView, api: Api): HTMLElement | null {
  if (team.demo_codes.length === 0) return null;
  const words = (codes: string[]): string => `Demo — the demo's authenticator shows ${codes.join("; ")}.`;
  const line = el("p", { class: "demo-label", id: "sign-in-demo-codes" }, words(team.demo_codes));
  const timer = window.setInterval(() => {
    if (!line.isConnected) {
      window.clearInterval(timer);
      return;
    }
    api
      .signInWanted()
      .then((now) => {
        if (now !== null && now.demo_codes.length > 0) line.textContent = words(now.demo_codes);
      })
      .catch(() => undefined);
  }, DEMO_CODE_REFRESH_MS);
  return line;
}

export function signInPage(team: SignInView, api: Api, signedIn: () => void): HTMLElement {
  const error = el("p", { class: "error", role: "alert", id: "sign-in-error" });
  const name = el("input", { id: "sign-in-name", type: "text", autocomplete: "username", spellcheck: "false" });
  const code = el("input", { id: "sign-in-code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6" });
  let busy = false;
  const submit = (): void => {
    if (busy) return;
    if (name.value.trim() === "" || code.value.trim() === "") {
      error.textContent = "Give your name in the team and the code your authenticator shows.";
      return;
    }
    busy = true;
    error.textContent = "Signing in…";
    api
      .signIn(name.value.trim(), code.value.trim())
      .then(signedIn)
      .catch((e: unknown) => {
        error.textContent = message(e);
        code.value = "";
        code.focus();
      })
      .finally(() => {
        busy = false;
      });
  };
  for (const input of [name, code]) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") submit();
    });
  }
  return el(
    "section",
    { class: "page sign-in", "aria-labelledby": "sign-in-title", id: "sign-in-screen" },
    el("h1", { id: "sign-in-title" }, "Sign in to this desk"),
    el("p", { id: "sign-in-team" }, `This desk is part of a team (${team.team}). Sign in, and every decision made here is recorded under your name.`),
    demoCodes(team, api),
    field("Your name in the team", name),
    field("Code from your authenticator app", code),
    button("Sign in", { id: "sign-in", class: "primary" }, submit),
    error,
  );
}
