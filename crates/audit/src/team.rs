//! The team's audit log on PostgreSQL (design.md §19): one hash chain for every desk of a team,
//! appended from all of them in one order.
//!
//! The entries, their encoding and their hashes are exactly those of the file log
//! ([`crate::AuditLog`]); only the store differs. Order across desks comes from one head row
//! (`team_audit_head`) that every append locks (`SELECT … FOR UPDATE`) in the transaction that
//! inserts its entries: appends from all desks are serialised by the database, so the chain stays
//! linear however many desks write, and a desk that loses its connection mid-append has either
//! committed the whole batch or nothing. Within one desk, appends are group-committed as in the
//! file log: whoever holds the writer connection writes every queued entry in one transaction.
//!
//! Fail closed, as the file log: [`TeamLog::append`] returns only after the transaction is
//! committed, and [`TeamLog::open`] refuses a server that would not make a commit durable
//! (`fsync` or `synchronous_commit` off). Triggers refuse any change to or removal of an entry,
//! and the head is never trusted when verifying: the chain is recomputed from the entries.
//!
//! **API boundary**: reached through [`crate::AuditLog`]. **Invariant**: an entry
//! is appended only under the head row's lock, with `seq` one more than the head's and
//! `prev_hash` the head's hash.

use std::sync::Mutex as StdMutex;

use futures_util::TryStreamExt as _;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::Mutex;

use crate::chain::{GENESIS_HASH, entry_hash};
use crate::entry::{Entry, NewEntry};
use crate::error::AuditError;
use crate::export::Filter;
use crate::log::{
    COLUMNS, Problem, Verification, bind_entry, canonical_details, chained_entry, entry_from_row,
    random_id, write_export,
};

