//! Reading the whole chain for [`crate::AuditLog::verify`], as fast as the disk allows.
//!
//! Every entry's check needs only its own row and the state left by the row before it (the
//! next expected number and the previous stored hash: the chain continues from what is stored,
//! so one altered entry is named once). That state can be rebuilt from the single row before
//! any point, so a long log is cut into consecutive ranges of sequence numbers, each read and
//! hashed on its own thread over its own read-only connection, and the verdicts are joined in
//! order: the first problem of the first range that has one is the first problem of the log.
//! Memory stays flat: each range streams its rows, borrowed from SQLite, without copying them.

use std::path::Path;

use rusqlite::types::ValueRef;

use crate::chain::{Fields, chained, decode_hex, hex_into, leaf_hash_with};
use crate::entry::ActorKind;
use crate::error::AuditError;
use crate::log::{Problem, Verification};

const COLUMNS: &str = "seq, at, actor_kind, actor_id, actor_name, event, proposal_id, artifact_sha256, credential, outcome, details, prev_hash, entry_hash";

/// Below this many entries one thread is quicker than starting more.
const PARALLEL_FROM: i64 = 20_000;

/// At most this many ranges are read at once.
const MAX_RANGES: usize = 8;

fn unreadable(path: &Path, error: impl std::fmt::Display) -> AuditError {
    AuditError::Unwritable {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

/// Where the chain stands after an entry: what the next one must be and link to.
#[derive(Clone, Copy)]
struct State {
    expected_seq: i64,
    /// The previous entry's stored hash, as bytes and as the lowercase hex `prev_hash` holds.
    prev: [u8; 32],
    prev_hex: [u8; 64],
    /// Whether the previous entry's hash could be read at all.
    prev_readable: bool,
}

impl State {
    const GENESIS: State = State {
        expected_seq: 1,
        prev: [0u8; 32],
        prev_hex: [b'0'; 64],
        prev_readable: true,
    };
}

/// What one range of the log showed.
struct Range {
    entries: u64,
    problem: Option<Problem>,
    seen: Vec<(i64, String)>,
    end: State,
}

/// Checks one row against `state`, returning the first problem with it and moving `state` on.
/// The state it leaves depends only on the row, never on the state before it.
fn step(
    row: &rusqlite::Row<'_>,
    state: &mut State,
    want_problem: bool,
    encoding: &mut Vec<u8>,
) -> Option<Problem> {
    // Borrowed straight from SQLite's row: no field is copied (verification reads every entry
    // of the log, so per-entry allocations set its speed).
    let text = |i: usize| -> Result<Option<&[u8]>, ()> {
        match row.get_ref(i) {
            Ok(ValueRef::Null) => Ok(None),
            Ok(ValueRef::Text(bytes)) => Ok(Some(bytes)),
            _ => Err(()),
        }
    };
    let required = |i: usize| text(i).and_then(|v| v.ok_or(()));
    let seq = row.get::<_, i64>(0).unwrap_or(state.expected_seq);
    let decoded = (|| {
        let fields = Fields {
            seq,
            at: required(1)?,
            actor_kind: required(2)?,
            actor_id: required(3)?,
            actor_name: required(4)?,
            event: required(5)?,
            proposal_id: text(6)?,
            artifact_sha256: text(7)?,
            credential: text(8)?,
            outcome: text(9)?,
            details: required(10)?,
        };
        Ok::<_, ()>((fields, required(11)?, required(12)?))
    })();
    let mut problem = None;
    match decoded {
        Ok((fields, stored_prev, stored_hash)) => {
            if want_problem {
                let computed = chained(&state.prev, &leaf_hash_with(&fields, encoding));
                let mut computed_hex = [0u8; 64];
                hex_into(&computed, &mut computed_hex);
                problem = check_fields(
                    &fields,
                    state.expected_seq,
                    state.prev_readable && stored_prev == state.prev_hex.as_slice(),
                    stored_hash == computed_hex.as_slice(),
                );
            }
            // The chain continues from what is stored, so one altered entry is named once.
            match decode_hex(stored_hash) {
                Some(bytes) => {
                    state.prev = bytes;
                    // Stored hashes are compared as lowercase hex; an uppercase one was
                    // already reported as not matching its contents.
                    state.prev_hex.copy_from_slice(&stored_hash[..64]);
                    state.prev_readable = true;
                }
                None => state.prev_readable = false,
            }
        }
        Err(()) => {
            // A value of the wrong type (a number or bytes where text belongs): an altered entry.
            if want_problem {
                problem = Some(Problem {
                    seq,
                    what: format!("entry {seq} was altered: it holds data that cannot be read"),
                });
            }
            state.prev_readable = false;
        }
    }
    state.expected_seq = seq + 1;
    problem
}

fn open(path: &Path) -> Result<rusqlite::Connection, AuditError> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unreadable(path, e))?;
    // Pages mapped, not copied through read(): each range reads its part of the file once,
    // straight from the page cache. Best effort: without it SQLite reads as usual.
    if let Err(error) = connection.pragma_update(None, "mmap_size", 1_i64 << 30) {
        tracing::debug!(%error, "memory-mapped reading is not available; reading as usual");
    }
    Ok(connection)
}

