//! The life of a proposal (design.md §3): received → refused | pending → approved | rejected |
//! withdrawn | expired → executing → succeeded | failed | outcome_unknown → released. Every step
//! is recorded in the audit log before it takes effect; listeners (long-polls, screens) are
//! notified of every change.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use countersign_audit::{Actor, Event, NewEntry};
use countersign_core::json::{Json, Object};
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

pub use crate::release::Release;

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
///
/// The artifact, the result and the released part are kept as canonical JSON text and
/// [`Json`], never through a floating-point number: what was hashed is what is shown, approved
/// and sent, and the agent reads the server's exact number text.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its id.
    pub id: String,
    /// The agent that proposed it.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: Status,
    /// The agent's summary.
    pub summary: String,
    /// The agent's purpose.
    pub purpose: String,
    /// The exact artifact: its canonical JSON text, the bytes `artifact_sha256` is taken over.
    pub artifact: String,
    /// Its hash.
    pub artifact_sha256: String,
    /// The explanation the person reads.
    pub explanation: Explanation,
    /// The decision's time and reason.
    pub decided_at: Option<String>,
    /// The rejection reason.
    pub reason: Option<String>,
    /// The full result (secret redacted), once executed.
    pub result: Option<Json>,
    /// What the agent may read, once released.
    pub released: Option<Json>,
}

/// The proposal store of a data home, with change notifications.
pub struct Lifecycle {
    connection: Mutex<SqliteConnection>,
    /// Parsed once: the person's descriptor files and the shipped packs.
    descriptors: countersign_core::descriptor::Descriptors,
    /// `settings.json` as last read; read again only when the file changed.
    settings: crate::settings::SettingsCache,
    /// Credential metadata and secrets for this session (see `explain::Session`).
    credentials: crate::explain::Session,
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

fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut buffer = vec![0u8; bytes];
    crate::error::random_bytes(&mut buffer)?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn key_hash(key: &str) -> String {
    Sha256::digest(format!("countersign-agent-key-v1:{key}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn rollback(connection: &mut SqliteConnection) {
    // A failed rollback leaves the transaction to SQLite, which rolls it back when the next
    // BEGIN fails or the connection closes; the caller reports the first error either way.
    if let Err(e) = sqlx::query("ROLLBACK").execute(connection).await {
        tracing::warn!("rolling back a proposal transition failed: {e}");
    }
}

/// Why a lifecycle step was not allowed, in words for the person or the agent.
fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

/// Where a proposal is in its life (design.md §3), stored as its wire spelling.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type, ts_rs::TS,
)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the person.
    Pending,
    /// Approved; about to run.
    Approved,
    /// Rejected by the person.
    Rejected,
    /// Withdrawn by the agent.
    Withdrawn,
    /// Not decided in time.
    Expired,
    /// Running now.
    Executing,
    /// Ran and succeeded.
    Succeeded,
    /// Ran and failed.
    Failed,
    /// Countersign stopped while it ran; never retried.
    OutcomeUnknown,
}

impl Status {
    /// The wire spelling (`outcome_unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
            Status::Expired => "expired",
            Status::Executing => "executing",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::OutcomeUnknown => "outcome_unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One row of `proposals`, as stored.
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    agent: String,
    received_at: String,
    status: Status,
    summary: String,
    purpose: String,
    artifact: String,
    artifact_sha256: String,
    explanation: String,
    decided_at: Option<String>,
    reason: Option<String>,
    result: Option<String>,
    released: Option<String>,
}

const COLUMNS: &str = "id, agent, received_at, status, summary, purpose, artifact, artifact_sha256, explanation, decided_at, reason, result, released";

/// One inbox line, as [`Lifecycle::lines`] reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct Line {
    /// The proposal's id.
    pub id: String,
    /// The agent.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: Status,
    /// Its headline.
    pub headline: String,
    /// Its action's wire name.
    pub action: String,
    /// How many `danger` risks.
    pub danger: i64,
    /// How many `caution` risks.
    pub caution: i64,
}

fn record(row: Row) -> Result<Record, AppError> {
    let json = |text: &str| Json::parse(text).map_err(|r| not_allowed(r.message));
    Ok(Record {
        explanation: serde_json::from_str(&row.explanation)
            .map_err(|e| not_allowed(e.to_string()))?,
        result: row.result.as_deref().map(json).transpose()?,
        released: row.released.as_deref().map(json).transpose()?,
        id: row.id,
        agent: row.agent,
        received_at: row.received_at,
        status: row.status,
        summary: row.summary,
        purpose: row.purpose,
        artifact: row.artifact,
        artifact_sha256: row.artifact_sha256,
        decided_at: row.decided_at,
        reason: row.reason,
    })
}

