//! The SQL executor (sqlx): SQLite and PostgreSQL. Reads run in a read-only transaction with a
//! statement timeout and a row cap; writes run in a transaction and report affected rows. The
//! text sent is the statement that was approved, byte for byte. A read-only credential's
//! statements always run read-only, so the database refuses a write the classifier missed.

use std::str::FromStr as _;
use std::time::Duration;

use base64::Engine as _;
use countersign_core::Artifact;
use countersign_core::credential::{CredentialKind, CredentialMeta, SqlDialect};
use countersign_core::sql::{SqlKind, classify};
use countersign_vault::Secret;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Column as _, Connection as _, Row as _, TypeInfo as _};

use crate::ExecError;
use crate::grant::Authorized;
use crate::redact::Redactor;

/// What a statement returned.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlOutcome {
    /// Rows of a read: column names, then each row's values as JSON.
    Rows {
        /// Column names in order.
        columns: Vec<String>,
        /// The rows, at most the credential's `max_rows`.
        rows: Vec<Vec<serde_json::Value>>,
        /// Whether more rows existed than were returned.
        truncated: bool,
    },
    /// A write: how many rows it changed.
    Changed {
        /// Rows affected.
        rows_affected: u64,
    },
}

/// Runs authorized SQL artifacts.
#[derive(Clone, Debug)]
pub struct SqlExecutor {
    statement_timeout: Duration,
}

impl Default for SqlExecutor {
    fn default() -> Self {
        SqlExecutor {
            statement_timeout: Duration::from_secs(15),
        }
    }
}

impl SqlExecutor {
    /// The executor with a 15-second statement timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the statement timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Runs the authorized statement once with the database credential and its secret (the
    /// password, or a full connection URL).
    ///
    /// # Errors
    /// When it is refused on re-checking, or the database refuses or fails.
    pub async fn execute(
        &self,
        authorized: Authorized,
        credential: &CredentialMeta,
        secret: &Secret,
    ) -> Result<SqlOutcome, ExecError> {
        let Artifact::Sql(sql) = authorized.artifact() else {
            return Err(ExecError::WrongKind {
                expected: "sql",
                actual: authorized.artifact().kind(),
            });
        };
        if sql.database != credential.name {
            return Err(ExecError::WrongCredential);
        }
        let CredentialKind::Sql {
            dialect,
            url,
            read_only,
            max_rows,
        } = &credential.kind
        else {
            return Err(ExecError::WrongCredential);
        };
        crate::recheck(&authorized, Some((credential, secret)), &[])?;
        let facts = classify(&sql.statement, *dialect).map_err(ExecError::Refused)?;
        let read = facts.kind == SqlKind::Read && facts.hidden_write.is_none();
        let read_only_transaction = read || *read_only;
        let cap = usize::try_from(*max_rows).unwrap_or(usize::MAX);
        let redactor = sql_redactor(secret);
        let fail = |e: sqlx::Error| ExecError::Transport(redactor.text(&e.to_string()));

        let work = async {
            match dialect {
                SqlDialect::Postgres => {
                    let options = pg_options(url, secret).map_err(fail)?;
                    let mut conn = PgConnection::connect_with(&options).await.map_err(fail)?;
                    let begin = if read_only_transaction {
                        "BEGIN READ ONLY"
                    } else {
                        "BEGIN"
                    };
                    sqlx::query(begin).execute(&mut conn).await.map_err(fail)?;
                    let timeout_ms = self.statement_timeout.as_millis();
                    sqlx::query(&format!("SET LOCAL statement_timeout = {timeout_ms}"))
                        .execute(&mut conn)
                        .await
                        .map_err(fail)?;
                    let outcome = if read {
                        let rows = fetch(&mut conn, &sql.statement, &sql.parameters, cap)
                            .await
                            .map_err(fail)?;
                        sqlx::query("ROLLBACK")
                            .execute(&mut conn)
                            .await
                            .map_err(fail)?;
                        rows
                    } else {
                        let done = bind(sqlx::query(&sql.statement), &sql.parameters)
                            .execute(&mut conn)
                            .await
                            .map_err(fail)?;
                        sqlx::query("COMMIT")
                            .execute(&mut conn)
                            .await
                            .map_err(fail)?;
                        SqlOutcome::Changed {
                            rows_affected: done.rows_affected(),
                        }
                    };
                    Ok(outcome)
                }
                SqlDialect::Sqlite => {
                    let options = sqlite_options(url, secret)
                        .map_err(fail)?
                        .read_only(read_only_transaction);
                    let mut conn = SqliteConnection::connect_with(&options)
                        .await
                        .map_err(fail)?;
                    if read_only_transaction {
                        sqlx::query("PRAGMA query_only = ON")
                            .execute(&mut conn)
                            .await
                            .map_err(fail)?;
                    }
                    let mut tx = conn.begin().await.map_err(fail)?;
                    let outcome = if read {
                        let rows = fetch(&mut *tx, &sql.statement, &sql.parameters, cap)
                            .await
                            .map_err(fail)?;
                        tx.rollback().await.map_err(fail)?;
                        rows
                    } else {
                        let done = bind(sqlx::query(&sql.statement), &sql.parameters)
                            .execute(&mut *tx)
                            .await
                            .map_err(fail)?;
                        tx.commit().await.map_err(fail)?;
                        SqlOutcome::Changed {
                            rows_affected: done.rows_affected(),
                        }
                    };
                    Ok(outcome)
                }
                SqlDialect::Mysql => Err(ExecError::Transport(
                    "MySQL and MariaDB are explained but not yet executed by this version".into(),
                )),
            }
        };
        // The statement timeout bounds the database's work; this bounds everything else too.
        let outcome = tokio::time::timeout(self.statement_timeout + Duration::from_secs(5), work)
            .await
            .map_err(|_| ExecError::Transport("the database did not answer in time".into()))??;
        // A row can hold the secret too (a settings table, a connection string): every cell and
        // column name is redacted before anything is stored or shown.
        Ok(match outcome {
            SqlOutcome::Rows {
                columns,
                rows,
                truncated,
            } => SqlOutcome::Rows {
                columns: columns.iter().map(|c| redactor.text(c)).collect(),
                rows: rows
                    .into_iter()
                    .map(|row| row.into_iter().map(|v| redactor.json(v)).collect())
                    .collect(),
                truncated,
            },
            changed => changed,
        })
    }
}