/// Reads the entries with `after < seq <= upto` (no lower bound for the first range), starting
/// from the state the entry at or before `after` leaves.
fn read_range(
    path: &Path,
    watch: &[i64],
    after: Option<i64>,
    upto: i64,
) -> Result<Range, AuditError> {
    let connection = open(path)?;
    let mut state = State::GENESIS;
    if let Some(after) = after {
        let mut before = connection
            .prepare(&format!(
                "SELECT {COLUMNS} FROM audit_entries WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1"
            ))
            .map_err(|e| unreadable(path, e))?;
        let mut rows = before.query([after]).map_err(|e| unreadable(path, e))?;
        if let Some(row) = rows.next().map_err(|e| unreadable(path, e))? {
            // Its own problems belong to the range before; only the state it leaves is needed.
            step(row, &mut state, false, &mut Vec::new());
        }
    }
    let (sql, bounds) = match after {
        Some(after) => (
            format!(
                "SELECT {COLUMNS} FROM audit_entries WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
            ),
            vec![after, upto],
        ),
        None => (
            format!("SELECT {COLUMNS} FROM audit_entries WHERE seq <= ?1 ORDER BY seq"),
            vec![upto],
        ),
    };
    let mut statement = connection.prepare(&sql).map_err(|e| unreadable(path, e))?;
    let mut rows = statement
        .query(rusqlite::params_from_iter(bounds))
        .map_err(|e| unreadable(path, e))?;
    let mut range = Range {
        entries: 0,
        problem: None,
        seen: Vec::new(),
        end: state,
    };
    let mut encoding = Vec::with_capacity(1024);
    while let Some(row) = rows.next().map_err(|e| unreadable(path, e))? {
        range.entries += 1;
        let want = range.problem.is_none();
        let problem = step(row, &mut range.end, want, &mut encoding);
        if want {
            range.problem = problem;
        }
        let seq = range.end.expected_seq - 1;
        if watch.contains(&seq)
            && let Ok(ValueRef::Text(hash)) = row.get_ref(12)
        {
            range
                .seen
                .push((seq, String::from_utf8_lossy(hash).into_owned()));
        }
    }
    Ok(range)
}

/// Reads every entry in order, checking numbering, links and hashes; returns the verdict and
/// the stored hashes of the watched sequence numbers.
pub(crate) fn read_chain(
    path: &Path,
    watch: &[i64],
) -> Result<(Verification, Vec<(i64, String)>), AuditError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_RANGES);
    read_chain_in(path, watch, threads, PARALLEL_FROM)
}

/// [`read_chain`] in at most `threads` ranges, once the log holds `parallel_from` entries.
fn read_chain_in(
    path: &Path,
    watch: &[i64],
    threads: usize,
    parallel_from: i64,
) -> Result<(Verification, Vec<(i64, String)>), AuditError> {
    // The entries there are now; entries appended by another process while the ranges are read
    // are not part of this verdict.
    let last: i64 = open(path)?
        .query_row(
            "SELECT coalesce(max(seq), 0) FROM audit_entries",
            [],
            |row| row.get(0),
        )
        .map_err(|e| unreadable(path, e))?;
    let count = if last < parallel_from {
        1
    } else {
        threads.max(1)
    };
    let step_size = last / i64::try_from(count).unwrap_or(1);
    // Range i holds the entries after bounds[i] up to bounds[i + 1]; the last runs to `last`
    // (and the first has no lower bound, so entries numbered below 1 are read too).
    let bounds: Vec<i64> = (0..count)
        .map(|i| i64::try_from(i).unwrap_or(0) * step_size)
        .chain([last])
        .collect();
    let ranges: Vec<Result<Range, AuditError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let (after, upto) = ((i > 0).then_some(pair[0]), pair[1]);
                scope.spawn(move || read_range(path, watch, after, upto))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(unreadable(path, "a verification thread stopped")))
            })
            .collect()
    });
    let mut verification = Verification {
        entries: 0,
        last_seq: 0,
        last_hash: String::new(),
        checkpoint_seq: None,
        problem: None,
    };
    let mut seen = Vec::new();
    let mut end = State::GENESIS;
    for range in ranges {
        let range = range?;
        verification.entries += range.entries;
        if verification.problem.is_none() {
            verification.problem = range.problem;
        }
        seen.extend(range.seen);
        end = range.end;
    }
    verification.last_seq = end.expected_seq - 1;
    verification.last_hash = if verification.entries == 0 {
        crate::chain::GENESIS_HASH.to_owned()
    } else if end.prev_readable {
        String::from_utf8_lossy(&end.prev_hex).into_owned()
    } else {
        String::new()
    };
    Ok((verification, seen))
}

