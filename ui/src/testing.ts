// A stand-in for the app in component tests: the real one is exercised end to end in the
// webview (tests/), this one lets each screen be checked alone, quickly, in jsdom.

import type { Api } from "./api";
import type { FirstRunView, InboxView, ProposalView, RoutineView, StatusView } from "./bindings";

export function routine(overrides: Partial<RoutineView> = {}): RoutineView {
  return {
    line: { id: "rtn_1", agent: "claude", received_at: "2026-12-02T09:00:00Z", status: "pending", headline: "Runs every month on day 1 at 09:00 (this computer's time), at most: Pay $200.00 to Acme Power", expires: null, expires_soon: false },
    schedule: "Runs every month on day 1 at 09:00 (this computer's time)",
    bounds: ["amount: an amount in USD, at most $200.00"],
    steps: ["Send POST to https://api.bank.example/v1/payments using “bank”"],
    at_limits: ["Pay $200.00 to Acme Power"],
    risks: [{ code: "money_movement", severity: "caution", message: "Money will move if you approve." }],
    limits: ["At most 1 run a day"],
    expiry: "Stops 90 days after you approve it (if approved today: 2 Mar 2027)",
    release: "The agent sees only body.status of each run",
    agent_summary: "Pay the power bill",
    purpose: "bills",
    routine_text: "{}",
    routine_sha256: "cd".repeat(32),
    confirmation_word: "amber",
    runs: [],
    ...overrides,
  };
}

export function proposal(overrides: Partial<ProposalView> = {}): ProposalView {
  return {
    line: { id: "prop_1", agent: "claude", received_at: "2026-11-26T09:00:00Z", status: "pending", routine_id: null, headline: "Pay $99.99 to Amazon", action: "payment", danger: 0, caution: 1 },
    kind: "http",
    details: [{ label: "Amount", value: "$99.99 (USD)" }],
    risks: [{ code: "money_movement", severity: "caution", message: "This moves money." }],
    agent_summary: "Pay Amazon for the order",
    purpose: "The person asked for this.",
    mismatch: false,
    credential: "bank",
    destination: "https://api.bank.example",
    artifact_text: '{\n  "kind": "http"\n}',
    artifact_sha256: "ab".repeat(32),
    requires_second_factor: false,
    signing: null,
    confirmation_word: null,
    decided_at: null,
    decided_by: null,
    first_approved_by: null,
    reason: null,
    result: null,
    released: null,
    release_default: "ask",
    result_words: null,
    ...overrides,
  };
}

export function firstRun(overrides: Partial<FirstRunView> = {}): FirstRunView {
  const form = {
    name: "stripe", kind: "http", description: "Stripe payments", auth: "bearer", auth_name: "", origins: ["https://api.stripe.com"],
    methods: [], path_prefixes: ["/v1"], dialect: "postgres", url: "", read_write: false, max_rows: 500,
    host: "", port: 587, tls: "starttls", username: "", from: "", allowed_domains: [], second_factor: false, release_default: "ask" as const,
  };
  return {
    opens: true,
    second_factor_enrolled: false,
    credentials: [],
    agents: [],
    templates: [
      { key: "stripe", title: "Stripe", words: "Charges and refunds.", to_fill: null, secret_words: "a restricted key", form },
      { key: "sqlite-file", title: "A database file on this computer (SQLite)", words: "Reads a file.", to_fill: "where the file is", secret_words: null, form: { ...form, name: "local-db", kind: "sql", dialect: "sqlite", origins: [], path_prefixes: [] } },
    ],
    ...overrides,
  };
}

export function status(overrides: Partial<StatusView> = {}): StatusView {
  return { version: "1.0", locked: false, pending: 0, demo: false, second_factor_enrolled: false, demo_code: null, connector: "127.0.0.1:7717", signed_in: null, ...overrides };
}

export interface Calls {
  approve: { id: string; confirmation: string | null; code: string | null }[];
  reject: { id: string; reason: string }[];
  release: unknown[];
  preview: unknown[];
  touch: number;
  approveRoutine: { id: string; confirmation: string; code: string }[];
  changeRoutine: { id: string; change: string }[];
}

/** A fake app answering from fixed data and recording calls. */
export function fakeApi(inbox: InboxView, view: ProposalView, state: StatusView = status()): { api: Api; calls: Calls } {
  const calls: Calls = { approve: [], reject: [], release: [], preview: [], touch: 0, approveRoutine: [], changeRoutine: [] };
  const vetted = routine();
  const never = new Promise<never>(() => undefined);
  const api: Api = {
    signInWanted: async () => null,
    signIn: async () => undefined,
    backup: async () => "/home/a/countersign-records.backup",
    diagnostics: async () => ({ text: "Countersign 0.1.0 (linux x86_64)\nData home: /home/a/.local/share/countersign" }),
    status: async () => state,
    waitForChange: () => never,
    touch: async () => {
      calls.touch += 1;
    },
    ready: async () => undefined,
    inbox: async () => inbox,
    proposal: async () => view,
    approve: async (id, confirmation, code) => {
      calls.approve.push({ id, confirmation, code });
      return { ...view, line: { ...view.line, status: "succeeded" }, result: { status: 200, body: { balance: 1200, ssn: "123-45-6789" } } };
    },
    reject: async (id, reason) => {
      calls.reject.push({ id, reason });
      return { ...view, line: { ...view.line, status: "rejected" }, reason };
    },
    releasePreview: async (_id, choice) => {
      calls.preview.push(choice);
      return { released: choice.kind !== "nothing", data: choice.kind === "fields" ? { body: { balance: 1200 } } : null, withheld: [] };
    },
    release: async (_id, choice) => {
      calls.release.push(choice);
      return { ...view, released: { released: true } };
    },
    credentials: async () => [],
    addCredential: async () => true,
    removeCredential: async () => undefined,
    testCredential: async () => "ok",
    setReleaseDefault: async () => undefined,
    agents: async () => [],
    connectAgent: async (name) => ({ name, key: "csk_1", configs: [] }),
    revokeAgent: async () => undefined,
    auditEntries: async () => [],
    verifyAudit: async () => ({ intact: true, message: "The audit log is intact: all 3 entries are unchanged.", entries: 3 }),
    exportAudit: async () => null,
    checkpoint: async () => null,
    settings: async () => ({ settings: { auto_lock_seconds: 900, threshold: null }, second_factor_enrolled: false }),
    saveSettings: async (settings) => ({ settings, second_factor_enrolled: false }),
    beginEnrolment: async () => ({ qr_data_url: "data:image/svg+xml;base64,", manual_key: "ABC" }),
    confirmEnrolment: async () => undefined,
    lock: async () => undefined,
    unlock: async () => undefined,
    routines: async () => [vetted.line],
    routine: async () => vetted,
    approveRoutine: async (id, confirmation, code) => {
      calls.approveRoutine.push({ id, confirmation, code });
      return { ...vetted, line: { ...vetted.line, status: "active" } };
    },
    changeRoutine: async (id, change) => {
      calls.changeRoutine.push({ id, change });
      return { ...vetted, line: { ...vetted.line, status: change === "reject" ? "rejected" : change === "pause" ? "paused" : "revoked" } };
    },
    runRoutine: async () => ({ id: "run_1", requested_by: "you", started_at: "now", status: "succeeded", proposal_id: null, reason: null }),
    firstRun: async () => firstRun({ opens: false }),
    credentialTemplates: async () => firstRun().templates,
    finishFirstRun: async () => undefined,
    startDemo: async () => undefined,
  };
  return { api, calls };
}
