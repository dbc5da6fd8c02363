//! The life of a proposal (design.md §3): received → refused | pending → approved | rejected |
//! withdrawn | expired → executing → succeeded | failed | outcome_unknown → released. Every step
//! is recorded in the audit log before it takes effect; listeners (long-polls, screens) are
//! notified of every change.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use countersign_audit::{Actor, Event, NewEntry};
use countersign_core::{Artifact, Explanation, Proposal, Refusal, RefusalCode};
use countersign_exec::SqlOutcome;
use countersign_vault::Secret;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Mutex, watch};

use crate::audit::Audit;
use crate::error::AppError;
use crate::execute::{Executions, Outcome};
use crate::home::DataHome;
use crate::totp;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a proposal waits for a decision before it expires.
pub const PENDING_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A registered agent (never its key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentInfo {
    /// The name.
    pub name: String,
    /// When it was added.
    pub added_at: String,
    /// When its key was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// A proposal as the person sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Its id.
    pub id: String,
    /// The agent that proposed it.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: String,
    /// The agent's summary.
    pub summary: String,
    /// The agent's purpose.
    pub purpose: String,
    /// The exact artifact (canonical JSON).
    pub artifact: serde_json::Value,
    /// Its hash.
    pub artifact_sha256: String,
    /// The explanation the person reads.
    pub explanation: Explanation,
    /// The decision's time and reason.
    pub decided_at: Option<String>,
    /// The rejection reason.
    pub reason: Option<String>,
    /// The full result (secret redacted), once executed.
    pub result: Option<serde_json::Value>,
    /// What the agent may read, once released.
    pub released: Option<serde_json::Value>,
}

/// What the person lets the agent see of a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// All of it.
    All,
    /// Nothing.
    Nothing,
    /// These fields: JSON paths (`body.balance`), column names, or top-level keys.
    Fields(Vec<String>),
}

/// The proposal store of a data home, with change notifications.
pub struct Lifecycle {
    connection: Mutex<SqliteConnection>,
    /// Parsed once: the person's descriptor files and the shipped packs.
    descriptors: countersign_core::descriptor::Descriptors,
    changes: watch::Sender<u64>,
    path: String,
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn now_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    let _ = getrandom::fill(&mut buffer);
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_hash(key: &str) -> String {
    Sha256::digest(format!("countersign-agent-key-v1:{key}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a lifecycle step was not allowed, in words for the person or the agent.
fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str = "id, agent, received_at, status, summary, purpose, artifact, artifact_sha256, explanation, decided_at, reason, result, released";

fn record(row: Row) -> Result<Record, AppError> {
    let json = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| not_allowed(e.to_string()))
    };
    Ok(Record {
        id: row.0,
        agent: row.1,
        received_at: row.2,
        status: row.3,
        summary: row.4,
        purpose: row.5,
        artifact: json(&row.6)?,
        artifact_sha256: row.7,
        explanation: serde_json::from_str(&row.8).map_err(|e| not_allowed(e.to_string()))?,
        decided_at: row.9,
        reason: row.10,
        result: row.11.as_deref().map(json).transpose()?,
        released: row.12.as_deref().map(json).transpose()?,
    })
}

impl Record {
    /// What the agent sees (design.md §13): id, status, decision, result.
    pub fn agent_view(&self) -> serde_json::Value {
        let decision = self
            .decided_at
            .as_ref()
            .map(|at| serde_json::json!({ "at": at, "reason": self.reason }));
        serde_json::json!({
            "id": self.id,
            "status": self.status,
            "decision": decision,
            "result": self.released,
        })
    }
}

impl Lifecycle {
    /// Opens (creating if needed) `proposals.db` in the data home.
    ///
    /// # Errors
    /// When it cannot be opened.
    pub async fn open(home: &DataHome) -> Result<Self, AppError> {
        home.ensure()?;
        let path = home.root().join("proposals.db");
        let fail = |e: String| AppError::file("opening", &path, e);
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| fail(e.to_string()))?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let mut connection = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| fail(e.to_string()))?;
        MIGRATOR
            .run_direct(&mut connection)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let (changes, _) = watch::channel(0);
        let descriptors = crate::explain::load_descriptors(home)?;
        Ok(Lifecycle {
            connection: Mutex::new(connection),
            descriptors,
            changes,
            path: path.display().to_string(),
        })
    }

