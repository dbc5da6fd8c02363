//! Routines in the application (design.md §18): proposed by an agent, vetted once by the person
//! (the typed word and the second factor, always), then run by Countersign within their bounds.
//!
//! Every run instantiates the pinned templates ([`countersign_core::routine`]), explains each
//! concrete artifact as a proposal would be, takes its own single-use grant and executes through
//! the same executors, audit first. A run outside its bounds or limits, with a `danger` risk the
//! person did not see when vetting, or on a credential whose metadata changed since, is not run:
//! it is held as an ordinary pending proposal linked to the routine. Agents propose and request
//! runs; only the person approves, pauses, resumes and revokes. Scheduled runs happen while a
//! desk is open (the desktop app or `countersign review`); a missed time is recorded as missed,
//! never caught up.
//!
//! The rows live in `proposals.db` (`routines`, `routine_runs`), read through `Store`; the steps
//! are methods of `Lifecycle`, which holds the collaborators they need.

use std::collections::BTreeMap;

use countersign_audit::{Actor, Event, NewEntry};
use countersign_core::explanation::{Explanation, Risk, Severity};
use countersign_core::json::{Json, Object};
use countersign_core::routine::{self, Routine, RoutineProposal, RunRelease, Schedule};
use countersign_core::{Proposal, Refusal, RefusalCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::lifecycle::Lifecycle;
use crate::queue::{Statement, stored};
use crate::release::Release;
use crate::store::{NewProposal, Store, now_seconds, now_text};

fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Where a routine is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ts_rs::TS)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RoutineStatus {
    /// Waiting for the person.
    Pending,
    /// Approved and running when due or asked.
    Active,
    /// Stopped by the person for now.
    Paused,
    /// Not approved.
    Rejected,
    /// Stopped by the person for good.
    Revoked,
    /// Past its expiry.
    Expired,
}

/// How one run ended (or that it is still going).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ts_rs::TS)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Executing now.
    Running,
    /// Every step ran.
    Succeeded,
    /// A step failed or was refused.
    Failed,
    /// Held as a pending proposal for the person.
    Held,
    /// Countersign stopped while it ran; not retried.
    OutcomeUnknown,
    /// Its scheduled time passed while no desk was open; not caught up.
    Missed,
}

/// A routine in words, stored with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutineExplanation {
    /// One line, derived from the steps and schedule.
    pub headline: String,
    /// When it runs.
    pub schedule: String,
    /// Each parameter and its bound.
    pub bounds: Vec<String>,
    /// Each step by its fixed parts.
    pub steps: Vec<String>,
    /// Each step explained with its values at their limits, when it can be.
    pub explained: Vec<Option<Explanation>>,
    /// Every risk of the explained steps, most severe first.
    pub risks: Vec<Risk>,
    /// Its limits.
    pub limits: Vec<String>,
    /// When it stops.
    pub expiry: String,
    /// What the agent sees of each run.
    pub release: String,
    /// The agent's own words (its claim).
    pub agent_summary: String,
}

/// What the person vetted, kept at approval: the `danger` risks they saw and the metadata of
/// each credential the steps use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Vetted {
    dangers: Vec<String>,
    credentials: BTreeMap<String, String>,
}

#[derive(sqlx::FromRow)]
struct RoutineRow {
    id: String,
    agent: String,
    received_at: String,
    status: RoutineStatus,
    summary: String,
    purpose: String,
    routine: String,
    routine_sha256: String,
    explanation: String,
    decided_at: Option<String>,
    reason: Option<String>,
    expires_at: Option<i64>,
    vetted: Option<String>,
    last_scheduled: Option<i64>,
}

const RUN_COLUMNS: &str = "id, routine_id, requested_by, started_at, started_day, status, parameters, money, proposal_id, released, reason";

const ROUTINE_COLUMNS: &str = "id, agent, received_at, status, summary, purpose, routine, routine_sha256, explanation, decided_at, reason, expires_at, vetted, last_scheduled";

/// A routine as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RoutineRecord {
    /// Its id (`rtn_…`).
    pub id: String,
    /// The agent that proposed it.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: RoutineStatus,
    /// The agent's summary.
    pub summary: String,
    /// The agent's purpose.
    pub purpose: String,
    /// The canonical text of the routine, what `routine_sha256` is taken over.
    pub routine_text: String,
    /// Its hash: what the person signs.
    pub routine_sha256: String,
    /// In words.
    pub explanation: RoutineExplanation,
    /// When it was decided.
    pub decided_at: Option<String>,
    /// Why it was rejected, paused or revoked.
    pub reason: Option<String>,
    /// When it stops (unix seconds), once approved.
    pub expires_at: Option<i64>,
    vetted: Option<Vetted>,
    last_scheduled: Option<i64>,
}

impl RoutineRecord {
    fn from_row(row: RoutineRow) -> Result<Self, AppError> {
        Ok(RoutineRecord {
            explanation: serde_json::from_str(&row.explanation)
                .map_err(|e| not_allowed(format!("a stored routine is damaged: {e}")))?,
            vetted: row
                .vetted
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| not_allowed(format!("a stored routine is damaged: {e}")))?,
            id: row.id,
            agent: row.agent,
            received_at: row.received_at,
            status: row.status,
            summary: row.summary,
            purpose: row.purpose,
            routine_text: row.routine,
            routine_sha256: row.routine_sha256,
            decided_at: row.decided_at,
            reason: row.reason,
            expires_at: row.expires_at,
            last_scheduled: row.last_scheduled,
        })
    }

    /// The routine, read back from its stored text; refused when the text no longer hashes to
    /// `routine_sha256`.
    ///
    /// # Errors
    /// When the stored routine was changed.
    pub fn routine(&self) -> Result<Routine, AppError> {
        let changed = || not_allowed("the stored routine does not match its hash; nothing runs");
        if hex(&Sha256::digest(self.routine_text.as_bytes())) != self.routine_sha256 {
            return Err(changed());
        }
        let json = Json::parse(&self.routine_text).map_err(|_| changed())?;
        Routine::from_json(&json, "routine").map_err(|_| changed())
    }

    /// What the agent sees: `{id, status, routine_sha256, runs}`.
    pub fn agent_view(&self, runs: &[RunRecord]) -> Json {
        let text = |s: &str| Json::String(s.to_owned());
        Json::Object(Object::from([
            ("id".to_owned(), text(&self.id)),
            ("status".to_owned(), text(&serde_plain(&self.status))),
            ("routine_sha256".to_owned(), text(&self.routine_sha256)),
            (
                "runs".to_owned(),
                Json::Array(runs.iter().map(RunRecord::agent_view).collect()),
            ),
        ]))
    }
}

