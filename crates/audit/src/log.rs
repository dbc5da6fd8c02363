//! The SQLite store: open (durability read back), append (fail closed), read, verify.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::Mutex;

use crate::chain::{GENESIS_HASH, entry_hash, hex};
use crate::checkpoint::{Checkpoint, TrustedCheckpoint};
use crate::entry::{Actor, ActorKind, Entry, NewEntry};
use crate::error::AuditError;
use crate::export::Filter;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long an append waits for another process's write to finish before failing closed.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// An audit log in one SQLite file.
pub(crate) struct FileLog {
    path: PathBuf,
    connection: Mutex<SqliteConnection>,
    identity: Option<FileIdentity>,
    log_id: String,
    /// Appends waiting for the next commit (group commit: see [`AuditLog::append`]).
    queue: std::sync::Mutex<Vec<Queued>>,
}

/// An append waiting to be written, and who to tell when it is durable.
struct Queued {
    new: NewEntry,
    details: String,
    done: tokio::sync::oneshot::Sender<Result<Entry, AuditError>>,
}

/// The file an open log was opened on, to notice it being removed or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
}

impl FileIdentity {
    #[cfg(unix)]
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| FileIdentity {
            device: m.dev(),
            inode: m.ino(),
        })
    }

    #[cfg(not(unix))]
    fn of(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|_| FileIdentity {
            device: 0,
            inode: 0,
        })
    }
}

/// The first thing found wrong with a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The first bad sequence number.
    pub seq: i64,
    /// What is wrong, in plain words.
    pub what: String,
}

/// The verdict of [`AuditLog::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// How many entries were read.
    pub entries: u64,
    /// The last sequence number read.
    pub last_seq: i64,
    /// The last entry's hash.
    pub last_hash: String,
    /// The sequence number of the checkpoint that was checked, if one was.
    pub checkpoint_seq: Option<i64>,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl Verification {
    /// Whether nothing is wrong.
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

fn unwritable(path: &Path, error: impl std::fmt::Display) -> AuditError {
    AuditError::Unwritable {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

pub(crate) fn now() -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000000Z"))
}

pub(crate) fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    // The id tells logs apart (checkpoints name it): a failing random source is an error.
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

/// An entry as a row of either store holds it (the file log's SQLite, the team's PostgreSQL).
pub(crate) fn entry_from_row<R>(row: &R) -> Result<Entry, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("actor_kind")?;
    Ok(Entry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: Actor {
            // An unknown kind is kept visible as an app actor; the hash check still covers it
            // because it hashes the stored text (see `stored_kind`).
            kind: ActorKind::parse(&kind).unwrap_or(ActorKind::App),
            id: row.try_get("actor_id")?,
            name: row.try_get("actor_name")?,
        },
        event: row.try_get("event")?,
        proposal_id: row.try_get("proposal_id")?,
        artifact_sha256: row.try_get("artifact_sha256")?,
        credential: row.try_get("credential")?,
        outcome: row.try_get("outcome")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        entry_hash: row.try_get("entry_hash")?,
    })
}

/// `query` (an `INSERT` of [`COLUMNS`]) with `entry`'s fields bound in that order, for either
/// store.
pub(crate) fn bind_entry<'q, DB>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    entry: &'q Entry,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .bind(entry.seq)
        .bind(entry.at.as_str())
        .bind(entry.actor.kind.as_str())
        .bind(entry.actor.id.as_str())
        .bind(entry.actor.name.as_str())
        .bind(entry.event.as_str())
        .bind(entry.proposal_id.as_deref())
        .bind(entry.artifact_sha256.as_deref())
        .bind(entry.credential.as_deref())
        .bind(entry.outcome.as_deref())
        .bind(entry.details.as_str())
        .bind(entry.prev_hash.as_str())
        .bind(entry.entry_hash.as_str())
}

pub(crate) const COLUMNS: &str = "seq, at, actor_kind, actor_id, actor_name, event, proposal_id, artifact_sha256, credential, outcome, details, prev_hash, entry_hash";