    fn db(&self, error: impl std::fmt::Display) -> AppError {
        AppError::File {
            what: "using",
            path: self.path.clone(),
            reason: error.to_string(),
        }
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Changes to any proposal, for long-polls and screens.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    // ----- agents -----

    /// Registers an agent and returns its key, which is shown once and stored only hashed.
    ///
    /// # Errors
    /// When the name is taken or not usable, or the entry cannot be recorded.
    pub async fn add_agent(&self, audit: &Audit, name: &str) -> Result<Secret, AppError> {
        let usable = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !usable {
            return Err(not_allowed(format!(
                "“{name}” is not a usable agent name: use 1 to 64 letters, digits, dots, dashes or underscores"
            )));
        }
        let key = format!("csa_{}", random_hex(24));
        audit
            .record(
                NewEntry::new(audit.actor().clone(), Event::AgentAdded)
                    .details(serde_json::json!({ "agent": name })),
            )
            .await?;
        let mut connection = self.connection.lock().await;
        let inserted =
            sqlx::query("INSERT OR IGNORE INTO agents (name, key_hash, added_at) VALUES (?, ?, ?)")
                .bind(name)
                .bind(key_hash(&key))
                .bind(now_text())
                .execute(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        if inserted.rows_affected() == 0 {
            return Err(not_allowed(format!(
                "an agent named “{name}” already exists"
            )));
        }
        Ok(Secret::new(key))
    }

    /// Every registered agent.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>, AppError> {
        let mut connection = self.connection.lock().await;
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT name, added_at, revoked_at FROM agents ORDER BY name")
                .fetch_all(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        Ok(rows
            .into_iter()
            .map(|(name, added_at, revoked_at)| AgentInfo {
                name,
                added_at,
                revoked_at,
            })
            .collect())
    }

    /// Revokes an agent's key at once (also for a running connector: keys are checked on every
    /// request).
    ///
    /// # Errors
    /// When there is no such agent, or the entry cannot be recorded.
    pub async fn revoke_agent(&self, audit: &Audit, name: &str) -> Result<(), AppError> {
        if !self
            .agents()
            .await?
            .iter()
            .any(|a| a.name == name && a.revoked_at.is_none())
        {
            return Err(not_allowed(format!(
                "there is no active agent named “{name}”"
            )));
        }
        audit
            .record(
                NewEntry::new(audit.actor().clone(), Event::AgentRevoked)
                    .details(serde_json::json!({ "agent": name })),
            )
            .await?;
        let mut connection = self.connection.lock().await;
        sqlx::query("UPDATE agents SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
            .bind(now_text())
            .bind(name)
            .execute(&mut *connection)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The agent a key belongs to, if it is registered and not revoked.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn authenticate(&self, key: &str) -> Result<Option<String>, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT name FROM agents WHERE key_hash = ? AND revoked_at IS NULL")
            .bind(key_hash(key))
            .fetch_optional(&mut *connection)
            .await
            .map_err(|e| self.db(e))
    }

    // ----- proposals -----

    /// Receives a proposal: explains it, or refuses it (recorded as `proposal.refused`, and as
    /// `credential.scope_violation` too when it is one).
    ///
    /// # Errors
    /// When the app fails; a refusal is the inner error.
    pub async fn submit(
        &self,
        home: &DataHome,
        audit: &Audit,
        agent: &str,
        text: &str,
    ) -> Result<Result<Record, Refusal>, AppError> {
        let actor = Actor::agent(agent);
        let explained = crate::explain::explain_with(home, &self.descriptors, text).await?;
        let (proposal, explained) = match explained {
            Ok(explained) => (
                Proposal::parse(text).map_err(|r| not_allowed(r.message))?,
                explained,
            ),
            Err(refusal) => {
                let details = serde_json::json!({ "code": refusal.code, "field": refusal.field, "message": refusal.message });
                let mut entry = NewEntry::new(actor.clone(), Event::ProposalRefused)
                    .outcome(refusal.code.as_str())
                    .details(details.clone());
                entry.credential = Proposal::parse(text)
                    .ok()
                    .and_then(|p| p.artifact.credential_name().map(str::to_owned));
                audit.record(entry.clone()).await?;
                if refusal.code == RefusalCode::CredentialScopeViolation {
                    let mut violation =
                        NewEntry::new(actor, Event::CredentialScopeViolation).details(details);
                    violation.credential = entry.credential;
                    audit.record(violation).await?;
                }
                // Screens show scope violations as alerts.
                self.changed();
                return Ok(Err(refusal));
            }
        };
        let id = format!("prop_{}", random_hex(12));
        let sha256 = explained.artifact_sha256.to_string();
        let mut entry = NewEntry::new(actor, Event::ProposalReceived)
            .details(serde_json::json!({ "purpose": proposal.purpose, "headline": explained.explanation.headline }));
        entry.proposal_id = Some(id.clone());
        entry.artifact_sha256 = Some(sha256.clone());
        entry.credential = proposal.artifact.credential_name().map(str::to_owned);
        audit.record(entry).await?;
        let explanation = serde_json::to_string(&explained.explanation).map_err(|e| self.db(e))?;
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("INSERT INTO proposals (id, agent, received_at, expires_at, summary, purpose, artifact, artifact_sha256, explanation, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')")
                .bind(&id)
                .bind(agent)
                .bind(now_text())
                .bind(now_seconds() + i64::try_from(PENDING_TTL.as_secs()).unwrap_or(86_400))
                .bind(&proposal.summary)
                .bind(&proposal.purpose)
                .bind(proposal.artifact.canonical())
                .bind(&sha256)
                .bind(explanation)
                .execute(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        }
        self.changed();
        Ok(Ok(self
            .get(&id)
            .await?
            .ok_or_else(|| not_allowed("the proposal vanished"))?))
    }

    /// A proposal by id.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn get(&self, id: &str) -> Result<Option<Record>, AppError> {
        let mut connection = self.connection.lock().await;
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM proposals WHERE id = ?"))
                .bind(id)
                .fetch_optional(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        row.map(record).transpose()
    }

    /// An agent's own proposal; other agents' proposals do not exist for it.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn get_for_agent(&self, agent: &str, id: &str) -> Result<Option<Record>, AppError> {
        Ok(self.get(id).await?.filter(|r| r.agent == agent))
    }

    /// Waits up to `wait` for the proposal's status to differ from `seen`, then returns it.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn wait_for_agent(
        &self,
        agent: &str,
        id: &str,
        wait: Duration,
    ) -> Result<Option<Record>, AppError> {
        let mut changes = self.subscribe();
        let Some(first) = self.get_for_agent(agent, id).await? else {
            return Ok(None);
        };
        if first.status != "pending" && first.status != "approved" && first.status != "executing"
            || wait.is_zero()
        {
            return Ok(Some(first));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                return self.get_for_agent(agent, id).await;
            }
            let current = self.get_for_agent(agent, id).await?;
            if current
                .as_ref()
                .is_some_and(|r| r.status != first.status || r.released != first.released)
            {
                return Ok(current);
            }
        }
    }

