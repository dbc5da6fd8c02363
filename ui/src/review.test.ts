import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ProposalView } from "./bindings";
import { ARM_MS, reviewPage } from "./review";
import { fakeApi, proposal } from "./testing";

function mount(view: ProposalView, enrolled = true): { page: HTMLElement; calls: ReturnType<typeof fakeApi>["calls"]; done: ProposalView[] } {
  const { api, calls } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, view);
  const done: ProposalView[] = [];
  const page = reviewPage(view, api, enrolled, (v) => done.push(v));
  document.body.replaceChildren(page);
  return { page, calls, done };
}

const approveButton = (page: HTMLElement): HTMLButtonElement => page.querySelector<HTMLButtonElement>("#approve")!;

describe("the review screen", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("does not arm Approve until the proposal has been on screen for a moment", () => {
    const { page, calls } = mount(proposal());
    expect(approveButton(page).disabled).toBe(true);
    approveButton(page).click();
    expect(calls.approve).toHaveLength(0);
    vi.advanceTimersByTime(ARM_MS - 100);
    expect(approveButton(page).disabled).toBe(true);
    vi.advanceTimersByTime(200);
    expect(approveButton(page).disabled).toBe(false);
    approveButton(page).click();
    expect(calls.approve).toEqual([{ id: "prop_1", confirmation: null, code: null }]);
  });

  it("says, as text, who approved first when a team's rule needs a second person", () => {
    const { page } = mount(proposal({ first_approved_by: "Nora <b>Nurse</b>" }));
    const first = page.querySelector("#first-approval")!;
    expect(first.textContent).toContain("Nora <b>Nurse</b> approved this first");
    expect(first.querySelector("b")).toBeNull();
    expect(approveButton(page)).not.toBeNull();
  });

  it("names who decided a proposal at another desk", () => {
    const { page } = mount(proposal({ decided_by: "Dr Khan", line: { ...proposal().line, status: "succeeded" } }));
    expect(page.querySelector("#decided-by")!.textContent).toBe("Decided by Dr Khan");
    expect(approveButton(page)).toBeNull();
  });

  it("re-arms when the window comes back", () => {
    const { page } = mount(proposal());
    vi.advanceTimersByTime(ARM_MS + 10);
    expect(approveButton(page).disabled).toBe(false);
    window.dispatchEvent(new Event("focus"));
    expect(approveButton(page).disabled).toBe(true);
    vi.advanceTimersByTime(ARM_MS + 10);
    expect(approveButton(page).disabled).toBe(false);
  });

  it("never approves on Enter", () => {
    const { page } = mount(proposal());
    vi.advanceTimersByTime(ARM_MS + 10);
    const enter = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true });
    approveButton(page).dispatchEvent(enter);
    expect(enter.defaultPrevented).toBe(true);
  });

  it("needs the danger word typed", () => {
    const view = proposal({ risks: [{ code: "no_filter", severity: "danger", message: "Every row changes." }], confirmation_word: "cedar" });
    const { page, calls } = mount(view);
    vi.advanceTimersByTime(ARM_MS + 10);
    expect(approveButton(page).disabled).toBe(true);
    const word = page.querySelector<HTMLInputElement>("#confirm-word")!;
    word.value = "cedar";
    word.dispatchEvent(new Event("input", { bubbles: true }));
    expect(approveButton(page).disabled).toBe(false);
    approveButton(page).click();
    expect(calls.approve[0]?.confirmation).toBe("cedar");
    expect(page.querySelector(".risk-danger")?.textContent).toContain("Every row changes.");
  });

  it("keeps the prescription and the attestation on screen while the code is entered", () => {
    const view = proposal({ requires_second_factor: true, signing: { attestation: "I am the prescriber." }, details: [{ label: "Medication", value: "Oxycodone 5 MG" }] });
    const { page, calls } = mount(view);
    vi.advanceTimersByTime(ARM_MS + 10);
    const signing = page.querySelector("#signing")!;
    expect(signing.textContent).toContain("Oxycodone 5 MG");
    expect(signing.textContent).toContain("I am the prescriber.");
    expect(approveButton(page).textContent).toBe("Sign and send");
    expect(approveButton(page).disabled).toBe(true);
    const code = page.querySelector<HTMLInputElement>("#second-factor")!;
    code.value = "123456";
    code.dispatchEvent(new Event("input", { bubbles: true }));
    expect(page.querySelector("#attestation")).not.toBeNull();
    approveButton(page).click();
    expect(calls.approve[0]?.code).toBe("123456");
  });

  it("shows a mismatch prominently and proposal text only as text", () => {
    const view = proposal({ mismatch: true, agent_summary: '<img src=x onerror="alert(1)"> Pay $9.99 ⟨U+202E⟩' });
    const { page } = mount(view);
    expect(page.querySelector("#mismatch")?.getAttribute("role")).toBe("alert");
    expect(page.querySelector("img")).toBeNull();
    expect(page.querySelector("#agent-summary")?.textContent).toContain("<img src=x");
    expect(page.querySelector("#agent-summary mark.hidden-char")?.textContent).toBe("⟨U+202E⟩");
  });

  it("shows the exact artifact on demand", () => {
    const { page } = mount(proposal());
    const pre = page.querySelector<HTMLElement>("#artifact-text")!;
    expect(pre.hidden).toBe(true);
    page.querySelector<HTMLButtonElement>("#show-artifact")!.click();
    expect(pre.hidden).toBe(false);
    expect(page.querySelector("#show-artifact")?.getAttribute("aria-expanded")).toBe("true");
  });

  it("rejects with a reason", async () => {
    const { page, calls, done } = mount(proposal());
    page.querySelector<HTMLTextAreaElement>("#reject-reason")!.value = "not today";
    page.querySelector<HTMLButtonElement>("#reject")!.click();
    await vi.runAllTimersAsync();
    expect(calls.reject).toEqual([{ id: "prop_1", reason: "not today" }]);
    expect(done[0]?.line.status).toBe("rejected");
  });

  it("labels every form control", () => {
    const { page } = mount(proposal({ requires_second_factor: true, confirmation_word: "cedar" }));
    for (const control of page.querySelectorAll("input, textarea, select")) {
      expect(page.querySelector(`label[for="${control.id}"]`), control.id).not.toBeNull();
    }
  });
});

