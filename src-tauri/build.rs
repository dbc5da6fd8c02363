//! Embeds `tauri.conf.json`, the capabilities and `ui/dist` into the shell, and declares the
//! app's commands so each window may call only those its capability lists.

/// Every command the UI may call; the main window's capability allows each one by name.
const COMMANDS: &[&str] = &[
    "sign_in_wanted",
    "sign_in",
    "diagnostics",
    "backup",
    "status",
    "wait_for_change",
    "touch",
    "ready",
    "inbox",
    "proposal",
    "approve",
    "reject",
    "release_preview",
    "release",
    "credentials",
    "add_credential",
    "remove_credential",
    "test_credential",
    "set_release_default",
    "agents",
    "connect_agent",
    "revoke_agent",
    "audit_entries",
    "verify_audit",
    "export_audit",
    "checkpoint",
    "settings",
    "save_settings",
    "begin_enrolment",
    "confirm_enrolment",
    "lock",
    "unlock",
    "routines",
    "routine",
    "approve_routine",
    "change_routine",
    "run_routine",
    "first_run",
    "credential_templates",
    "finish_first_run",
    "start_demo",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {error:#}");
    }
}