    /// Proposals waiting for a decision, newest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending(&self) -> Result<Vec<Record>, AppError> {
        self.with_status("pending").await
    }

    /// Proposals with `status`, newest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn with_status(&self, status: &str) -> Result<Vec<Record>, AppError> {
        let mut connection = self.connection.lock().await;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proposals WHERE status = ? ORDER BY received_at DESC, id"
        ))
        .bind(status)
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter().map(record).collect()
    }

    /// Proposals no longer pending, newest first, at most `limit`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn recent(&self, limit: u32) -> Result<Vec<Record>, AppError> {
        let mut connection = self.connection.lock().await;
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proposals WHERE status <> 'pending' ORDER BY received_at DESC, id LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| self.db(e))?;
        rows.into_iter().map(record).collect()
    }

    /// How many proposals of an agent are pending.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending_count(&self, agent: &str) -> Result<i64, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT count(*) FROM proposals WHERE agent = ? AND status = 'pending'")
            .bind(agent)
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| self.db(e))
    }

    async fn set_status(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
    ) -> Result<bool, AppError> {
        let mut connection = self.connection.lock().await;
        let placeholders = from.iter().map(|_| "?").collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE proposals SET status = ?, decided_at = COALESCE(decided_at, CASE WHEN ? IN ('approved', 'rejected') THEN ? ELSE decided_at END), reason = COALESCE(?, reason) WHERE id = ? AND status IN ({placeholders})"
        );
        let mut query = sqlx::query(&sql)
            .bind(to)
            .bind(to)
            .bind(now_text())
            .bind(reason)
            .bind(id);
        for status in from {
            query = query.bind(*status);
        }
        let done = query
            .execute(&mut *connection)
            .await
            .map_err(|e| self.db(e))?;
        drop(connection);
        if done.rows_affected() == 1 {
            self.changed();
        }
        Ok(done.rows_affected() == 1)
    }

    async fn pending_record(&self, id: &str) -> Result<Record, AppError> {
        let record = self
            .get(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))?;
        if record.status != "pending" {
            return Err(not_allowed(format!(
                "proposal {id} is {}, not waiting for a decision",
                record.status
            )));
        }
        Ok(record)
    }

    /// The person opened a proposal: recorded as `proposal.viewed`.
    ///
    /// # Errors
    /// When there is no such proposal or the entry cannot be recorded.
    pub async fn view(&self, audit: &Audit, id: &str) -> Result<Record, AppError> {
        let record = self
            .get(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))?;
        let mut entry = NewEntry::new(audit.actor().clone(), Event::ProposalViewed);
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        audit.record(entry).await?;
        Ok(record)
    }

    /// The agent withdraws its pending proposal.
    ///
    /// # Errors
    /// When it is not the agent's, not pending, or the entry cannot be recorded.
    pub async fn withdraw(&self, audit: &Audit, agent: &str, id: &str) -> Result<Record, AppError> {
        let record = self
            .get_for_agent(agent, id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))?;
        if record.status != "pending" {
            return Err(not_allowed(format!(
                "proposal {id} is {}, and only a pending proposal can be withdrawn",
                record.status
            )));
        }
        let mut entry = NewEntry::new(Actor::agent(agent), Event::ProposalWithdrawn);
        entry.proposal_id = Some(id.to_owned());
        audit.record(entry).await?;
        self.set_status(id, &["pending"], "withdrawn", None).await?;
        self.get(id)
            .await?
            .ok_or_else(|| not_allowed("the proposal vanished"))
    }

    /// The person rejects a pending proposal, with an optional reason.
    ///
    /// # Errors
    /// When it is not pending or the entry cannot be recorded.
    pub async fn reject(&self, audit: &Audit, id: &str, reason: &str) -> Result<Record, AppError> {
        let record = self.pending_record(id).await?;
        let mut entry = NewEntry::new(audit.actor().clone(), Event::DecisionRejected)
            .details(serde_json::json!({ "reason": reason }));
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256);
        audit.record(entry).await?;
        self.set_status(id, &["pending"], "rejected", Some(reason))
            .await?;
        self.get(id)
            .await?
            .ok_or_else(|| not_allowed("the proposal vanished"))
    }

    /// Expires pending proposals whose time ran out; returns their ids.
    ///
    /// # Errors
    /// When the store or the log fail.
    pub async fn expire_due(&self, audit: &Audit) -> Result<Vec<String>, AppError> {
        let due: Vec<String> = {
            let mut connection = self.connection.lock().await;
            sqlx::query_scalar(
                "SELECT id FROM proposals WHERE status = 'pending' AND expires_at <= ?",
            )
            .bind(now_seconds())
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| self.db(e))?
        };
        for id in &due {
            let mut entry = NewEntry::new(Actor::app(), Event::ProposalExpired);
            entry.proposal_id = Some(id.clone());
            audit.record(entry).await?;
            self.set_status(id, &["pending"], "expired", None).await?;
        }
        Ok(due)
    }

    /// The person approves: the second factor is checked when the explanation requires it, the
    /// approval recorded, a grant issued and the artifact executed once.
    ///
    /// # Errors
    /// When it is not pending, the second factor is missing or wrong, an entry cannot be
    /// recorded, or the execution cannot start. An execution that fails is a `failed` proposal,
    /// not an error.
    pub async fn approve(
        &self,
        home: &DataHome,
        audit: &Audit,
        executions: &Executions,
        id: &str,
        second_factor: Option<&str>,
    ) -> Result<Record, AppError> {
        let record = self.pending_record(id).await?;
        let mut method = "confirmation";
        if record.explanation.requires_second_factor {
            let enrolled = home
                .keychain()
                .read(totp::KEYCHAIN_ENTRY)?
                .and_then(|s| totp::decode(s.expose()));
            let Some(secret) = enrolled else {
                return Err(not_allowed(
                    "this needs your second factor, and none is set up yet: enroll one first",
                ));
            };
            let now = u64::try_from(now_seconds()).unwrap_or(0);
            let mut entry = NewEntry::new(audit.actor().clone(), Event::SecondFactorFailed)
                .details(serde_json::json!({ "method": "totp" }));
            entry.proposal_id = Some(id.to_owned());
            if !second_factor.is_some_and(|code| totp::verify(&secret, code, now)) {
                audit.record(entry).await?;
                return Err(not_allowed(
                    "the second-factor code is not right; nothing was approved",
                ));
            }
            entry.event = Event::SecondFactorSucceeded;
            audit.record(entry).await?;
            method = "totp";
        }
        let artifact = Artifact::from_json(
            &countersign_core::json::Json::parse(&record.artifact.to_string())
                .map_err(|r| not_allowed(r.message))?,
            "artifact",
        )
        .map_err(|r| not_allowed(r.message))?;
        if artifact.sha256().to_string() != record.artifact_sha256 {
            return Err(not_allowed(
                "the stored artifact does not match its hash; nothing was approved",
            ));
        }
        let mut entry = NewEntry::new(audit.actor().clone(), Event::DecisionApproved)
            .details(serde_json::json!({ "purpose": record.purpose, "auth_method": method, "headline": record.explanation.headline }));
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        entry.credential = artifact.credential_name().map(str::to_owned);
        audit.record(entry).await?;
        if !self.set_status(id, &["pending"], "approved", None).await? {
            return Err(not_allowed(format!("proposal {id} was decided elsewhere")));
        }
        let grant = executions
            .grant(id, &artifact, countersign_exec::DEFAULT_GRANT_TTL)
            .await?;
        self.set_status(id, &["approved"], "executing", None)
            .await?;
        let result = executions.execute(audit, &grant.id, id, artifact).await;
        let (status, stored) = match result {
            Ok(outcome) => ("succeeded", result_json(&outcome)),
            Err(error) => ("failed", serde_json::json!({ "error": error.to_string() })),
        };
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("UPDATE proposals SET result = ? WHERE id = ?")
                .bind(stored.to_string())
                .bind(id)
                .execute(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        }
        self.set_status(id, &["executing"], status, None).await?;
        self.get(id)
            .await?
            .ok_or_else(|| not_allowed("the proposal vanished"))
    }

    /// Marks executions interrupted by a crash as `outcome_unknown` (see [`Executions::recover`]).
    ///
    /// # Errors
    /// When the store or the log fail.
    pub async fn recover(
        &self,
        audit: &Audit,
        executions: &Executions,
    ) -> Result<Vec<String>, AppError> {
        let unknown = executions.recover(audit).await?;
        for id in &unknown {
            self.set_status(id, &["approved", "executing"], "outcome_unknown", None)
                .await?;
        }
        // Proposals left executing without an execution.started never sent anything.
        for record in self
            .with_status("executing")
            .await?
            .into_iter()
            .chain(self.with_status("approved").await?)
        {
            self.set_status(
                &record.id,
                &["approved", "executing"],
                "outcome_unknown",
                None,
            )
            .await?;
        }
        Ok(unknown)
    }

    /// The person releases (part of) a result to the agent; recorded as `result.released`.
    ///
    /// # Errors
    /// When there is no result yet, or the entry cannot be recorded.
    pub async fn release(
        &self,
        audit: &Audit,
        id: &str,
        choice: &Release,
    ) -> Result<Record, AppError> {
        let record = self
            .get(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))?;
        let Some(result) = record.result.clone() else {
            return Err(not_allowed(format!(
                "proposal {id} has no result to release"
            )));
        };
        let released = released_view(&result, choice);
        let mut entry = NewEntry::new(audit.actor().clone(), Event::ResultReleased)
            .details(serde_json::json!({ "released_paths": released["released_paths"], "withheld": released["withheld"] }));
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256);
        audit.record(entry).await?;
        let view = agent_result(&result, choice);
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("UPDATE proposals SET released = ? WHERE id = ?")
                .bind(view.to_string())
                .bind(id)
                .execute(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        }
        self.changed();
        self.get(id)
            .await?
            .ok_or_else(|| not_allowed("the proposal vanished"))
    }

    /// The data home path of the store, for messages.
    pub fn path(&self) -> &Path {
        Path::new(&self.path)
    }
}

