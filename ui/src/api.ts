// The one door to the app: every call goes through Tauri's IPC to a command of the shell, which
// forwards it to the application API. Errors arrive as `DeskError {code, message}`: the message
// is for the person, the code for the screens.

import type {
  AgentView,
  AuditLine,
  AuditQuery,
  ConnectedAgent,
  CredentialForm,
  CredentialTemplate,
  CredentialView,
  DeskError,
  DiagnosticsView,
  EnrolmentView,
  ErrorCode,
  FirstRunView,
  InboxView,
  ProposalView,
  ReleaseChoice,
  ReleaseRule,
  RoutineChange,
  RoutineLine,
  RoutineView,
  RunView,
  Settings,
  SettingsView,
  SignInView,
  StatusView,
  VerifyView,
} from "./bindings";

export interface Api {
  /** On a team desk nobody signed in to yet: the team; otherwise null. */
  signInWanted(): Promise<SignInView | null>;
  signIn(name: string, code: string): Promise<void>;
  diagnostics(): Promise<DiagnosticsView>;
  /** Asks where to save, then writes the backup; the path, or null when the person cancelled. */
  backup(): Promise<string | null>;
  status(): Promise<StatusView>;
  waitForChange(seen: string): Promise<StatusView>;
  touch(): Promise<void>;
  ready(): Promise<void>;
  inbox(): Promise<InboxView>;
  proposal(id: string): Promise<ProposalView>;
  approve(id: string, confirmation: string | null, code: string | null): Promise<ProposalView>;
  reject(id: string, reason: string): Promise<ProposalView>;
  releasePreview(id: string, choice: ReleaseChoice): Promise<unknown>;
  release(id: string, choice: ReleaseChoice): Promise<ProposalView>;
  credentials(): Promise<CredentialView[]>;
  addCredential(form: CredentialForm): Promise<boolean>;
  removeCredential(name: string): Promise<void>;
  testCredential(name: string): Promise<string>;
  setReleaseDefault(name: string, value: ReleaseRule): Promise<void>;
  agents(): Promise<AgentView[]>;
  connectAgent(name: string): Promise<ConnectedAgent>;
  revokeAgent(name: string): Promise<void>;
  auditEntries(query: AuditQuery): Promise<AuditLine[]>;
  verifyAudit(): Promise<VerifyView>;
  exportAudit(format: "csv" | "json", query: AuditQuery): Promise<string | null>;
  checkpoint(): Promise<string | null>;
  settings(): Promise<SettingsView>;
  saveSettings(settings: Settings): Promise<SettingsView>;
  beginEnrolment(): Promise<EnrolmentView>;
  confirmEnrolment(code: string): Promise<void>;
  lock(): Promise<void>;
  unlock(code: string | null): Promise<void>;
  routines(): Promise<RoutineLine[]>;
  routine(id: string): Promise<RoutineView>;
  approveRoutine(id: string, confirmation: string, code: string): Promise<RoutineView>;
  changeRoutine(id: string, change: RoutineChange, reason: string): Promise<RoutineView>;
  runRoutine(id: string, parameters: Record<string, unknown>): Promise<RunView>;
  /** The first-run guide's state and templates. */
  firstRun(): Promise<FirstRunView>;
  /** The ready-made credential starts for the scope builder. */
  credentialTemplates(): Promise<CredentialTemplate[]>;
  /** Remembers that the guide was finished or skipped. */
  finishFirstRun(skipped: boolean): Promise<void>;
  /** Shows the demo in this window until the app is quit. */
  startDemo(): Promise<void>;
}

interface TauriInternals {
  invoke(command: string, args?: Record<string, unknown>): Promise<unknown>;
}

/** The API over Tauri's IPC (`window.__TAURI_INTERNALS__`, present in the app's webview only). */
export function tauriApi(): Api {
  const internals = (window as unknown as { __TAURI_INTERNALS__?: TauriInternals })
    .__TAURI_INTERNALS__;
  const call = <T>(command: string, args?: Record<string, unknown>): Promise<T> => {
    if (internals === undefined) {
      return Promise.reject(new Error("Countersign's window is not connected to the app."));
    }
    return (internals.invoke(command, args) as Promise<T>).catch((error: unknown) => {
      // A locked desk answers nothing else: tell the shell at once, whatever screen asked.
      if (errorCode(error) === "locked") window.dispatchEvent(new CustomEvent("countersign:locked"));
      throw error;
    });
  };
  return {
    signInWanted: () => call("sign_in_wanted"),
    signIn: (name, code) => call("sign_in", { name, code }),
    diagnostics: () => call("diagnostics"),
    backup: () => call("backup"),
    status: () => call("status"),
    waitForChange: (seen) => call("wait_for_change", { seen }),
    touch: () => call("touch"),
    ready: () => call("ready"),
    inbox: () => call("inbox"),
    proposal: (id) => call("proposal", { id }),
    approve: (id, confirmation, code) => call("approve", { id, confirmation, code }),
    reject: (id, reason) => call("reject", { id, reason }),
    releasePreview: (id, choice) => call("release_preview", { id, choice }),
    release: (id, choice) => call("release", { id, choice }),
    credentials: () => call("credentials"),
    addCredential: (form) => call("add_credential", { form }),
    removeCredential: (name) => call("remove_credential", { name }),
    testCredential: (name) => call("test_credential", { name }),
    setReleaseDefault: (name, value) => call("set_release_default", { name, value }),
    agents: () => call("agents"),
    connectAgent: (name) => call("connect_agent", { name }),
    revokeAgent: (name) => call("revoke_agent", { name }),
    auditEntries: (query) => call("audit_entries", { query }),
    verifyAudit: () => call("verify_audit"),
    exportAudit: (format, query) => call("export_audit", { format, query }),
    checkpoint: () => call("checkpoint"),
    settings: () => call("settings"),
    saveSettings: (settings) => call("save_settings", { settings }),
    beginEnrolment: () => call("begin_enrolment"),
    confirmEnrolment: (code) => call("confirm_enrolment", { code }),
    lock: () => call("lock"),
    unlock: (code) => call("unlock", { code }),
    routines: () => call("routines"),
    routine: (id) => call("routine", { id }),
    approveRoutine: (id, confirmation, code) => call("approve_routine", { id, confirmation, code }),
    changeRoutine: (id, change, reason) => call("change_routine", { id, change, reason }),
    runRoutine: (id, parameters) => call("run_routine", { id, parameters }),
    firstRun: () => call("first_run"),
    credentialTemplates: () => call("credential_templates"),
    finishFirstRun: (skipped) => call("finish_first_run", { skipped }),
    startDemo: () => call("start_demo"),
  };
}

/** What each kind of failure means for the person; a new code fails to compile until named here. */
export const ERROR_KINDS: Record<ErrorCode, string> = {
  locked: "Countersign is locked",
  not_allowed: "Not allowed now",
  not_pending: "Already decided",
  audit_unavailable: "The audit log cannot be written",
  keychain_unavailable: "The keychain is unavailable",
  execution_failed: "It did not run",
  unavailable: "Countersign is not available",
};

function isDeskError(error: unknown): error is DeskError {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as DeskError).message === "string" &&
    typeof (error as DeskError).code === "string" &&
    (error as DeskError).code in ERROR_KINDS
  );
}

/** The failure's code, when the app gave one. */
export function errorCode(error: unknown): ErrorCode | null {
  return isDeskError(error) ? error.code : null;
}

/** An error from the app, as a sentence. */
export function message(error: unknown): string {
  if (isDeskError(error)) return error.message;
  if (typeof error === "string") return error;
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
