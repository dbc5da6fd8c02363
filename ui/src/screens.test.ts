import { describe, expect, it } from "vitest";
import type { CredentialForm } from "./bindings";
import { scopeSentence } from "./credentials";
import { highlightedJson, el } from "./dom";
import { settingsPage } from "./settings";
import { fakeApi, proposal } from "./testing";

const blankForm: CredentialForm = {
  name: "stripe", kind: "http", description: "", auth: "bearer", auth_name: "", origins: ["https://api.stripe.com"],
  methods: ["GET", "POST"], path_prefixes: ["/v1"], dialect: "", url: "", read_write: false, max_rows: 500,
  host: "", port: 0, tls: "", username: "", from: "", allowed_domains: [], second_factor: false, release_default: "ask",
};

describe("the scope builder", () => {
  it("says the scope in plain words", () => {
    expect(scopeSentence(blankForm)).toBe(
      "Countersign will send this secret only to https://api.stripe.com, for only GET, POST requests, on paths starting /v1.",
    );
    expect(scopeSentence({ ...blankForm, kind: "sql", url: "postgres://reader@db/clinic", max_rows: 200 })).toContain("anything that changes data is refused");
    expect(scopeSentence({ ...blankForm, kind: "smtp", host: "smtp.gmail.com", from: "me@gmail.com", allowed_domains: ["clinic.example"] })).toContain("only to addresses at clinic.example");
  });
});

describe("the exact request", () => {
  it("is highlighted by kind, as text, with hidden characters marked", () => {
    const pre = el("pre", {}, ...highlightedJson('{\n  "payee": "Ama⟨U+202E⟩zon",\n  "amount": 999,\n  "ok": true\n}'));
    expect(pre.textContent).toBe('{\n  "payee": "Ama⟨U+202E⟩zon",\n  "amount": 999,\n  "ok": true\n}');
    expect(pre.querySelector(".json-key")?.textContent).toBe('"payee"');
    expect(pre.querySelector(".json-string mark.hidden-char")?.textContent).toBe("⟨U+202E⟩");
    expect(pre.querySelector(".json-number")?.textContent).toBe("999");
    expect(pre.querySelector(".json-literal")?.textContent).toBe("true");
  });
});

describe("settings", () => {
  it("enrols the second factor with a QR code and a typed code", async () => {
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal());
    let changed = 0;
    const page = settingsPage(api, await api.settings(), [], () => (changed += 1));
    document.body.replaceChildren(page);
    page.querySelector<HTMLButtonElement>("#enrol-start")!.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(page.querySelector<HTMLImageElement>("#enrol-qr")?.getAttribute("alt")).toBe("QR code for your authenticator app");
    expect(page.querySelector("#enrol-key")?.textContent).toBe("ABC");
    page.querySelector<HTMLInputElement>("#enrol-code")!.value = "123456";
    page.querySelector<HTMLButtonElement>("#enrol-confirm")!.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(changed).toBe(1);
    for (const control of page.querySelectorAll("input, select")) {
      expect(page.querySelector(`label[for="${control.id}"]`), control.id).not.toBeNull();
    }
  });
});

describe("support", () => {
  it("shows the diagnostic report as text and says whether it was copied", async () => {
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal());
    api.diagnostics = async () => ({ text: "Countersign 0.1.0\nLatest warnings and errors:\n  <img src=x onerror=alert(1)>" });
    const page = settingsPage(api, await api.settings(), [], () => undefined);
    document.body.replaceChildren(page);
    page.querySelector<HTMLButtonElement>("#copy-diagnostics")!.click();
    for (let i = 0; i < 5; i += 1) await new Promise((r) => setTimeout(r, 0));
    const report = page.querySelector<HTMLElement>("#diagnostics-report")!;
    expect(report.hidden).toBe(false);
    expect(report.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(report.querySelector("img")).toBeNull();
    expect(page.querySelector("#diagnostics-status")?.textContent).not.toBe("");
  });
});

describe("errors across IPC", () => {
  it("reads the coded error's message and code", async () => {
    const { message, errorCode, ERROR_KINDS } = await import("./api");
    const error = { code: "locked", message: "Countersign is locked. Unlock it to continue." };
    expect(message(error)).toBe("Countersign is locked. Unlock it to continue.");
    expect(errorCode(error)).toBe("locked");
    expect(errorCode("plain text")).toBeNull();
    expect(errorCode({ code: "made_up", message: "x" })).toBeNull();
    expect(Object.keys(ERROR_KINDS).length).toBe(7);
  });
});
