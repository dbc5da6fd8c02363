//! The desk: everything a person does at a screen, in one value the desktop shell holds. It
//! assembles the data home's stores and executors, keeps the lock, and turns records into the
//! views of [`crate::views`]. The shell translates IPC calls into these methods and nothing more.
//!
//! Rules kept here rather than in the screen, so a changed or compromised page cannot skip them:
//! a locked desk answers nothing but `unlock`; a proposal cannot be approved in the first moment
//! after it was shown; `danger` risks need their confirmation word typed; the second factor is
//! checked by the lifecycle.

mod first_run;

pub use first_run::FIRST_RUN_FILE;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use countersign_audit::{Actor, Event, ExportFormat, Filter, NewEntry};
use countersign_core::credential::CredentialKind;
use countersign_exec::{EmailExecutor, HttpExecutor, SqlExecutor};
use countersign_vault::Secret;
use tokio::sync::watch;

use crate::audit::Audit;
use crate::credentials::Credentials;
use crate::error::AppError;
use crate::execute::Executions;
use crate::home::DataHome;
use crate::lifecycle::Approval;
use crate::lifecycle::{Collaborators, Lifecycle};
use crate::present::{self, confirmation_word};
use crate::record::{Record, Status};
use crate::release::Release;
use crate::settings::Settings;
use crate::team::{Rule, SignedIn, Team};
use crate::totp::{self, SecondFactor};
use crate::views::{
    AgentView, AlertView, AuditLine, AuditQuery, ConnectedAgent, CredentialForm, CredentialView,
    EnrolmentView, InboxView, ProposalLine, ProposalView, ReleaseChoice, ReleaseRule, SettingsView,
    StatusView, VerifyView,
};

/// How long a proposal must have been on screen before it can be approved. The screen arms its
/// button after 1.5 s; the desk allows a little less so the two never race.
pub const MINIMUM_VIEW: Duration = Duration::from_millis(1200);

pub use crate::present::{ATTESTATION, WORDS};

/// The person at this computer, by their login name.
pub fn person() -> Actor {
    let account = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    Actor::person(&account)
}

/// How the desk was started. By default it locks itself after inactivity.
#[derive(Clone, Debug)]
pub struct DeskOptions {
    /// Loopback origins allowed over plain `http://` without a credential.
    pub plain_loopback_origins: Vec<String>,
    /// Whether this is the demo.
    pub demo: bool,
    /// Whether the desk locks itself after the person's inactivity (the desktop); a terminal
    /// reviewer that cannot unlock does not.
    pub auto_lock: bool,
    /// On a team desk, the person who signed in: their roles and the team's rules decide what
    /// they may approve, and their own second factor is the one checked.
    pub signed_in: Option<SignedIn>,
    /// Where the support log is written (the diagnostic report quotes its latest warnings).
    pub log_folder: Option<std::path::PathBuf>,
}

impl Default for DeskOptions {
    fn default() -> Self {
        DeskOptions {
            plain_loopback_origins: Vec::new(),
            demo: false,
            auto_lock: true,
            signed_in: None,
            log_folder: None,
        }
    }
}

/// How many of the log's latest warnings and errors the diagnostic report quotes.
const REPORTED_LOG_LINES: usize = 20;

/// A team desk's person and their team.
struct Seat {
    team: Team,
    person: SignedIn,
}

