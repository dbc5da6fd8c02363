import { agentsPage } from "./agents";
import type { Api } from "./api";
import { message } from "./api";
import { auditPage } from "./audit";
import type { ProposalView, RoutineView, StatusView } from "./bindings";
import { credentialsPage } from "./credentials";
import { button, el } from "./dom";
import { inboxPage } from "./inbox";
import { reviewPage } from "./review";
import { routinePage, routinesPage } from "./routines";
import { lockScreen, settingsPage } from "./settings";
import { signInPage } from "./signin";
import { firstRunPage } from "./welcome";

const SECTIONS: [string, string][] = [
  ["inbox", "Inbox"],
  ["routines", "Routines"],
  ["credentials", "Credentials"],
  ["agents", "Agents"],
  ["audit", "Audit log"],
  ["settings", "Settings"],
];

/** Input this often or more postpones the auto-lock (the app is told at most this often). */
const TOUCH_MS = 5000;

/** The running UI: the shell of banner, navigation and one page, kept in step with the app. */
export class App {
  private status: StatusView | null = null;
  private route = "inbox";
  private readonly main: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly nav: HTMLElement;
  private lastTouch = 0;
  /** A team desk nobody signed in to yet: only the sign-in screen is shown. */
  private signingIn = false;
  private stopped = false;
  /** Set once the first page (the inbox or the guide) is on screen; start-up checks wait for it. */
  private announcedReady = false;

  constructor(
    root: HTMLElement,
    private readonly api: Api,
  ) {
    this.main = el("main", { id: "main", tabindex: "-1" });
    this.banner = el("div", { class: "banner-status" });
    this.nav = el("nav", { "aria-label": "Sections" });
    root.replaceChildren(
      el("a", { class: "skip-link", href: "#main" }, "Skip to content"),
      el(
        "header",
        { class: "banner" },
        el("span", { class: "brand" }, "Countersign"),
        el("span", { class: "tagline" }, "Agents propose. You decide."),
        this.banner,
      ),
      el("div", { class: "layout" }, this.nav, this.main),
    );
    this.renderNav();
    for (const type of ["keydown", "pointerdown", "wheel"]) {
      document.addEventListener(type, () => this.activity(), { passive: true });
    }
    window.addEventListener("hashchange", () => this.follow());
    // A call refused because the desk locked: show the lock screen now, not at the next poll.
    window.addEventListener("countersign:locked", () => {
      void this.api
        .status()
        .then(async (next) => {
          this.status = next;
          this.renderBanner();
          await this.follow();
        })
        .catch(() => undefined);
    });
  }

  /** Starts following the app's status and shows the first page. */
  async start(): Promise<void> {
    // A team desk opens only once its person signed in.
    const team = await this.api.signInWanted().catch(() => null);
    this.signingIn = team !== null;
    // Nothing but the sign-in screen until someone signs in: no section can open yet.
    this.nav.hidden = this.signingIn;
    if (team !== null) {
      this.show(signInPage(team, this.api, () => void this.start()));
      this.main.querySelector<HTMLInputElement>("#sign-in-name")?.focus();
      return;
    }
    try {
      this.status = await this.api.status();
    } catch (e) {
      this.main.replaceChildren(el("section", { class: "page" }, el("h1", {}, "Countersign could not start"), el("p", { role: "alert", id: "start-error" }, message(e))));
      return;
    }
    this.renderBanner();
    if (location.hash === "") {
      // A newcomer's own desk opens on the first-run guide.
      const guide = await this.api.firstRun().catch(() => null);
      if (guide?.opens === true) location.hash = "#welcome";
    }
    if (location.hash === "" && this.status.pending > 0) {
      // The app opens on the newest proposal.
      const inbox = await this.api.inbox().catch(() => null);
      const newest = inbox?.pending[0];
      if (newest !== undefined) location.hash = `#proposal/${encodeURIComponent(newest.id)}`;
    }
    await this.follow();
    void this.watch();
  }

  stop(): void {
    this.stopped = true;
  }

  private activity(): void {
    const now = Date.now();
    if (now - this.lastTouch < TOUCH_MS || this.status?.locked === true) return;
    this.lastTouch = now;
    this.api.touch().catch(() => undefined);
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      const seen = this.status?.version ?? "";
      let next: StatusView;
      try {
        next = await this.api.waitForChange(seen);
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const before = this.status;
      this.status = next;
      this.renderBanner();
      if (next.locked !== before?.locked || next.version !== before?.version) {
        // Only pages that show live data are redrawn; a review in progress is redrawn only if
        // its proposal changed status, which also re-arms Approve.
        if (next.locked || before?.locked === true || this.route === "inbox") await this.follow();
        else if (this.route.startsWith("proposal/")) await this.refreshReview();
      }
    }
  }