impl FileLog {
    /// Like [`AuditLog::open`], waiting at most `lock_timeout` for another writer before an
    /// append fails closed.
    ///
    /// # Errors
    /// [`AuditError::Unwritable`] or [`AuditError::NotDurable`].
    pub async fn open_with(path: &Path, lock_timeout: Duration) -> Result<Self, AuditError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| unwritable(path, e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(lock_timeout)
            .foreign_keys(true);
        let mut connection = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| unwritable(path, e))?;
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| unwritable(path, e))?;
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(AuditError::NotDurable {
                path: path.display().to_string(),
                setting: "journal_mode",
                actual: journal,
                expected: "wal",
            });
        }
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| unwritable(path, e))?;
        if synchronous != 2 {
            return Err(AuditError::NotDurable {
                path: path.display().to_string(),
                setting: "synchronous",
                actual: synchronous.to_string(),
                expected: "2 (FULL)",
            });
        }
        MIGRATOR
            .run_direct(&mut connection)
            .await
            .map_err(|e| unwritable(path, e))?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT value FROM audit_meta WHERE key = 'log_id'")
                .fetch_optional(&mut connection)
                .await
                .map_err(|e| unwritable(path, e))?;
        let log_id = match existing {
            Some(id) => id,
            None => {
                let id = random_id().map_err(|e| unwritable(path, e))?;
                sqlx::query("INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('log_id', ?)")
                    .bind(&id)
                    .execute(&mut connection)
                    .await
                    .map_err(|e| unwritable(path, e))?;
                sqlx::query_scalar("SELECT value FROM audit_meta WHERE key = 'log_id'")
                    .fetch_one(&mut connection)
                    .await
                    .map_err(|e| unwritable(path, e))?
            }
        };
        Ok(FileLog {
            path: path.to_path_buf(),
            connection: Mutex::new(connection),
            identity: FileIdentity::of(path),
            log_id,
            queue: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The log's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's random identity, bound into its checkpoints.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Appends an entry and returns it once it is durably committed.
    ///
    /// Other processes may append to the same file: the write lock is taken before the last entry
    /// is read, so the chain stays linear.
    ///
    /// # Errors
    /// When the entry is not durably written. The caller must then not perform the step.
    pub async fn append(&self, new: NewEntry) -> Result<Entry, AuditError> {
        let details = canonical_details(&new.details)?;
        if self.identity.is_some() && FileIdentity::of(&self.path) != self.identity {
            return Err(AuditError::FileReplaced {
                path: self.path.display().to_string(),
            });
        }
        // Group commit: the entry joins the queue; whoever holds the connection next writes every
        // queued entry in one transaction and one fsync, then answers each. No caller is answered
        // before its entry is durable, and the chain order is the queue's order.
        let (done, mut answer) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| unwritable(&self.path, "the append queue was poisoned"))?
            .push(Queued { new, details, done });
        let mut connection = self.connection.lock().await;
        if let Ok(result) = answer.try_recv() {
            // An earlier holder wrote it with its own batch.
            return result;
        }
        let batch = std::mem::take(
            &mut *self
                .queue
                .lock()
                .map_err(|_| unwritable(&self.path, "the append queue was poisoned"))?,
        );
        let written = write_batch(&mut connection, &batch).await;
        // Answered while the connection is still held, so the next holder finds its answer.
        match written {
            Ok(entries) => {
                for (queued, entry) in batch.into_iter().zip(entries) {
                    // A caller that stopped waiting is not told; its entry is durable anyway.
                    let _ = queued.done.send(Ok(entry));
                }
            }
            Err(reason) => {
                for queued in batch {
                    let _ = queued.done.send(Err(unwritable(&self.path, &reason)));
                }
            }
        }
        drop(connection);
        answer
            .await
            .map_err(|_| unwritable(&self.path, "the append was dropped before it was written"))?
    }

    /// The last sequence number and hash, if the log has entries.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn last(&self) -> Result<Option<(i64, String)>, AuditError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_as("SELECT seq, entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *connection)
            .await
            .map_err(|e| unwritable(&self.path, e))
    }

    /// Entries matching `filter`, oldest first.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn entries(&self, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
        self.select(filter, "ORDER BY seq", None).await
    }

    /// The newest `limit` entries matching `filter`, newest first (the inbox's alerts: a page, not
    /// the whole log).
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn latest(&self, filter: &Filter, limit: u32) -> Result<Vec<Entry>, AuditError> {
        self.select(filter, "ORDER BY seq DESC LIMIT ?", Some(limit))
            .await
    }

    async fn select(
        &self,
        filter: &Filter,
        order: &str,
        limit: Option<u32>,
    ) -> Result<Vec<Entry>, AuditError> {
        let (clause, binds) = filter.sql();
        let sql = format!("SELECT {COLUMNS} FROM audit_entries {clause} {order}");
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        if let Some(limit) = limit {
            query = query.bind(limit);
        }
        let mut connection = self.connection.lock().await;
        let rows = query
            .fetch_all(&mut *connection)
            .await
            .map_err(|e| unwritable(&self.path, e))?;
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| unwritable(&self.path, e))
    }

    /// Streams the entries matching `filter` into `out` in `format`, oldest first, from a
    /// consistent snapshot: a read transaction on a second connection, so appends go on while a
    /// large export is written, and memory stays flat whatever the number of entries. `before`
    /// is called with the number of entries once it is known and before any is written (the
    /// caller records the export then; an export that cannot be recorded writes nothing).
    ///
    /// # Errors
    /// When the log cannot be read, `before` fails, or `out` cannot be written.
    pub async fn export_to<W, F, Fut>(
        &self,
        filter: &Filter,
        format: crate::export::ExportFormat,
        out: &mut W,
        before: F,
    ) -> Result<u64, AuditError>
    where
        W: std::io::Write + Send,
        F: FnOnce(u64) -> Fut + Send,
        Fut: std::future::Future<Output = Result<(), AuditError>> + Send,
    {
        use futures_util::StreamExt as _;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| unwritable(&self.path, e))?
            .filename(&self.path)
            .read_only(true)
            .busy_timeout(LOCK_TIMEOUT);
        let mut reader = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| unwritable(&self.path, e))?;
        let mut snapshot = reader
            .begin()
            .await
            .map_err(|e| unwritable(&self.path, e))?;
        let (clause, binds) = filter.sql();
        let count_sql = format!("SELECT count(*) FROM audit_entries {clause}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for bind in &binds {
            count = count.bind(bind);
        }
        let total = count
            .fetch_one(&mut *snapshot)
            .await
            .map_err(|e| unwritable(&self.path, e))?;
        let total = u64::try_from(total).unwrap_or(0);
        before(total).await?;
        let sql = format!("SELECT {COLUMNS} FROM audit_entries {clause} ORDER BY seq");
        let mut query = sqlx::query(&sql);
        for bind in &binds {
            query = query.bind(bind);
        }
        let path = &self.path;
        let rows = query.fetch(&mut *snapshot).map(|row| {
            row.and_then(|row| entry_from_row(&row))
                .map_err(|e| unwritable(path, e))
        });
        let written = write_export(rows, format, out).await?;
        snapshot
            .rollback()
            .await
            .map_err(|e| unwritable(&self.path, e))?;
        if written != total {
            return Err(unwritable(
                &self.path,
                format!("the export counted {total} entries and read {written}"),
            ));
        }
        Ok(written)
    }

    /// A value from the log's own metadata table.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, AuditError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT value FROM audit_meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&mut *connection)
            .await
            .map_err(|e| unwritable(&self.path, e))
    }

    /// Sets a value in the log's own metadata table (never an entry).
    ///
    /// # Errors
    /// When the log cannot be written.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), AuditError> {
        let mut connection = self.connection.lock().await;
        sqlx::query("INSERT INTO audit_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *connection)
            .await
            .map_err(|e| unwritable(&self.path, e))?;
        Ok(())
    }

    /// Reads the whole chain and returns its verdict, with the hashes of the entries numbered
    /// in `watch`.
    ///
    /// The chain is read through a separate read-only connection (rusqlite, on a blocking
    /// thread): streaming every row through sqlx's asynchronous worker costs several
    /// microseconds per row, which capped verification far below its budget.
    async fn read_chain(
        &self,
        watch: Vec<i64>,
    ) -> Result<(Verification, Vec<(i64, String)>), AuditError> {
        // Hold the lock so this process's own appends wait; other processes' appends after the
        // read began are simply not part of this verdict.
        let _guard = self.connection.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || crate::verify::read_chain(&path, &watch))
            .await
            .map_err(|e| unwritable(&self.path, e))?
    }
}

