//! The desk: everything a person does at a screen, in one value the desktop shell holds. It
//! assembles the data home's stores and executors, keeps the lock, and turns records into the
//! views of [`crate::views`]. The shell translates IPC calls into these methods and nothing more.
//!
//! Rules kept here rather than in the screen, so a changed or compromised page cannot skip them:
//! a locked desk answers nothing but `unlock`; a proposal cannot be approved in the first moment
//! after it was shown; `danger` risks need their confirmation word typed; the second factor is
//! checked by the lifecycle.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use countersign_audit::{Actor, ActorKind, Event, ExportFormat, Filter, NewEntry};
use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth};
use countersign_core::{Action, Severity};
use countersign_exec::{EmailExecutor, HttpExecutor, SqlExecutor};
use countersign_vault::{ReleaseDefault, Secret};
use tokio::sync::watch;

use crate::audit::Audit;
use crate::credentials::Credentials;
use crate::error::AppError;
use crate::execute::Executions;
use crate::home::DataHome;
use crate::lifecycle::{Lifecycle, Record, Release};
use crate::settings::Settings;
use crate::totp;
use crate::views::{
    AgentConfig, AgentView, AlertView, AuditLine, AuditQuery, ConnectedAgent, CredentialForm,
    CredentialView, DetailView, EnrolmentView, InboxView, ProposalLine, ProposalView,
    ReleaseChoice, ReleaseKind, RiskView, SettingsView, SigningView, StatusView, VerifyView,
};

/// How long a proposal must have been on screen before it can be approved. The screen arms its
/// button after 1.5 s; the desk allows a little less so the two never race.
pub const MINIMUM_VIEW: Duration = Duration::from_millis(1200);

/// Short, distinct words for typed confirmations.
pub const WORDS: &[&str] = &[
    "amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "iris", "juniper",
    "kestrel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron",
    "thistle", "umber", "violet", "willow", "yarrow", "zephyr", "copper", "falcon", "granite",
];

/// The EPCS attestation (21 CFR 1311.140(a)(3)): on screen while the code is entered.
pub const ATTESTATION: &str = "I am the prescriber. I have reviewed the prescription shown above, \
it is correct, and I intend to sign it. Entering my second-factor code is my signature \
(21 CFR 1311.140).";

/// The person at this computer, by their login name.
pub fn person() -> Actor {
    let account = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    Actor::person(&account)
}

/// How the desk was started.
#[derive(Clone, Debug, Default)]
pub struct DeskOptions {
    /// Loopback origins allowed over plain `http://` without a credential.
    pub plain_loopback_origins: Vec<String>,
    /// Whether this is the demo.
    pub demo: bool,
}

struct Lock {
    locked: AtomicBool,
    last_input: StdMutex<Instant>,
}

/// Everything the person does at the screen.
pub struct Desk {
    home: DataHome,
    audit: Arc<Audit>,
    lifecycle: Arc<Lifecycle>,
    executions: Executions,
    credentials: Credentials,
    lock: Lock,
    demo: bool,
    epoch: watch::Sender<u64>,
    viewed: StdMutex<HashMap<String, Instant>>,
    enrolment: StdMutex<Option<String>>,
    /// The enrolled second factor's seed as read from the keychain once (`None`: not read yet);
    /// read again after enrolling. The status every screen polls no longer asks the keychain.
    enrolled: StdMutex<Option<Option<Secret>>>,
    settings: StdMutex<Settings>,
    connector: StdMutex<Option<String>>,
    /// Held while the desk is open: one reviewer per data home.
    _review_lock: std::fs::File,
}

fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Caution => "caution",
        Severity::Danger => "danger",
    }
}

fn action(action: Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".into())
}

fn line(record: &Record) -> ProposalLine {
    let count = |s: Severity| {
        u32::try_from(
            record
                .explanation
                .risks
                .iter()
                .filter(|r| r.severity == s)
                .count(),
        )
        .unwrap_or(u32::MAX)
    };
    ProposalLine {
        id: record.id.clone(),
        agent: record.agent.clone(),
        received_at: record.received_at.clone(),
        status: record.status,
        headline: record.explanation.headline.clone(),
        action: action(record.explanation.action),
        danger: count(Severity::Danger),
        caution: count(Severity::Caution),
    }
}

/// The word to type before approving a proposal with a `danger` risk: fixed per artifact, so
/// the screen and the desk agree without the screen deciding.
pub fn confirmation_word(artifact_sha256: &str) -> String {
    let index = usize::from_str_radix(artifact_sha256.get(..4).unwrap_or("0"), 16).unwrap_or(0);
    WORDS[index % WORDS.len()].to_owned()
}

fn destination(artifact: Option<&countersign_core::Artifact>) -> String {
    use countersign_core::Artifact;
    match artifact {
        Some(Artifact::Http(http)) => url::Url::parse(&http.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| countersign_core::text::reveal(&http.url)),
        Some(Artifact::Sql(sql)) => format!("the database {}", sql.database),
        Some(Artifact::Email(email)) => email
            .recipients()
            .map(|(_, address)| countersign_core::text::reveal(address))
            .collect::<Vec<_>>()
            .join(", "),
        None => String::new(),
    }
}