  private renderBanner(): void {
    const s = this.status;
    if (s === null) return;
    document.title = s.pending === 0 ? "Countersign" : `Countersign — ${s.pending} waiting`;
    const parts: (HTMLElement | null)[] = [
      s.demo
        ? el(
            "span",
            { class: "demo-label", id: "demo-label" },
            "Demo — sandbox services; nothing real is charged, booked or sent.",
            s.demo_code === null ? null : el("span", { class: "demo-code" }, " Demo authenticator code: ", el("strong", { id: "demo-code" }, s.demo_code)),
          )
        : null,
      s.signed_in === null ? null : el("span", { class: "signed-in", id: "signed-in" }, `Signed in: ${s.signed_in}`),
      el("span", { class: "pending-count", id: "pending-count", "aria-live": "polite" }, s.pending === 0 ? "Nothing waiting" : `${s.pending} waiting`),
      s.locked
        ? null
        : button("Lock", { id: "lock-now", class: "secondary" }, () => {
            this.api.lock().catch(() => undefined);
          }),
    ];
    this.banner.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
  }

  private renderNav(): void {
    this.nav.replaceChildren(
      el(
        "ul",
        {},
        ...SECTIONS.map(([route, label]) =>
          el("li", {}, el("a", { href: `#${route}`, "aria-current": this.route.split("/")[0] === route || (route === "inbox" && this.route.startsWith("proposal/")) || (route === "routines" && this.route.startsWith("routine/")) ? "page" : false, id: `nav-${route}` }, label)),
        ),
      ),
    );
  }

  private show(page: HTMLElement): void {
    this.main.querySelector(".page")?.dispatchEvent(new Event("countersign:leave"));
    this.main.replaceChildren(page);
  }

  private async follow(notice = ""): Promise<void> {
    if (this.signingIn) return;
    this.route = decodeURIComponent(location.hash.replace(/^#/, "")) || "inbox";
    this.renderNav();
    if (this.status?.locked === true) {
      this.show(lockScreen(this.api, this.status.second_factor_enrolled, () => void this.refreshStatus()));
      return;
    }
    try {
      if (this.route.startsWith("proposal/")) {
        await this.openProposal(this.route.slice("proposal/".length));
      } else if (this.route === "routines") {
        this.show(routinesPage(await this.api.routines(), (id) => (location.hash = `#routine/${encodeURIComponent(id)}`)));
      } else if (this.route.startsWith("routine/")) {
        await this.openRoutine(this.route.slice("routine/".length));
      } else if (this.route === "welcome") {
        const guide = firstRunPage(this.api, await this.api.firstRun(), {
          finished: () => {
            location.hash = "#inbox";
          },
          // The window now shows the demo's desk: start again from its status.
          demo: () => {
            location.hash = "";
            location.reload();
          },
        });
        this.show(guide);
        this.announceReady();
      } else if (this.route === "credentials") {
        const templates = await this.api.credentialTemplates().catch(() => []);
        this.show(credentialsPage(this.api, await this.api.credentials(), (notice) => void this.follow(notice), notice, templates));
      } else if (this.route === "agents") {
        this.show(agentsPage(this.api, await this.api.agents(), () => void this.follow()));
      } else if (this.route === "audit") {
        this.show(auditPage(this.api));
      } else if (this.route === "settings") {
        this.show(settingsPage(this.api, await this.api.settings(), await this.api.credentials(), () => void this.refreshStatus()));
      } else {
        this.show(inboxPage(await this.api.inbox(), (id) => (location.hash = `#proposal/${encodeURIComponent(id)}`)));
        this.announceReady();
      }
    } catch (e) {
      this.show(el("section", { class: "page" }, el("h1", {}, "Something went wrong"), el("p", { role: "alert" }, message(e))));
    }
    this.main.focus({ preventScroll: true });
  }

  /** Tells the app, once, that the first page is on screen (the start-up checks wait for it). */
  private announceReady(): void {
    if (this.announcedReady) return;
    this.announcedReady = true;
    this.api.ready().catch(() => undefined);
  }

  private async refreshStatus(): Promise<void> {
    this.status = await this.api.status();
    this.renderBanner();
    await this.follow();
  }

  private async openProposal(id: string): Promise<void> {
    const view = await this.api.proposal(id);
    this.renderProposal(view);
  }

  private renderProposal(view: ProposalView): void {
    this.show(reviewPage(view, this.api, this.status?.second_factor_enrolled ?? false, (updated) => {
      this.renderProposal(updated);
      // After a decision, what happened is what matters: bring it into view.
      this.main.querySelector("#result-title, #reject-reason-shown")?.scrollIntoView({ block: "start" });
    }));
  }

  private async openRoutine(id: string): Promise<void> {
    const render = (view: RoutineView): void => {
      this.show(routinePage(view, this.api, this.status?.second_factor_enrolled ?? false, render));
    };
    render(await this.api.routine(id));
  }

  private async refreshReview(): Promise<void> {
    const shown = this.main.querySelector<HTMLElement>(".review");
    const id = shown?.dataset["id"];
    // Only a review still waiting for a decision can be overtaken (withdrawn, expired).
    if (id === undefined || shown?.querySelector("#approve") === null) return;
    // The inbox is read first: opening a proposal records that it was viewed.
    const inbox = await this.api.inbox().catch(() => null);
    if (inbox === null || inbox.pending.some((line) => line.id === id)) return;
    const view = await this.api.proposal(id).catch(() => null);
    if (view !== null) this.renderProposal(view);
  }

}

/** Mounts the app in `root`, talking to the app through `api`. */
export function mountApp(root: HTMLElement, api: Api): App {
  const app = new App(root, api);
  void app.start();
  return app;
}