/// The full result as JSON: what the person sees and chooses from.
fn result_json(outcome: &Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Http(http) => {
            let text = String::from_utf8_lossy(&http.body).into_owned();
            let body = serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or(serde_json::Value::String(text));
            serde_json::json!({ "status": http.status, "body": body, "truncated": http.truncated })
        }
        Outcome::Sql(SqlOutcome::Rows {
            columns,
            rows,
            truncated,
        }) => serde_json::json!({ "columns": columns, "rows": rows, "truncated": truncated }),
        Outcome::Sql(SqlOutcome::Changed { rows_affected }) => {
            serde_json::json!({ "rows_affected": rows_affected })
        }
        Outcome::Email(email) => {
            serde_json::json!({ "recipients": email.recipients, "reply": email.reply })
        }
    }
}

/// What the agent receives for `choice` (design.md §11): `{released, data, withheld}`. The
/// release preview and the release itself both use this, so the preview is exact.
pub(crate) fn agent_result(result: &serde_json::Value, choice: &Release) -> serde_json::Value {
    let released = released_view(result, choice);
    serde_json::json!({ "released": released["released"], "data": released["data"], "withheld": released["withheld"] })
}

/// Applies a release choice: the data the agent may read, and the paths withheld.
fn released_view(result: &serde_json::Value, choice: &Release) -> serde_json::Value {
    let all_paths = leaf_paths(result);
    match choice {
        Release::All => {
            serde_json::json!({ "released": true, "data": result, "withheld": [], "released_paths": ["*"] })
        }
        Release::Nothing => {
            serde_json::json!({ "released": false, "data": null, "withheld": top_keys(result), "released_paths": [] })
        }
        Release::Fields(fields) => {
            // SQL rows: fields name columns.
            if let (Some(columns), Some(rows)) =
                (result["columns"].as_array(), result["rows"].as_array())
            {
                let keep: Vec<usize> = columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.as_str().is_some_and(|c| fields.iter().any(|f| f == c)))
                    .map(|(i, _)| i)
                    .collect();
                // `row:N` (from 1) picks rows; without any, every row goes.
                let picked: Vec<usize> = fields
                    .iter()
                    .filter_map(|f| f.strip_prefix("row:")?.trim().parse::<usize>().ok())
                    .filter(|n| *n >= 1 && *n <= rows.len())
                    .collect();
                let keep: Vec<usize> = if keep.is_empty() && !picked.is_empty() {
                    (0..columns.len()).collect()
                } else {
                    keep
                };
                let kept_columns: Vec<&serde_json::Value> =
                    keep.iter().map(|i| &columns[*i]).collect();
                let kept_rows: Vec<Vec<&serde_json::Value>> = rows
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| picked.is_empty() || picked.contains(&(n + 1)))
                    .map(|(_, row)| keep.iter().filter_map(|i| row.get(*i)).collect())
                    .collect();
                let mut withheld: Vec<serde_json::Value> = columns
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !keep.contains(i))
                    .map(|(_, c)| c.clone())
                    .collect();
                if !picked.is_empty() {
                    withheld.extend(
                        (1..=rows.len())
                            .filter(|n| !picked.contains(n))
                            .map(|n| serde_json::json!(format!("row:{n}"))),
                    );
                }
                let mut paths: Vec<serde_json::Value> =
                    kept_columns.iter().map(|c| (*c).clone()).collect();
                paths.extend(picked.iter().map(|n| serde_json::json!(format!("row:{n}"))));
                return serde_json::json!({
                    "released": !keep.is_empty() && !kept_rows.is_empty(),
                    "data": { "columns": kept_columns, "rows": kept_rows },
                    "withheld": withheld,
                    "released_paths": paths,
                });
            }
            let mut data = serde_json::Value::Object(serde_json::Map::new());
            let mut released = Vec::new();
            for field in fields {
                if let Some(value) = result.pointer(&pointer(field)) {
                    insert_path(&mut data, field, value.clone());
                    released.push(field.clone());
                }
            }
            let withheld: Vec<String> = all_paths
                .into_iter()
                .filter(|p| {
                    !released
                        .iter()
                        .any(|r| p == r || p.starts_with(&format!("{r}.")))
                })
                .collect();
            serde_json::json!({ "released": !released.is_empty(), "data": data, "withheld": withheld, "released_paths": released })
        }
    }
}