fn scope_words(meta: &CredentialMeta) -> Vec<String> {
    let any = |list: &[String], all: &str| {
        if list.is_empty() {
            all.to_owned()
        } else {
            list.join(", ")
        }
    };
    let mut words = match &meta.kind {
        CredentialKind::Http { auth, scope } => vec![
            format!("Sent only to {}", any(&scope.origins, "no address")),
            format!("Requests allowed: {}", any(&scope.methods, "any kind")),
            format!("Paths allowed: {}", any(&scope.path_prefixes, "any path")),
            match auth {
                HttpAuth::Bearer => "Placed as a bearer token".to_owned(),
                HttpAuth::Basic => "Placed as a user name and password".to_owned(),
                HttpAuth::Header(name) => format!("Placed in the {name} header"),
                HttpAuth::Query(name) => format!("Placed in the {name} query parameter"),
            },
        ],
        CredentialKind::Sql {
            dialect,
            url,
            read_only,
            max_rows,
        } => vec![
            format!("{dialect:?} database at {url}"),
            if *read_only {
                "Read only: statements that change data are refused".to_owned()
            } else {
                "May change data".to_owned()
            },
            format!("At most {max_rows} rows per read"),
        ],
        CredentialKind::Smtp {
            host,
            port,
            from,
            allowed_domains,
            ..
        } => vec![
            format!("Sends through {host}:{port} as {from}"),
            format!(
                "Recipients allowed: {}",
                if allowed_domains.is_empty() {
                    "anyone".to_owned()
                } else {
                    format!("addresses at {}", allowed_domains.join(", "))
                }
            ),
        ],
    };
    if meta.requires_second_factor {
        words.push("Every use needs your second factor".to_owned());
    }
    words
}

