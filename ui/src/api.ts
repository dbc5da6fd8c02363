// The one door to the app: every call goes through Tauri's IPC to a command of the shell, which
// forwards it to the application API. Errors arrive as sentences for the person.

import type {
  AgentView,
  AuditLine,
  AuditQuery,
  ConnectedAgent,
  CredentialForm,
  CredentialView,
  EnrolmentView,
  InboxView,
  ProposalView,
  ReleaseChoice,
  Settings,
  SettingsView,
  StatusView,
  VerifyView,
} from "./bindings";

export interface Api {
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
  setReleaseDefault(name: string, value: string): Promise<void>;
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
    return internals.invoke(command, args) as Promise<T>;
  };
  return {
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
  };
}

/** An error from the app, as a sentence. */
export function message(error: unknown): string {
  if (typeof error === "string") return error;
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