impl Record {
    /// What the agent sees (design.md §13): `{id, status, decision, result}`, with the released
    /// data exactly as stored.
    pub fn agent_view(&self) -> Json {
        let text = |s: &str| Json::String(s.to_owned());
        let decision = match &self.decided_at {
            Some(at) => Json::Object(Object::from([
                ("at".to_owned(), text(at)),
                (
                    "reason".to_owned(),
                    self.reason.as_deref().map_or(Json::Null, text),
                ),
            ])),
            None => Json::Null,
        };
        Json::Object(Object::from([
            ("id".to_owned(), text(&self.id)),
            ("status".to_owned(), text(self.status.as_str())),
            ("decision".to_owned(), decision),
            (
                "result".to_owned(),
                self.released.clone().unwrap_or(Json::Null),
            ),
        ]))
    }

    /// Whether nothing more will happen that the agent waits for: decided against, ended, or
    /// succeeded with the release chosen.
    pub fn settled_for_agent(&self) -> bool {
        match self.status {
            Status::Pending | Status::Approved | Status::Executing => false,
            Status::Succeeded => self.released.is_some(),
            Status::Rejected
            | Status::Withdrawn
            | Status::Expired
            | Status::Failed
            | Status::OutcomeUnknown => true,
        }
    }

    /// The typed artifact, read back from its stored text; refused when the text no longer
    /// hashes to `artifact_sha256` or is not the canonical form of what it reads as.
    ///
    /// # Errors
    /// When the stored artifact was changed.
    pub fn typed_artifact(&self) -> Result<Artifact, AppError> {
        let changed =
            || not_allowed("the stored artifact does not match its hash; nothing was approved");
        let digest: String = Sha256::digest(self.artifact.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != self.artifact_sha256 {
            return Err(changed());
        }
        let artifact = Json::parse(&self.artifact)
            .and_then(|json| Artifact::from_json(&json, "artifact"))
            .map_err(|_| changed())?;
        if artifact.canonical() != self.artifact {
            return Err(changed());
        }
        Ok(artifact)
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
            credentials: crate::explain::Session::default(),
            settings: crate::settings::SettingsCache::default(),
            changes,
            path: path.display().to_string(),
        })
    }

    /// The credentials' metadata as the session holds it (no secret; `vault.db` is asked only
    /// whether it changed).
    ///
    /// # Errors
    /// When `vault.db` or the keychain cannot be read.
    pub async fn credential_list(
        &self,
        home: &DataHome,
    ) -> Result<Vec<countersign_core::credential::CredentialMeta>, AppError> {
        Ok(self
            .credentials
            .current(home)
            .await?
            .registry
            .credentials
            .clone())
    }

    /// The record's result in words, once it has one (the descriptors in force describe it).
    pub fn result_words(&self, record: &Record) -> Option<countersign_core::result::ResultWords> {
        let result = record.result.as_ref()?;
        let artifact = record.typed_artifact().ok()?;
        Some(countersign_core::result::describe(
            &artifact,
            result,
            &self.descriptors,
        ))
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
        let key = format!("csa_{}", random_hex(24)?);
        let insert =
            sqlx::query("INSERT OR IGNORE INTO agents (name, key_hash, added_at) VALUES (?, ?, ?)")
                .bind(name)
                .bind(key_hash(&key))
                .bind(now_text());
        let entry = NewEntry::new(audit.actor().clone(), Event::AgentAdded)
            .details(serde_json::json!({ "agent": name }));
        if !self.audited_change(insert, Some((audit, entry))).await? {
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
        let revoke =
            sqlx::query("UPDATE agents SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL")
                .bind(now_text())
                .bind(name);
        let entry = NewEntry::new(audit.actor().clone(), Event::AgentRevoked)
            .details(serde_json::json!({ "agent": name }));
        if !self.audited_change(revoke, Some((audit, entry))).await? {
            return Err(not_allowed(format!(
                "there is no active agent named “{name}”"
            )));
        }
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
        let loaded = self.credentials.current(home).await?;
        let settings = self.settings.current(home)?.for_explanations();
        // The text is read once: the proposal explained is the one stored.
        let parsed = Proposal::parse(text);
        let explained = parsed.as_ref().map_err(Clone::clone).and_then(|proposal| {
            crate::explain::explain_proposal(&loaded, &self.descriptors, &settings, proposal)
        });
        let (proposal, explained) = match (parsed, explained) {
            (Ok(proposal), Ok(explained)) => (proposal, explained),
            (parsed, Err(refusal)) => {
                let details = serde_json::json!({ "code": refusal.code, "field": refusal.field, "message": refusal.message });
                let mut entry = NewEntry::new(actor.clone(), Event::ProposalRefused)
                    .outcome(refusal.code.as_str())
                    .details(details.clone());
                entry.credential = parsed
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
            (Err(refusal), Ok(_)) => return Ok(Err(refusal)),
        };
        let id = format!("prop_{}", random_hex(12)?);
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

    /// Waits up to `wait` for the proposal to be settled for the agent (design.md §13): rejected,
    /// withdrawn, expired, failed, `outcome_unknown`, or succeeded *with its release chosen* —
    /// not merely succeeded while the person is still choosing what to release. Returns it then,
    /// or as it is when the time is up.
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
        if first.settled_for_agent() || wait.is_zero() {
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
            if current.as_ref().is_none_or(Record::settled_for_agent) {
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

    /// Inbox lines of pending proposals (`pending = true`, newest first) or of decided ones
    /// (newest first), at most `limit`. Only what a line shows is read: SQLite takes the headline,
    /// action and risk counts out of the stored explanation, so a page costs the same with 10 or
    /// 10,000 waiting.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn lines(&self, pending: bool, limit: u32) -> Result<Vec<Line>, AppError> {
        let which = if pending {
            "status = 'pending'"
        } else {
            "status <> 'pending'"
        };
        let mut connection = self.connection.lock().await;
        sqlx::query_as(&format!(
            "SELECT id, agent, received_at, status,
                    json_extract(explanation, '$.headline') AS headline,
                    json_extract(explanation, '$.action') AS action,
                    (SELECT count(*) FROM json_each(explanation, '$.risks')
                      WHERE json_extract(value, '$.severity') = 'danger') AS danger,
                    (SELECT count(*) FROM json_each(explanation, '$.risks')
                      WHERE json_extract(value, '$.severity') = 'caution') AS caution
             FROM proposals WHERE {which} ORDER BY received_at DESC, id DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&mut *connection)
        .await
        .map_err(|e| self.db(e))
    }

    /// The oldest pending proposal not in `skipped` (`countersign review` walks them in the
    /// order they arrived, whatever their number).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn oldest_pending(&self, skipped: &[String]) -> Result<Option<Record>, AppError> {
        let mut connection = self.connection.lock().await;
        let placeholders = vec!["?"; skipped.len()].join(", ");
        let sql = if skipped.is_empty() {
            format!(
                "SELECT {COLUMNS} FROM proposals WHERE status = 'pending' ORDER BY received_at, id LIMIT 1"
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM proposals WHERE status = 'pending' AND id NOT IN ({placeholders}) ORDER BY received_at, id LIMIT 1"
            )
        };
        let mut query = sqlx::query_as::<_, Row>(&sql);
        for id in skipped {
            query = query.bind(id);
        }
        let row = query
            .fetch_optional(&mut *connection)
            .await
            .map_err(|e| self.db(e))?;
        row.map(record).transpose()
    }

    /// How many proposals are pending, of all agents (by count: no record is read).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending_total(&self) -> Result<i64, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT count(*) FROM proposals WHERE status = 'pending'")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| self.db(e))
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
        self.transition(None, id, from, to, reason).await
    }

    /// Moves a proposal from one of `from` to `to`, and records `entry` in the same step: the
    /// status change is made inside a transaction, the entry is appended (durably) only when the
    /// change happened, and the transaction commits only after the entry is in the log. A
    /// transition that did not happen (the proposal was decided elsewhere) writes no entry; an
    /// entry that cannot be written leaves the status as it was.
    async fn transition(
        &self,
        entry: Option<(&Audit, NewEntry)>,
        id: &str,
        from: &[&str],
        to: &str,
        reason: Option<&str>,
    ) -> Result<bool, AppError> {
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
        let changed = self.audited_change(query, entry).await?;
        if changed {
            self.changed();
        }
        Ok(changed)
    }

    /// Runs one change to exactly one row and records `entry` in the same step: the statement
    /// runs inside a `BEGIN IMMEDIATE` transaction, the entry is appended (durably) only when it
    /// changed a row, and the transaction commits only after the entry is in the log. A change
    /// that did not happen writes no entry; an entry that cannot be written undoes the change.
    async fn audited_change<'q>(
        &self,
        statement: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
        entry: Option<(&Audit, NewEntry)>,
    ) -> Result<bool, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *connection)
            .await
            .map_err(|e| self.db(e))?;
        let changed = match statement.execute(&mut *connection).await {
            Ok(done) => done.rows_affected() == 1,
            Err(e) => {
                rollback(&mut connection).await;
                return Err(self.db(e));
            }
        };
        if !changed {
            rollback(&mut connection).await;
            return Ok(false);
        }
        if let Some((audit, entry)) = entry
            && let Err(e) = audit.record(entry).await
        {
            rollback(&mut connection).await;
            return Err(e);
        }
        sqlx::query("COMMIT")
            .execute(&mut *connection)
            .await
            .map_err(|e| self.db(e))?;
        Ok(true)
    }

    async fn pending_record(&self, id: &str) -> Result<Record, AppError> {
        let record = self
            .get(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))?;
        if record.status != "pending" {
            return Err(AppError::NotPending(format!(
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
            return Err(AppError::NotPending(format!(
                "proposal {id} is {}, and only a pending proposal can be withdrawn",
                record.status
            )));
        }
        let mut entry = NewEntry::new(Actor::agent(agent), Event::ProposalWithdrawn);
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        if !self
            .transition(Some((audit, entry)), id, &["pending"], "withdrawn", None)
            .await?
        {
            return Err(AppError::NotPending(format!(
                "proposal {id} was decided before it could be withdrawn"
            )));
        }
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
        if !self
            .transition(
                Some((audit, entry)),
                id,
                &["pending"],
                "rejected",
                Some(reason),
            )
            .await?
        {
            return Err(AppError::NotPending(format!(
                "proposal {id} was decided elsewhere; nothing was rejected"
            )));
        }
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
            // Decided in the meantime: then it did not expire, and nothing is recorded.
            self.transition(Some((audit, entry)), id, &["pending"], "expired", None)
                .await?;
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
        let artifact = record.typed_artifact()?;
        let mut entry = NewEntry::new(audit.actor().clone(), Event::DecisionApproved)
            .details(serde_json::json!({ "purpose": record.purpose, "auth_method": method, "headline": record.explanation.headline }));
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        entry.credential = artifact.credential_name().map(str::to_owned);
        if !self
            .transition(Some((audit, entry)), id, &["pending"], "approved", None)
            .await?
        {
            return Err(AppError::NotPending(format!(
                "proposal {id} was decided elsewhere; nothing was approved"
            )));
        }
        let grant = executions
            .grant(id, &artifact, countersign_exec::DEFAULT_GRANT_TTL)
            .await?;
        self.set_status(id, &["approved"], "executing", None)
            .await?;
        let result = executions.execute(audit, &grant.id, id, artifact).await;
        let (status, stored) = match result {
            Ok(outcome) => ("succeeded", result_json(&outcome)),
            Err(error) => (
                "failed",
                Json::Object(Object::from([(
                    "error".to_owned(),
                    Json::String(error.to_string()),
                )])),
            ),
        };
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("UPDATE proposals SET result = ? WHERE id = ?")
                .bind(stored.canonical())
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
        let projection = crate::release::project(&result, choice);
        let mut entry = NewEntry::new(audit.actor().clone(), Event::ResultReleased).details(
            serde_json::json!({ "released_paths": projection.released_paths, "withheld": projection.withheld }),
        );
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256);
        audit.record(entry).await?;
        let view = projection.agent_view();
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("UPDATE proposals SET released = ? WHERE id = ?")
                .bind(view.canonical())
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

/// The full result as JSON: what the person sees and chooses from. An HTTP body that is JSON
/// is kept as its exact text (duplicate keys or malformed JSON make it text).
fn result_json(outcome: &Outcome) -> Json {
    let exact = |value: &serde_json::Value| {
        serde_json::to_string(value)
            .ok()
            .and_then(|text| Json::parse(&text).ok())
            .unwrap_or(Json::Null)
    };
    let object = |members: Vec<(&str, Json)>| {
        Json::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    };
    match outcome {
        Outcome::Http(http) => {
            let text = String::from_utf8_lossy(&http.body).into_owned();
            let body = Json::parse(&text).unwrap_or(Json::String(text));
            object(vec![
                ("status", Json::Number(http.status.to_string())),
                ("body", body),
                ("truncated", Json::Bool(http.truncated)),
            ])
        }
        Outcome::Sql(SqlOutcome::Rows {
            columns,
            rows,
            truncated,
        }) => object(vec![
            (
                "columns",
                Json::Array(columns.iter().map(|c| Json::String(c.clone())).collect()),
            ),
            (
                "rows",
                Json::Array(
                    rows.iter()
                        .map(|row| Json::Array(row.iter().map(exact).collect()))
                        .collect(),
                ),
            ),
            ("truncated", Json::Bool(*truncated)),
        ]),
        Outcome::Sql(SqlOutcome::Changed { rows_affected }) => object(vec![(
            "rows_affected",
            Json::Number(rows_affected.to_string()),
        )]),
        Outcome::Email(email) => object(vec![
            (
                "recipients",
                Json::Array(
                    email
                        .recipients
                        .iter()
                        .map(|r| Json::String(r.clone()))
                        .collect(),
                ),
            ),
            ("reply", Json::String(email.reply.clone())),
        ]),
    }
}