fn serde_plain<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One run as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RunRecord {
    /// Its id (`run_…`).
    pub id: String,
    /// Its routine.
    pub routine_id: String,
    /// `agent:NAME`, `person:NAME` or `schedule`.
    pub requested_by: String,
    /// When it started.
    pub started_at: String,
    /// The day it started on this computer's calendar, for the per-day limit.
    pub started_day: String,
    /// How it ended.
    pub status: RunStatus,
    /// Its parameters (canonical JSON).
    pub parameters: String,
    /// The sum of its money parameters.
    pub money: Option<String>,
    /// The pending proposal a held run became.
    pub proposal_id: Option<String>,
    /// What the agent may read (canonical JSON).
    pub released: Option<String>,
    /// Why it was held, failed or missed, in words.
    pub reason: Option<String>,
}

impl RunRecord {
    /// What the agent sees: `{id, status, proposal_id, result}`.
    pub fn agent_view(&self) -> Json {
        let text = |s: &str| Json::String(s.to_owned());
        Json::Object(Object::from([
            ("id".to_owned(), text(&self.id)),
            ("status".to_owned(), text(&serde_plain(&self.status))),
            (
                "proposal_id".to_owned(),
                self.proposal_id.as_deref().map_or(Json::Null, text),
            ),
            (
                "result".to_owned(),
                self.released
                    .as_deref()
                    .and_then(|t| Json::parse(t).ok())
                    .unwrap_or(Json::Null),
            ),
            (
                "reason".to_owned(),
                self.reason.as_deref().map_or(Json::Null, text),
            ),
        ]))
    }
}

/// Who asked for a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The routine's agent.
    Agent(String),
    /// The person.
    Person,
    /// Its schedule.
    Schedule,
}

// ----- the store -----

impl Store {
    async fn insert_routine(&self, record: &RoutineRecord) -> Result<(), AppError> {
        let explanation =
            serde_json::to_string(&record.explanation).map_err(|e| not_allowed(e.to_string()))?;
        self.write(
            Statement::new("INSERT INTO routines (id, agent, received_at, status, summary, purpose, routine, routine_sha256, explanation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&record.id)
                .bind(&record.agent)
                .bind(&record.received_at)
                .bind(stored(&record.status))
                .bind(&record.summary)
                .bind(&record.purpose)
                .bind(&record.routine_text)
                .bind(&record.routine_sha256)
                .bind(explanation),
        )
        .await?;
        self.changed();
        Ok(())
    }

    /// A routine by id.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn routine(&self, id: &str) -> Result<Option<RoutineRecord>, AppError> {
        let row: Option<RoutineRow> = self
            .one(
                Statement::new(format!(
                    "SELECT {ROUTINE_COLUMNS} FROM routines WHERE id = ?"
                ))
                .bind(id),
            )
            .await?;
        row.map(RoutineRecord::from_row).transpose()
    }