fn form_to_meta(form: &CredentialForm) -> Result<CredentialMeta, AppError> {
    let list = |items: &[String]| -> Vec<String> {
        items
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut json = serde_json::json!({
        "name": form.name.trim(),
        "description": form.description.trim(),
        "kind": form.kind,
        "requires_second_factor": form.second_factor,
    });
    match form.kind.as_str() {
        "http" => {
            json["auth"] = match form.auth.as_str() {
                "bearer" | "basic" => serde_json::json!({ "type": form.auth }),
                "header" | "query" if !form.auth_name.trim().is_empty() => {
                    serde_json::json!({ "type": form.auth, "name": form.auth_name.trim() })
                }
                "header" | "query" => {
                    return Err(AppError::InvalidCredential(format!(
                        "name the {} the secret goes in",
                        if form.auth == "header" {
                            "header"
                        } else {
                            "query parameter"
                        }
                    )));
                }
                _ => {
                    return Err(AppError::InvalidCredential(
                        "choose where the secret goes".into(),
                    ));
                }
            };
            json["scope"] = serde_json::json!({
                "origins": list(&form.origins),
                "methods": list(&form.methods).iter().map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>(),
                "path_prefixes": list(&form.path_prefixes),
            });
        }
        "sql" => {
            json["dialect"] = serde_json::json!(form.dialect);
            json["url"] = serde_json::json!(form.url.trim());
            json["read_only"] = serde_json::json!(!form.read_write);
            json["max_rows"] = serde_json::json!(if form.max_rows == 0 {
                500
            } else {
                form.max_rows
            });
        }
        "smtp" => {
            json["host"] = serde_json::json!(form.host.trim());
            json["port"] = serde_json::json!(form.port);
            json["tls"] = serde_json::json!(form.tls);
            json["username"] = serde_json::json!(form.username.trim());
            json["from"] = serde_json::json!(form.from.trim());
            json["allowed_domains"] = serde_json::json!(list(&form.allowed_domains));
        }
        _ => {
            return Err(AppError::InvalidCredential(
                "choose what kind of credential this is".into(),
            ));
        }
    }
    serde_json::from_value(json)
        .map_err(|e| AppError::InvalidCredential(format!("the form is not complete: {e}")))
}

fn release_of(choice: &ReleaseChoice) -> Release {
    match choice.kind {
        ReleaseKind::All => Release::All,
        ReleaseKind::Nothing => Release::Nothing,
        ReleaseKind::Fields => Release::Fields(choice.fields.clone()),
    }
}

fn actor_words(actor: &Actor) -> String {
    match actor.kind {
        ActorKind::Person => format!("person {}", actor.name),
        ActorKind::Agent => format!("agent {}", actor.name),
        ActorKind::App => "Countersign".to_owned(),
    }
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl Desk {
    /// Opens the data home for `person`: takes the one-reviewer lock, does the start-up duties
    /// (daily report, checkpoint) and marks interrupted executions `outcome_unknown`. Returns the
    /// desk and those proposal ids.
    ///
    /// # Errors
    /// When another reviewer holds the data home, or a store cannot be opened.
    pub async fn open(
        home: DataHome,
        person: Actor,
        options: DeskOptions,
    ) -> Result<(Desk, Vec<String>), AppError> {
        home.ensure()?;
        let lock_path = home.root().join("review.lock");
        let review_lock = std::fs::File::create(&lock_path)
            .map_err(|e| AppError::file("creating", &lock_path, e))?;
        if review_lock.try_lock().is_err() {
            return Err(not_allowed(format!(
                "another `countersign review` or the desktop app is already using {}; close it first",
                home.root().display()
            )));
        }
        let audit = Arc::new(Audit::open(&home, person).await?);
        audit.start_up().await?;
        let lifecycle = Arc::new(Lifecycle::open(&home).await?);
        let executions = Executions::open(
            &home,
            HttpExecutor::new().with_plain_loopback_origins(options.plain_loopback_origins),
            SqlExecutor::new(),
            EmailExecutor::new(),
        )
        .await?;
        let unknown = lifecycle.recover(&audit, &executions).await?;
        let credentials = Credentials::open(&home).await?;
        let settings = Settings::load(&home)?;
        let (epoch, _) = watch::channel(0);
        let desk = Desk {
            home,
            audit,
            lifecycle,
            executions,
            credentials,
            lock: Lock {
                locked: AtomicBool::new(false),
                last_input: StdMutex::new(Instant::now()),
            },
            demo: options.demo,
            epoch,
            viewed: StdMutex::new(HashMap::new()),
            enrolment: StdMutex::new(None),
            enrolled: StdMutex::new(None),
            settings: StdMutex::new(settings),
            connector: StdMutex::new(None),
            _review_lock: review_lock,
        };
        Ok((desk, unknown))
    }

    /// The data home.
    pub fn home(&self) -> &DataHome {
        &self.home
    }

    /// The audit log, shared with the connector.
    pub fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }

    /// The proposal store, shared with the connector.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// Remembers where the connector listens, for the status line and agent configuration.
    pub fn set_connector(&self, address: String) {
        if let Ok(mut connector) = self.connector.lock() {
            *connector = Some(address);
        }
        self.bump();
    }

    fn bump(&self) {
        self.epoch.send_modify(|n| *n += 1);
    }

    /// Any input from the person postpones the auto-lock.
    pub fn touch(&self) {
        if let Ok(mut last) = self.lock.last_input.lock() {
            *last = Instant::now();
        }
    }

    fn guard(&self) -> Result<(), AppError> {
        if self.lock.locked.load(Ordering::SeqCst) {
            return Err(AppError::Locked);
        }
        self.touch();
        Ok(())
    }

    fn enrolled_secret(&self) -> Result<Option<Vec<u8>>, AppError> {
        let mut cached = self
            .enrolled
            .lock()
            .map_err(|_| not_allowed("the desk's state is damaged; restart the app"))?;
        if cached.is_none() {
            *cached = Some(self.home.keychain().read(totp::KEYCHAIN_ENTRY)?);
        }
        Ok(cached
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|s| totp::decode(s.expose())))
    }

    fn current_settings(&self) -> Settings {
        self.settings.lock().map(|s| s.clone()).unwrap_or_default()
    }

    // ----- status and time -----

    /// What every screen needs to know now.
    ///
    /// # Errors
    /// When the store or keychain cannot be read.
    pub async fn status(&self) -> Result<StatusView, AppError> {
        let enrolled = self.enrolled_secret()?;
        let demo_code = match (&enrolled, self.demo) {
            (Some(secret), true) => Some(totp::code(secret, now_seconds())),
            _ => None,
        };
        let pending = self.lifecycle.pending_total().await?;
        Ok(StatusView {
            version: format!(
                "{}.{}",
                *self.lifecycle.subscribe().borrow(),
                *self.epoch.borrow()
            ),
            locked: self.lock.locked.load(Ordering::SeqCst),
            pending: u32::try_from(pending).unwrap_or(u32::MAX),
            demo: self.demo,
            second_factor_enrolled: enrolled.is_some(),
            demo_code,
            connector: self.connector.lock().ok().and_then(|c| c.clone()),
        })
    }

    /// Waits until the status differs from `seen` (or `timeout` passes), then returns it.
    ///
    /// # Errors
    /// As [`Desk::status`].
    pub async fn wait_for_change(
        &self,
        seen: &str,
        timeout: Duration,
    ) -> Result<StatusView, AppError> {
        let mut proposals = self.lifecycle.subscribe();
        let mut epoch = self.epoch.subscribe();
        let status = self.status().await?;
        if status.version != seen {
            return Ok(status);
        }
        tokio::select! {
            _ = proposals.changed() => {}
            _ = epoch.changed() => {}
            () = tokio::time::sleep(timeout) => {}
        }
        self.status().await
    }

    /// The periodic duties: expire proposals whose time ran out, and lock after inactivity.
    /// Returns whether the desk locked itself now.
    ///
    /// # Errors
    /// When the log cannot be written (the desk then locks anyway).
    pub async fn tick(&self) -> Result<bool, AppError> {
        self.lifecycle.expire_due(&self.audit).await?;
        let limit = self.current_settings().auto_lock_seconds;
        if limit == 0 || self.lock.locked.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let idle = self
            .lock
            .last_input
            .lock()
            .map(|last| last.elapsed())
            .unwrap_or_default();
        if idle >= Duration::from_secs(u64::from(limit)) {
            self.lock("inactivity").await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Locks now; recorded as `app.locked`. The lock holds even if the entry cannot be written.
    ///
    /// # Errors
    /// When the entry cannot be written.
    pub async fn lock(&self, reason: &str) -> Result<(), AppError> {
        self.lock.locked.store(true, Ordering::SeqCst);
        self.bump();
        let entry = NewEntry::new(self.audit.actor().clone(), Event::AppLocked)
            .details(serde_json::json!({ "reason": reason }));
        self.audit.record(entry).await
    }

    /// Unlocks: with the second-factor code when one is enrolled; recorded as `app.unlocked`.
    ///
    /// # Errors
    /// When the code is wrong or missing, or the entry cannot be written.
    pub async fn unlock(&self, code: Option<&str>) -> Result<(), AppError> {
        let method = match self.enrolled_secret()? {
            Some(secret) => {
                if !code.is_some_and(|c| totp::verify(&secret, c, now_seconds())) {
                    let entry =
                        NewEntry::new(self.audit.actor().clone(), Event::SecondFactorFailed)
                            .details(serde_json::json!({ "method": "totp", "for": "unlock" }));
                    self.audit.record(entry).await?;
                    return Err(not_allowed(
                        "That code is not right. Countersign stays locked.",
                    ));
                }
                "totp"
            }
            None => "confirmation",
        };
        let entry = NewEntry::new(self.audit.actor().clone(), Event::AppUnlocked)
            .details(serde_json::json!({ "method": method }));
        self.audit.record(entry).await?;
        self.lock.locked.store(false, Ordering::SeqCst);
        self.touch();
        self.bump();
        Ok(())
    }

    // ----- inbox and review -----

    /// The inbox.
    ///
    /// # Errors
    /// When locked, or the stores cannot be read.
    pub async fn inbox(&self) -> Result<InboxView, AppError> {
        self.guard()?;
        let lines = |all: Vec<crate::lifecycle::Line>| -> Vec<ProposalLine> {
            all.into_iter()
                .map(|l| ProposalLine {
                    id: l.id,
                    agent: l.agent,
                    received_at: l.received_at,
                    status: l.status,
                    headline: l.headline,
                    action: l.action,
                    danger: u32::try_from(l.danger).unwrap_or(u32::MAX),
                    caution: u32::try_from(l.caution).unwrap_or(u32::MAX),
                })
                .collect()
        };
        let pending = lines(self.lifecycle.lines(true, crate::INBOX_PAGE).await?);
        let pending_total = self.lifecycle.pending_total().await?;
        let recent = lines(self.lifecycle.lines(false, 50).await?);
        Ok(InboxView {
            pending,
            pending_total,
            recent,
            alerts: self.alerts().await?,
        })
    }

    /// The oldest pending proposal not skipped, for a review that walks them in arrival order.
    ///
    /// # Errors
    /// When locked or the store cannot be read.
    pub async fn oldest_pending(
        &self,
        skipped: &[String],
    ) -> Result<Option<ProposalLine>, AppError> {
        self.guard()?;
        Ok(self
            .lifecycle
            .oldest_pending(skipped)
            .await?
            .as_ref()
            .map(line))
    }

    async fn alerts(&self) -> Result<Vec<AlertView>, AppError> {
        let filter = Filter {
            event: Some(Event::CredentialScopeViolation.as_str().to_owned()),
            ..Filter::default()
        };
        let entries = self.audit.log().latest(&filter, 20).await?;
        Ok(entries
            .iter()
            .map(|entry| {
                let details: serde_json::Value =
                    serde_json::from_str(&entry.details).unwrap_or_default();
                AlertView {
                    at: entry.at.clone(),
                    agent: entry.actor.name.clone(),
                    credential: entry.credential.clone().unwrap_or_default(),
                    message: details["message"].as_str().unwrap_or_default().to_owned(),
                }
            })
            .collect())
    }

    /// Opens a proposal on the review screen; recorded as `proposal.viewed` while it is pending.
    ///
    /// # Errors
    /// When locked, the proposal does not exist, or the entry cannot be written.
    pub async fn proposal(&self, id: &str) -> Result<ProposalView, AppError> {
        self.guard()?;
        let record = self.record(id).await?;
        let record = if record.status == "pending" {
            let record = self.lifecycle.view(&self.audit, id).await?;
            if let Ok(mut viewed) = self.viewed.lock() {
                viewed.insert(id.to_owned(), Instant::now());
            }
            record
        } else {
            record
        };
        self.view(&record).await
    }

    async fn record(&self, id: &str) -> Result<Record, AppError> {
        self.lifecycle
            .get(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))
    }

    async fn view(&self, record: &Record) -> Result<ProposalView, AppError> {
        let e = &record.explanation;
        // The exact artifact as stored; one that no longer matches its hash shows as such and
        // cannot be approved (the lifecycle checks again).
        let artifact = record.typed_artifact().ok();
        let credential = artifact
            .as_ref()
            .and_then(|a| a.credential_name().map(str::to_owned));
        let release_default = match &credential {
            Some(name) => self
                .credentials
                .store()
                .release_default(name)
                .await
                .map(|r| r.as_str().to_owned())
                .unwrap_or_else(|_| "ask".into()),
            None => "ask".into(),
        };
        let danger = e.risks.iter().any(|r| r.severity == Severity::Danger);
        // The exact text that was hashed, indented: numbers and strings exactly as approved.
        let pretty = countersign_core::json::Json::parse(&record.artifact)
            .map(|json| json.pretty())
            .unwrap_or_else(|_| record.artifact.clone());
        Ok(ProposalView {
            line: line(record),
            kind: artifact
                .as_ref()
                .map_or("", countersign_core::Artifact::kind)
                .to_owned(),
            details: e
                .details
                .iter()
                .map(|d| DetailView {
                    label: d.label.clone(),
                    value: d.value.clone(),
                })
                .collect(),
            risks: e
                .risks
                .iter()
                .map(|r| RiskView {
                    code: r.code.as_str().to_owned(),
                    severity: severity(r.severity).to_owned(),
                    message: r.message.clone(),
                })
                .collect(),
            agent_summary: e.agent_summary.clone(),
            purpose: countersign_core::text::reveal(&record.purpose),
            mismatch: e
                .risks
                .iter()
                .any(|r| r.code == countersign_core::RiskCode::SummaryMismatch),
            credential,
            destination: destination(artifact.as_ref()),
            artifact_text: countersign_core::text::reveal(&pretty),
            artifact_sha256: record.artifact_sha256.clone(),
            requires_second_factor: e.requires_second_factor,
            signing: (e.action == Action::Prescribe && e.requires_second_factor).then(|| {
                SigningView {
                    attestation: ATTESTATION.to_owned(),
                }
            }),
            confirmation_word: danger.then(|| confirmation_word(&record.artifact_sha256)),
            decided_at: record.decided_at.clone(),
            reason: record.reason.clone(),
            result: record
                .result
                .as_ref()
                .map(countersign_core::json::Json::to_display),
            released: record
                .released
                .as_ref()
                .map(countersign_core::json::Json::to_display),
            release_default,
            result_words: self.lifecycle.result_words(record).map(|w| {
                crate::views::ResultWordsView {
                    summary: w.summary,
                    facts: w
                        .facts
                        .into_iter()
                        .map(|f| crate::views::FactView {
                            label: f.label,
                            value: f.value,
                            paths: f.paths,
                            sensitive: f.sensitive,
                        })
                        .collect(),
                }
            }),
        })
    }

    /// Approves: the proposal must have been on screen for [`MINIMUM_VIEW`], `danger` risks need
    /// their word, the lifecycle checks the second factor, grants and executes once. A
    /// credential that always (or never) releases its results is applied at once.
    ///
    /// # Errors
    /// When locked, too early, the word or code is wrong, or a step cannot be recorded.
    pub async fn approve(
        &self,
        id: &str,
        confirmation: Option<&str>,
        code: Option<&str>,
    ) -> Result<ProposalView, AppError> {
        self.guard()?;
        let shown = self.viewed.lock().ok().and_then(|v| v.get(id).copied());
        if shown.is_none_or(|at| at.elapsed() < MINIMUM_VIEW) {
            return Err(not_allowed(
                "Read the proposal first: it can be approved a moment after it is shown.",
            ));
        }
        let record = self.record(id).await?;
        if record
            .explanation
            .risks
            .iter()
            .any(|r| r.severity == Severity::Danger)
        {
            let word = confirmation_word(&record.artifact_sha256);
            if confirmation.map(|c| c.trim().to_lowercase()) != Some(word.clone()) {
                return Err(not_allowed(format!(
                    "This proposal has a danger warning: type “{word}” to approve it."
                )));
            }
        }
        let done = self
            .lifecycle
            .approve(&self.home, &self.audit, &self.executions, id, code)
            .await?;
        let view = self.view(&done).await?;
        if done.result.is_some() {
            let automatic = match view.release_default.as_str() {
                "always" => Some(Release::All),
                "never" => Some(Release::Nothing),
                _ => None,
            };
            if let Some(release) = automatic {
                let released = self.lifecycle.release(&self.audit, id, &release).await?;
                return self.view(&released).await;
            }
        }
        Ok(view)
    }

    /// Rejects with an optional reason.
    ///
    /// # Errors
    /// When locked, not pending, or the entry cannot be written.
    pub async fn reject(&self, id: &str, reason: &str) -> Result<ProposalView, AppError> {
        self.guard()?;
        let record = self
            .lifecycle
            .reject(&self.audit, id, reason.trim())
            .await?;
        self.view(&record).await
    }

    /// Exactly what the agent would receive for `choice`; nothing is recorded or released.
    ///
    /// # Errors
    /// When locked or there is no result.
    pub async fn release_preview(
        &self,
        id: &str,
        choice: &ReleaseChoice,
    ) -> Result<serde_json::Value, AppError> {
        self.guard()?;
        let record = self.record(id).await?;
        let result = record
            .result
            .ok_or_else(|| not_allowed("there is no result to release yet"))?;
        Ok(crate::release::agent_result(&result, &release_of(choice)).to_display())
    }

    /// Releases the chosen part of the result to the agent.
    ///
    /// # Errors
    /// When locked, there is no result, or the entry cannot be written.
    pub async fn release(
        &self,
        id: &str,
        choice: &ReleaseChoice,
    ) -> Result<ProposalView, AppError> {
        self.guard()?;
        let record = self
            .lifecycle
            .release(&self.audit, id, &release_of(choice))
            .await?;
        self.view(&record).await
    }

    // ----- credentials -----

    /// Every credential, in plain words.
    ///
    /// # Errors
    /// When locked or the store cannot be read.
    pub async fn credentials(&self) -> Result<Vec<CredentialView>, AppError> {
        self.guard()?;
        let mut views = Vec::new();
        for meta in self.credentials.list().await? {
            let release = self.credentials.store().release_default(&meta.name).await?;
            views.push(CredentialView {
                name: meta.name.clone(),
                kind: meta.kind_name().to_owned(),
                description: meta.description.clone(),
                scope: scope_words(&meta),
                release_default: release.as_str().to_owned(),
            });
        }
        Ok(views)
    }

    /// Checks a filled-in form without storing anything: the shell asks for the secret only
    /// when the form is acceptable.
    ///
    /// # Errors
    /// When the form is not acceptable, in words.
    pub fn check_credential(&self, form: &CredentialForm) -> Result<(), AppError> {
        self.guard()?;
        crate::credentials::check(&form_to_meta(form)?)
    }

    /// Adds a credential with the secret the shell's native prompt read.
    ///
    /// # Errors
    /// When locked, the form is not acceptable, the name exists, or the vault or log fail.
    pub async fn add_credential(
        &self,
        form: &CredentialForm,
        secret: &Secret,
    ) -> Result<(), AppError> {
        self.guard()?;
        let meta = form_to_meta(form)?;
        self.credentials.add(&self.audit, &meta, secret).await?;
        if let Some(release) = ReleaseDefault::parse(&form.release_default)
            && release != ReleaseDefault::Ask
        {
            self.credentials
                .store()
                .set_release_default(&meta.name, release)
                .await?;
        }
        Ok(())
    }

    /// Removes a credential and its secret.
    ///
    /// # Errors
    /// When locked, it does not exist, or the vault or log fail.
    pub async fn remove_credential(&self, name: &str) -> Result<(), AppError> {
        self.guard()?;
        self.credentials.remove(&self.audit, name).await
    }

    /// Changes what a credential's results release by default; recorded as `settings.changed`.
    ///
    /// # Errors
    /// When locked, the value is unknown, or the store or log fail.
    pub async fn set_release_default(&self, name: &str, value: &str) -> Result<(), AppError> {
        self.guard()?;
        let release = ReleaseDefault::parse(value)
            .ok_or_else(|| not_allowed("choose ask, always or never"))?;
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::SettingsChanged)
            .details(serde_json::json!({ "release_default": value }));
        entry.credential = Some(name.to_owned());
        self.audit.record(entry).await?;
        Ok(self
            .credentials
            .store()
            .set_release_default(name, release)
            .await?)
    }

    /// Tries a credential's connection: the database login, the mail server login, or each HTTP
    /// origin without the secret. Returns what happened in words.
    ///
    /// # Errors
    /// When locked, it does not exist, or the connection fails (the message holds no secret).
    pub async fn test_credential(&self, name: &str) -> Result<String, AppError> {
        self.guard()?;
        let meta = self
            .credentials
            .list()
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| not_allowed(format!("there is no credential {name}")))?;
        let answer = match &meta.kind {
            CredentialKind::Http { .. } => HttpExecutor::new().test_connection(&meta).await?,
            CredentialKind::Sql { .. } => {
                let secret = self.credentials.store().secret(name)?;
                SqlExecutor::new().test_connection(&meta, &secret).await?
            }
            CredentialKind::Smtp { .. } => {
                let secret = self.credentials.store().secret(name)?;
                EmailExecutor::new().test_connection(&meta, &secret).await?
            }
        };
        Ok(answer)
    }

    // ----- agents -----

    /// Registered agents.
    ///
    /// # Errors
    /// When locked or the store cannot be read.
    pub async fn agents(&self) -> Result<Vec<AgentView>, AppError> {
        self.guard()?;
        Ok(self
            .lifecycle
            .agents()
            .await?
            .into_iter()
            .map(|a| AgentView {
                name: a.name,
                added_at: a.added_at,
                revoked_at: a.revoked_at,
            })
            .collect())
    }

    /// Connects an agent: creates its key and the configuration to paste into MCP clients.
    ///
    /// # Errors
    /// When locked, the name is taken or unusable, or the entry cannot be written.
    pub async fn connect_agent(&self, name: &str) -> Result<ConnectedAgent, AppError> {
        self.guard()?;
        let key = self.lifecycle.add_agent(&self.audit, name.trim()).await?;
        let address = self
            .connector
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .unwrap_or_else(|| "127.0.0.1:7717".into());
        Ok(ConnectedAgent {
            name: name.trim().to_owned(),
            configs: agent_configs(&address, key.expose()),
            key: key.expose().to_owned(),
        })
    }

    /// Revokes an agent's key at once.
    ///
    /// # Errors
    /// When locked, it does not exist, or the entry cannot be written.
    pub async fn revoke_agent(&self, name: &str) -> Result<(), AppError> {
        self.guard()?;
        self.lifecycle.revoke_agent(&self.audit, name).await
    }

    // ----- audit -----

    /// Entries matching `query`, newest first (at most 500).
    ///
    /// # Errors
    /// When locked or the log cannot be read.
    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditLine>, AppError> {
        self.guard()?;
        let entries = self.audit.log().entries(&filter(query)).await?;
        Ok(entries
            .iter()
            .rev()
            .take(500)
            .map(|e| AuditLine {
                seq: u32::try_from(e.seq).unwrap_or(u32::MAX),
                at: e.at.clone(),
                actor: actor_words(&e.actor),
                event: e.event.clone(),
                proposal_id: e.proposal_id.clone(),
                credential: e.credential.clone(),
                outcome: e.outcome.clone(),
                details: e.details.clone(),
            })
            .collect())
    }

    /// Verifies the chain and the latest checkpoint; recorded as `audit.verified`.
    ///
    /// # Errors
    /// When locked or the log cannot be read.
    pub async fn verify_audit(&self) -> Result<VerifyView, AppError> {
        self.guard()?;
        let verification = self.audit.verify(None).await?;
        let entries = u32::try_from(verification.entries).unwrap_or(u32::MAX);
        let message = match &verification.problem {
            None => format!(
                "The audit log is intact: all {entries} entries are unchanged{}.",
                if verification.checkpoint_seq.is_some() {
                    " and match the latest signed checkpoint"
                } else {
                    ""
                }
            ),
            Some(problem) => format!(
                "The audit log has been tampered with: entry {} {}.",
                problem.seq, problem.what
            ),
        };
        Ok(VerifyView {
            intact: verification.intact(),
            message,
            entries,
        })
    }

    /// The entries matching `query` as CSV or JSON text; recorded as `audit.exported`.
    ///
    /// # Errors
    /// When locked, the format is unknown, or the log cannot be read.
    pub async fn export_audit(&self, format: &str, query: &AuditQuery) -> Result<String, AppError> {
        self.guard()?;
        let format = match format {
            "csv" => ExportFormat::Csv,
            "json" => ExportFormat::Json,
            _ => return Err(not_allowed("choose CSV or JSON")),
        };
        self.audit.export(format, &filter(query)).await
    }

    /// Writes a signed checkpoint to `out`; recorded as `audit.checkpoint`.
    ///
    /// # Errors
    /// When locked or it cannot be written.
    pub async fn checkpoint(&self, out: &Path) -> Result<String, AppError> {
        self.guard()?;
        let checkpoint = self.audit.checkpoint(out).await?;
        Ok(format!(
            "Checkpoint of {} entries signed and saved to {}.",
            checkpoint.seq,
            out.display()
        ))
    }

    // ----- settings -----

    /// The settings.
    ///
    /// # Errors
    /// When locked or the keychain cannot be read.
    pub fn settings(&self) -> Result<SettingsView, AppError> {
        self.guard()?;
        Ok(SettingsView {
            settings: self.current_settings(),
            second_factor_enrolled: self.enrolled_secret()?.is_some(),
        })
    }

    /// Saves the settings; recorded as `settings.changed`.
    ///
    /// # Errors
    /// When locked, a value is not acceptable, or the log or file cannot be written.
    pub async fn save_settings(&self, settings: &Settings) -> Result<SettingsView, AppError> {
        self.guard()?;
        settings.save(&self.home, &self.audit).await?;
        if let Ok(mut current) = self.settings.lock() {
            *current = settings.clone();
        }
        self.bump();
        self.settings()
    }

    /// Starts second-factor enrolment: a new seed, shown as a QR code and as text, kept in
    /// memory until a code from it is confirmed.
    ///
    /// # Errors
    /// When locked.
    pub fn begin_enrolment(&self) -> Result<EnrolmentView, AppError> {
        self.guard()?;
        let seed = totp::new_secret()?;
        let account = self.audit.actor().name.clone();
        let uri = totp::uri(&seed, &account);
        let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| not_allowed(e.to_string()))?;
        let svg = qr
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build();
        let view = EnrolmentView {
            qr_data_url: format!(
                "data:image/svg+xml;base64,{}",
                data_encoding::BASE64.encode(svg.as_bytes())
            ),
            manual_key: seed.clone(),
        };
        if let Ok(mut pending) = self.enrolment.lock() {
            *pending = Some(seed);
        }
        Ok(view)
    }

    /// Finishes enrolment with a code from the authenticator app; the seed goes to the keychain
    /// and `settings.changed` is recorded.
    ///
    /// # Errors
    /// When locked, no enrolment was started, the code is wrong, or the keychain or log fail.
    pub async fn confirm_enrolment(&self, code: &str) -> Result<(), AppError> {
        self.guard()?;
        let seed = self
            .enrolment
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .ok_or_else(|| not_allowed("Start again: show the QR code first."))?;
        let bytes = totp::decode(&seed).ok_or_else(|| not_allowed("the new seed is damaged"))?;
        if !totp::verify(&bytes, code.trim(), now_seconds()) {
            return Err(not_allowed(
                "That code does not match. Check the time on your phone and try the newest code.",
            ));
        }
        let entry = NewEntry::new(self.audit.actor().clone(), Event::SettingsChanged)
            .details(serde_json::json!({ "second_factor": "enrolled", "method": "totp" }));
        self.audit.record(entry).await?;
        self.home
            .keychain()
            .store(totp::KEYCHAIN_ENTRY, &Secret::new(seed))?;
        if let Ok(mut pending) = self.enrolment.lock() {
            *pending = None;
        }
        if let Ok(mut cached) = self.enrolled.lock() {
            *cached = None;
        }
        self.bump();
        Ok(())
    }
}