impl SqlExecutor {
    /// Connects with the credential's secret and runs `SELECT 1`, changing nothing: the
    /// credentials screen's "Test the connection".
    ///
    /// # Errors
    /// When the database cannot be reached or refuses the login; the message never holds the
    /// secret.
    pub async fn test_connection(
        &self,
        credential: &CredentialMeta,
        secret: &Secret,
    ) -> Result<String, ExecError> {
        let CredentialKind::Sql { dialect, url, .. } = &credential.kind else {
            return Err(ExecError::WrongCredential);
        };
        let redactor = sql_redactor(secret);
        let fail = |e: sqlx::Error| ExecError::Transport(redactor.text(&e.to_string()));
        let work = async {
            match dialect {
                SqlDialect::Postgres => {
                    let options = pg_options(url, secret).map_err(fail)?;
                    let mut conn = PgConnection::connect_with(&options).await.map_err(fail)?;
                    sqlx::query("SELECT 1")
                        .execute(&mut conn)
                        .await
                        .map_err(fail)?;
                    Ok("Connected to the PostgreSQL database and logged in.".to_owned())
                }
                SqlDialect::Sqlite => {
                    let options = sqlite_options(url, secret).map_err(fail)?.read_only(true);
                    let mut conn = SqliteConnection::connect_with(&options)
                        .await
                        .map_err(fail)?;
                    sqlx::query("SELECT 1")
                        .execute(&mut conn)
                        .await
                        .map_err(fail)?;
                    Ok("Opened the SQLite database.".to_owned())
                }
                SqlDialect::Mysql => Err(ExecError::Transport(
                    "MySQL and MariaDB are explained but not yet executed by this version".into(),
                )),
            }
        };
        tokio::time::timeout(Duration::from_secs(15), work)
            .await
            .map_err(|_| ExecError::Transport("the database did not answer in time".into()))?
    }
}

/// The secret is a password or a full connection URL; the password inside a URL is redacted on
/// its own too.
fn sql_redactor(secret: &Secret) -> Redactor {
    let password = url::Url::parse(secret.expose())
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
        .unwrap_or_default();
    let decoded = percent_decode(&password);
    Redactor::new(secret.expose(), &[&password, &decoded])
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// PostgreSQL options from the credential's URL and its password, or from a full URL kept as
/// the secret.
fn pg_options(url: &str, secret: &Secret) -> Result<PgConnectOptions, sqlx::Error> {
    if secret.expose().contains("://") {
        PgConnectOptions::from_str(secret.expose())
    } else {
        Ok(PgConnectOptions::from_str(url)?.password(secret.expose()))
    }
}

/// SQLite options from the credential's URL, or from a full URL kept as the secret.
fn sqlite_options(url: &str, secret: &Secret) -> Result<SqliteConnectOptions, sqlx::Error> {
    if secret.expose().contains("://") {
        SqliteConnectOptions::from_str(secret.expose())
    } else {
        SqliteConnectOptions::from_str(url)
    }
}

/// Binds the artifact's values to its placeholders, in order: text as text, whole numbers as
/// 64-bit integers, other numbers as doubles, true/false, null. The statement text is never
/// changed.
fn bind<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    parameters: &'q [countersign_core::json::Json],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use countersign_core::json::Json;
    for parameter in parameters {
        query = match parameter {
            Json::String(text) => query.bind(text.as_str()),
            Json::Number(text) => match text.parse::<i64>() {
                Ok(whole) => query.bind(whole),
                Err(_) => query.bind(text.parse::<f64>().unwrap_or(f64::NAN)),
            },
            Json::Bool(b) => query.bind(*b),
            _ => query.bind(None::<&str>),
        };
    }
    query
}