/// How a team's rules let the signed-in person approve a proposal.
enum TeamApproval {
    /// Their approval is enough.
    Alone,
    /// A two-person rule applies and no one approved yet: theirs is the first (the rule in
    /// words).
    First(String),
    /// A two-person rule applies and another person approved first.
    Second(String),
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
    credentials: Credentials,
    second_factor: Arc<SecondFactor>,
    auto_lock: bool,
    lock: Lock,
    demo: bool,
    epoch: watch::Sender<u64>,
    viewed: StdMutex<HashMap<String, Instant>>,
    enrolment: StdMutex<Option<String>>,
    settings: StdMutex<Settings>,
    connector: StdMutex<Option<String>>,
    /// On a team desk, who signed in.
    seat: Option<Seat>,
    log_folder: Option<std::path::PathBuf>,
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
        let person = options.signed_in.as_ref().map_or(person, SignedIn::actor);
        let audit = Arc::new(Audit::open(&home, person).await?);
        audit.start_up().await?;
        let log_folder = options.log_folder.clone();
        let seat = match options.signed_in {
            Some(person) => {
                let team = Team::open(&home, Arc::clone(&audit))?.ok_or_else(|| {
                    not_allowed("this data home is not in a team, so no one signs in to it")
                })?;
                Some(Seat { team, person })
            }
            None => None,
        };
        let executions = Executions::open(
            &home,
            HttpExecutor::new().with_plain_loopback_origins(options.plain_loopback_origins),
            SqlExecutor::new(),
            EmailExecutor::new(),
        )
        .await?;
        let second_factor = Arc::new(match &seat {
            Some(seat) => SecondFactor::of_person(&seat.person),
            None => SecondFactor::new(home.keychain()),
        });
        let lifecycle = Arc::new(
            Lifecycle::open(
                &home,
                Collaborators {
                    audit: Arc::clone(&audit),
                    executions,
                    second_factor: Arc::clone(&second_factor),
                },
            )
            .await?,
        );
        let unknown = lifecycle.recover().await?;
        let credentials = Credentials::open(&home).await?;
        let settings = Settings::load(&home)?;
        let (epoch, _) = watch::channel(0);
        let desk = Desk {
            home,
            audit,
            lifecycle,
            credentials,
            second_factor,
            auto_lock: options.auto_lock,
            lock: Lock {
                locked: AtomicBool::new(false),
                last_input: StdMutex::new(Instant::now()),
            },
            demo: options.demo,
            epoch,
            viewed: StdMutex::new(HashMap::new()),
            enrolment: StdMutex::new(None),
            settings: StdMutex::new(settings),
            connector: StdMutex::new(None),
            seat,
            log_folder,
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

    fn current_settings(&self) -> Settings {
        self.settings.lock().map(|s| s.clone()).unwrap_or_default()
    }

    // ----- status and time -----

    /// What every screen needs to know now.
    ///
    /// # Errors
    /// When the store or keychain cannot be read.
    pub async fn status(&self) -> Result<StatusView, AppError> {
        let enrolled = self.second_factor.enrolled()?;
        let demo_code = match (&enrolled, self.demo) {
            (Some(secret), true) => Some(totp::code(secret, now_seconds())),
            _ => None,
        };
        let pending = self.lifecycle.store().pending_total().await?;
        Ok(StatusView {
            version: format!(
                "{}.{}",
                *self.lifecycle.store().subscribe().borrow(),
                *self.epoch.borrow()
            ),
            locked: self.lock.locked.load(Ordering::SeqCst),
            pending: u32::try_from(pending).unwrap_or(u32::MAX),
            demo: self.demo,
            second_factor_enrolled: enrolled.is_some(),
            demo_code,
            connector: self.connector.lock().ok().and_then(|c| c.clone()),
            signed_in: self.seat.as_ref().map(|s| s.person.name().to_owned()),
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
        let mut proposals = self.lifecycle.store().subscribe();
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

    /// The periodic duties: expire proposals whose time ran out, run routines whose time has
    /// come (expiring those past theirs), and lock after inactivity. Returns whether the desk
    /// locked itself now.
    ///
    /// # Errors
    /// When the log cannot be written (the desk then locks anyway).
    pub async fn tick(&self) -> Result<bool, AppError> {
        self.lifecycle.expire_due().await?;
        // On a team: executions a lost connection cut off become outcome_unknown once the
        // database answers again.
        let cut_off = self.lifecycle.recover_cut_off().await?;
        if !cut_off.is_empty() {
            tracing::warn!(
                ?cut_off,
                "executions cut off by a lost connection are outcome_unknown"
            );
        }
        if let Err(error) = self
            .lifecycle
            .routines_due(crate::routines::local_now())
            .await
        {
            // A routine's failure is its own (recorded with the run); the other duties go on.
            tracing::error!(%error, "running the routines that are due failed");
        }
        let limit = self.current_settings().auto_lock_seconds;
        if !self.auto_lock || limit == 0 || self.lock.locked.load(Ordering::SeqCst) {
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
        let method = match self.second_factor.check(code)? {
            Some(right) => {
                if !right {
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
        let lines = |all: Vec<crate::record::Line>| -> Vec<ProposalLine> {
            all.into_iter().map(present::inbox_line).collect()
        };
        let pending = lines(
            self.lifecycle
                .store()
                .lines(true, crate::INBOX_PAGE)
                .await?,
        );
        let pending_total = self.lifecycle.store().pending_total().await?;
        let recent = lines(self.lifecycle.store().lines(false, 50).await?);
        let pending_routines = self.lifecycle.store().pending_routines().await?;
        Ok(InboxView {
            pending,
            pending_total,
            recent,
            alerts: self.alerts().await?,
            pending_routines: u32::try_from(pending_routines).unwrap_or(u32::MAX),
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
            .store()
            .oldest_pending(skipped)
            .await?
            .as_ref()
            .map(present::line))
    }

    async fn alerts(&self) -> Result<Vec<AlertView>, AppError> {
        let filter = Filter {
            event: Some(Event::CredentialScopeViolation.as_str().to_owned()),
            ..Filter::default()
        };
        let entries = self.audit.log().latest(&filter, 20).await?;
        Ok(entries.iter().map(present::alert).collect())
    }

    /// Opens a proposal on the review screen; recorded as `proposal.viewed` while it is pending.
    ///
    /// # Errors
    /// When locked, the proposal does not exist, or the entry cannot be written.
    pub async fn proposal(&self, id: &str) -> Result<ProposalView, AppError> {
        self.guard()?;
        let record = self.record(id).await?;
        let record = if record.status == Status::Pending {
            let record = self.lifecycle.view(id).await?;
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
        let record = self.lifecycle.store().existing(id).await?;
        // On a team, as this desk would run it (see `Lifecycle::explained_here`).
        Ok(match self.lifecycle.explained_here(record.clone()).await? {
            Ok(here) => here,
            Err(_) => record,
        })
    }

    async fn view(&self, record: &Record) -> Result<ProposalView, AppError> {
        let record = &match self.lifecycle.explained_here(record.clone()).await? {
            Ok(here) => here,
            Err(_) => record.clone(),
        };
        // The exact artifact as stored; one that no longer matches its hash shows as such and
        // cannot be approved (the lifecycle checks again).
        let artifact = record.typed_artifact().ok();
        let release_default = match artifact.as_ref().and_then(|a| a.credential_name()) {
            Some(name) => self
                .credentials
                .store()
                .release_default(name)
                .await
                .map_or(ReleaseRule::Ask, ReleaseRule::from),
            None => ReleaseRule::Ask,
        };
        Ok(present::proposal_view(
            record,
            artifact.as_ref(),
            release_default,
            self.lifecycle.result_words(record),
        ))
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
        if present::has_danger(&record) {
            let word = confirmation_word(&record.artifact_sha256);
            if confirmation.map(|c| c.trim().to_lowercase()) != Some(word.clone()) {
                return Err(not_allowed(format!(
                    "This proposal has a danger warning: type “{word}” to approve it."
                )));
            }
        }
        let approval = match self.team_approval(&record).await? {
            TeamApproval::Alone => Approval::Alone,
            TeamApproval::First(rule) => {
                let first = self.lifecycle.first_approve(id, code, &rule).await?;
                return self.view(&first).await;
            }
            TeamApproval::Second(first) => Approval::SecondTo(first),
        };
        let done = self.lifecycle.approve_as(id, code, approval).await?;
        let view = self.view(&done).await?;
        if done.result.is_some() {
            let automatic = match view.release_default {
                ReleaseRule::Always => Some(Release::All),
                ReleaseRule::Never => Some(Release::Nothing),
                ReleaseRule::Ask => None,
            };
            if let Some(release) = automatic {
                let released = self.lifecycle.release(id, &release).await?;
                return self.view(&released).await;
            }
        }
        Ok(view)
    }

    /// On a team desk, checks the signed-in person may decide `record` at all (still in the
    /// team; a role the team's rules ask for its credential) and returns their roles and the
    /// rules. Anywhere else, nothing to check.
    async fn team_standing(
        &self,
        record: &Record,
    ) -> Result<Option<(Vec<String>, Vec<crate::team::RuleInfo>)>, AppError> {
        let Some(seat) = &self.seat else {
            return Ok(None);
        };
        let name = seat.person.name();
        let Some(roles) = seat.team.standing(&seat.person).await? else {
            return Err(not_allowed(format!(
                "{name} can no longer act for the team; nothing was decided"
            )));
        };
        let rules = seat.team.rules().await?;
        let credential = record
            .typed_artifact()?
            .credential_name()
            .map(str::to_owned);
        let deciders: Vec<&str> = rules
            .iter()
            .filter_map(|info| match &info.rule {
                Rule::Decide {
                    credential: c,
                    role,
                } if Some(c) == credential.as_ref() => Some(role.as_str()),
                _ => None,
            })
            .collect();
        if !deciders.is_empty() && !deciders.iter().any(|d| roles.iter().any(|r| r == d)) {
            return Err(not_allowed(format!(
                "The team's rules let only a {} decide what uses {}; {name} is not one. Nothing was decided.",
                deciders.join(" or a "),
                credential.unwrap_or_default()
            )));
        }
        Ok(Some((roles, rules)))
    }

    /// How the team's rules let the signed-in person approve `record` (design.md §19): only a
    /// prescriber signs a controlled-substance prescription; a role a rule names for the
    /// credential; two different people for money over a two-person rule's amount.
    async fn team_approval(&self, record: &Record) -> Result<TeamApproval, AppError> {
        let (Some(seat), Some((roles, rules))) = (&self.seat, self.team_standing(record).await?)
        else {
            return Ok(TeamApproval::Alone);
        };
        let name = seat.person.name();
        let controlled = record
            .explanation
            .risks
            .iter()
            .any(|r| r.code == countersign_core::RiskCode::ControlledSubstance);
        if controlled && !roles.iter().any(|r| r == crate::team::PRESCRIBER) {
            return Err(not_allowed(format!(
                "Only a prescriber signs a prescription for a controlled substance. {name} may draft it; a prescriber signs it at their desk. Nothing was approved."
            )));
        }
        let credential = record
            .typed_artifact()?
            .credential_name()
            .map(str::to_owned);
        let two_people = rules.iter().find_map(|info| match &info.rule {
            Rule::TwoPeople {
                amount,
                currency,
                credential: only,
            } if only.is_none() || only.as_ref() == credential.as_ref() => {
                let limit = countersign_core::money::Decimal::parse(amount)?;
                record
                    .amounts
                    .iter()
                    .any(|(moved, moved_currency)| {
                        // Another currency cannot be compared without rates: it counts as over.
                        !moved_currency.eq_ignore_ascii_case(currency)
                            || moved
                                .compare(limit)
                                .is_none_or(|o| o == std::cmp::Ordering::Greater)
                    })
                    .then(|| info.rule.words())
            }
            _ => None,
        });
        let Some(rule) = two_people else {
            return Ok(TeamApproval::Alone);
        };
        match &record.first_approved_by {
            None => Ok(TeamApproval::First(rule)),
            Some(first) if first == name => Err(not_allowed(format!(
                "You approved this first; the team's rule ({rule}) needs a second person to approve it."
            ))),
            Some(first) => Ok(TeamApproval::Second(first.clone())),
        }
    }

    /// Writes a backup of this data home to `out` (see [`crate::backup::backup`]); returns the
    /// last audit entry it holds.
    ///
    /// # Errors
    /// When locked, on a team desk, or when the log or a file fails.
    pub async fn backup(&self, out: &std::path::Path) -> Result<u64, AppError> {
        self.guard()?;
        crate::backup::backup(&self.home, &self.audit, out).await
    }

    /// A diagnostic report for support, in plain text: versions, paths, counts and the support
    /// log's latest warnings and errors. It names no secret and no proposal's content (the
    /// log holds none; credentials appear by name and count only).
    ///
    /// # Errors
    /// When locked, or a store cannot be read.
    pub async fn diagnostics(&self) -> Result<crate::views::DiagnosticsView, AppError> {
        self.guard()?;
        let store = self.lifecycle.store();
        let credentials = self.credentials.list().await?;
        let missing = self.credentials.needing_their_secret().await?;
        let agents = store.agents().await?;
        let last = self.audit.log().last().await?;
        let team = crate::team::TeamConfig::read(&self.home)?;
        let mut lines = vec![
            format!(
                "Countersign {} ({} {})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
            format!("Data home: {}", self.home.root().display()),
            match &team {
                Some(team) => format!(
                    "Team: {} (reachable: {})",
                    team.database,
                    if store.reachable().await { "yes" } else { "no" }
                ),
                None => "Team: none (one person's desk)".to_owned(),
            },
            format!(
                "Connector: {}",
                self.connector
                    .lock()
                    .ok()
                    .and_then(|c| c.clone())
                    .unwrap_or_else(|| "not listening".to_owned())
            ),
            format!(
                "Proposals waiting: {}; routines waiting: {}",
                store.pending_total().await?,
                store.pending_routines().await?
            ),
            format!(
                "Credentials: {}{}",
                credentials.len(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("; needing their secret typed again: {}", missing.join(", "))
                }
            ),
            format!(
                "Agents: {} ({} revoked)",
                agents.len(),
                agents.iter().filter(|a| a.revoked_at.is_some()).count()
            ),
            format!("Audit log: {} entries", last.map_or(0, |(seq, _)| seq)),
            format!(
                "Locked: {}; second factor enrolled: {}",
                if self.lock.locked.load(Ordering::SeqCst) {
                    "yes"
                } else {
                    "no"
                },
                if self.second_factor.enrolled()?.is_some() {
                    "yes"
                } else {
                    "no"
                }
            ),
        ];
        match &self.log_folder {
            Some(folder) => {
                lines.push(format!("Support log: {}", folder.display()));
                let recent = recent_problems(folder, REPORTED_LOG_LINES);
                if recent.is_empty() {
                    lines.push("No warnings or errors in the support log.".to_owned());
                } else {
                    lines.push("Latest warnings and errors:".to_owned());
                    lines.extend(recent.into_iter().map(|line| format!("  {line}")));
                }
            }
            None => lines.push("Support log: none".to_owned()),
        }
        Ok(crate::views::DiagnosticsView {
            text: lines.join("\n"),
        })
    }

    /// Rejects with an optional reason.
    ///
    /// # Errors
    /// When locked, not pending, or the entry cannot be written.
    pub async fn reject(&self, id: &str, reason: &str) -> Result<ProposalView, AppError> {
        self.guard()?;
        if self.seat.is_some() {
            let record = self.record(id).await?;
            self.team_standing(&record).await?;
        }
        let record = self.lifecycle.reject(id, reason.trim()).await?;
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
        Ok(crate::release::agent_result(&result, &present::release_of(choice)).to_display())
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
            .release(id, &present::release_of(choice))
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
            views.push(present::credential_view(&meta, release.into()));
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
        crate::credentials::check(&present::form_to_meta(form)?)
    }

    /// What the native prompt should ask for to add this credential, in words; `None` when it
    /// needs no secret (a SQLite file).
    ///
    /// # Errors
    /// When locked or the form is not acceptable.
    pub fn secret_wanted(&self, form: &CredentialForm) -> Result<Option<&'static str>, AppError> {
        self.guard()?;
        let meta = present::form_to_meta(form)?;
        Ok(match &meta.kind {
            _ if crate::credentials::needs_no_secret(&meta) => None,
            countersign_core::credential::CredentialKind::Sql { .. } => {
                Some("the database password, or the full connection URL")
            }
            countersign_core::credential::CredentialKind::Smtp { .. } => {
                Some("the mail account's password")
            }
            countersign_core::credential::CredentialKind::Http {
                auth: countersign_core::credential::HttpAuth::Basic,
                ..
            } => Some("user:password"),
            countersign_core::credential::CredentialKind::Http { .. } => {
                Some("the API token or key")
            }
        })
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
        let meta = present::form_to_meta(form)?;
        self.credentials.add(&self.audit, &meta, secret).await?;
        if form.release_default != ReleaseRule::Ask {
            self.credentials
                .store()
                .set_release_default(&meta.name, form.release_default.into())
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
    pub async fn set_release_default(
        &self,
        name: &str,
        release: ReleaseRule,
    ) -> Result<(), AppError> {
        self.guard()?;
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::SettingsChanged)
            .details(serde_json::json!({ "release_default": release }));
        entry.credential = Some(name.to_owned());
        self.audit.record(entry).await?;
        Ok(self
            .credentials
            .store()
            .set_release_default(name, release.into())
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
            .list()
            .await?
            .into_iter()
            .map(|a| AgentView {
                name: a.name,
                added_at: a.added_at,
                revoked_at: a.revoked_at,
                checked_in_at: a.checked_in_at,
            })
            .collect())
    }

    /// Connects an agent: creates its key and the configuration to paste into MCP clients.
    ///
    /// # Errors
    /// When locked, the name is taken or unusable, or the entry cannot be written.
    pub async fn connect_agent(&self, name: &str) -> Result<ConnectedAgent, AppError> {
        self.guard()?;
        let key = self.lifecycle.agents().add(name.trim()).await?;
        let address = self
            .connector
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .unwrap_or_else(|| "127.0.0.1:7717".into());
        Ok(ConnectedAgent {
            name: name.trim().to_owned(),
            configs: present::agent_configs(&address, key.expose()),
            key: key.expose().to_owned(),
        })
    }

    /// Revokes an agent's key at once.
    ///
    /// # Errors
    /// When locked, it does not exist, or the entry cannot be written.
    pub async fn revoke_agent(&self, name: &str) -> Result<(), AppError> {
        self.guard()?;
        self.lifecycle.agents().revoke(name).await
    }

    // ----- audit -----

    /// Entries matching `query`, newest first (at most 500).
    ///
    /// # Errors
    /// When locked or the log cannot be read.
    pub async fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditLine>, AppError> {
        self.guard()?;
        let entries = self.audit.log().entries(&present::filter(query)).await?;
        Ok(entries
            .iter()
            .rev()
            .take(500)
            .map(present::audit_line)
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
        self.audit.export(format, &present::filter(query)).await
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
            second_factor_enrolled: self.second_factor.enrolled()?.is_some(),
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
        self.second_factor.enroll(&seed)?;
        if let Ok(mut pending) = self.enrolment.lock() {
            *pending = None;
        }
        self.bump();
        Ok(())
    }
}

impl Desk {
    // ----- routines -----

    /// Every routine, newest first.
    ///
    /// # Errors
    /// When locked or the store cannot be read.
    pub async fn routines(&self) -> Result<Vec<crate::views::RoutineLine>, AppError> {
        self.guard()?;
        let now = crate::store::now_seconds();
        Ok(self
            .lifecycle
            .store()
            .routines()
            .await?
            .iter()
            .map(|r| present::routine_line(r, now))
            .collect())
    }

    /// Opens a routine: its words, bounds, risks and runs. A pending one starts its reading time.
    ///
    /// # Errors
    /// When locked or it does not exist.
    pub async fn routine(&self, id: &str) -> Result<crate::views::RoutineView, AppError> {
        self.guard()?;
        let store = self.lifecycle.store();
        let record = store
            .routine(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no routine {id}")))?;
        if record.status == crate::routines::RoutineStatus::Pending
            && let Ok(mut viewed) = self.viewed.lock()
        {
            viewed.entry(id.to_owned()).or_insert_with(Instant::now);
        }
        let runs = store.runs(id).await?;
        Ok(present::routine_view(
            &record,
            &runs,
            crate::store::now_seconds(),
        ))
    }

    /// Approves a routine: on screen for [`MINIMUM_VIEW`], its word typed, and the second
    /// factor, always.
    ///
    /// # Errors
    /// When locked, too early, the word or code is wrong, or a step cannot be recorded.
    pub async fn approve_routine(
        &self,
        id: &str,
        confirmation: Option<&str>,
        code: Option<&str>,
    ) -> Result<crate::views::RoutineView, AppError> {
        self.guard()?;
        let shown = self.viewed.lock().ok().and_then(|v| v.get(id).copied());
        if shown.is_none_or(|at| at.elapsed() < MINIMUM_VIEW) {
            return Err(not_allowed(
                "Read the routine first: it can be approved a moment after it is shown.",
            ));
        }
        let record = self
            .lifecycle
            .store()
            .routine(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no routine {id}")))?;
        let word = confirmation_word(&record.routine_sha256);
        if confirmation.map(|c| c.trim().to_lowercase()) != Some(word.clone()) {
            return Err(not_allowed(format!(
                "A routine runs without asking you again: type “{word}” to approve it."
            )));
        }
        self.lifecycle.approve_routine(id, code).await?;
        self.routine(id).await
    }

    /// Rejects, pauses, resumes or revokes a routine.
    ///
    /// # Errors
    /// When locked, the change does not apply, or the entry cannot be written.
    pub async fn change_routine(
        &self,
        id: &str,
        change: crate::routines::RoutineChange,
        reason: &str,
    ) -> Result<crate::views::RoutineView, AppError> {
        self.guard()?;
        self.lifecycle.change_routine(id, change, reason).await?;
        self.routine(id).await
    }

    /// Runs an active routine now, as the person, with `parameters`.
    ///
    /// # Errors
    /// When locked, it is not active, a value is refused, or a step cannot be recorded.
    pub async fn run_routine(
        &self,
        id: &str,
        parameters: &serde_json::Value,
    ) -> Result<crate::views::RunView, AppError> {
        self.guard()?;
        let json = countersign_core::json::Json::parse(&parameters.to_string())
            .map_err(|r| not_allowed(r.message))?;
        let values = match json {
            countersign_core::json::Json::Object(values) => values.into_iter().collect(),
            _ => return Err(not_allowed("give a value for each parameter")),
        };
        match self
            .lifecycle
            .run_routine(id, crate::routines::Requester::Person, &values)
            .await?
        {
            Ok(run) => Ok(present::run_view(&run)),
            Err(refusal) => Err(not_allowed(refusal.message)),
        }
    }
}

/// The latest `limit` warning and error lines of the support log's files, oldest first.
fn recent_problems(folder: &std::path::Path, limit: usize) -> Vec<String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    // Daily files are named by date: in name order, the newest is last.
    files.sort();
    let mut problems: Vec<String> = Vec::new();
    for file in files.iter().rev() {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let mut found: Vec<String> = text
            .lines()
            .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
            .map(|line| line.chars().take(400).collect())
            .collect();
        found.append(&mut problems);
        problems = found;
        if problems.len() >= limit {
            break;
        }
    }
    let skip = problems.len().saturating_sub(limit);
    problems.split_off(skip)
}
