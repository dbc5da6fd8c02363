import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RoutineView } from "./bindings";
import { ARM_MS } from "./review";
import { routinePage, routinesPage } from "./routines";
import { fakeApi, proposal, routine } from "./testing";

function mount(view: RoutineView): { page: HTMLElement; calls: ReturnType<typeof fakeApi>["calls"]; done: RoutineView[] } {
  const { api, calls } = fakeApi({ pending: [], pending_total: 0, recent: [], alerts: [], pending_routines: 0 }, proposal());
  const done: RoutineView[] = [];
  const page = routinePage(view, api, true, (v) => done.push(v));
  document.body.replaceChildren(page);
  return { page, calls, done };
}

const type = (input: HTMLInputElement, text: string): void => {
  input.value = text;
  input.dispatchEvent(new Event("input"));
};

describe("the routine screens", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("lists pending routines apart, in words", () => {
    const page = routinesPage([routine().line, { ...routine().line, id: "rtn_2", status: "active", expires: "2 Mar 2027", expires_soon: true }], () => undefined);
    document.body.replaceChildren(page);
    expect(page.querySelectorAll("#pending-routines li")).toHaveLength(1);
    expect(page.querySelector("#routines li")!.textContent).toContain("stops within 7 days");
    expect(page.querySelector("#routines li")!.textContent).toContain("Running");
  });

  it("shows what each run does, its bounds, limits and release, and the agent's words as a claim", () => {
    const { page } = mount(routine());
    expect(page.querySelector("#routine-steps")!.textContent).toContain("At its limits: Pay $200.00 to Acme Power");
    expect(page.querySelector("#routine-bounds")!.textContent).toContain("at most $200.00");
    expect(page.querySelector("#routine-limits")!.textContent).toContain("2 Mar 2027");
    expect(page.querySelector("#routine-release")!.textContent).toContain("only body.status");
    expect(page.querySelector(".claim")!.textContent).toContain("Pay the power bill");
  });

  it("approves only after a moment, with the typed word and a six-digit code", () => {
    const { page, calls, done } = mount(routine());
    const approve = page.querySelector<HTMLButtonElement>("#approve-routine")!;
    const word = page.querySelector<HTMLInputElement>("#routine-word")!;
    const code = page.querySelector<HTMLInputElement>("#routine-code")!;
    type(word, "amber");
    type(code, "123456");
    expect(approve.disabled).toBe(true);
    vi.advanceTimersByTime(ARM_MS + 10);
    expect(approve.disabled).toBe(false);
    type(word, "amberx");
    expect(approve.disabled).toBe(true);
    type(word, " Amber ");
    type(code, "12345");
    expect(approve.disabled).toBe(true);
    type(code, "123456");
    approve.click();
    expect(calls.approveRoutine).toEqual([{ id: "rtn_1", confirmation: "Amber", code: "123456" }]);
    return vi.waitFor(() => expect(done[0]?.line.status).toBe("active"));
  });

  it("offers pause and revoke for a running routine, and links held runs to their review", () => {
    const { page, calls } = mount(
      routine({
        line: { ...routine().line, status: "active" },
        runs: [{ id: "run_1", requested_by: "its agent claude", started_at: "2026-12-02T10:00:00Z", status: "held", proposal_id: "prop_9", reason: "Held for you: amount: $250.00 is over the routine's most, $200.00." }],
      }),
    );
    expect(page.querySelector("#approve-routine")).toBeNull();
    expect(page.querySelector('#runs a[href="#proposal/prop_9"]')).not.toBeNull();
    expect(page.querySelector("#runs")!.textContent).toContain("Held for you");
    page.querySelector<HTMLButtonElement>("#pause-routine")!.click();
    page.querySelector<HTMLButtonElement>("#revoke-routine")!.click();
    expect(calls.changeRoutine.map((c) => c.change)).toEqual(["pause", "revoke"]);
  });

  it("inserts the routine's text as text, never as markup", () => {
    const { page } = mount(routine({ line: { ...routine().line, headline: "<img src=x onerror=alert(1)>" }, routine_text: "<script>alert(1)</script>" }));
    expect(page.querySelector("img, script")).toBeNull();
    expect(page.querySelector("#routine-title")!.textContent).toBe("<img src=x onerror=alert(1)>");
  });
});