async fn fetch<'c, E, DB>(
    executor: E,
    statement: &'c str,
    parameters: &'c [countersign_core::json::Json],
    cap: usize,
) -> Result<SqlOutcome, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = DB>,
    DB: sqlx::Database,
    DB::Row: RowToJson,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    &'c str: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
    Option<&'c str>: sqlx::Encode<'c, DB> + sqlx::Type<DB>,
{
    use futures_util::TryStreamExt as _;
    // A prepared statement: PostgreSQL refuses to prepare two commands at once, a second guard
    // behind the classifier's "exactly one statement".
    let mut stream = bind(sqlx::query(statement), parameters).fetch(executor);
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let mut truncated = false;
    while let Some(row) = stream.try_next().await? {
        if columns.is_empty() {
            columns = row.column_names();
        }
        if rows.len() == cap {
            truncated = true;
            break;
        }
        rows.push(row.to_json());
    }
    Ok(SqlOutcome::Rows {
        columns,
        rows,
        truncated,
    })
}

/// Turns a row into JSON values by column type.
trait RowToJson {
    fn column_names(&self) -> Vec<String>;
    fn to_json(&self) -> Vec<serde_json::Value>;
}

fn unknown(type_name: &str) -> serde_json::Value {
    serde_json::Value::String(format!("(a {type_name} value)"))
}

impl RowToJson for sqlx::sqlite::SqliteRow {
    fn column_names(&self) -> Vec<String> {
        self.columns().iter().map(|c| c.name().to_owned()).collect()
    }

    fn to_json(&self) -> Vec<serde_json::Value> {
        use serde_json::Value;
        (0..self.len())
            .map(|i| {
                if let Ok(Some(v)) = self.try_get::<Option<i64>, _>(i) {
                    Value::from(v)
                } else if let Ok(Some(v)) = self.try_get::<Option<f64>, _>(i) {
                    Value::from(v)
                } else if let Ok(Some(v)) = self.try_get::<Option<String>, _>(i) {
                    Value::from(v)
                } else if let Ok(Some(v)) = self.try_get::<Option<Vec<u8>>, _>(i) {
                    Value::from(base64::engine::general_purpose::STANDARD.encode(v))
                } else {
                    Value::Null
                }
            })
            .collect()
    }
}

impl RowToJson for sqlx::postgres::PgRow {
    fn column_names(&self) -> Vec<String> {
        self.columns().iter().map(|c| c.name().to_owned()).collect()
    }

    fn to_json(&self) -> Vec<serde_json::Value> {
        use serde_json::Value;
        self.columns()
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let type_name = column.type_info().name().to_ascii_uppercase();
                let value = match type_name.as_str() {
                    "BOOL" => self
                        .try_get::<Option<bool>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "INT2" => self
                        .try_get::<Option<i16>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "INT4" => self
                        .try_get::<Option<i32>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "INT8" => self
                        .try_get::<Option<i64>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "FLOAT4" => self
                        .try_get::<Option<f32>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "FLOAT8" => self
                        .try_get::<Option<f64>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "NUMERIC" => self
                        .try_get::<Option<rust_decimal::Decimal>, _>(i)
                        .map(|v| v.map(|d| Value::from(d.to_string()))),
                    "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CITEXT" => self
                        .try_get::<Option<String>, _>(i)
                        .map(|v| v.map(Value::from)),
                    "JSON" | "JSONB" => self.try_get::<Option<serde_json::Value>, _>(i),
                    "UUID" => self
                        .try_get::<Option<uuid::Uuid>, _>(i)
                        .map(|v| v.map(|u| Value::from(u.to_string()))),
                    "DATE" => self
                        .try_get::<Option<time::Date>, _>(i)
                        .map(|v| v.map(|d| Value::from(d.to_string()))),
                    "TIMESTAMP" => self
                        .try_get::<Option<time::PrimitiveDateTime>, _>(i)
                        .map(|v| v.map(|d| Value::from(d.to_string()))),
                    "TIMESTAMPTZ" => self
                        .try_get::<Option<time::OffsetDateTime>, _>(i)
                        .map(|v| v.map(|d| Value::from(d.to_string()))),
                    "BYTEA" => self.try_get::<Option<Vec<u8>>, _>(i).map(|v| {
                        v.map(|b| Value::from(base64::engine::general_purpose::STANDARD.encode(b)))
                    }),
                    other => return unknown(other),
                };
                value.ok().flatten().unwrap_or(Value::Null)
            })
            .collect()
    }
}
