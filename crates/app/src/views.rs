//! What the desktop screens receive and send: plain structs, serialised as JSON over IPC, with
//! TypeScript types generated from them (`ui/src/bindings.ts`, checked for drift by a test).
//!
//! No view ever carries a credential's secret. Two values a person must see exactly once do
//! cross to the screen on purpose: a new agent's key (to paste into the agent) and the
//! authenticator seed while enrolling the second factor (as a QR code and as text).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::settings::Settings;

/// One labelled fact of an explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DetailView {
    /// What it is ("Amount").
    pub label: String,
    /// The fact ("$99.99 (USD)").
    pub value: String,
}

/// How serious a risk is (design.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RiskSeverity {
    /// Worth knowing.
    Info,
    /// Read carefully.
    Caution,
    /// Approving needs the confirmation word typed.
    Danger,
}

impl From<countersign_core::Severity> for RiskSeverity {
    fn from(severity: countersign_core::Severity) -> Self {
        match severity {
            countersign_core::Severity::Info => RiskSeverity::Info,
            countersign_core::Severity::Caution => RiskSeverity::Caution,
            countersign_core::Severity::Danger => RiskSeverity::Danger,
        }
    }
}

/// What kind of artifact a proposal carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// An HTTP request.
    Http,
    /// An SQL statement.
    Sql,
    /// An email.
    Email,
}

impl From<&countersign_core::Artifact> for ArtifactKind {
    fn from(artifact: &countersign_core::Artifact) -> Self {
        match artifact {
            countersign_core::Artifact::Http(_) => ArtifactKind::Http,
            countersign_core::Artifact::Sql(_) => ArtifactKind::Sql,
            countersign_core::Artifact::Email(_) => ArtifactKind::Email,
        }
    }
}

/// What kind of credential it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKindName {
    /// An HTTP API secret.
    Http,
    /// A database login.
    Sql,
    /// A mail server login.
    Smtp,
}

/// What a credential's results release by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseRule {
    /// The person chooses each time.
    #[default]
    Ask,
    /// Everything, at once.
    Always,
    /// Nothing, at once.
    Never,
}

impl From<countersign_vault::ReleaseDefault> for ReleaseRule {
    fn from(rule: countersign_vault::ReleaseDefault) -> Self {
        match rule {
            countersign_vault::ReleaseDefault::Ask => ReleaseRule::Ask,
            countersign_vault::ReleaseDefault::Always => ReleaseRule::Always,
            countersign_vault::ReleaseDefault::Never => ReleaseRule::Never,
        }
    }
}

impl From<ReleaseRule> for countersign_vault::ReleaseDefault {
    fn from(rule: ReleaseRule) -> Self {
        match rule {
            ReleaseRule::Ask => countersign_vault::ReleaseDefault::Ask,
            ReleaseRule::Always => countersign_vault::ReleaseDefault::Always,
            ReleaseRule::Never => countersign_vault::ReleaseDefault::Never,
        }
    }
}

/// One risk, in one sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RiskView {
    /// The stable code (design.md §7).
    pub code: String,
    /// How serious it is.
    pub severity: RiskSeverity,
    /// The sentence.
    pub message: String,
}

/// A proposal as a line of the inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProposalLine {
    /// Its id.
    pub id: String,
    /// The agent that proposed it.
    pub agent: String,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// Its status (design.md §3).
    pub status: crate::record::Status,
    /// The routine whose held run this is (held: outside its bounds or limits).
    pub routine_id: Option<String>,
    /// What it does, in one line derived from the artifact.
    pub headline: String,
    /// The kind of action (`payment`, `read`, `send_email`…).
    pub action: String,
    /// How many `danger` risks it has.
    pub danger: u32,
    /// How many `caution` risks it has.
    pub caution: u32,
}

/// A refused proposal worth the person's attention: a credential asked for outside its scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AlertView {
    /// When.
    pub at: String,
    /// Which agent.
    pub agent: String,
    /// Which credential it tried to use.
    pub credential: String,
    /// What was refused, in words.
    pub message: String,
}