    /// Every routine, newest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn routines(&self) -> Result<Vec<RoutineRecord>, AppError> {
        let rows: Vec<RoutineRow> = self
            .all(Statement::new(format!(
                "SELECT {ROUTINE_COLUMNS} FROM routines ORDER BY received_at DESC, id DESC LIMIT 500"
            )))
            .await?;
        rows.into_iter().map(RoutineRecord::from_row).collect()
    }

    /// How many routines wait for a decision (by count).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending_routines(&self) -> Result<i64, AppError> {
        self.count(Statement::new(
            "SELECT count(*) FROM routines WHERE status = 'pending'",
        ))
        .await
    }

    async fn routines_with_status(
        &self,
        status: RoutineStatus,
    ) -> Result<Vec<RoutineRecord>, AppError> {
        let rows: Vec<RoutineRow> = self
            .all(
                Statement::new(format!(
                    "SELECT {ROUTINE_COLUMNS} FROM routines WHERE status = ? ORDER BY received_at"
                ))
                .bind(stored(&status)),
            )
            .await?;
        rows.into_iter().map(RoutineRecord::from_row).collect()
    }

    /// A routine's runs, newest first (at most 200).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn runs(&self, routine_id: &str) -> Result<Vec<RunRecord>, AppError> {
        self.all(
            Statement::new(format!("SELECT {RUN_COLUMNS} FROM routine_runs WHERE routine_id = ? ORDER BY started_at DESC, id DESC LIMIT 200"))
                .bind(routine_id),
        )
        .await
    }

    /// Runs that executed (or may have): what counts against a routine's limits.
    async fn counted_runs(&self, routine_id: &str) -> Result<Vec<RunRecord>, AppError> {
        self.all(
            Statement::new(format!("SELECT {RUN_COLUMNS} FROM routine_runs WHERE routine_id = ? AND status IN ('running', 'succeeded', 'failed', 'outcome_unknown')"))
                .bind(routine_id),
        )
        .await
    }

    async fn insert_run(&self, run: &RunRecord) -> Result<(), AppError> {
        self.write(
            Statement::new("INSERT INTO routine_runs (id, routine_id, requested_by, started_at, started_day, status, parameters, money, proposal_id, released, reason, desk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&run.id)
                .bind(&run.routine_id)
                .bind(&run.requested_by)
                .bind(&run.started_at)
                .bind(&run.started_day)
                .bind(stored(&run.status))
                .bind(&run.parameters)
                .bind(&run.money)
                .bind(&run.proposal_id)
                .bind(&run.released)
                .bind(&run.reason)
                .bind(self.desk()),
        )
        .await?;
        Ok(())
    }

    async fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        proposal_id: Option<&str>,
        released: Option<&Json>,
        reason: Option<&str>,
    ) -> Result<(), AppError> {
        self.write(
            Statement::new("UPDATE routine_runs SET status = ?, proposal_id = COALESCE(?, proposal_id), released = ?, reason = ? WHERE id = ?")
                .bind(stored(&status))
                .bind(proposal_id)
                .bind(released.map(Json::canonical))
                .bind(reason)
                .bind(id),
        )
        .await?;
        self.changed();
        Ok(())
    }

    async fn set_last_scheduled(&self, id: &str, at: i64) -> Result<(), AppError> {
        self.write(
            Statement::new("UPDATE routines SET last_scheduled = ? WHERE id = ?")
                .bind(at)
                .bind(id),
        )
        .await?;
        Ok(())
    }

    /// Claims the scheduled time `slot` of a routine for this desk: true for exactly one of the
    /// desks that ask (on a team every desk's schedule sees the same time come), so a scheduled
    /// run happens once.
    async fn claim_slot(&self, id: &str, slot: i64) -> Result<bool, AppError> {
        Ok(self
            .write(
                Statement::new("UPDATE routines SET last_scheduled = ? WHERE id = ? AND (last_scheduled IS NULL OR last_scheduled < ?)")
                    .bind(slot)
                    .bind(id)
                    .bind(slot),
            )
            .await?
            == 1)
    }

    /// This desk's runs still marked running (on a team, another desk's running run is that
    /// desk's to finish).
    pub(crate) async fn running_runs_here(&self) -> Result<Vec<String>, AppError> {
        self.ids(
            Statement::new(
                "SELECT id FROM routine_runs WHERE status = 'running' AND (desk IS NULL OR desk = ?)",
            )
            .bind(self.desk()),
        )
        .await
    }

    /// Marks runs that were executing when Countersign stopped as `outcome_unknown`.
    async fn interrupted_runs(&self) -> Result<Vec<String>, AppError> {
        let ids = self.running_runs_here().await?;
        for id in &ids {
            self.finish_run(
                id,
                RunStatus::OutcomeUnknown,
                None,
                None,
                Some("Countersign stopped while this run was executing; it was not retried."),
            )
            .await?;
        }
        Ok(ids)
    }

    async fn move_routine(
        &self,
        id: &str,
        from: &[RoutineStatus],
        to: RoutineStatus,
        reason: Option<&str>,
        entry: Option<(&crate::audit::Audit, NewEntry)>,
    ) -> Result<bool, AppError> {
        let placeholders = vec!["?"; from.len()].join(", ");
        let sql = format!(
            "UPDATE routines SET status = ?, reason = COALESCE(?, reason), decided_at = COALESCE(decided_at, CASE WHEN ? IN ('active', 'rejected') THEN ? ELSE NULL END) WHERE id = ? AND status IN ({placeholders})"
        );
        let statement = Statement::new(sql)
            .bind(stored(&to))
            .bind(reason)
            .bind(stored(&to))
            .bind(now_text())
            .bind(id);
        let statement = from.iter().fold(statement, |statement, status| {
            statement.bind(stored(status))
        });
        let changed = self.audited_change(statement, entry).await?;
        if changed {
            self.changed();
        }
        Ok(changed)
    }
}

// ----- the steps -----

fn risk_order(risks: &mut [Risk]) {
    let rank = |s: Severity| match s {
        Severity::Danger => 0,
        Severity::Caution => 1,
        Severity::Info => 2,
    };
    risks.sort_by_key(|r| rank(r.severity));
}

fn credential_fingerprint(meta: &countersign_core::credential::CredentialMeta) -> String {
    hex(&Sha256::digest(
        serde_json::to_string(meta).unwrap_or_default().as_bytes(),
    ))
}

/// Now in this computer's time zone: a schedule's "18:00", a date's "the day of the run" and
/// the per-day limit are the person's local day, not UTC's.
pub(crate) fn local_now() -> OffsetDateTime {
    let offset = chrono::Local::now().offset().local_minus_utc();
    let offset = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(offset)
}

fn today() -> time::Date {
    local_now().date()
}

fn run_release(rule: &RunRelease) -> Release {
    match rule {
        RunRelease::All => Release::All,
        RunRelease::Nothing => Release::Nothing,
        RunRelease::Fields(fields) => Release::Fields(fields.clone()),
    }
}

