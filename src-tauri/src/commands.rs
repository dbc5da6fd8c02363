//! The IPC commands: each waits for the desk, calls one [`Desk`] method and returns its view or
//! its error as one coded shape (`DeskError {code, message}`). Nothing here decides anything
//! about a proposal.

use std::sync::Arc;
use std::time::Duration;

use countersign_app::views::{
    AgentView, AuditLine, AuditQuery, ConnectedAgent, CredentialForm, CredentialView, DeskError,
    DiagnosticsView, EnrolmentView, FirstRunView, InboxView, ProposalView, ReleaseChoice,
    SettingsView, SignInView, StatusView, VerifyView,
};
use countersign_app::{Desk, Settings};
use countersign_vault::Secret;
use tauri::{AppHandle, Runtime, State};

use crate::Shared;

type Answer<T> = Result<T, DeskError>;

/// Every command, for the builder.
pub(crate) fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        sign_in_wanted,
        sign_in,
        diagnostics,
        backup,
        status,
        wait_for_change,
        touch,
        ready,
        inbox,
        proposal,
        approve,
        reject,
        release_preview,
        release,
        credentials,
        add_credential,
        remove_credential,
        test_credential,
        set_release_default,
        agents,
        connect_agent,
        revoke_agent,
        audit_entries,
        verify_audit,
        export_audit,
        checkpoint,
        settings,
        save_settings,
        begin_enrolment,
        confirm_enrolment,
        lock,
        unlock,
        routines,
        routine,
        approve_routine,
        change_routine,
        run_routine,
        first_run,
        credential_templates,
        finish_first_run,
        start_demo,
    ]
}

async fn desk(shared: &State<'_, Shared>) -> Answer<Arc<Desk>> {
    let mut opened = shared.desk.clone();
    let ready = opened
        .wait_for(Option::is_some)
        .await
        .map_err(|_| DeskError::unavailable("Countersign is shutting down."))?;
    match &*ready {
        Some(Ok(desk)) => Ok(Arc::clone(desk)),
        Some(Err(error)) => Err(DeskError::unavailable(format!(
            "Countersign could not start: {error}"
        ))),
        None => Err(DeskError::unavailable("Countersign is still starting.")),
    }
}

/// An error as the screens receive it: the desk's own code, or `unavailable` for the shell's.
trait Coded {
    fn coded(self) -> DeskError;
}

impl Coded for countersign_app::AppError {
    fn coded(self) -> DeskError {
        self.into()
    }
}

impl Coded for std::io::Error {
    fn coded(self) -> DeskError {
        DeskError::unavailable(self.to_string())
    }
}

fn words(error: impl Coded) -> DeskError {
    error.coded()
}

/// On a team desk nobody signed in to yet: the team, for the sign-in screen; otherwise none.
#[tauri::command(rename_all = "snake_case")]
async fn sign_in_wanted(shared: State<'_, Shared>) -> Answer<Option<SignInView>> {
    Ok(shared.waiting.lock().ok().and_then(|w| w.clone()))
}

/// Signs a person in to a team desk with their name and their authenticator's code.
#[tauri::command(rename_all = "snake_case")]
async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    name: String,
    code: String,
) -> Answer<()> {
    let _one = shared.opening.lock().await;
    if shared.waiting.lock().ok().is_none_or(|w| w.is_none()) {
        return Err(DeskError::unavailable(
            "Nobody needs to sign in: the desk is open.",
        ));
    }
    let sign_in = countersign_launch::SignIn {
        name,
        code: Secret::new(code),
    };
    match crate::background::sign_in(&app, shared.launch, &shared.opened, sign_in).await {
        Ok(()) => {
            if let Ok(mut waiting) = shared.waiting.lock() {
                *waiting = None;
            }
            Ok(())
        }
        Err(error) => Err(match error.downcast::<countersign_launch::LaunchError>() {
            Ok(countersign_launch::LaunchError::App(app_error)) => app_error.coded(),
            Ok(other) => DeskError::unavailable(other.to_string()),
            Err(other) => DeskError::unavailable(other.to_string()),
        }),
    }
}