/// The inbox: pending proposals first (newest first), then recent decisions, and alerts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InboxView {
    /// Waiting for a decision, newest first (at most [`crate::INBOX_PAGE`]).
    pub pending: Vec<ProposalLine>,
    /// How many are waiting in all.
    #[ts(type = "number")]
    pub pending_total: i64,
    /// Decided or finished, newest first (at most 50).
    pub recent: Vec<ProposalLine>,
    /// Refusals of credentials used out of scope, newest first (at most 20).
    pub alerts: Vec<AlertView>,
    /// Routines waiting for a decision.
    pub pending_routines: u32,
}

/// What the screens need to know at every moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StatusView {
    /// Changes whenever anything a screen shows may have changed.
    pub version: String,
    /// Whether the app is locked.
    pub locked: bool,
    /// How many proposals wait.
    pub pending: u32,
    /// Whether this is the demo (labelled on every screen).
    pub demo: bool,
    /// Whether a second factor is enrolled.
    pub second_factor_enrolled: bool,
    /// The demo's authenticator code, shown in the demo banner so a newcomer needs no phone;
    /// never set outside the demo.
    pub demo_code: Option<String>,
    /// Where agents connect (`127.0.0.1:7717`), once listening.
    pub connector: Option<String>,
    /// On a team desk, the person signed in (every decision here is theirs).
    pub signed_in: Option<String>,
}

/// The diagnostic report, as text to copy for support.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DiagnosticsView {
    /// Plain lines: versions, paths, counts, the support log's latest warnings and errors.
    pub text: String,
}

/// A team desk waiting for its person to sign in (design.md §19).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SignInView {
    /// The team's database, as this desk reaches it (never its password).
    pub team: String,
    /// On a desk of the team demo only: the demo's authenticator codes now, as the one-person
    /// demo shows its own ("Dr Amir Khan: 123456"). Empty anywhere else.
    pub demo_codes: Vec<String>,
}

/// The EPCS signing statement (21 CFR 1311.140) shown while the code is entered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SigningView {
    /// The attestation the prescriber signs by entering the code.
    pub attestation: String,
}

/// A proposal on the review screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProposalView {
    /// The inbox line.
    pub line: ProposalLine,
    /// The artifact's kind; none when the stored artifact no longer matches its hash.
    pub kind: Option<ArtifactKind>,
    /// Labelled facts derived from the artifact.
    pub details: Vec<DetailView>,
    /// Each risk, most severe first.
    pub risks: Vec<RiskView>,
    /// The agent's own summary, hidden characters made visible: its claim, not the truth.
    pub agent_summary: String,
    /// The agent's stated purpose, hidden characters made visible.
    pub purpose: String,
    /// Whether the claim contradicts what the artifact does.
    pub mismatch: bool,
    /// The credential used, if any.
    pub credential: Option<String>,
    /// Where it goes: an origin, a database or the recipients.
    pub destination: String,
    /// The exact artifact, as pretty JSON with hidden characters shown as `⟨U+…⟩` markers.
    pub artifact_text: String,
    /// Its SHA-256, which the approval is bound to.
    pub artifact_sha256: String,
    /// Whether approving needs the second factor.
    pub requires_second_factor: bool,
    /// Present for a controlled-substance prescription: approving is signing.
    pub signing: Option<SigningView>,
    /// For `danger` risks: the word to type before approving.
    pub confirmation_word: Option<String>,
    /// When it was decided.
    pub decided_at: Option<String>,
    /// Who decided it (on a team, possibly at another desk).
    pub decided_by: Option<String>,
    /// On a team, the first of two people a rule asks for, once they approved: it waits for a
    /// second, different person.
    pub first_approved_by: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The full result, once executed (the secret redacted).
    #[ts(type = "unknown")]
    pub result: Option<serde_json::Value>,
    /// What the agent was given, once released.
    #[ts(type = "unknown")]
    pub released: Option<serde_json::Value>,
    /// The credential's default release.
    pub release_default: ReleaseRule,
    /// The result in words, once executed: what happened and the named facts to release.
    pub result_words: Option<ResultWordsView>,
}