/// An open audit log: this computer's file, or the team's on PostgreSQL (design.md §19). Both
/// hold the same entries with the same hashes and answer the same calls; only the store differs.
pub struct AuditLog {
    store: Store,
}

enum Store {
    File(FileLog),
    Team(Box<crate::team::TeamLog>),
}

impl AuditLog {
    /// Opens (creating if needed) the log file at `path`, and refuses it unless SQLite confirms
    /// WAL journaling and `synchronous=FULL`.
    ///
    /// # Errors
    /// [`AuditError::Unwritable`] or [`AuditError::NotDurable`].
    pub async fn open(path: &Path) -> Result<Self, AuditError> {
        Self::open_with(path, LOCK_TIMEOUT).await
    }

    /// Like [`AuditLog::open`], waiting at most `lock_timeout` for another writer before an
    /// append fails closed.
    ///
    /// # Errors
    /// [`AuditError::Unwritable`] or [`AuditError::NotDurable`].
    pub async fn open_with(path: &Path, lock_timeout: Duration) -> Result<Self, AuditError> {
        Ok(AuditLog {
            store: Store::File(FileLog::open_with(path, lock_timeout).await?),
        })
    }

    /// Opens the team's log on the PostgreSQL server `options` reach (creating its tables the
    /// first time), refusing a server that would not make commits durable.
    ///
    /// # Errors
    /// [`AuditError::Unwritable`] or [`AuditError::NotDurable`].
    pub async fn open_team(options: sqlx::postgres::PgConnectOptions) -> Result<Self, AuditError> {
        Ok(AuditLog {
            store: Store::Team(Box::new(crate::team::TeamLog::open(options).await?)),
        })
    }

