//! The proposal store: `proposals.db` of a data home (proposals and registered agents), read
//! through `sqlx::FromRow` rows and written only in the steps the lifecycle takes. Every change
//! that is a step of a proposal's life is made together with its audit entry
//! ([`Store::audited_change`]): inside one transaction that commits only after the entry is
//! durable. Listeners (long-polls, screens) are told of every change.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use countersign_audit::NewEntry;
use countersign_core::json::Json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Mutex, watch};

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;
use crate::record::{AgentInfo, Line, Record, Status};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(crate) fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn now_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

async fn rollback(connection: &mut SqliteConnection) {
    // A failed rollback leaves the transaction to SQLite, which rolls it back when the next
    // BEGIN fails or the connection closes; the caller reports the first error either way.
    if let Err(e) = sqlx::query("ROLLBACK").execute(connection).await {
        tracing::warn!("rolling back a proposal transition failed: {e}");
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
    routine_id: Option<String>,
}

const COLUMNS: &str = "id, agent, received_at, status, summary, purpose, artifact, artifact_sha256, explanation, decided_at, reason, result, released, routine_id";

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
        routine_id: row.routine_id,
    })
}

/// A proposal as it is first stored, pending.
pub(crate) struct NewProposal<'a> {
    pub id: &'a str,
    pub agent: &'a str,
    pub expires_at: i64,
    pub summary: &'a str,
    pub purpose: &'a str,
    /// The canonical artifact text `artifact_sha256` was taken over.
    pub artifact: &'a str,
    pub artifact_sha256: &'a str,
    pub explanation: &'a str,
}

/// `proposals.db`, with change notifications.
pub struct Store {
    pub(crate) connection: Mutex<SqliteConnection>,
    changes: watch::Sender<u64>,
    path: String,
}

impl Store {
    /// Opens (creating and migrating if needed) `proposals.db` in the data home.
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
        Ok(Store {
            connection: Mutex::new(connection),
            changes,
            path: path.display().to_string(),
        })
    }

    pub(crate) fn db(&self, error: impl std::fmt::Display) -> AppError {
        AppError::File {
            what: "using",
            path: self.path.clone(),
            reason: error.to_string(),
        }
    }

    /// Tells listeners something changed.
    pub(crate) fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Changes to any proposal, for long-polls and screens.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The file, for messages.
    pub fn path(&self) -> &Path {
        Path::new(&self.path)
    }

    // ----- reading proposals -----

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

    /// A proposal that must exist.
    ///
    /// # Errors
    /// When there is none, or the store cannot be read.
    pub async fn existing(&self, id: &str) -> Result<Record, AppError> {
        self.get(id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))
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
        self.with_status(Status::Pending).await
    }

    /// Proposals with `status`, newest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn with_status(&self, status: Status) -> Result<Vec<Record>, AppError> {
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
            "SELECT id, agent, received_at, status, routine_id,
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

    /// Pending proposals whose time ran out by `now` (unix seconds).
    pub(crate) async fn due(&self, now: i64) -> Result<Vec<String>, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT id FROM proposals WHERE status = 'pending' AND expires_at <= ?")
            .bind(now)
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| self.db(e))
    }

    // ----- writing proposals -----

    /// Stores a proposal as pending (its `proposal.received` entry is already durable).
    pub(crate) async fn insert(&self, new: &NewProposal<'_>) -> Result<(), AppError> {
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("INSERT INTO proposals (id, agent, received_at, expires_at, summary, purpose, artifact, artifact_sha256, explanation, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(new.id)
                .bind(new.agent)
                .bind(now_text())
                .bind(new.expires_at)
                .bind(new.summary)
                .bind(new.purpose)
                .bind(new.artifact)
                .bind(new.artifact_sha256)
                .bind(new.explanation)
                .bind(Status::Pending)
                .execute(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        }
        self.changed();
        Ok(())
    }

    /// Keeps an execution's full result (the secret already redacted).
    pub(crate) async fn set_result(&self, id: &str, result: &Json) -> Result<(), AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query("UPDATE proposals SET result = ? WHERE id = ?")
            .bind(result.canonical())
            .bind(id)
            .execute(&mut *connection)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Keeps what the agent may read (its `result.released` entry is already durable).
    pub(crate) async fn set_released(&self, id: &str, released: &Json) -> Result<(), AppError> {
        {
            let mut connection = self.connection.lock().await;
            sqlx::query("UPDATE proposals SET released = ? WHERE id = ?")
                .bind(released.canonical())
                .bind(id)
                .execute(&mut *connection)
                .await
                .map_err(|e| self.db(e))?;
        }
        self.changed();
        Ok(())
    }

    /// Moves a proposal from one of `from` to `to`, and records `entry` in the same step (see
    /// [`Store::audited_change`]). Returns whether it moved: a proposal decided elsewhere in
    /// the meantime does not, and then no entry is written.
    pub(crate) async fn move_status(
        &self,
        id: &str,
        from: &[Status],
        to: Status,
        reason: Option<&str>,
        entry: Option<(&Audit, NewEntry)>,
    ) -> Result<bool, AppError> {
        let placeholders = vec!["?"; from.len()].join(", ");
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
    pub(crate) async fn audited_change<'q>(
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

    // ----- agents -----

    /// Every registered agent.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_as("SELECT name, added_at, revoked_at FROM agents ORDER BY name")
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| self.db(e))
    }

    /// The unrevoked agent whose key hashes to `key_hash`.
    pub(crate) async fn agent_by_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<String>, AppError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT name FROM agents WHERE key_hash = ? AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&mut *connection)
            .await
            .map_err(|e| self.db(e))
    }
}