/// A result in words (design.md §11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ResultWordsView {
    /// One sentence: what happened.
    pub summary: String,
    /// The facts, in reading order.
    pub facts: Vec<FactView>,
}

/// One named fact of a result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FactView {
    /// What it is.
    pub label: String,
    /// The value as a person reads it.
    pub value: String,
    /// The result paths (or column names) it releases.
    pub paths: Vec<String>,
    /// Why it is personal or health information; such facts start unticked.
    pub sensitive: Option<String>,
}

/// How much of a result the person releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    /// Everything.
    All,
    /// Only the chosen fields, columns (by name) and rows (`row:N`, from 1).
    Fields,
    /// Nothing.
    Nothing,
}

/// The person's release choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReleaseChoice {
    /// How much.
    pub kind: ReleaseKind,
    /// For `fields`: JSON paths (`body.balance`), column names, and rows as `row:N`.
    pub fields: Vec<String>,
}

/// A credential on the credentials screen (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CredentialView {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: CredentialKindName,
    /// What it is for.
    pub description: String,
    /// Its scope in plain words.
    pub scope: Vec<String>,
    /// What its results release by default.
    pub release_default: ReleaseRule,
}

/// What the scope builder sends to add a credential. The secret is not in it: it is typed into
/// a native prompt the shell opens, never into the web page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct CredentialForm {
    /// The name agents will use.
    pub name: String,
    /// `http`, `sql` or `smtp`.
    pub kind: String,
    /// What it is for.
    pub description: String,
    /// http: `bearer`, `basic`, `header` or `query`.
    pub auth: String,
    /// http: the header or query parameter name for `header`/`query`.
    pub auth_name: String,
    /// http: the origins the secret may go to.
    pub origins: Vec<String>,
    /// http: the methods allowed (none: any).
    pub methods: Vec<String>,
    /// http: the path prefixes allowed (none: any).
    pub path_prefixes: Vec<String>,
    /// sql: `sqlite`, `postgres` or `mysql`.
    pub dialect: String,
    /// sql: the URL without password.
    pub url: String,
    /// sql: whether statements may change data.
    pub read_write: bool,
    /// sql: the most rows a read returns.
    pub max_rows: u32,
    /// smtp: the server.
    pub host: String,
    /// smtp: its port.
    pub port: u16,
    /// smtp: `starttls`, `tls` or `plain-loopback`.
    pub tls: String,
    /// smtp: the login.
    pub username: String,
    /// smtp: the From address.
    pub from: String,
    /// smtp: the recipient domains allowed (none: any).
    pub allowed_domains: Vec<String>,
    /// Whether every use needs the second factor.
    pub second_factor: bool,
    /// What its results release by default.
    pub release_default: ReleaseRule,
}

/// A routine in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoutineLine {
    /// Its id.
    pub id: String,
    /// The agent that proposed it.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: crate::routines::RoutineStatus,
    /// What it does, derived from its steps and schedule.
    pub headline: String,
    /// When it stops, once approved ("31 Mar 2027").
    pub expires: Option<String>,
    /// Whether it stops within 7 days.
    pub expires_soon: bool,
}

/// One run of a routine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RunView {
    /// Its id.
    pub id: String,
    /// Who asked: its agent, you, or its schedule, in words.
    pub requested_by: String,
    /// When it started.
    pub started_at: String,
    /// How it ended.
    pub status: crate::routines::RunStatus,
    /// The proposal a held run became.
    pub proposal_id: Option<String>,
    /// Why it was held, failed or missed.
    pub reason: Option<String>,
}