/// The first problem with one entry read in order: its number, its link, its kind, its hash.
fn check_fields(
    fields: &Fields<'_>,
    expected_seq: i64,
    links: bool,
    hash_matches: bool,
) -> Option<Problem> {
    if fields.seq != expected_seq {
        let what = if fields.seq > expected_seq {
            format!(
                "entry {expected_seq} is missing: the log jumps from {} to {}",
                expected_seq - 1,
                fields.seq
            )
        } else {
            format!(
                "entry {} appears out of order after entry {}",
                fields.seq,
                expected_seq - 1
            )
        };
        return Some(Problem {
            seq: expected_seq,
            what,
        });
    }
    if !links {
        return Some(Problem {
            seq: fields.seq,
            what: format!(
                "entry {} does not follow entry {}: entries were removed, inserted or reordered",
                fields.seq,
                fields.seq - 1
            ),
        });
    }
    let kind_ok = std::str::from_utf8(fields.actor_kind)
        .ok()
        .and_then(ActorKind::parse)
        .is_some_and(|k| k.as_str().as_bytes() == fields.actor_kind);
    if !kind_ok || !hash_matches {
        return Some(Problem {
            seq: fields.seq,
            what: format!(
                "entry {} was altered: its contents no longer match its hash",
                fields.seq
            ),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditLog, Event, NewEntry};

    const ENTRIES: i64 = 23;

    /// Every way of going around the triggers, at every position: the verdict read in ranges is
    /// the verdict read in one pass, however many ranges (including ranges cut right before or
    /// after the altered entry, and more ranges than entries).
    #[tokio::test]
    async fn reading_in_ranges_gives_the_verdict_of_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("original.db");
        {
            let log = AuditLog::open(&original).await.unwrap();
            for i in 0..ENTRIES {
                let entry = NewEntry::new(crate::Actor::agent("claude"), Event::ProposalReceived)
                    .details(serde_json::json!({ "n": i }));
                log.append(entry).await.unwrap();
            }
        }
        // Everything into the main file, so a copy of it is the whole log.
        rusqlite::Connection::open(&original)
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let tamperings: Vec<Box<dyn Fn(i64) -> String>> = vec![
            Box::new(|_| String::new()),
            Box::new(|k| {
                format!("UPDATE audit_entries SET details = '{{\"n\":99}}' WHERE seq = {k}")
            }),
            Box::new(|k| format!("DELETE FROM audit_entries WHERE seq = {k}")),
            Box::new(|k| {
                format!("UPDATE audit_entries SET prev_hash = entry_hash WHERE seq = {k}")
            }),
            Box::new(|k| {
                format!("UPDATE audit_entries SET entry_hash = upper(entry_hash) WHERE seq = {k}")
            }),
            Box::new(|k| format!("UPDATE audit_entries SET entry_hash = 'x' WHERE seq = {k}")),
            Box::new(|k| format!("UPDATE audit_entries SET details = X'FF00' WHERE seq = {k}")),
            Box::new(|k| format!("UPDATE audit_entries SET actor_kind = 'Agent' WHERE seq = {k}")),
            Box::new(|k| format!("UPDATE audit_entries SET seq = seq + 100 WHERE seq = {k}")),
            Box::new(|k| format!("UPDATE audit_entries SET seq = -seq WHERE seq = {k}")),
        ];
        for (t, tamper) in tamperings.iter().enumerate() {
            for k in 1..=ENTRIES {
                let path = dir.path().join(format!("t{t}-{k}.db"));
                std::fs::copy(&original, &path).unwrap();
                {
                    let connection = rusqlite::Connection::open(&path).unwrap();
                    connection
                        .execute_batch(
                            "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;",
                        )
                        .unwrap();
                    let sql = tamper(k);
                    if !sql.is_empty() {
                        connection.execute_batch(&sql).unwrap();
                    }
                }
                let watch = [k, ENTRIES];
                let one = read_chain_in(&path, &watch, 1, 0).unwrap();
                for threads in [2, 3, 7, 24] {
                    let ranges = read_chain_in(&path, &watch, threads, 0).unwrap();
                    assert_eq!(ranges, one, "tampering {t} at {k}, {threads} ranges");
                }
                if t == 0 {
                    assert!(one.0.problem.is_none());
                    assert_eq!(one.0.entries, u64::try_from(ENTRIES).unwrap());
                } else if !(t == 2 && k == ENTRIES) {
                    // (Deleting the last entry leaves a valid, shorter chain: only a checkpoint
                    // reveals it.)
                    assert!(
                        one.0.problem.is_some(),
                        "tampering {t} at {k} went unnoticed"
                    );
                }
            }
        }
    }
}
