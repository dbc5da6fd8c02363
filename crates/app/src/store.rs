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
use countersign_core::money::Decimal;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;
use crate::queue::{Queue, Statement, stored};
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
    decided_by: Option<String>,
    amounts: Option<String>,
    first_approved_by: Option<String>,
}

const COLUMNS: &str = "id, agent, received_at, status, summary, purpose, artifact, artifact_sha256, explanation, decided_at, reason, result, released, routine_id, decided_by, amounts, first_approved_by";

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
        decided_by: row.decided_by,
        amounts: amounts_of(row.amounts.as_deref()),
        first_approved_by: row.first_approved_by,
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
    /// The money it moves ([`amounts_text`]).
    pub amounts: String,
}

/// The money an artifact moves, as stored: `[["250.00","USD"],…]`.
pub(crate) fn amounts_text(amounts: &[(Decimal, String)]) -> String {
    serde_json::to_string(
        &amounts
            .iter()
            .map(|(amount, currency)| (amount.plain(), currency.as_str()))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".to_owned())
}

fn amounts_of(text: Option<&str>) -> Vec<(Decimal, String)> {
    text.and_then(|t| serde_json::from_str::<Vec<(String, String)>>(t).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(amount, currency)| Some((Decimal::parse(&amount)?, currency)))
        .collect()
}

/// The proposal store, with change notifications: `proposals.db`, or the team's shared queue.
pub struct Store {
    queue: Queue,
    changes: Arc<watch::Sender<u64>>,
    path: String,
    /// This desk, by its data home's keychain namespace (unique per data home).
    desk: String,
}

impl Store {
    /// Opens the data home's queue: the team's, once it joined a team (design.md §19), or its
    /// own `proposals.db` (created and migrated if needed).
    ///
    /// # Errors
    /// When it cannot be opened (for a team: the database cannot be reached).
    pub async fn open(home: &DataHome) -> Result<Self, AppError> {
        home.ensure()?;
        let (changes, _) = watch::channel(0);
        let changes = Arc::new(changes);
        let desk = home.keychain().service().to_owned();
        if let Some(team) = crate::team::TeamConfig::read(home)? {
            let path = format!("the team's queue at {}", team.database);
            let options = team.connect_options(home)?;
            let place = path.clone();
            let queue = Queue::team(options, Arc::clone(&changes), |e| AppError::File {
                what: "opening",
                path: place.clone(),
                reason: e,
            })
            .await?;
            return Ok(Store {
                queue,
                changes,
                path,
                desk,
            });
        }
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
        Ok(Store {
            queue: Queue::local(connection),
            changes,
            path: path.display().to_string(),
            desk,
        })
    }

    /// Whether the queue is the team's, shared with other desks.
    pub fn is_team(&self) -> bool {
        self.queue.is_team()
    }

    /// Whether the queue's database answers now.
    pub async fn reachable(&self) -> bool {
        self.queue.reachable().await
    }

    pub(crate) fn desk(&self) -> &str {
        &self.desk
    }

    pub(crate) async fn all<T>(&self, statement: Statement) -> Result<Vec<T>, AppError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        self.queue
            .fetch_all(&statement)
            .await
            .map_err(|e| self.db(e))
    }

    pub(crate) async fn one<T>(&self, statement: Statement) -> Result<Option<T>, AppError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        self.queue
            .fetch_optional(&statement)
            .await
            .map_err(|e| self.db(e))
    }

    pub(crate) async fn count(&self, statement: Statement) -> Result<i64, AppError> {
        Ok(self.one::<(i64,)>(statement).await?.map_or(0, |(n,)| n))
    }

    pub(crate) async fn ids(&self, statement: Statement) -> Result<Vec<String>, AppError> {
        Ok(self
            .all::<(String,)>(statement)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect())
    }

    pub(crate) async fn write(&self, statement: Statement) -> Result<u64, AppError> {
        self.queue.execute(&statement).await.map_err(|e| self.db(e))
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
        let row: Option<Row> = self
            .one(Statement::new(format!("SELECT {COLUMNS} FROM proposals WHERE id = ?")).bind(id))
            .await?;
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
        let rows: Vec<Row> = self
            .all(
                Statement::new(format!(
                    "SELECT {COLUMNS} FROM proposals WHERE status = ? ORDER BY received_at DESC, id"
                ))
                .bind(stored(&status)),
            )
            .await?;
        rows.into_iter().map(record).collect()
    }

    /// Proposals with `status` that this desk approved (or that no desk claimed): on a team,
    /// another desk's approved or executing proposal is that desk's to finish.
    pub(crate) async fn with_status_here(&self, status: Status) -> Result<Vec<Record>, AppError> {
        let rows: Vec<Row> = self
            .all(
                Statement::new(format!(
                    "SELECT {COLUMNS} FROM proposals WHERE status = ? AND (desk IS NULL OR desk = ?) ORDER BY received_at DESC, id"
                ))
                .bind(stored(&status))
                .bind(self.desk.as_str()),
            )
            .await?;
        rows.into_iter().map(record).collect()
    }

    /// Inbox lines of pending proposals (`pending = true`, newest first) or of decided ones
    /// (newest first), at most `limit`. Only what a line shows is read: the database takes the
    /// headline, action and risk counts out of the stored explanation, so a page costs the same
    /// with 10 or 10,000 waiting.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn lines(&self, pending: bool, limit: u32) -> Result<Vec<Line>, AppError> {
        let which = if pending {
            "status = 'pending'"
        } else {
            "status <> 'pending'"
        };
        let shown = if self.queue.is_team() {
            "explanation::jsonb ->> 'headline' AS headline,
             explanation::jsonb ->> 'action' AS action,
             (SELECT count(*) FROM jsonb_array_elements(explanation::jsonb -> 'risks') r
               WHERE r ->> 'severity' = 'danger') AS danger,
             (SELECT count(*) FROM jsonb_array_elements(explanation::jsonb -> 'risks') r
               WHERE r ->> 'severity' = 'caution') AS caution"
        } else {
            "json_extract(explanation, '$.headline') AS headline,
             json_extract(explanation, '$.action') AS action,
             (SELECT count(*) FROM json_each(explanation, '$.risks')
               WHERE json_extract(value, '$.severity') = 'danger') AS danger,
             (SELECT count(*) FROM json_each(explanation, '$.risks')
               WHERE json_extract(value, '$.severity') = 'caution') AS caution"
        };
        self.all(
            Statement::new(format!(
                "SELECT id, agent, received_at, status, routine_id, {shown}
                 FROM proposals WHERE {which} ORDER BY received_at DESC, id DESC LIMIT ?"
            ))
            .bind(limit),
        )
        .await
    }

    /// The oldest pending proposal not in `skipped` (`countersign review` walks them in the
    /// order they arrived, whatever their number).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn oldest_pending(&self, skipped: &[String]) -> Result<Option<Record>, AppError> {
        let sql = if skipped.is_empty() {
            format!(
                "SELECT {COLUMNS} FROM proposals WHERE status = 'pending' ORDER BY received_at, id LIMIT 1"
            )
        } else {
            let placeholders = vec!["?"; skipped.len()].join(", ");
            format!(
                "SELECT {COLUMNS} FROM proposals WHERE status = 'pending' AND id NOT IN ({placeholders}) ORDER BY received_at, id LIMIT 1"
            )
        };
        let statement = skipped
            .iter()
            .fold(Statement::new(sql), |statement, id| statement.bind(id));
        let row: Option<Row> = self.one(statement).await?;
        row.map(record).transpose()
    }

    /// How many proposals are pending, of all agents (by count: no record is read).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending_total(&self) -> Result<i64, AppError> {
        self.count(Statement::new(
            "SELECT count(*) FROM proposals WHERE status = 'pending'",
        ))
        .await
    }

    /// How many proposals of an agent are pending.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending_count(&self, agent: &str) -> Result<i64, AppError> {
        self.count(
            Statement::new("SELECT count(*) FROM proposals WHERE agent = ? AND status = 'pending'")
                .bind(agent),
        )
        .await
    }

    /// Pending proposals whose time ran out by `now` (unix seconds).
    pub(crate) async fn due(&self, now: i64) -> Result<Vec<String>, AppError> {
        self.ids(
            Statement::new("SELECT id FROM proposals WHERE status = 'pending' AND expires_at <= ?")
                .bind(now),
        )
        .await
    }

    // ----- writing proposals -----

    /// Stores a proposal as pending (its `proposal.received` entry is already durable).
    pub(crate) async fn insert(&self, new: &NewProposal<'_>) -> Result<(), AppError> {
        self.write(
            Statement::new("INSERT INTO proposals (id, agent, received_at, expires_at, summary, purpose, artifact, artifact_sha256, explanation, status, amounts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(new.id)
                .bind(new.agent)
                .bind(now_text())
                .bind(new.expires_at)
                .bind(new.summary)
                .bind(new.purpose)
                .bind(new.artifact)
                .bind(new.artifact_sha256)
                .bind(new.explanation)
                .bind(stored(&Status::Pending))
                .bind(&new.amounts),
        )
        .await?;
        self.changed();
        Ok(())
    }

    /// Keeps an execution's full result (the secret already redacted).
    pub(crate) async fn set_result(&self, id: &str, result: &Json) -> Result<(), AppError> {
        self.write(
            Statement::new("UPDATE proposals SET result = ? WHERE id = ?")
                .bind(result.canonical())
                .bind(id),
        )
        .await?;
        Ok(())
    }

    /// Keeps what the agent may read (its `result.released` entry is already durable).
    pub(crate) async fn set_released(&self, id: &str, released: &Json) -> Result<(), AppError> {
        self.write(
            Statement::new("UPDATE proposals SET released = ? WHERE id = ?")
                .bind(released.canonical())
                .bind(id),
        )
        .await?;
        self.changed();
        Ok(())
    }

    /// Moves a proposal from one of `from` to `to`, and records `entry` in the same step (see
    /// [`Store::audited_change`]). Returns whether it moved: a proposal decided elsewhere in
    /// the meantime does not, and then no entry is written. A move to `approved` or `rejected`
    /// names who decided (the entry's actor); a move to `approved` or `executing` claims the
    /// proposal for this desk.
    pub(crate) async fn move_status(
        &self,
        id: &str,
        from: &[Status],
        to: Status,
        reason: Option<&str>,
        entry: Option<(&Audit, NewEntry)>,
    ) -> Result<bool, AppError> {
        self.move_status_after(id, from, to, reason, entry, None)
            .await
    }

    /// [`Store::move_status`], and when `first` is given only if `first` approved it first
    /// (the second of two people).
    pub(crate) async fn move_status_after(
        &self,
        id: &str,
        from: &[Status],
        to: Status,
        reason: Option<&str>,
        entry: Option<(&Audit, NewEntry)>,
        first: Option<&str>,
    ) -> Result<bool, AppError> {
        let placeholders = vec!["?"; from.len()].join(", ");
        let decided = matches!(to, Status::Approved | Status::Rejected);
        let claimed = matches!(to, Status::Approved | Status::Executing);
        let by = entry.as_ref().map(|(_, e)| e.actor.name.clone());
        let sql = format!(
            "UPDATE proposals SET status = ?, decided_at = COALESCE(decided_at, ?), decided_by = COALESCE(decided_by, ?), desk = COALESCE(?, desk), reason = COALESCE(?, reason) WHERE id = ? AND status IN ({placeholders}){}",
            if first.is_some() {
                " AND first_approved_by = ?"
            } else {
                ""
            }
        );
        let statement = Statement::new(sql)
            .bind(stored(&to))
            .bind(decided.then(now_text))
            .bind(if decided { by } else { None })
            .bind(claimed.then(|| self.desk.clone()))
            .bind(reason)
            .bind(id);
        let mut statement = from.iter().fold(statement, |statement, status| {
            statement.bind(stored(status))
        });
        if let Some(first) = first {
            statement = statement.bind(first);
        }
        let changed = self.audited_change(statement, entry).await?;
        if changed {
            self.changed();
        }
        Ok(changed)
    }

    /// Runs one change to exactly one row and records `entry` in the same step: the statement
    /// runs inside a transaction (`BEGIN IMMEDIATE` on SQLite), the entry is appended (durably)
    /// only when it changed a row, and the transaction commits only after the entry is in the
    /// log. A change that did not happen writes no entry; an entry that cannot be written undoes
    /// the change.
    pub(crate) async fn audited_change(
        &self,
        statement: Statement,
        entry: Option<(&Audit, NewEntry)>,
    ) -> Result<bool, AppError> {
        self.queue
            .change_then(
                &statement,
                |e| self.db(e),
                || async move {
                    match entry {
                        Some((audit, entry)) => audit.record(entry).await,
                        None => Ok(()),
                    }
                },
            )
            .await
    }

    // ----- agents -----

    /// Every registered agent.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn agents(&self) -> Result<Vec<AgentInfo>, AppError> {
        self.all(Statement::new(
            "SELECT name, added_at, revoked_at, checked_in_at FROM agents ORDER BY name",
        ))
        .await
    }

    /// The unrevoked agent whose key hashes to `key_hash`.
    pub(crate) async fn agent_by_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<String>, AppError> {
        Ok(self
            .one::<(String,)>(
                Statement::new("SELECT name FROM agents WHERE key_hash = ? AND revoked_at IS NULL")
                    .bind(key_hash),
            )
            .await?
            .map(|(name,)| name))
    }
}