fn filter(query: &AuditQuery) -> Filter {
    Filter {
        from: optional(&query.from),
        to: optional(&query.to),
        actor: optional(&query.actor),
        event: optional(&query.event),
        proposal: optional(&query.proposal),
    }
}

/// Configuration for MCP clients: Claude Desktop through the stdio bridge, Claude Code and
/// Cursor over streamable HTTP.
pub fn agent_configs(address: &str, key: &str) -> Vec<AgentConfig> {
    let program = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("countersign")))
        .filter(|path| path.exists())
        .map_or_else(
            || "countersign".to_owned(),
            |path| path.display().to_string(),
        );
    let url = format!("http://{address}/mcp");
    let mut env = serde_json::json!({ "COUNTERSIGN_AGENT_KEY": key });
    if address != "127.0.0.1:7717" {
        env["COUNTERSIGN_CONNECTOR_ADDR"] = serde_json::json!(address);
    }
    let desktop = serde_json::json!({
        "mcpServers": { "countersign": { "command": program, "args": ["mcp"], "env": env } }
    });
    let cursor = serde_json::json!({
        "mcpServers": { "countersign": { "url": url, "headers": { "Authorization": format!("Bearer {key}") } } }
    });
    vec![
        AgentConfig {
            client: "Claude Desktop".into(),
            place: "Settings → Developer → Edit Config (claude_desktop_config.json), then restart Claude Desktop".into(),
            text: serde_json::to_string_pretty(&desktop).unwrap_or_default(),
        },
        AgentConfig {
            client: "Claude Code".into(),
            place: "Run this in a terminal".into(),
            text: format!(
                "claude mcp add --transport http countersign {url} --header \"Authorization: Bearer {key}\""
            ),
        },
        AgentConfig {
            client: "Cursor".into(),
            place: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)".into(),
            text: serde_json::to_string_pretty(&cursor).unwrap_or_default(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_words_are_fixed_per_artifact() {
        let hash = "00ff".to_owned() + &"0".repeat(60);
        assert_eq!(confirmation_word(&hash), confirmation_word(&hash));
        assert!(WORDS.contains(&confirmation_word(&hash).as_str()));
    }

    #[test]
    fn forms_become_credentials() {
        let form = CredentialForm {
            name: "shop".into(),
            kind: "http".into(),
            auth: "header".into(),
            auth_name: "X-Key".into(),
            origins: vec!["https://api.shop.example".into(), " ".into()],
            methods: vec!["post".into()],
            ..CredentialForm::default()
        };
        let meta = form_to_meta(&form).unwrap();
        assert_eq!(
            scope_words(&meta)[0],
            "Sent only to https://api.shop.example"
        );
        assert_eq!(scope_words(&meta)[1], "Requests allowed: POST");
        let missing = CredentialForm {
            auth_name: String::new(),
            ..form
        };
        assert!(
            form_to_meta(&missing)
                .unwrap_err()
                .to_string()
                .contains("header")
        );
    }

    #[test]
    fn agent_configs_carry_the_key_and_address() {
        let configs = agent_configs("127.0.0.1:7799", "csk_test");
        assert_eq!(configs.len(), 3);
        assert!(configs.iter().all(|c| c.text.contains("csk_test")));
        assert!(configs[0].text.contains("127.0.0.1:7799"));
        let desktop: serde_json::Value = serde_json::from_str(&configs[0].text).unwrap();
        assert_eq!(desktop["mcpServers"]["countersign"]["args"][0], "mcp");
    }
}