/// The credentials a routine's steps use.
fn credentials_of(routine: &Routine) -> Vec<String> {
    let mut names: Vec<String> = routine
        .steps
        .iter()
        .filter_map(|s| routine::template_parts(&s.template).credential)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Rows of a step's result, by extraction name.
fn rows_of(step: &routine::Step, result: &Json) -> Vec<BTreeMap<String, Json>> {
    let columns: Vec<String> = match result.at("columns") {
        Some(Json::Array(columns)) => columns
            .iter()
            .map(|c| c.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let single: BTreeMap<String, Json> = step
        .extract
        .iter()
        .filter_map(|(name, how)| match how {
            routine::Extraction::Path(path) => {
                Some((name.clone(), result.at(path).cloned().unwrap_or(Json::Null)))
            }
            routine::Extraction::Column(_) => None,
        })
        .collect();
    match result.at("rows") {
        Some(Json::Array(rows)) => rows
            .iter()
            .map(|row| {
                let mut values = single.clone();
                for (name, how) in &step.extract {
                    if let routine::Extraction::Column(column) = how {
                        let value = columns
                            .iter()
                            .position(|c| c == column)
                            .and_then(|i| match row {
                                Json::Array(cells) => cells.get(i).cloned(),
                                _ => None,
                            })
                            .unwrap_or(Json::Null);
                        values.insert(name.clone(), value);
                    }
                }
                values
            })
            .collect(),
        _ => vec![single],
    }
}

/// The latest scheduled time at or before `now` (local), as unix seconds.
fn latest_slot(schedule: Schedule, now: OffsetDateTime) -> Option<i64> {
    let (hour, minute) = match schedule {
        Schedule::Daily { hour, minute }
        | Schedule::Weekly { hour, minute, .. }
        | Schedule::Monthly { hour, minute, .. } => (hour, minute),
    };
    let at = time::Time::from_hms(hour, minute, 0).ok()?;
    for back in 0..62 {
        let day = now.date().checked_sub(time::Duration::days(back))?;
        let fits = match schedule {
            Schedule::Daily { .. } => true,
            Schedule::Weekly { weekday, .. } => day.weekday().number_from_monday() == weekday,
            Schedule::Monthly { day: d, .. } => day.day() == d,
        };
        if !fits {
            continue;
        }
        let slot = day.with_time(at).assume_offset(now.offset());
        if slot <= now {
            return Some(slot.unix_timestamp());
        }
    }
    None
}

/// How late a scheduled run may start and still run; later it is recorded as missed.
const SCHEDULE_GRACE_SECONDS: i64 = 15 * 60;

impl Lifecycle {
    /// Receives a routine: reads and explains it (each step at its limits, with the session's
    /// credentials), or refuses it; recorded as `routine.proposed` (or `proposal.refused`).
    ///
    /// # Errors
    /// When the app fails; a refusal is the inner error.
    pub async fn submit_routine(
        &self,
        agent: &str,
        text: &str,
    ) -> Result<Result<RoutineRecord, Refusal>, AppError> {
        let actor = Actor::agent(agent);
        let explained = match RoutineProposal::parse(text) {
            Ok(proposal) => self
                .explain_routine(&proposal)
                .await?
                .map(|e| (proposal, e)),
            Err(refusal) => Err(refusal),
        };
        let (proposal, explanation) = match explained {
            Ok(pair) => pair,
            Err(refusal) => {
                let entry = NewEntry::new(actor, Event::ProposalRefused)
                    .outcome(refusal.code.as_str())
                    .details(serde_json::json!({ "code": refusal.code, "field": refusal.field, "message": refusal.message, "routine": true }));
                self.audit.record(entry).await?;
                return Ok(Err(refusal));
            }
        };
        let mut random = [0u8; 12];
        crate::error::random_bytes(&mut random)?;
        let record = RoutineRecord {
            id: format!("rtn_{}", hex(&random)),
            agent: agent.to_owned(),
            received_at: now_text(),
            status: RoutineStatus::Pending,
            summary: proposal.summary.clone(),
            purpose: proposal.purpose.clone(),
            routine_text: proposal.routine.canonical().to_owned(),
            routine_sha256: proposal.routine.sha256(),
            explanation,
            decided_at: None,
            reason: None,
            expires_at: None,
            vetted: None,
            last_scheduled: None,
        };
        let mut entry = NewEntry::new(actor, Event::RoutineProposed).details(serde_json::json!({
            "routine_id": record.id, "routine_sha256": record.routine_sha256,
            "purpose": record.purpose, "headline": record.explanation.headline,
        }));
        entry.artifact_sha256 = Some(record.routine_sha256.clone());
        self.audit.record(entry).await?;
        self.store.insert_routine(&record).await?;
        Ok(Ok(record))
    }

    async fn explain_routine(
        &self,
        proposal: &RoutineProposal,
    ) -> Result<Result<RoutineExplanation, Refusal>, AppError> {
        let routine = &proposal.routine;
        let loaded = self.credentials.current(&self.home).await?;
        let settings = self.settings.current(&self.home)?.for_explanations();
        for name in credentials_of(routine) {
            if loaded.registry.get(&name).is_none() {
                return Ok(Err(Refusal::new(
                    RefusalCode::UnknownCredential,
                    format!("The routine uses “{name}”, which Countersign does not hold."),
                )
                .at("routine.steps")));
            }
        }
        let at_limits = routine::values_at_limits(routine, today());
        let mut explained = Vec::new();
        let mut risks = Vec::new();
        for step in &routine.steps {
            let explanation = match (&at_limits, &step.for_each) {
                (Some(values), None) => {
                    let artifact = match routine.instantiate(step, values, None) {
                        Ok(artifact) => artifact,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    let as_proposal = Proposal {
                        summary: String::new(),
                        purpose: proposal.purpose.clone(),
                        artifact,
                    };
                    match crate::explain::explain_proposal(
                        &loaded,
                        &self.descriptors,
                        &settings,
                        &as_proposal,
                    ) {
                        Ok(done) => Some(done.explanation),
                        Err(refusal) => return Ok(Err(refusal)),
                    }
                }
                _ => None,
            };
            if let Some(e) = &explanation {
                risks.extend(
                    e.risks
                        .iter()
                        .filter(|r| r.code != countersign_core::RiskCode::SummaryMismatch)
                        .cloned(),
                );
            }
            explained.push(explanation);
        }
        risks.dedup_by(|a, b| a.code == b.code && a.message == b.message);
        risk_order(&mut risks);
        let words = routine::describe(routine, today());
        let first = explained
            .first()
            .and_then(Option::as_ref)
            .map(|e| format!("at most: {}", e.headline))
            .unwrap_or_else(|| {
                words
                    .steps
                    .first()
                    .cloned()
                    .unwrap_or_default()
                    .to_lowercase()
            });
        let more = routine.steps.len().saturating_sub(1);
        let headline = format!(
            "{}, {first}{}",
            words.schedule,
            match more {
                0 => String::new(),
                1 => ", then 1 more step".to_owned(),
                n => format!(", then {n} more steps"),
            }
        );
        Ok(Ok(RoutineExplanation {
            headline,
            schedule: words.schedule,
            bounds: words.bounds,
            steps: words.steps,
            explained,
            risks,
            limits: words.limits,
            expiry: words.expiry,
            release: words.release,
            agent_summary: countersign_core::text::reveal(&proposal.summary),
        }))
    }

    async fn pending_routine(&self, id: &str) -> Result<RoutineRecord, AppError> {
        let record = self
            .store
            .routine(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no routine {id}")))?;
        if record.status != RoutineStatus::Pending {
            return Err(AppError::NotPending(format!(
                "routine {id} is {}, not waiting for a decision",
                serde_plain(&record.status)
            )));
        }
        Ok(record)
    }

    /// The person approves a routine: always with the second factor. What they vetted (the
    /// `danger` risks shown, each credential's metadata) is kept, and the expiry set.
    ///
    /// # Errors
    /// When it is not pending, no second factor is enrolled, the code is wrong, or an entry
    /// cannot be recorded.
    pub async fn approve_routine(
        &self,
        id: &str,
        second_factor: Option<&str>,
    ) -> Result<RoutineRecord, AppError> {
        let record = self.pending_routine(id).await?;
        let routine = record.routine()?;
        let Some(right) = self.second_factor.check(second_factor)? else {
            return Err(not_allowed(
                "approving a routine needs your second factor, and none is set up yet: enroll one first",
            ));
        };
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::SecondFactorFailed)
            .details(serde_json::json!({ "method": "totp", "routine_id": id }));
        if !right {
            self.audit.record(entry).await?;
            return Err(not_allowed(
                "the second-factor code is not right; the routine was not approved",
            ));
        }
        entry.event = Event::SecondFactorSucceeded;
        self.audit.record(entry).await?;
        let loaded = self.credentials.current(&self.home).await?;
        let vetted = Vetted {
            dangers: record
                .explanation
                .risks
                .iter()
                .filter(|r| r.severity == Severity::Danger)
                .map(|r| r.code.as_str().to_owned())
                .collect(),
            credentials: credentials_of(&routine)
                .into_iter()
                .filter_map(|name| {
                    let meta = loaded.registry.get(&name)?;
                    Some((name, credential_fingerprint(meta)))
                })
                .collect(),
        };
        let expires_at = now_seconds() + i64::from(routine.expires_in_days) * 24 * 60 * 60;
        let vetted_text = serde_json::to_string(&vetted).map_err(|e| not_allowed(e.to_string()))?;
        let statement = Statement::new("UPDATE routines SET status = 'active', decided_at = ?, expires_at = ?, vetted = ?, last_scheduled = ? WHERE id = ? AND status = 'pending'")
            .bind(now_text())
            .bind(expires_at)
            .bind(vetted_text)
            // Times before the approval are not "missed".
            .bind(now_seconds())
            .bind(id);
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::RoutineApproved)
            .details(serde_json::json!({ "routine_id": id, "routine_sha256": record.routine_sha256, "auth_method": "totp", "headline": record.explanation.headline, "expires_at": expires_at }));
        entry.artifact_sha256 = Some(record.routine_sha256.clone());
        if !self
            .store
            .audited_change(statement, Some((&self.audit, entry)))
            .await?
        {
            return Err(AppError::NotPending(format!(
                "routine {id} was decided elsewhere; nothing was approved"
            )));
        }
        self.store.changed();
        self.existing_routine(id).await
    }

    async fn existing_routine(&self, id: &str) -> Result<RoutineRecord, AppError> {
        self.store
            .routine(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no routine {id}")))
    }

    /// The person rejects, pauses, resumes or revokes a routine (each recorded).
    ///
    /// # Errors
    /// When the routine is not in a state that allows it, or the entry cannot be recorded.
    pub async fn change_routine(
        &self,
        id: &str,
        change: RoutineChange,
        reason: &str,
    ) -> Result<RoutineRecord, AppError> {
        let record = self.existing_routine(id).await?;
        let (from, to, event): (&[RoutineStatus], RoutineStatus, Event) = match change {
            RoutineChange::Reject => (
                &[RoutineStatus::Pending],
                RoutineStatus::Rejected,
                Event::RoutineRejected,
            ),
            RoutineChange::Pause => (
                &[RoutineStatus::Active],
                RoutineStatus::Paused,
                Event::RoutinePaused,
            ),
            RoutineChange::Resume => (
                &[RoutineStatus::Paused],
                RoutineStatus::Active,
                Event::RoutineResumed,
            ),
            RoutineChange::Revoke => (
                &[
                    RoutineStatus::Pending,
                    RoutineStatus::Active,
                    RoutineStatus::Paused,
                ],
                RoutineStatus::Revoked,
                Event::RoutineRevoked,
            ),
        };
        let mut entry = NewEntry::new(self.audit.actor().clone(), event).details(
            serde_json::json!({ "routine_id": id, "routine_sha256": record.routine_sha256, "reason": reason }),
        );
        entry.artifact_sha256 = Some(record.routine_sha256.clone());
        let reason = (!reason.trim().is_empty()).then(|| reason.trim());
        if !self
            .store
            .move_routine(id, from, to, reason, Some((&self.audit, entry)))
            .await?
        {
            return Err(AppError::NotPending(format!(
                "routine {id} is {}; it cannot be {}",
                serde_plain(&record.status),
                change.past()
            )));
        }
        if change == RoutineChange::Resume {
            // Times that passed while paused are not caught up.
            self.store.set_last_scheduled(id, now_seconds()).await?;
        }
        self.existing_routine(id).await
    }

    /// Asks for a run. Inside its bounds and limits it executes now, with no prompt; otherwise
    /// it is held as a pending proposal for the person.
    ///
    /// # Errors
    /// `NotAllowed` when the routine does not exist for the requester or is not active; the app
    /// failing; a refusal (unknown parameter, wrong type) is the inner error.
    pub async fn run_routine(
        &self,
        id: &str,
        requester: Requester,
        values: &BTreeMap<String, Json>,
    ) -> Result<Result<RunRecord, Refusal>, AppError> {
        let record = self
            .store
            .routine(id)
            .await?
            .filter(|r| match &requester {
                Requester::Agent(agent) => &r.agent == agent,
                _ => true,
            })
            .ok_or_else(|| not_allowed(format!("there is no routine {id}")))?;
        self.expire_routine_if_due(&record).await?;
        if record.expires_at.is_some_and(|at| at <= now_seconds())
            || record.status != RoutineStatus::Active
        {
            let status = if record.expires_at.is_some_and(|at| at <= now_seconds()) {
                "expired".to_owned()
            } else {
                serde_plain(&record.status)
            };
            return Err(AppError::NotPending(format!(
                "routine {id} is {status}; it does not run"
            )));
        }
        let routine = record.routine()?;
        if let Requester::Agent(_) = requester
            && !routine.trigger.on_request
        {
            return Err(not_allowed(
                "this routine runs on its schedule only; its agent cannot ask for a run",
            ));
        }
        let checked = match routine.check(values, today()) {
            Ok(checked) => checked,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut hold: Vec<String> = checked.outside.clone();
        // Limits: runs a day, runs in all, money in all.
        let counted = self.store.counted_runs(id).await?;
        let day = today().to_string();
        let today_runs = counted.iter().filter(|r| r.started_day == day).count();
        if today_runs >= usize::try_from(routine.limits.runs_per_day).unwrap_or(usize::MAX) {
            hold.push(format!(
                "it already ran {today_runs} time(s) today, its most a day"
            ));
        }
        if let Some(total) = routine.limits.total_runs
            && counted.len() >= usize::try_from(total).unwrap_or(usize::MAX)
        {
            hold.push(format!(
                "it already ran {} times, its most in all",
                counted.len()
            ));
        }
        if let (Some(limit), Some(money)) = (routine.limits.total_money, checked.money) {
            let spent = counted
                .iter()
                .filter_map(|r| countersign_core::money::Decimal::parse(r.money.as_deref()?))
                .fold(money, |sum, m| sum.plus(m).unwrap_or(sum));
            if spent.compare(limit) == Some(std::cmp::Ordering::Greater) {
                hold.push(format!(
                    "this run would bring its money to {}, over its most in all ({})",
                    spent.plain(),
                    limit.plain()
                ));
            }
        }
        let mut random = [0u8; 12];
        crate::error::random_bytes(&mut random)?;
        let requested_by = match &requester {
            Requester::Agent(agent) => format!("agent:{agent}"),
            Requester::Person => format!("person:{}", self.audit.actor().name),
            Requester::Schedule => "schedule".to_owned(),
        };
        let run = RunRecord {
            id: format!("run_{}", hex(&random)),
            routine_id: id.to_owned(),
            requested_by: requested_by.clone(),
            started_at: now_text(),
            started_day: day,
            status: RunStatus::Running,
            parameters: Json::Object(values.clone().into_iter().collect()).canonical(),
            money: checked.money.map(|m| m.plain()),
            proposal_id: None,
            released: None,
            reason: None,
        };
        let actor = match &requester {
            Requester::Agent(agent) => Actor::agent(agent),
            Requester::Person => self.audit.actor().clone(),
            Requester::Schedule => Actor::app(),
        };
        let details = |extra: serde_json::Value| {
            let mut d = serde_json::json!({ "routine_id": id, "routine_sha256": record.routine_sha256, "run_id": run.id, "requested_by": requested_by });
            if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
                d.extend(extra.clone());
            }
            d
        };
        let vetted = record.vetted.clone().unwrap_or_default();
        let loaded = self.credentials.current(&self.home).await?;
        for (name, fingerprint) in &vetted.credentials {
            let now = loaded.registry.get(name).map(credential_fingerprint);
            if now.as_deref() != Some(fingerprint.as_str()) {
                hold.push(format!(
                    "the credential “{name}” was changed or removed since the routine was approved"
                ));
            }
        }
        // Audit first: the run is recorded before any step is explained or executed.
        let mut started = NewEntry::new(actor.clone(), Event::RoutineRunStarted).details(details(
            serde_json::json!({ "parameters": values.keys().collect::<Vec<_>>() }),
        ));
        started.artifact_sha256 = Some(record.routine_sha256.clone());
        self.audit.record(started).await?;
        self.store.insert_run(&run).await?;

        let settings = self.settings.current(&self.home)?.for_explanations();
        let mut results: BTreeMap<String, Json> = BTreeMap::new();
        let mut outputs: BTreeMap<String, Vec<BTreeMap<String, Json>>> = BTreeMap::new();
        for step in &routine.steps {
            let rows: Vec<Option<BTreeMap<String, Json>>> = match &step.for_each {
                None => vec![None],
                Some((over, max)) => {
                    let rows = outputs.get(over).cloned().unwrap_or_default();
                    if rows.len() > usize::try_from(*max).unwrap_or(usize::MAX) {
                        hold.push(format!(
                            "step “{}” would repeat {} times, over its most of {max}",
                            step.id,
                            rows.len()
                        ));
                    }
                    rows.into_iter().map(Some).collect()
                }
            };
            let mut step_results = Vec::new();
            for row in &rows {
                let artifact = match routine.instantiate(step, &checked, row.as_ref()) {
                    Ok(artifact) => artifact,
                    Err(refusal) => {
                        return self
                            .fail_run(&run, &actor, &details, &refusal.message)
                            .await
                            .map(Ok);
                    }
                };
                let as_proposal = Proposal {
                    summary: String::new(),
                    purpose: record.purpose.clone(),
                    artifact,
                };
                let explained = match crate::explain::explain_proposal(
                    &loaded,
                    &self.descriptors,
                    &settings,
                    &as_proposal,
                ) {
                    Ok(explained) => explained,
                    Err(refusal) => {
                        return self
                            .fail_run(&run, &actor, &details, &refusal.message)
                            .await
                            .map(Ok);
                    }
                };
                let unvetted: Vec<String> = explained
                    .explanation
                    .risks
                    .iter()
                    .filter(|r| {
                        r.severity == Severity::Danger
                            && !vetted.dangers.iter().any(|d| d == r.code.as_str())
                    })
                    .map(|r| {
                        format!(
                            "a danger the routine did not show when approved: {}",
                            r.message
                        )
                    })
                    .collect();
                hold.extend(unvetted);
                if !hold.is_empty() {
                    return self
                        .hold_run(
                            &record,
                            &run,
                            &actor,
                            &details,
                            as_proposal,
                            explained,
                            &hold,
                        )
                        .await
                        .map(Ok);
                }
                let artifact = as_proposal.artifact;
                let grant = self
                    .executions
                    .grant(&run.id, &artifact, countersign_exec::DEFAULT_GRANT_TTL)
                    .await?;
                match self
                    .executions
                    .execute(&self.audit, &grant.id, &run.id, artifact)
                    .await
                {
                    Ok(outcome) => {
                        let result = crate::lifecycle::result_json(&outcome);
                        outputs
                            .entry(step.id.clone())
                            .or_default()
                            .extend(rows_of(step, &result));
                        step_results.push(result);
                    }
                    Err(error) => {
                        return self
                            .fail_run(&run, &actor, &details, &error.to_string())
                            .await
                            .map(Ok);
                    }
                }
            }
            let value = if step.for_each.is_some() {
                Json::Array(step_results)
            } else {
                step_results.into_iter().next().unwrap_or(Json::Null)
            };
            results.insert(step.id.clone(), value);
        }
        // One step: the release rule reads its result; several: an object by step name.
        let whole = if results.len() == 1 {
            results.into_values().next().unwrap_or(Json::Null)
        } else {
            Json::Object(results.into_iter().collect())
        };
        let projection = crate::release::project(&whole, &run_release(&routine.release));
        let released = projection.agent_view();
        let mut done = NewEntry::new(actor, Event::RoutineRunSucceeded).details(details(serde_json::json!({ "released_paths": projection.released_paths, "withheld": projection.withheld })));
        done.artifact_sha256 = Some(record.routine_sha256.clone());
        self.audit.record(done).await?;
        self.store
            .finish_run(&run.id, RunStatus::Succeeded, None, Some(&released), None)
            .await?;
        self.existing_run(&run.id, id).await.map(Ok)
    }

    async fn existing_run(&self, run_id: &str, routine_id: &str) -> Result<RunRecord, AppError> {
        self.store
            .runs(routine_id)
            .await?
            .into_iter()
            .find(|r| r.id == run_id)
            .ok_or_else(|| not_allowed("the run vanished"))
    }

    async fn fail_run(
        &self,
        run: &RunRecord,
        actor: &Actor,
        details: &(dyn Fn(serde_json::Value) -> serde_json::Value + Send + Sync),
        reason: &str,
    ) -> Result<RunRecord, AppError> {
        let entry = NewEntry::new(actor.clone(), Event::RoutineRunFailed)
            .details(details(serde_json::json!({ "reason": reason })));
        self.audit.record(entry).await?;
        self.store
            .finish_run(&run.id, RunStatus::Failed, None, None, Some(reason))
            .await?;
        self.existing_run(&run.id, &run.routine_id).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn hold_run(
        &self,
        record: &RoutineRecord,
        run: &RunRecord,
        actor: &Actor,
        details: &(dyn Fn(serde_json::Value) -> serde_json::Value + Send + Sync),
        proposal: Proposal,
        mut explained: countersign_core::Explained,
        reasons: &[String],
    ) -> Result<RunRecord, AppError> {
        let reason = format!("Held for you: {}.", reasons.join("; "));
        // The agent wrote no words for this run; what it said is what it said of the routine.
        explained.explanation.agent_summary = countersign_core::text::reveal(&record.summary);
        // The person reads why it was held first.
        explained.explanation.risks.insert(
            0,
            Risk {
                code: countersign_core::RiskCode::RoutineRunHeld,
                severity: Severity::Danger,
                message: format!(
                    "This run of a routine you approved was held, not run: {}.",
                    reasons.join("; ")
                ),
            },
        );
        let mut random = [0u8; 12];
        crate::error::random_bytes(&mut random)?;
        let proposal_id = format!("prop_{}", hex(&random));
        let sha256 = explained.artifact_sha256.to_string();
        let mut received = NewEntry::new(actor.clone(), Event::ProposalReceived).details(
            serde_json::json!({ "purpose": proposal.purpose, "headline": explained.explanation.headline, "routine_id": record.id, "run_id": run.id }),
        );
        received.proposal_id = Some(proposal_id.clone());
        received.artifact_sha256 = Some(sha256.clone());
        received.credential = proposal.artifact.credential_name().map(str::to_owned);
        self.audit.record(received).await?;
        let explanation = serde_json::to_string(&explained.explanation)
            .map_err(|e| not_allowed(e.to_string()))?;
        let artifact = proposal.artifact.canonical();
        let summary = format!("Held run of routine {}", record.id);
        self.store
            .insert(&NewProposal {
                id: &proposal_id,
                agent: &record.agent,
                expires_at: now_seconds()
                    + i64::try_from(crate::lifecycle::PENDING_TTL.as_secs()).unwrap_or(86_400),
                summary: &summary,
                purpose: &proposal.purpose,
                artifact: &artifact,
                artifact_sha256: &sha256,
                explanation: &explanation,
                amounts: crate::store::amounts_text(&explained.amounts),
            })
            .await?;
        self.store.link_routine(&proposal_id, &record.id).await?;
        let mut held = NewEntry::new(actor.clone(), Event::RoutineRunHeld).details(details(
            serde_json::json!({ "reason": reason, "proposal_id": proposal_id }),
        ));
        held.proposal_id = Some(proposal_id.clone());
        held.artifact_sha256 = Some(record.routine_sha256.clone());
        self.audit.record(held).await?;
        self.store
            .finish_run(
                &run.id,
                RunStatus::Held,
                Some(&proposal_id),
                None,
                Some(&reason),
            )
            .await?;
        self.existing_run(&run.id, &run.routine_id).await
    }

    async fn expire_routine_if_due(&self, record: &RoutineRecord) -> Result<(), AppError> {
        if record.expires_at.is_some_and(|at| at <= now_seconds())
            && matches!(record.status, RoutineStatus::Active | RoutineStatus::Paused)
        {
            let mut entry = NewEntry::new(Actor::app(), Event::RoutineExpired).details(
                serde_json::json!({ "routine_id": record.id, "routine_sha256": record.routine_sha256 }),
            );
            entry.artifact_sha256 = Some(record.routine_sha256.clone());
            self.store
                .move_routine(
                    &record.id,
                    &[RoutineStatus::Active, RoutineStatus::Paused],
                    RoutineStatus::Expired,
                    None,
                    Some((&self.audit, entry)),
                )
                .await?;
        }
        Ok(())
    }

    /// The periodic duty for routines: expire those past their time, and run each active one
    /// whose scheduled time has come (a time more than 15 minutes past is recorded as missed,
    /// and only the latest such time: never caught up in bulk). Returns the runs started.
    ///
    /// # Errors
    /// When the store or the log fail.
    pub async fn routines_due(
        &self,
        now_local: OffsetDateTime,
    ) -> Result<Vec<RunRecord>, AppError> {
        let mut started = Vec::new();
        for record in self
            .store
            .routines_with_status(RoutineStatus::Active)
            .await?
            .into_iter()
            .chain(
                self.store
                    .routines_with_status(RoutineStatus::Paused)
                    .await?,
            )
        {
            self.expire_routine_if_due(&record).await?;
            if record.status != RoutineStatus::Active
                || record.expires_at.is_some_and(|at| at <= now_seconds())
            {
                continue;
            }
            let Ok(routine) = record.routine() else {
                continue;
            };
            let Some(schedule) = routine.trigger.schedule else {
                continue;
            };
            let Some(slot) = latest_slot(schedule, now_local) else {
                continue;
            };
            if record.last_scheduled.is_some_and(|last| slot <= last) {
                continue;
            }
            if !self.store.claim_slot(&record.id, slot).await? {
                // Another desk of the team took this time.
                continue;
            }
            if now_local.unix_timestamp() - slot > SCHEDULE_GRACE_SECONDS {
                let mut random = [0u8; 12];
                crate::error::random_bytes(&mut random)?;
                let missed = RunRecord {
                    id: format!("run_{}", hex(&random)),
                    routine_id: record.id.clone(),
                    requested_by: "schedule".to_owned(),
                    started_at: now_text(),
                    started_day: today().to_string(),
                    status: RunStatus::Missed,
                    parameters: "{}".to_owned(),
                    money: None,
                    proposal_id: None,
                    released: None,
                    reason: Some("Its scheduled time passed while Countersign was not running; it was not caught up.".to_owned()),
                };
                let entry = NewEntry::new(Actor::app(), Event::RoutineRunFailed).details(
                    serde_json::json!({ "routine_id": record.id, "routine_sha256": record.routine_sha256, "run_id": missed.id, "reason": "missed" }),
                );
                self.audit.record(entry).await?;
                self.store.insert_run(&missed).await?;
                self.store.changed();
                continue;
            }
            let values = routine.scheduled_values(now_local.date());
            match self
                .run_routine(&record.id, Requester::Schedule, &values)
                .await?
            {
                Ok(run) => started.push(run),
                Err(refusal) => {
                    tracing::warn!(routine = %record.id, code = %refusal.code.as_str(), "a scheduled run was refused")
                }
            }
        }
        Ok(started)
    }

    /// Marks runs interrupted by a crash as `outcome_unknown` (never retried).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn recover_runs(&self) -> Result<Vec<String>, AppError> {
        self.store.interrupted_runs().await
    }
}

/// A change the person makes to a routine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum RoutineChange {
    /// Not approved.
    Reject,
    /// Stopped for now.
    Pause,
    /// Running again.
    Resume,
    /// Stopped for good.
    Revoke,
}

impl RoutineChange {
    fn past(self) -> &'static str {
        match self {
            RoutineChange::Reject => "rejected",
            RoutineChange::Pause => "paused",
            RoutineChange::Resume => "resumed",
            RoutineChange::Revoke => "revoked",
        }
    }
}

impl Store {
    async fn link_routine(&self, proposal_id: &str, routine_id: &str) -> Result<(), AppError> {
        self.write(
            Statement::new("UPDATE proposals SET routine_id = ? WHERE id = ?")
                .bind(routine_id)
                .bind(proposal_id),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_slot_is_today_or_before() {
        let now = time::macros::datetime!(2026-12-02 10:00 UTC);
        let daily = latest_slot(Schedule::Daily { hour: 9, minute: 0 }, now).unwrap();
        assert_eq!(
            daily,
            time::macros::datetime!(2026-12-02 09:00 UTC).unix_timestamp()
        );
        let evening = latest_slot(
            Schedule::Daily {
                hour: 18,
                minute: 0,
            },
            now,
        )
        .unwrap();
        assert_eq!(
            evening,
            time::macros::datetime!(2026-12-01 18:00 UTC).unix_timestamp()
        );
        let monthly = latest_slot(
            Schedule::Monthly {
                day: 1,
                hour: 9,
                minute: 0,
            },
            now,
        )
        .unwrap();
        assert_eq!(
            monthly,
            time::macros::datetime!(2026-12-01 09:00 UTC).unix_timestamp()
        );
        // 2026-12-02 is a Wednesday.
        let weekly = latest_slot(
            Schedule::Weekly {
                weekday: 5,
                hour: 8,
                minute: 30,
            },
            now,
        )
        .unwrap();
        assert_eq!(
            weekly,
            time::macros::datetime!(2026-11-27 08:30 UTC).unix_timestamp()
        );
    }
}