/// A routine on its review screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RoutineView {
    /// The list line.
    pub line: RoutineLine,
    /// When it runs.
    pub schedule: String,
    /// Each parameter and its bound.
    pub bounds: Vec<String>,
    /// Each step by its fixed parts.
    pub steps: Vec<String>,
    /// Each step's headline with its values at their limits, when it could be explained.
    pub at_limits: Vec<Option<String>>,
    /// Every risk of its steps, most severe first.
    pub risks: Vec<RiskView>,
    /// Its limits.
    pub limits: Vec<String>,
    /// When it stops.
    pub expiry: String,
    /// What the agent sees of each run.
    pub release: String,
    /// The agent's claim, hidden characters made visible.
    pub agent_summary: String,
    /// The agent's purpose, hidden characters made visible.
    pub purpose: String,
    /// The exact routine as pretty JSON, hidden characters shown as markers.
    pub routine_text: String,
    /// What approving signs.
    pub routine_sha256: String,
    /// The word to type to approve (always asked for a routine).
    pub confirmation_word: String,
    /// Its runs, newest first.
    pub runs: Vec<RunView>,
}

/// A registered agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AgentView {
    /// Its name.
    pub name: String,
    /// When it was added.
    pub added_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// When it first asked what it may use: the sign it is connected and working.
    pub checked_in_at: Option<String>,
}

/// A newly connected agent: its key, shown once, and configuration to paste.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConnectedAgent {
    /// The name.
    pub name: String,
    /// The agent key (shown once; stored only hashed).
    pub key: String,
    /// Ready-to-paste configuration, one per client.
    pub configs: Vec<AgentConfig>,
}

/// Configuration for one MCP client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AgentConfig {
    /// The client ("Claude Desktop").
    pub client: String,
    /// Where it goes, in words.
    pub place: String,
    /// The text to paste.
    pub text: String,
}

/// One audit entry as the audit screen lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AuditLine {
    /// Sequence number.
    pub seq: u32,
    /// When (UTC).
    pub at: String,
    /// Who, in words (`person alice`, `agent claude`, `app`).
    pub actor: String,
    /// The event (`decision.approved`).
    pub event: String,
    /// The proposal.
    pub proposal_id: Option<String>,
    /// The credential's name.
    pub credential: Option<String>,
    /// The outcome.
    pub outcome: Option<String>,
    /// The details (canonical JSON).
    pub details: String,
}

/// The audit screen's filter; empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AuditQuery {
    /// From this date or time.
    pub from: String,
    /// Before this date or time.
    pub to: String,
    /// By this actor.
    pub actor: String,
    /// Of this event.
    pub event: String,
    /// About this proposal.
    pub proposal: String,
}

/// The verdict of verifying the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VerifyView {
    /// Whether the chain (and checkpoint) hold.
    pub intact: bool,
    /// One sentence for the person.
    pub message: String,
    /// How many entries were checked.
    pub entries: u32,
}

/// The start of second-factor enrolment: scan the code, then confirm with a code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EnrolmentView {
    /// A `data:image/svg+xml` URL of the QR code.
    pub qr_data_url: String,
    /// The same seed as text, for typing into an authenticator app.
    pub manual_key: String,
}

/// The settings screen's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SettingsView {
    /// The settings.
    pub settings: Settings,
    /// Whether a second factor is enrolled.
    pub second_factor_enrolled: bool,
}

/// What kind of failure a desk call had, for the screens to act on (the message says it in
/// words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The desk is locked: show the lock screen.
    Locked,
    /// Not allowed now (too early, wrong code or word, bad input).
    NotAllowed,
    /// The proposal was decided, withdrawn or expired meanwhile.
    NotPending,
    /// The audit log cannot be written: nothing runs.
    AuditUnavailable,
    /// The keychain is unavailable or damaged.
    KeychainUnavailable,
    /// The execution was refused or failed.
    ExecutionFailed,
    /// Countersign is starting, stopping, or a file cannot be used.
    Unavailable,
}

/// A failed desk call as it crosses to the screens: one shape for every command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeskError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// The sentence a person reads.
    pub message: String,
}

