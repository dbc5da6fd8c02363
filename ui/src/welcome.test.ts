import { describe, expect, it } from "vitest";
import type { AgentView, CredentialForm } from "./bindings";
import { fakeApi, firstRun, proposal } from "./testing";
import { firstRunPage } from "./welcome";

const tick = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i += 1) await new Promise((r) => setTimeout(r, 0));
};
const empty = { pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 };
const click = (page: HTMLElement, css: string): void => {
  const target = page.querySelector<HTMLButtonElement>(css);
  expect(target, css).not.toBeNull();
  target!.click();
};

describe("the first-run guide", () => {
  it("walks through every step, each skippable, with every control labelled", async () => {
    const { api } = fakeApi(empty, proposal());
    let finished = 0;
    const page = firstRunPage(api, firstRun(), { finished: () => (finished += 1), demo: () => undefined });
    document.body.replaceChildren(page);
    expect(page.querySelector("#guide-step-title")?.textContent).toBe("Step 1 of 5: What Countersign does");
    for (const title of ["Your second factor", "Your first account", "Your assistant", "Ready"]) {
      click(page, "#guide-next");
      expect(page.querySelector("#guide-step-title")?.textContent).toContain(title);
      // Moving on puts focus on the step's heading, so a screen reader reads where it is.
      expect(document.activeElement?.id).toBe("guide-step-title");
      for (const control of page.querySelectorAll("input, select")) {
        expect(page.querySelector(`label[for="${control.id}"]`), control.id).not.toBeNull();
      }
    }
    // Not done steps were skipped, and the summary says so in words.
    expect(page.querySelector("#guide-summary")?.textContent).toContain("Second factor: not set up");
    click(page, "#guide-finish");
    await tick();
    expect(finished).toBe(1);
  });

  it("fills the scope builder from a template and says what is left to type", async () => {
    const { api } = fakeApi(empty, proposal());
    const added: CredentialForm[] = [];
    api.addCredential = async (form) => {
      added.push(form);
      return true;
    };
    const page = firstRunPage(api, firstRun(), { finished: () => undefined, demo: () => undefined }, 2);
    document.body.replaceChildren(page);
    click(page, "#template-sqlite-file");
    expect(page.querySelector<HTMLSelectElement>("#cred-kind")?.value).toBe("sql");
    expect(page.querySelector<HTMLSelectElement>("#cred-dialect")?.value).toBe("sqlite");
    expect(page.querySelector("#cred-to-fill")?.textContent).toBe("Still to type: where the file is.");
    expect(page.querySelector("#cred-secret-words")?.textContent).toBe("No secret is needed.");
    page.querySelector<HTMLSelectElement>("#cred-template")!.value = "stripe";
    page.querySelector<HTMLSelectElement>("#cred-template")!.dispatchEvent(new Event("change"));
    expect(page.querySelector<HTMLTextAreaElement>("#cred-origins")?.value).toBe("https://api.stripe.com");
    expect(page.querySelector("#scope-sentence")?.textContent).toContain("only to https://api.stripe.com");
    click(page, "#cred-add");
    await tick();
    expect(added[0]?.origins).toEqual(["https://api.stripe.com"]);
  });

  it("turns the assistant check green when the assistant first asks, without moving focus", async () => {
    const { api } = fakeApi(empty, proposal());
    let agents: AgentView[] = [];
    api.connectAgent = async (name) => {
      agents = [{ name, added_at: "now", revoked_at: null, checked_in_at: null }];
      return { name, key: "csa_1", configs: [{ client: "Claude Desktop", place: "Settings", text: "{}" }] };
    };
    api.firstRun = async () => firstRun({ agents });
    const page = firstRunPage(api, firstRun(), { finished: () => undefined, demo: () => undefined }, 3);
    document.body.replaceChildren(page);
    page.querySelector<HTMLInputElement>("#guide-agent-name")!.value = "claude-desktop";
    click(page, "#guide-connect");
    await tick();
    expect(page.querySelector("#agent-checks .check.waiting")?.textContent).toContain("Waiting for “claude-desktop”");
    expect(page.querySelector("#agent-key")?.textContent).toBe("csa_1");
    const key = page.querySelector<HTMLElement>("#agent-key")!;
    key.focus();
    agents = [{ name: "claude-desktop", added_at: "now", revoked_at: null, checked_in_at: "later" }];
    await new Promise((r) => setTimeout(r, 1200));
    await tick();
    expect(page.querySelector("#agent-checks .check.done")?.textContent).toBe("✓ “claude-desktop” reached Countersign and can propose.");
    expect(document.activeElement).toBe(key);
    expect(page.querySelector("#guide-next")?.textContent).toBe("Next");
    page.dispatchEvent(new Event("countersign:leave"));
  });

  it("offers the demo and can be skipped as a whole", async () => {
    const { api } = fakeApi(empty, proposal());
    let skipped: boolean | null = null;
    api.finishFirstRun = async (s) => {
      skipped = s;
    };
    let demo = 0;
    const page = firstRunPage(api, firstRun(), { finished: () => undefined, demo: () => (demo += 1) }, 4);
    document.body.replaceChildren(page);
    click(page, "#guide-demo");
    await tick();
    expect(demo).toBe(1);
    const again = firstRunPage(api, firstRun(), { finished: () => undefined, demo: () => undefined });
    document.body.replaceChildren(again);
    click(again, "#guide-skip");
    await tick();
    expect(skipped).toBe(true);
  });
});
