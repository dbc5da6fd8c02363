//! Where the proposal store keeps its rows: this data home's `proposals.db` (one person), or
//! the team's PostgreSQL database (design.md §19), which every desk of the team shares.
//!
//! The store's statements are written once, in the SQL both speak, with `?` for each value, and
//! carried as a [`Statement`] (the text and its typed values) to whichever database holds the
//! queue; for PostgreSQL the `?`s become `$1, $2, …`. The statements are this crate's own text
//! and never hold a `?` inside a quoted literal (agent text only ever arrives as a bound value).
//!
//! **Invariant**: on a team, a change is visible to every desk: each write is followed (in the
//! same transaction, where there is one) by `NOTIFY countersign_queue`, and each desk listens and
//! tells its screens and long-polls. A change that moves a proposal between states is an
//! `UPDATE … WHERE status IN (…)`: under PostgreSQL's row locks two desks deciding the same
//! proposal at once cannot both move it, so exactly one decision counts.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection as _, FromRow, PgConnection, SqliteConnection};
use tokio::sync::{Mutex, watch};

use crate::error::AppError;

/// The channel every desk of a team listens on for changes to the shared queue.
const CHANNEL: &str = "countersign_queue";

/// A value bound to a statement.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(Some(value.to_owned()))
    }
}
impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(Some(value))
    }
}
impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(Some(value.clone()))
    }
}
impl From<Option<&str>> for Value {
    fn from(value: Option<&str>) -> Self {
        Value::Text(value.map(str::to_owned))
    }
}
impl From<Option<String>> for Value {
    fn from(value: Option<String>) -> Self {
        Value::Text(value)
    }
}
impl From<&Option<String>> for Value {
    fn from(value: &Option<String>) -> Self {
        Value::Text(value.clone())
    }
}
impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(Some(value))
    }
}
impl From<u32> for Value {
    fn from(value: u32) -> Self {
        Value::Int(Some(i64::from(value)))
    }
}
impl From<Option<i64>> for Value {
    fn from(value: Option<i64>) -> Self {
        Value::Int(value)
    }
}

/// A stored enum's text: its serde name, which is also its `sqlx::Type` text (both
/// `snake_case`).
pub(crate) fn stored<T: serde::Serialize>(value: &T) -> Value {
    Value::Text(
        serde_json::to_value(value)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned)),
    )
}

/// One statement and its values.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    sql: String,
    values: Vec<Value>,
}

impl Statement {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            values: Vec::new(),
        }
    }

    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.values.push(value.into());
        self
    }

    /// Refuses a statement whose `?`s and values differ in number (SQLite would bind NULL to a
    /// missing value, quietly matching nothing).
    fn checked(&self) -> Result<&Self, sqlx::Error> {
        let wanted = self.sql.matches('?').count();
        if wanted == self.values.len() {
            Ok(self)
        } else {
            Err(sqlx::Error::Protocol(format!(
                "a statement has {wanted} places for values but {} values",
                self.values.len()
            )))
        }
    }

    /// The text for PostgreSQL: each `?` numbered in order.
    fn numbered(&self) -> String {
        let mut out = String::with_capacity(self.sql.len() + 16);
        let mut n = 0;
        for c in self.sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }
}

macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                Value::Text(text) => query.bind(text.clone()),
                Value::Int(int) => query.bind(*int),
            };
        }
        query
    }};
}

/// Where the rows are.
pub(crate) enum Queue {
    /// This data home's `proposals.db`.
    Local(Mutex<SqliteConnection>),
    /// The team's database, shared by every desk.
    Team(Team),
}

