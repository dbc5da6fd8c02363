import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mountApp } from "./app";
import { el, revealed } from "./dom";
import { fakeApi, firstRun, proposal, status } from "./testing";

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
};

describe("the app shell", () => {
  beforeEach(() => {
    document.body.replaceChildren();
    location.hash = "";
  });

  it("opens on the empty inbox, in plain words", async () => {
    const root = document.createElement("div");
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal());
    mountApp(root, api).stop();
    await settle();
    expect(root.querySelector("#empty-inbox-heading")?.textContent).toBe("No proposals waiting.");
    expect(root.textContent).toContain("Connect an agent to get started.");
  });

  it("opens a newcomer's own desk on the first-run guide, and on the inbox once it is done", async () => {
    const root = document.createElement("div");
    document.body.append(root);
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal());
    let opens = true;
    api.firstRun = async () => firstRun({ opens });
    api.finishFirstRun = async () => {
      opens = false;
    };
    let ready = 0;
    api.ready = async () => {
      ready += 1;
    };
    mountApp(root, api).stop();
    await settle();
    await settle();
    expect(location.hash).toBe("#welcome");
    expect(root.querySelector("#guide-step-title")?.textContent).toBe("Step 1 of 5: What Countersign does");
    expect(ready).toBe(1);
    root.querySelector<HTMLButtonElement>("#guide-skip")!.click();
    await settle();
    await settle();
    expect(location.hash).toBe("#inbox");
    expect(root.querySelector("#empty-inbox-heading")?.textContent).toBe("No proposals waiting.");
    expect(ready).toBe(1);
  });

  it("on a team desk, asks who is signing in and opens as them", async () => {
    const root = document.createElement("div");
    document.body.append(root);
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal(), status({ signed_in: "Nora Nurse" }));
    let waiting = true;
    const tried: { name: string; code: string }[] = [];
    api.signInWanted = async () => (waiting ? { team: "postgres://clinic@db.example/team", demo_codes: ["Nora Nurse: 123456"] } : null);
    api.signIn = async (name, code) => {
      tried.push({ name, code });
      if (code !== "123456") throw { code: "not_allowed", message: "that name and code do not sign anyone in" };
      waiting = false;
    };
    mountApp(root, api).stop();
    await settle();
    expect(root.querySelector("#sign-in-title")?.textContent).toBe("Sign in to this desk");
    expect(root.querySelector<HTMLElement>("nav")?.hidden).toBe(true);
    expect(root.querySelector("#sign-in-demo-codes")?.textContent).toContain("Nora Nurse: 123456");
    expect(document.activeElement?.id).toBe("sign-in-name");
    expect(root.querySelector("label[for='sign-in-code']")?.textContent).toContain("Code from your authenticator app");
    root.querySelector<HTMLInputElement>("#sign-in-name")!.value = "Nora Nurse";
    root.querySelector<HTMLInputElement>("#sign-in-code")!.value = "000000";
    root.querySelector<HTMLButtonElement>("#sign-in")!.click();
    await settle();
    expect(root.querySelector("#sign-in-error")?.textContent).toBe("that name and code do not sign anyone in");
    expect(root.querySelector<HTMLInputElement>("#sign-in-code")!.value).toBe("");
    root.querySelector<HTMLInputElement>("#sign-in-code")!.value = "123456";
    root.querySelector<HTMLButtonElement>("#sign-in")!.click();
    await settle();
    await settle();
    expect(tried).toEqual([
      { name: "Nora Nurse", code: "000000" },
      { name: "Nora Nurse", code: "123456" },
    ]);
    expect(root.querySelector("#sign-in-screen")).toBeNull();
    expect(root.querySelector("#signed-in")?.textContent).toBe("Signed in: Nora Nurse");
    expect(root.querySelector<HTMLElement>("nav")?.hidden).toBe(false);
    root.remove();
  });

  it("has one main landmark, one h1 and a labelled navigation", async () => {
    const root = document.createElement("div");
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal());
    mountApp(root, api).stop();
    await settle();
    expect(root.querySelectorAll("main")).toHaveLength(1);
    expect(root.querySelectorAll("h1")).toHaveLength(1);
    expect(root.querySelector("nav")?.getAttribute("aria-label")).toBe("Sections");
    expect(root.querySelector("a.skip-link")?.getAttribute("href")).toBe("#main");
  });

  it("opens on the newest pending proposal and labels the demo", async () => {
    const root = document.createElement("div");
    const newest = proposal();
    const { api } = fakeApi({ pending: [newest.line], pending_total: 1, recent: [], alerts: [], pending_routines: 0 }, newest, status({ pending: 1, demo: true, demo_code: "123456" }));
    mountApp(root, api).stop();
    await settle();
    await settle();
    expect(location.hash).toBe("#proposal/prop_1");
    expect(root.querySelector("#review-headline")?.textContent).toBe("Pay $99.99 to Amazon");
    expect(root.querySelector("#demo-label")?.textContent).toContain("Demo");
    expect(root.querySelector("#demo-code")?.textContent).toBe("123456");
    expect(document.title).toBe("Countersign — 1 waiting");
  });

  it("shows the lock screen, and nothing else, while locked", async () => {
    const root = document.createElement("div");
    const { api } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal(), status({ locked: true, second_factor_enrolled: true }));
    mountApp(root, api).stop();
    await settle();
    expect(root.querySelector("#lock-title")?.textContent).toBe("Countersign is locked");
    expect(root.querySelector("#unlock-code")).not.toBeNull();
    expect(root.querySelector("#empty-inbox-heading")).toBeNull();
  });
});

describe("el", () => {
  it("inserts strings as text, never as markup", () => {
    const hostile = '<img src=x onerror="alert(1)"><b>bold</b>';
    const node = el("p", {}, hostile);
    expect(node.textContent).toBe(hostile);
    expect(node.querySelector("img")).toBeNull();
    expect(node.childNodes).toHaveLength(1);
    expect(node.firstChild?.nodeType).toBe(Node.TEXT_NODE);
  });

  it("refuses event-handler attributes", () => {
    expect(() => el("div", { onclick: "alert(1)" })).toThrow(/event attribute/);
  });

  it("marks hidden characters without parsing anything", () => {
    const nodes = revealed("pay ⟨U+202E⟩<b>x</b>");
    const p = el("p", {}, ...nodes);
    expect(p.querySelector("mark.hidden-char")?.textContent).toBe("⟨U+202E⟩");
    expect(p.querySelector("b")).toBeNull();
    expect(p.textContent).toBe("pay ⟨U+202E⟩<b>x</b>");
  });
});

afterEach(() => {
  vi.useRealTimers();
});