describe("the result and release", () => {
  it("previews exactly what the agent will receive and releases the ticked fields", async () => {
    const view = proposal({ line: { ...proposal().line, status: "succeeded" }, result: { status: 200, body: { balance: 1200, ssn: "123-45-6789" } } });
    const { page, calls } = mount(view);
    await new Promise((r) => setTimeout(r, 0));
    const balance = page.querySelector<HTMLInputElement>('input[data-path="body.balance"]')!;
    balance.checked = true;
    balance.dispatchEvent(new Event("change"));
    await new Promise((r) => setTimeout(r, 0));
    expect(page.querySelector<HTMLInputElement>("#release-fields")!.checked).toBe(true);
    expect(page.querySelector("#release-preview")?.textContent).toContain('"balance": 1200');
    page.querySelector<HTMLButtonElement>("#release")!.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(calls.release).toEqual([{ kind: "fields", fields: ["body.balance"] }]);
  });

  it("lists the result's facts in words, marks sensitive ones, and releases a fact's paths", async () => {
    const view = proposal({
      line: { ...proposal().line, status: "succeeded" },
      result: { status: 200, body: { total: 1, entry: [{ resource: { code: { text: "A1c" }, valueQuantity: { value: 7.2, unit: "%" } } }] } },
      result_words: {
        summary: "Found 1 records; 1 shown here",
        facts: [
          { label: "Records found", value: "1", paths: ["body.total"], sensitive: null },
          { label: "Value", value: "7.2 %", paths: ["body.entry.0.resource.valueQuantity"], sensitive: "health information" },
        ],
      },
    });
    const { page, calls } = mount(view);
    await new Promise((r) => setTimeout(r, 0));
    expect(page.querySelector("#result-summary")?.textContent).toBe("Found 1 records; 1 shown here");
    const boxes = page.querySelectorAll<HTMLInputElement>("#result-facts input[type=checkbox]");
    expect(boxes.length).toBe(2);
    expect([...boxes].every((b) => !b.checked)).toBe(true);
    expect(page.querySelector("#result-facts li.sensitive")?.textContent).toContain("Sensitive: health information");
    expect(page.querySelector<HTMLDetailsElement>("#raw-result")?.open).toBe(false);
    boxes[1]!.checked = true;
    boxes[1]!.dispatchEvent(new Event("change"));
    await new Promise((r) => setTimeout(r, 0));
    page.querySelector<HTMLButtonElement>("#release")!.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(calls.release).toEqual([{ kind: "fields", fields: ["body.entry.0.resource.valueQuantity"] }]);
  });

  it("shows rows as a table with selectable columns and rows", async () => {
    const view = proposal({ kind: "sql", line: { ...proposal().line, status: "succeeded" }, result: { columns: ["name", "dob"], rows: [["Jane", "1980"]], truncated: false } });
    const { page } = mount(view);
    expect(page.querySelector("table.rows caption")?.textContent).toBe("1 row");
    expect(page.querySelector('input[data-path="dob"]')).not.toBeNull();
    expect(page.querySelector('input[data-path="row:1"]')).not.toBeNull();
  });

  it("shows an email as a receipt", async () => {
    const artifact = JSON.stringify({ kind: "email", to: ["jane@mail.example"], subject: "Your visit", attachments: [{ filename: "summary.pdf" }] });
    const view = proposal({ kind: "email", artifact_text: artifact, line: { ...proposal().line, status: "succeeded" }, result: { recipients: ["jane@mail.example"], reply: "250 OK" } });
    const { page } = mount(view);
    const receipt = page.querySelector("#receipt")!.textContent ?? "";
    expect(receipt).toContain("jane@mail.example");
    expect(receipt).toContain("summary.pdf");
    expect(receipt).toContain("250 OK");
  });
});