#[tauri::command(rename_all = "snake_case")]
async fn status(shared: State<'_, Shared>) -> Answer<StatusView> {
    desk(&shared).await?.status().await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn wait_for_change(shared: State<'_, Shared>, seen: String) -> Answer<StatusView> {
    desk(&shared)
        .await?
        .wait_for_change(&seen, Duration::from_secs(20))
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn touch(shared: State<'_, Shared>) -> Answer<()> {
    desk(&shared).await?.touch();
    Ok(())
}

/// The inbox is on screen. With `COUNTERSIGN_READY_FILE` set (the start-up benchmark), the time
/// is written there.
#[tauri::command(rename_all = "snake_case")]
async fn ready() -> Answer<()> {
    if let Some(path) = std::env::var_os("COUNTERSIGN_READY_FILE") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        std::fs::write(path, now.to_string()).map_err(words)?;
    }
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
async fn inbox(shared: State<'_, Shared>) -> Answer<InboxView> {
    desk(&shared).await?.inbox().await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn proposal(shared: State<'_, Shared>, id: String) -> Answer<ProposalView> {
    desk(&shared).await?.proposal(&id).await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn approve(
    shared: State<'_, Shared>,
    id: String,
    confirmation: Option<String>,
    code: Option<String>,
) -> Answer<ProposalView> {
    desk(&shared)
        .await?
        .approve(&id, confirmation.as_deref(), code.as_deref())
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn reject(shared: State<'_, Shared>, id: String, reason: String) -> Answer<ProposalView> {
    desk(&shared)
        .await?
        .reject(&id, &reason)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn release_preview(
    shared: State<'_, Shared>,
    id: String,
    choice: ReleaseChoice,
) -> Answer<serde_json::Value> {
    desk(&shared)
        .await?
        .release_preview(&id, &choice)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn release(
    shared: State<'_, Shared>,
    id: String,
    choice: ReleaseChoice,
) -> Answer<ProposalView> {
    desk(&shared)
        .await?
        .release(&id, &choice)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn credentials(shared: State<'_, Shared>) -> Answer<Vec<CredentialView>> {
    desk(&shared).await?.credentials().await.map_err(words)
}

/// Checks the form, then asks for the secret in a native dialog: the secret never passes
/// through the page. Returns whether a credential was added (false when cancelled).
#[tauri::command(rename_all = "snake_case")]
async fn add_credential<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    form: CredentialForm,
) -> Answer<bool> {
    let desk = desk(&shared).await?;
    desk.check_credential(&form).map_err(words)?;
    let secret = match desk.secret_wanted(&form).map_err(words)? {
        // A SQLite file: nothing to ask for.
        None => Secret::new(String::new()),
        Some(what) => {
            let Some(text) = crate::native::ask_secret(&app, &form.name, what).await? else {
                return Ok(false);
            };
            Secret::new(text)
        }
    };
    desk.add_credential(&form, &secret).await.map_err(words)?;
    Ok(true)
}

#[tauri::command(rename_all = "snake_case")]
async fn remove_credential(shared: State<'_, Shared>, name: String) -> Answer<()> {
    desk(&shared)
        .await?
        .remove_credential(&name)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn test_credential(shared: State<'_, Shared>, name: String) -> Answer<String> {
    desk(&shared)
        .await?
        .test_credential(&name)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn set_release_default(
    shared: State<'_, Shared>,
    name: String,
    value: countersign_app::views::ReleaseRule,
) -> Answer<()> {
    desk(&shared)
        .await?
        .set_release_default(&name, value)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn agents(shared: State<'_, Shared>) -> Answer<Vec<AgentView>> {
    desk(&shared).await?.agents().await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn connect_agent(shared: State<'_, Shared>, name: String) -> Answer<ConnectedAgent> {
    desk(&shared)
        .await?
        .connect_agent(&name)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn revoke_agent(shared: State<'_, Shared>, name: String) -> Answer<()> {
    desk(&shared)
        .await?
        .revoke_agent(&name)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn audit_entries(shared: State<'_, Shared>, query: AuditQuery) -> Answer<Vec<AuditLine>> {
    desk(&shared)
        .await?
        .audit_entries(&query)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn verify_audit(shared: State<'_, Shared>) -> Answer<VerifyView> {
    desk(&shared).await?.verify_audit().await.map_err(words)
}

/// Exports through a native save dialog. Returns where it was saved (None when cancelled).
#[tauri::command(rename_all = "snake_case")]
async fn export_audit<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    format: String,
    query: AuditQuery,
) -> Answer<Option<String>> {
    let desk = desk(&shared).await?;
    let suggested = format!(
        "countersign-audit.{}",
        if format == "csv" { "csv" } else { "json" }
    );
    let Some(path) = crate::native::ask_save_path(&app, "Export the audit log", &suggested).await?
    else {
        return Ok(None);
    };
    let text = desk.export_audit(&format, &query).await.map_err(words)?;
    countersign_app::write_durably(&path, &text).map_err(words)?;
    Ok(Some(path.display().to_string()))
}

/// Writes a backup of the records where the person chooses.
#[tauri::command(rename_all = "snake_case")]
async fn backup<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
) -> Answer<Option<String>> {
    let desk = desk(&shared).await?;
    let Some(path) =
        crate::native::ask_save_path(&app, "Back up my records", "countersign-records.backup")
            .await?
    else {
        return Ok(None);
    };
    desk.backup(&path).await.map_err(words)?;
    Ok(Some(path.display().to_string()))
}

/// Writes a signed checkpoint where the person chooses.
#[tauri::command(rename_all = "snake_case")]
async fn checkpoint<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
) -> Answer<Option<String>> {
    let desk = desk(&shared).await?;
    let Some(path) = crate::native::ask_save_path(
        &app,
        "Save a signed checkpoint",
        "countersign-checkpoint.json",
    )
    .await?
    else {
        return Ok(None);
    };
    desk.checkpoint(&path).await.map(Some).map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn settings(shared: State<'_, Shared>) -> Answer<SettingsView> {
    desk(&shared).await?.settings().map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn save_settings(shared: State<'_, Shared>, settings: Settings) -> Answer<SettingsView> {
    desk(&shared)
        .await?
        .save_settings(&settings)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn begin_enrolment(shared: State<'_, Shared>) -> Answer<EnrolmentView> {
    desk(&shared).await?.begin_enrolment().map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn confirm_enrolment(shared: State<'_, Shared>, code: String) -> Answer<()> {
    desk(&shared)
        .await?
        .confirm_enrolment(&code)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn first_run(shared: State<'_, Shared>) -> Answer<FirstRunView> {
    desk(&shared).await?.first_run().await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn credential_templates(
    shared: State<'_, Shared>,
) -> Answer<Vec<countersign_app::views::CredentialTemplate>> {
    Ok(desk(&shared).await?.credential_templates())
}

#[tauri::command(rename_all = "snake_case")]
async fn finish_first_run(shared: State<'_, Shared>, skipped: bool) -> Answer<()> {
    desk(&shared)
        .await?
        .finish_first_run(skipped)
        .map_err(words)
}

/// Opens the demo in this window instead of the person's own desk, until the app is quit (the
/// next start opens their own records again).
#[tauri::command(rename_all = "snake_case")]
async fn start_demo<R: Runtime>(app: AppHandle<R>, shared: State<'_, Shared>) -> Answer<()> {
    let _one = shared.opening.lock().await;
    if desk(&shared).await?.status().await.map_err(words)?.demo {
        return Ok(());
    }
    crate::background::start_demo(&app, &shared.opened)
        .await
        .map_err(|error| DeskError::unavailable(format!("The demo could not start: {error}")))
}

#[tauri::command(rename_all = "snake_case")]
async fn diagnostics(shared: State<'_, Shared>) -> Answer<DiagnosticsView> {
    desk(&shared).await?.diagnostics().await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn lock(shared: State<'_, Shared>) -> Answer<()> {
    desk(&shared)
        .await?
        .lock("the person locked it")
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn unlock(shared: State<'_, Shared>, code: Option<String>) -> Answer<()> {
    desk(&shared)
        .await?
        .unlock(code.as_deref())
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn routines(shared: State<'_, Shared>) -> Answer<Vec<countersign_app::views::RoutineLine>> {
    desk(&shared).await?.routines().await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn routine(
    shared: State<'_, Shared>,
    id: String,
) -> Answer<countersign_app::views::RoutineView> {
    desk(&shared).await?.routine(&id).await.map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn approve_routine(
    shared: State<'_, Shared>,
    id: String,
    confirmation: Option<String>,
    code: Option<String>,
) -> Answer<countersign_app::views::RoutineView> {
    desk(&shared)
        .await?
        .approve_routine(&id, confirmation.as_deref(), code.as_deref())
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn change_routine(
    shared: State<'_, Shared>,
    id: String,
    change: countersign_app::RoutineChange,
    reason: String,
) -> Answer<countersign_app::views::RoutineView> {
    desk(&shared)
        .await?
        .change_routine(&id, change, &reason)
        .await
        .map_err(words)
}

#[tauri::command(rename_all = "snake_case")]
async fn run_routine(
    shared: State<'_, Shared>,
    id: String,
    parameters: serde_json::Value,
) -> Answer<countersign_app::views::RunView> {
    desk(&shared)
        .await?
        .run_routine(&id, &parameters)
        .await
        .map_err(words)
}