pub(crate) struct Team {
    pool: PgPool,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Team {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The team's queue tables (the same names and columns as `proposals.db`'s, in PostgreSQL's
/// types), made when a desk first opens the team's queue.
const TEAM_SCHEMA: &str = include_str!("../team/queue.sql");

/// Serialises the schema's creation across desks that open at once.
const SCHEMA_LOCK: i64 = 0x4353_5155;

impl Queue {
    /// Opens the team's queue: a small pool, the tables made if missing, and a listener that
    /// tells `changes` of every other desk's writes.
    pub(crate) async fn team(
        options: PgConnectOptions,
        changes: Arc<watch::Sender<u64>>,
        fail: impl Fn(String) -> AppError,
    ) -> Result<Self, AppError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| fail(e.to_string()))?;
        {
            let mut tx = pool.begin().await.map_err(|e| fail(e.to_string()))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SCHEMA_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(|e| fail(e.to_string()))?;
            sqlx::Executor::execute(&mut *tx, TEAM_SCHEMA)
                .await
                .map_err(|e| fail(e.to_string()))?;
            tx.commit().await.map_err(|e| fail(e.to_string()))?;
        }
        let mut listener = PgListener::connect_with(&pool)
            .await
            .map_err(|e| fail(e.to_string()))?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let listener = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => changes.send_modify(|n| *n += 1),
                    Err(e) => {
                        // The connection was lost: `recv` connects again on the next call.
                        // Whatever changed meanwhile was not announced, so screens look again.
                        tracing::warn!("the team's change notices stopped: {e}; listening again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        changes.send_modify(|n| *n += 1);
                    }
                }
            }
        });
        Ok(Queue::Team(Team { pool, listener }))
    }

    pub(crate) fn is_team(&self) -> bool {
        matches!(self, Queue::Team(_))
    }

    pub(crate) async fn fetch_all<T>(&self, statement: &Statement) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let statement = statement.checked()?;
        match self {
            Queue::Local(connection) => {
                let mut connection = connection.lock().await;
                bind_all!(sqlx::query_as::<_, T>(&statement.sql), &statement.values)
                    .fetch_all(&mut *connection)
                    .await
            }
            Queue::Team(team) => {
                let sql = statement.numbered();
                bind_all!(sqlx::query_as::<_, T>(&sql), &statement.values)
                    .fetch_all(&team.pool)
                    .await
            }
        }
    }

    pub(crate) async fn fetch_optional<T>(
        &self,
        statement: &Statement,
    ) -> Result<Option<T>, sqlx::Error>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let statement = statement.checked()?;
        match self {
            Queue::Local(connection) => {
                let mut connection = connection.lock().await;
                bind_all!(sqlx::query_as::<_, T>(&statement.sql), &statement.values)
                    .fetch_optional(&mut *connection)
                    .await
            }
            Queue::Team(team) => {
                let sql = statement.numbered();
                bind_all!(sqlx::query_as::<_, T>(&sql), &statement.values)
                    .fetch_optional(&team.pool)
                    .await
            }
        }
    }

    /// Runs a write outside any transaction; returns how many rows it changed.
    pub(crate) async fn execute(&self, statement: &Statement) -> Result<u64, sqlx::Error> {
        let statement = statement.checked()?;
        match self {
            Queue::Local(connection) => {
                let mut connection = connection.lock().await;
                Ok(bind_all!(sqlx::query(&statement.sql), &statement.values)
                    .execute(&mut *connection)
                    .await?
                    .rows_affected())
            }
            Queue::Team(team) => {
                let sql = statement.numbered();
                let mut tx = team.pool.begin().await?;
                let changed = bind_all!(sqlx::query(&sql), &statement.values)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                notify(&mut tx).await?;
                tx.commit().await?;
                Ok(changed)
            }
        }
    }

    /// Runs `statement` in a transaction and, when it changed exactly one row, `then` before
    /// committing; rolls back when it changed none or `then` fails.
    pub(crate) async fn change_then<F, Fut>(
        &self,
        statement: &Statement,
        db: impl Fn(sqlx::Error) -> AppError,
        then: F,
    ) -> Result<bool, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), AppError>>,
    {
        let statement = statement.checked().map_err(&db)?;
        match self {
            Queue::Local(connection) => {
                let mut connection = connection.lock().await;
                change_then_local(&mut connection, statement, db, then).await
            }
            Queue::Team(team) => {
                let sql = statement.numbered();
                let mut tx = team.pool.begin().await.map_err(&db)?;
                let rows = bind_all!(sqlx::query(&sql), &statement.values)
                    .execute(&mut *tx)
                    .await
                    .map_err(&db)?
                    .rows_affected();
                if rows != 1 {
                    tx.rollback().await.map_err(&db)?;
                    return Ok(false);
                }
                // Dropping the transaction on an error rolls it back.
                then().await?;
                notify(&mut tx).await.map_err(&db)?;
                tx.commit().await.map_err(&db)?;
                Ok(true)
            }
        }
    }

    /// Opens this data home's `proposals.db` connection as the queue.
    pub(crate) fn local(connection: SqliteConnection) -> Self {
        Queue::Local(Mutex::new(connection))
    }

    /// Whether the team's database answers (a local queue always does).
    pub(crate) async fn reachable(&self) -> bool {
        match self {
            Queue::Local(_) => true,
            Queue::Team(team) => match team.pool.acquire().await {
                Ok(mut connection) => connection.ping().await.is_ok(),
                Err(_) => false,
            },
        }
    }
}

async fn notify(connection: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(connection)
        .await
        .map(|_| ())
}

async fn rollback_local(connection: &mut SqliteConnection) {
    // A failed rollback leaves the transaction to SQLite, which rolls it back when the next
    // BEGIN fails or the connection closes; the caller reports the first error either way.
    if let Err(e) = sqlx::query("ROLLBACK").execute(connection).await {
        tracing::warn!("rolling back a proposal transition failed: {e}");
    }
}

async fn change_then_local<F, Fut>(
    connection: &mut SqliteConnection,
    statement: &Statement,
    local: impl Fn(sqlx::Error) -> AppError,
    then: F,
) -> Result<bool, AppError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *connection)
        .await
        .map_err(&local)?;
    let rows = match bind_all!(sqlx::query(&statement.sql), &statement.values)
        .execute(&mut *connection)
        .await
    {
        Ok(done) => done.rows_affected(),
        Err(e) => {
            rollback_local(connection).await;
            return Err(local(e));
        }
    };
    if rows != 1 {
        rollback_local(connection).await;
        return Ok(false);
    }
    if let Err(e) = then().await {
        rollback_local(connection).await;
        return Err(e);
    }
    sqlx::query("COMMIT")
        .execute(&mut *connection)
        .await
        .map_err(&local)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order_for_postgres() {
        let statement =
            Statement::new("UPDATE t SET a = ?, b = COALESCE(?, b) WHERE id = ? AND s IN (?, ?)")
                .bind("x")
                .bind(None::<String>)
                .bind("id")
                .bind("p")
                .bind("q");
        assert_eq!(
            statement.numbered(),
            "UPDATE t SET a = $1, b = COALESCE($2, b) WHERE id = $3 AND s IN ($4, $5)"
        );
        assert_eq!(statement.values.len(), 5);
        assert!(statement.checked().is_ok());
        assert!(
            Statement::new("SELECT ? , ?")
                .bind(1_i64)
                .checked()
                .is_err()
        );
    }

    #[test]
    fn stored_enums_are_their_snake_case_names() {
        assert!(matches!(
            stored(&crate::record::Status::OutcomeUnknown),
            Value::Text(Some(t)) if t == "outcome_unknown"
        ));
    }
}