    /// The log's file, for a file log.
    pub fn path(&self) -> Option<&Path> {
        match &self.store {
            Store::File(log) => Some(log.path()),
            Store::Team(_) => None,
        }
    }

    /// Where the log is, in words: its file, or `team database host:port/name`.
    pub fn place(&self) -> String {
        match &self.store {
            Store::File(log) => log.path().display().to_string(),
            Store::Team(log) => log.place().to_owned(),
        }
    }

    /// The log's random identity, bound into its checkpoints.
    pub fn log_id(&self) -> &str {
        match &self.store {
            Store::File(log) => log.log_id(),
            Store::Team(log) => log.log_id(),
        }
    }

    /// Appends an entry and returns it once it is durably committed.
    ///
    /// # Errors
    /// When the entry is not durably written. The caller must then not perform the step.
    pub async fn append(&self, new: NewEntry) -> Result<Entry, AuditError> {
        match &self.store {
            Store::File(log) => log.append(new).await,
            Store::Team(log) => log.append(new).await,
        }
    }

    /// The last sequence number and hash, if the log has entries.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn last(&self) -> Result<Option<(i64, String)>, AuditError> {
        match &self.store {
            Store::File(log) => log.last().await,
            Store::Team(log) => log.last().await,
        }
    }

    /// Entries matching `filter`, oldest first.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn entries(&self, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
        match &self.store {
            Store::File(log) => log.entries(filter).await,
            Store::Team(log) => log.entries(filter).await,
        }
    }

    /// The newest `limit` entries matching `filter`, newest first.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn latest(&self, filter: &Filter, limit: u32) -> Result<Vec<Entry>, AuditError> {
        match &self.store {
            Store::File(log) => log.latest(filter, limit).await,
            Store::Team(log) => log.latest(filter, limit).await,
        }
    }

    /// Streams the entries matching `filter` into `out` in `format`, oldest first, from a
    /// consistent snapshot, so appends go on while a large export is written and memory stays
    /// flat. `before` is called with the number of entries once it is known and before any is
    /// written (the caller records the export then; an export that cannot be recorded writes
    /// nothing).
    ///
    /// # Errors
    /// When the log cannot be read, `before` fails, or `out` cannot be written.
    pub async fn export_to<W, F, Fut>(
        &self,
        filter: &Filter,
        format: crate::export::ExportFormat,
        out: &mut W,
        before: F,
    ) -> Result<u64, AuditError>
    where
        W: std::io::Write + Send,
        F: FnOnce(u64) -> Fut + Send,
        Fut: std::future::Future<Output = Result<(), AuditError>> + Send,
    {
        match &self.store {
            Store::File(log) => log.export_to(filter, format, out, before).await,
            Store::Team(log) => log.export_to(filter, format, out, before).await,
        }
    }

    /// A value from the log's own metadata.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, AuditError> {
        match &self.store {
            Store::File(log) => log.meta(key).await,
            Store::Team(log) => log.meta(key).await,
        }
    }

    /// Sets a value in the log's own metadata (never an entry).
    ///
    /// # Errors
    /// When the log cannot be written.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), AuditError> {
        match &self.store {
            Store::File(log) => log.set_meta(key, value).await,
            Store::Team(log) => log.set_meta(key, value).await,
        }
    }

    /// Verifies the whole chain, then, when given, a checkpoint file (its signature with `key`,
    /// and that the log still holds the entry it signed) and the latest checkpoint the keychain
    /// remembers (so a truncation below it, or a replayed older checkpoint file, is found).
    ///
    /// # Errors
    /// When the log cannot be read (a broken log is a verdict, not an error).
    pub async fn verify(
        &self,
        checkpoint: Option<&Checkpoint>,
        key: Option<&ed25519_dalek::VerifyingKey>,
        latest: Option<&TrustedCheckpoint>,
    ) -> Result<Verification, AuditError> {
        let watch: Vec<i64> = checkpoint
            .map(|c| c.seq)
            .into_iter()
            .chain(latest.map(|l| l.seq))
            .collect();
        let (mut verification, seen) = match &self.store {
            Store::File(log) => log.read_chain(watch).await?,
            Store::Team(log) => log.read_chain(&watch).await?,
        };
        if verification.problem.is_none()
            && let Some(latest) = latest
        {
            verification.problem = check_against(
                latest.seq,
                &latest.entry_hash,
                verification.last_seq,
                &seen,
                "the latest checkpoint this computer remembers",
            );
        }
        if verification.problem.is_none()
            && let Some(checkpoint) = checkpoint
        {
            verification.checkpoint_seq = Some(checkpoint.seq);
            verification.problem = check_checkpoint(
                checkpoint,
                key,
                self.log_id(),
                verification.last_seq,
                &seen,
                latest,
            );
        }
        Ok(verification)
    }
}