fn pointer(path: &str) -> String {
    format!(
        "/{}",
        path.split('.')
            .map(|p| p.replace('~', "~0").replace('/', "~1"))
            .collect::<Vec<_>>()
            .join("/")
    )
}

fn insert_path(target: &mut serde_json::Value, path: &str, value: serde_json::Value) {
    let mut current = target;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !current.is_object() {
            *current = serde_json::Value::Object(serde_json::Map::new());
        }
        let Some(object) = current.as_object_mut() else {
            return;
        };
        if i == parts.len() - 1 {
            object.insert((*part).to_owned(), value);
            return;
        }
        current = object
            .entry((*part).to_owned())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
}

fn top_keys(value: &serde_json::Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn leaf_paths(value: &serde_json::Value) -> Vec<String> {
    fn walk(value: &serde_json::Value, prefix: String, out: &mut Vec<String>) {
        match value.as_object() {
            Some(object) if !object.is_empty() => {
                for (key, inner) in object {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(inner, path, out);
                }
            }
            _ => out.push(prefix),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releasing_fields_keeps_only_them() {
        let result = serde_json::json!({ "status": 200, "body": { "balance": 1200, "account": "••• 4410", "owner": { "ssn": "123-45-6789" } } });
        let view = released_view(&result, &Release::Fields(vec!["body.balance".into()]));
        assert_eq!(
            view["data"],
            serde_json::json!({ "body": { "balance": 1200 } })
        );
        assert_eq!(
            view["withheld"],
            serde_json::json!(["body.account", "body.owner.ssn", "status"])
        );
        let rows = serde_json::json!({ "columns": ["name", "dob"], "rows": [["Jane", "1980-02-29"]], "truncated": false });
        let view = released_view(&rows, &Release::Fields(vec!["name".into()]));
        assert_eq!(
            view["data"],
            serde_json::json!({ "columns": ["name"], "rows": [["Jane"]] })
        );
        assert_eq!(view["withheld"], serde_json::json!(["dob"]));
        let two = serde_json::json!({ "columns": ["name", "dob"], "rows": [["Jane", "1980"], ["Omar", "1975"]], "truncated": false });
        let view = released_view(&two, &Release::Fields(vec!["row:2".into()]));
        assert_eq!(
            view["data"],
            serde_json::json!({ "columns": ["name", "dob"], "rows": [["Omar", "1975"]] })
        );
        assert_eq!(view["withheld"], serde_json::json!(["row:1"]));
        assert_eq!(
            released_view(&rows, &Release::Nothing)["data"],
            serde_json::Value::Null
        );
    }
}