/// The schema: created once by `team init`, checked by every desk that opens it. Idempotent, and
/// run under an advisory lock so two desks starting together do not race.
const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS team_audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS team_audit_entries (
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
    at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    event TEXT NOT NULL,
    proposal_id TEXT,
    artifact_sha256 TEXT,
    credential TEXT,
    outcome TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS team_audit_entries_proposal ON team_audit_entries (proposal_id);
CREATE INDEX IF NOT EXISTS team_audit_entries_event ON team_audit_entries (event);
CREATE TABLE IF NOT EXISTS team_audit_head (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    seq BIGINT NOT NULL,
    entry_hash TEXT NOT NULL
);
INSERT INTO team_audit_head (one, seq, entry_hash)
    VALUES (TRUE, 0, '0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION team_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are never changed or deleted';
END $$;
CREATE OR REPLACE TRIGGER team_audit_entries_no_change
    BEFORE UPDATE OR DELETE ON team_audit_entries
    FOR EACH ROW EXECUTE FUNCTION team_audit_refuse();
CREATE OR REPLACE TRIGGER team_audit_entries_no_truncate
    BEFORE TRUNCATE ON team_audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION team_audit_refuse();
";

/// The advisory lock key that serialises schema set-up (any fixed number; "CSGN").
const SCHEMA_LOCK: i64 = 0x4353_474E;

/// An append waiting to be written, and who to tell when it is durable.
struct Queued {
    new: NewEntry,
    details: String,
    done: tokio::sync::oneshot::Sender<Result<Entry, AuditError>>,
}

/// The team's audit log, opened by one desk (reached through [`crate::AuditLog::open_team`]).
pub(crate) struct TeamLog {
    /// Names the server in errors (`host:port/database`, never a password).
    place: String,
    options: PgConnectOptions,
    writer: Mutex<Option<PgConnection>>,
    queue: StdMutex<Vec<Queued>>,
    log_id: String,
}

fn unwritable(place: &str, error: impl std::fmt::Display) -> AuditError {
    AuditError::Unwritable {
        path: place.to_owned(),
        reason: error.to_string(),
    }
}

/// A filter's `?` placeholders as PostgreSQL's `$1`, `$2`… (the clause has no other `?`).
fn numbered(clause: &str, first: usize) -> String {
    let mut out = String::with_capacity(clause.len() + 8);
    let mut n = first;
    for c in clause.chars() {
        if c == '?' {
            out.push_str(&format!("${n}"));
            n += 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// The server's settings that make a commit durable; `Err` names the first that does not.
async fn check_durable(connection: &mut PgConnection, place: &str) -> Result<(), AuditError> {
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut *connection)
        .await
        .map_err(|e| unwritable(place, e))?;
    if fsync != "on" {
        return Err(AuditError::NotDurable {
            path: place.to_owned(),
            setting: "fsync",
            actual: fsync,
            expected: "on",
        });
    }
    let commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *connection)
        .await
        .map_err(|e| unwritable(place, e))?;
    if commit == "off" {
        return Err(AuditError::NotDurable {
            path: place.to_owned(),
            setting: "synchronous_commit",
            actual: commit,
            expected: "on, local, remote_write or remote_apply",
        });
    }
    Ok(())
}

impl TeamLog {
    /// Opens the team log on the server `options` reach, creating its tables when they are not
    /// there yet, and refuses a server that would not make commits durable.
    ///
    /// # Errors
    /// [`AuditError::Unwritable`] when the server cannot be reached or the schema made;
    /// [`AuditError::NotDurable`] for a server with `fsync` or `synchronous_commit` off.
    pub async fn open(options: PgConnectOptions) -> Result<Self, AuditError> {
        let place = format!(
            "team database {}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("postgres")
        );
        let mut connection = PgConnection::connect_with(&options)
            .await
            .map_err(|e| unwritable(&place, e))?;
        check_durable(&mut connection, &place).await?;
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| unwritable(&place, e))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| unwritable(&place, e))?;
        sqlx::Executor::execute(&mut *tx, SCHEMA)
            .await
            .map_err(|e| unwritable(&place, e))?;
        let id = random_id().map_err(|e| unwritable(&place, e))?;
        sqlx::query(
            "INSERT INTO team_audit_meta (key, value) VALUES ('log_id', $1) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(|e| unwritable(&place, e))?;
        let log_id: String =
            sqlx::query_scalar("SELECT value FROM team_audit_meta WHERE key = 'log_id'")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| unwritable(&place, e))?;
        tx.commit().await.map_err(|e| unwritable(&place, e))?;
        Ok(TeamLog {
            place,
            options,
            writer: Mutex::new(Some(connection)),
            queue: StdMutex::new(Vec::new()),
            log_id,
        })
    }

    /// The log's random identity, bound into its checkpoints.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Appends an entry and returns it once its transaction is committed. Entries from every
    /// desk form one chain, in the order the database granted the head row's lock.
    ///
    /// # Errors
    /// When the entry is not committed (the server unreachable, the connection lost): the caller
    /// must then not perform the step. A lost connection is opened afresh on the next append.
    pub async fn append(&self, new: NewEntry) -> Result<Entry, AuditError> {
        let details = canonical_details(&new.details)?;
        let (done, mut answer) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .map_err(|_| unwritable(&self.place, "the append queue was poisoned"))?
            .push(Queued { new, details, done });
        let mut writer = self.writer.lock().await;
        if let Ok(result) = answer.try_recv() {
            return result;
        }
        let batch = std::mem::take(
            &mut *self
                .queue
                .lock()
                .map_err(|_| unwritable(&self.place, "the append queue was poisoned"))?,
        );
        // A connection the server dropped (a restart, a network change) fails at `BEGIN`, before
        // anything was sent: then, and only then, one fresh connection is tried.
        let mut written = Err(Failure::NotBegun("no connection yet".to_owned()));
        for _ in 0..2 {
            if writer.is_none() {
                match PgConnection::connect_with(&self.options).await {
                    Ok(connection) => *writer = Some(connection),
                    Err(error) => {
                        written = Err(Failure::NotBegun(error.to_string()));
                        break;
                    }
                }
            }
            let Some(connection) = writer.as_mut() else {
                break;
            };
            written = write_batch(connection, &batch).await;
            match &written {
                Err(Failure::NotBegun(_)) => *writer = None,
                _ => break,
            }
        }
        let written = written.map_err(|failure| {
            // Whatever failed, the next append starts on a new connection.
            *writer = None;
            match failure {
                Failure::NotBegun(reason) | Failure::Uncertain(reason) => reason,
            }
        });
        match written {
            Ok(entries) => {
                for (queued, entry) in batch.into_iter().zip(entries) {
                    let _ = queued.done.send(Ok(entry));
                }
            }
            Err(reason) => {
                for queued in batch {
                    let _ = queued.done.send(Err(unwritable(&self.place, &reason)));
                }
            }
        }
        drop(writer);
        answer
            .await
            .map_err(|_| unwritable(&self.place, "the append was dropped before it was written"))?
    }

    async fn reader(&self) -> Result<PgConnection, AuditError> {
        PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| unwritable(&self.place, e))
    }

    /// The last sequence number and hash, if the log has entries.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn last(&self) -> Result<Option<(i64, String)>, AuditError> {
        let mut connection = self.reader().await?;
        sqlx::query_as("SELECT seq, entry_hash FROM team_audit_entries ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut connection)
            .await
            .map_err(|e| unwritable(&self.place, e))
    }

    /// Entries matching `filter`, oldest first.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn entries(&self, filter: &Filter) -> Result<Vec<Entry>, AuditError> {
        let (clause, binds) = filter.sql();
        let sql = format!(
            "SELECT {COLUMNS} FROM team_audit_entries {} ORDER BY seq",
            numbered(&clause, 1)
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let mut connection = self.reader().await?;
        let rows = query
            .fetch_all(&mut connection)
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| unwritable(&self.place, e))
    }

    /// The newest `limit` entries matching `filter`, newest first.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn latest(&self, filter: &Filter, limit: u32) -> Result<Vec<Entry>, AuditError> {
        let (clause, binds) = filter.sql();
        let sql = format!(
            "SELECT {COLUMNS} FROM team_audit_entries {} ORDER BY seq DESC LIMIT ${}",
            numbered(&clause, 1),
            binds.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        let mut connection = self.reader().await?;
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&mut connection)
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        rows.iter()
            .map(entry_from_row)
            .collect::<Result<_, _>>()
            .map_err(|e| unwritable(&self.place, e))
    }

    /// Streams the entries matching `filter` into `out` from one snapshot, after `before` is
    /// told how many there are (as the file log's export).
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
        let mut connection = self.reader().await?;
        let mut snapshot = connection
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        let (clause, binds) = filter.sql();
        let clause = numbered(&clause, 1);
        let count_sql = format!("SELECT count(*) FROM team_audit_entries {clause}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for bind in &binds {
            count = count.bind(bind);
        }
        let total = count
            .fetch_one(&mut *snapshot)
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        let total = u64::try_from(total).unwrap_or(0);
        before(total).await?;
        let sql = format!("SELECT {COLUMNS} FROM team_audit_entries {clause} ORDER BY seq");
        let mut query = sqlx::query(&sql);
        for bind in &binds {
            query = query.bind(bind);
        }
        let place = &self.place;
        let rows = query.fetch(&mut *snapshot).map(|row| {
            row.and_then(|row| entry_from_row(&row))
                .map_err(|e| unwritable(place, e))
        });
        let written = write_export(rows, format, out).await?;
        snapshot
            .rollback()
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        if written != total {
            return Err(unwritable(
                &self.place,
                format!("the export counted {total} entries and read {written}"),
            ));
        }
        Ok(written)
    }

    /// A value from the team log's metadata.
    ///
    /// # Errors
    /// When the log cannot be read.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, AuditError> {
        let mut connection = self.reader().await?;
        sqlx::query_scalar("SELECT value FROM team_audit_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut connection)
            .await
            .map_err(|e| unwritable(&self.place, e))
    }

    /// Sets a value in the team log's metadata (never an entry).
    ///
    /// # Errors
    /// When the log cannot be written.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), AuditError> {
        let mut connection = self.reader().await?;
        sqlx::query("INSERT INTO team_audit_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut connection)
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        Ok(())
    }

    /// Reads the whole chain from one consistent snapshot and returns its verdict, with the
    /// hashes of the entries numbered in `watch`: gap-free numbers from 1, each entry linked to
    /// the one stored before it, each hash recomputed from the entry's fields. The head row is
    /// not trusted; appends go on while it reads.
    pub(crate) async fn read_chain(
        &self,
        watch: &[i64],
    ) -> Result<(Verification, Vec<(i64, String)>), AuditError> {
        let mut connection = self.reader().await?;
        let mut snapshot = connection
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        let sql = format!("SELECT {COLUMNS} FROM team_audit_entries ORDER BY seq");
        let mut verification = Verification {
            entries: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            checkpoint_seq: None,
            problem: None,
        };
        let mut seen = Vec::new();
        {
            let mut rows = sqlx::query(&sql).fetch(&mut *snapshot);
            let mut expected = 1i64;
            while let Some(row) = rows
                .try_next()
                .await
                .map_err(|e| unwritable(&self.place, e))?
            {
                let entry = entry_from_row(&row).map_err(|e| unwritable(&self.place, e))?;
                if verification.problem.is_none() {
                    verification.problem = check(&entry, expected, &verification.last_hash);
                }
                if watch.contains(&entry.seq) {
                    seen.push((entry.seq, entry.entry_hash.clone()));
                }
                verification.entries += 1;
                verification.last_seq = entry.seq;
                expected = entry.seq + 1;
                verification.last_hash = entry.entry_hash;
            }
        }
        snapshot
            .rollback()
            .await
            .map_err(|e| unwritable(&self.place, e))?;
        Ok((verification, seen))
    }

    /// Where the log is, in words (`team database host:port/name`).
    pub fn place(&self) -> &str {
        &self.place
    }
}