fn check_against(
    seq: i64,
    hash: &str,
    last_seq: i64,
    seen: &[(i64, String)],
    what: &str,
) -> Option<Problem> {
    if last_seq < seq {
        return Some(Problem {
            seq: last_seq + 1,
            what: format!(
                "the log ends at entry {last_seq}, but {what} covers entries up to {seq}: entries were deleted from the end"
            ),
        });
    }
    match seen.iter().find(|(s, _)| *s == seq) {
        Some((_, found)) if found == hash => None,
        _ => Some(Problem {
            seq,
            what: format!("entry {seq} differs from the one {what} signed: the log was rewritten"),
        }),
    }
}

fn check_checkpoint(
    checkpoint: &Checkpoint,
    key: Option<&ed25519_dalek::VerifyingKey>,
    log_id: &str,
    last_seq: i64,
    seen: &[(i64, String)],
    latest: Option<&TrustedCheckpoint>,
) -> Option<Problem> {
    let Some(key) = key else {
        return Some(Problem {
            seq: checkpoint.seq,
            what: "no public key is available to check the checkpoint's signature".into(),
        });
    };
    if !checkpoint.signature_valid(key) {
        return Some(Problem {
            seq: checkpoint.seq,
            what: "the checkpoint's signature is not valid for this log's key: the checkpoint, or the log with it, was forged".into(),
        });
    }
    if checkpoint.log_id != log_id {
        return Some(Problem {
            seq: checkpoint.seq,
            what: "the checkpoint belongs to a different audit log".into(),
        });
    }
    if let Some(latest) = latest
        && checkpoint.seq < latest.seq
    {
        return Some(Problem {
            seq: checkpoint.seq,
            what: format!(
                "this checkpoint (entry {}) is older than the latest one this computer signed (entry {}): use the newest checkpoint file",
                checkpoint.seq, latest.seq
            ),
        });
    }
    check_against(
        checkpoint.seq,
        &checkpoint.entry_hash,
        last_seq,
        seen,
        "the checkpoint",
    )
}