impl From<crate::AppError> for DeskError {
    fn from(error: crate::AppError) -> Self {
        DeskError {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

impl From<String> for DeskError {
    /// A native dialog's failure: the shell's, not the desk's.
    fn from(message: String) -> Self {
        DeskError::unavailable(message)
    }
}

impl DeskError {
    /// A failure outside the desk (the shell starting or stopping, a file it writes).
    pub fn unavailable(message: impl Into<String>) -> Self {
        DeskError {
            code: ErrorCode::Unavailable,
            message: message.into(),
        }
    }
}

/// Every type above, in the order the bindings file declares them.
#[cfg(test)]
pub(crate) fn typescript() -> String {
    use ts_rs::{Config, TS};
    let config = Config::default();
    let mut out = String::from(
        "// Generated from crates/app/src/views.rs and settings.rs by `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings`.\n// Do not edit: a test fails when this file and the Rust types differ.\n\n",
    );
    for decl in [
        crate::settings::MoneyThreshold::decl(&config),
        Settings::decl(&config),
        DetailView::decl(&config),
        RiskSeverity::decl(&config),
        RiskView::decl(&config),
        crate::record::Status::decl(&config),
        ProposalLine::decl(&config),
        AlertView::decl(&config),
        InboxView::decl(&config),
        StatusView::decl(&config),
        SignInView::decl(&config),
        DiagnosticsView::decl(&config),
        SigningView::decl(&config),
        FactView::decl(&config),
        ResultWordsView::decl(&config),
        ArtifactKind::decl(&config),
        ReleaseRule::decl(&config),
        ProposalView::decl(&config),
        ReleaseKind::decl(&config),
        ReleaseChoice::decl(&config),
        CredentialKindName::decl(&config),
        CredentialView::decl(&config),
        CredentialForm::decl(&config),
        crate::routines::RoutineStatus::decl(&config),
        crate::routines::RunStatus::decl(&config),
        crate::routines::RoutineChange::decl(&config),
        RoutineLine::decl(&config),
        RunView::decl(&config),
        RoutineView::decl(&config),
        AgentView::decl(&config),
        ConnectedAgent::decl(&config),
        AgentConfig::decl(&config),
        AuditLine::decl(&config),
        AuditQuery::decl(&config),
        VerifyView::decl(&config),
        EnrolmentView::decl(&config),
        SettingsView::decl(&config),
        CredentialTemplate::decl(&config),
        FirstRunView::decl(&config),
        ErrorCode::decl(&config),
        DeskError::decl(&config),
    ] {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_match_the_rust_types() {
        let path = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../../ui/src/bindings.ts");
        let generated = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/bindings.ts differs from the Rust types; run `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings` and commit it"
        );
    }
}

/// A ready-made start for a credential: the scope of a service people commonly connect, filled
/// in from its provider's documentation, with what the person still has to type said in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CredentialTemplate {
    /// A stable key (`stripe`).
    pub key: String,
    /// Its name on the card ("Stripe").
    pub title: String,
    /// What connecting it lets an assistant propose, in plain words.
    pub words: String,
    /// What the person still fills in on the form, or `None` when nothing is left.
    pub to_fill: Option<String>,
    /// What to paste into the secret window, and where to find it.
    pub secret_words: Option<String>,
    /// The form as the template fills it.
    pub form: CredentialForm,
}

/// The first-run guide's state: which steps are done, and what the steps offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct FirstRunView {
    /// Whether the app opens on the guide by itself: a desk of one's own (not the demo, not a
    /// team's) with no credential yet, whose guide was neither finished nor skipped.
    pub opens: bool,
    /// Whether a second factor is enrolled.
    pub second_factor_enrolled: bool,
    /// The credentials added so far, by name.
    pub credentials: Vec<String>,
    /// The connected agents (revoked ones left out).
    pub agents: Vec<AgentView>,
    /// The ready-made credential starts.
    pub templates: Vec<CredentialTemplate>,
}