/// The first problem with `entry`, expected to be number `expected` after an entry whose stored
/// hash is `prev`.
fn check(entry: &Entry, expected: i64, prev: &str) -> Option<Problem> {
    let problem = |what: String| {
        Some(Problem {
            seq: entry.seq,
            what,
        })
    };
    if entry.seq != expected {
        return problem(format!(
            "entry {} follows entry {}: entries are missing",
            entry.seq,
            expected - 1
        ));
    }
    if entry.prev_hash != prev {
        return problem(format!(
            "entry {} does not link to the entry before it: the log was changed",
            entry.seq
        ));
    }
    if entry_hash(&entry.prev_hash, entry) != entry.entry_hash {
        return problem(format!(
            "entry {} was changed after it was written",
            entry.seq
        ));
    }
    None
}

/// Why a batch was not written.
enum Failure {
    /// The transaction never began: nothing reached the server.
    NotBegun(String),
    /// It failed after it began: nothing or everything may be committed; the step is not run.
    Uncertain(String),
}

/// Writes queued appends in one transaction under the head row's lock, chained in order;
/// nothing is written unless all are.
async fn write_batch(
    connection: &mut PgConnection,
    batch: &[Queued],
) -> Result<Vec<Entry>, Failure> {
    let mut tx = connection
        .begin()
        .await
        .map_err(|e| Failure::NotBegun(e.to_string()))?;
    match write_in(&mut tx, batch).await {
        Ok(written) => {
            tx.commit()
                .await
                .map_err(|e| Failure::Uncertain(e.to_string()))?;
            Ok(written)
        }
        Err(error) => Err(Failure::Uncertain(error.to_string())),
    }
}

async fn write_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    batch: &[Queued],
) -> Result<Vec<Entry>, sqlx::Error> {
    let (head_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT seq, entry_hash FROM team_audit_head WHERE one FOR UPDATE")
            .fetch_one(&mut **tx)
            .await?;
    let mut seq = head_seq + 1;
    let mut prev_hash = head_hash;
    let mut written = Vec::with_capacity(batch.len());
    for queued in batch {
        let entry = chained_entry(seq, &prev_hash, &queued.new, &queued.details);
        let insert = format!(
            "INSERT INTO team_audit_entries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        bind_entry(sqlx::query(&insert), &entry)
            .execute(&mut **tx)
            .await?;
        seq += 1;
        prev_hash.clone_from(&entry.entry_hash);
        written.push(entry);
    }
    sqlx::query("UPDATE team_audit_head SET seq = $1, entry_hash = $2 WHERE one")
        .bind(seq - 1)
        .bind(&prev_hash)
        .execute(&mut **tx)
        .await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            super::numbered("WHERE at >= ? AND (actor_id = ? OR actor_name = ?)", 1),
            "WHERE at >= $1 AND (actor_id = $2 OR actor_name = $3)"
        );
        assert_eq!(super::numbered("", 1), "");
    }
}