/// Writes the entries `rows` yields as an export in `format`, returning how many. Only the
/// entries the caller counted are read: its snapshot cannot see later appends, and a count that
/// disagrees is a bug the caller reports, not an export silently cut.
pub(crate) async fn write_export<S, W>(
    mut rows: S,
    format: crate::export::ExportFormat,
    out: &mut W,
) -> Result<u64, AuditError>
where
    S: futures_util::Stream<Item = Result<Entry, AuditError>> + Unpin,
    W: std::io::Write + Send,
{
    use futures_util::TryStreamExt as _;
    let output = |e: std::io::Error| AuditError::Output {
        what: "the export".to_owned(),
        reason: e.to_string(),
    };
    let mut writer = format.writer(out);
    writer.start().map_err(output)?;
    let mut written = 0u64;
    while let Some(entry) = rows.try_next().await? {
        writer.entry(&entry).map_err(output)?;
        written += 1;
    }
    writer.finish().map_err(output)?;
    Ok(written)
}

/// The entry `new` becomes as number `seq` after an entry whose hash is `prev_hash`, stamped now
/// and hashed (the same for the file log and the team log).
pub(crate) fn chained_entry(seq: i64, prev_hash: &str, new: &NewEntry, details: &str) -> Entry {
    let mut entry = Entry {
        seq,
        at: now(),
        actor: new.actor.clone(),
        event: new.event.as_str().to_owned(),
        proposal_id: new.proposal_id.clone(),
        artifact_sha256: new.artifact_sha256.clone(),
        credential: new.credential.clone(),
        outcome: new.outcome.clone(),
        details: details.to_owned(),
        prev_hash: prev_hash.to_owned(),
        entry_hash: String::new(),
    };
    entry.entry_hash = entry_hash(&entry.prev_hash, &entry);
    entry
}

/// Writes queued appends in one transaction, chained in order; nothing is written unless all are.
async fn write_batch(
    connection: &mut SqliteConnection,
    batch: &[Queued],
) -> Result<Vec<Entry>, String> {
    let mut tx = connection
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| e.to_string())?;
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
    let (mut seq, mut prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let mut written = Vec::with_capacity(batch.len());
    for queued in batch {
        let entry = chained_entry(seq, &prev_hash, &queued.new, &queued.details);
        let insert = format!(
            "INSERT INTO audit_entries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        bind_entry(sqlx::query(&insert), &entry)
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        seq += 1;
        prev_hash.clone_from(&entry.entry_hash);
        written.push(entry);
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(written)
}

/// Details as canonical JSON text (keys sorted), so the stored text is what is hashed.
pub(crate) fn canonical_details(details: &serde_json::Value) -> Result<String, AuditError> {
    let text = serde_json::to_string(details).map_err(|e| AuditError::Details(e.to_string()))?;
    let json =
        countersign_core::json::Json::parse(&text).map_err(|e| AuditError::Details(e.message))?;
    Ok(json.canonical())
}
