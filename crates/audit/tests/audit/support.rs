//! Building logs and tampering with them as an attacker with file access would.

use std::path::{Path, PathBuf};

use countersign_audit::{Actor, AuditLog, Entry, Event, Filter, NewEntry, entry_hash};
use sqlx::{Connection as _, SqliteConnection};

pub struct TestLog {
    pub dir: tempfile::TempDir,
    pub log: AuditLog,
}

impl TestLog {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("audit.db")
    }
}

pub fn sample(i: usize) -> NewEntry {
    let events = [
        Event::ProposalReceived,
        Event::ProposalViewed,
        Event::DecisionApproved,
        Event::ExecutionStarted,
        Event::ExecutionSucceeded,
        Event::ResultReleased,
    ];
    let mut entry = NewEntry::new(
        if i.is_multiple_of(3) {
            Actor::agent("claude")
        } else {
            Actor::person("alice")
        },
        events[i % events.len()],
    )
    .details(serde_json::json!({ "purpose": format!("step {i}"), "n": i }));
    entry.proposal_id = Some(format!("prop-{}", i / 6));
    if i.is_multiple_of(2) {
        entry.credential = Some("acme-bank".into());
        entry.outcome = Some("succeeded".into());
        entry.artifact_sha256 = Some(format!("{i:064x}"));
    }
    entry
}

pub async fn log_with(entries: usize) -> TestLog {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&dir.path().join("audit.db")).await.unwrap();
    for i in 0..entries {
        log.append(sample(i)).await.unwrap();
    }
    TestLog { dir, log }
}

/// A raw connection with the append-only triggers dropped, as an attacker would.
pub async fn attacker(path: &Path) -> SqliteConnection {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER IF EXISTS audit_entries_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

pub async fn all(log: &AuditLog) -> Vec<Entry> {
    log.entries(&Filter::default()).await.unwrap()
}

/// Rewrites entry `seq` and every later entry with recomputed hashes: a self-consistent forgery.
pub async fn forge_from(path: &Path, log: &AuditLog, seq: i64, new_details: &str) {
    let mut entries = all(log).await;
    let mut conn = attacker(path).await;
    let mut prev = None;
    for entry in entries.iter_mut() {
        if entry.seq < seq {
            prev = Some(entry.entry_hash.clone());
            continue;
        }
        if entry.seq == seq {
            entry.details = new_details.to_owned();
        }
        if let Some(p) = &prev {
            entry.prev_hash = p.clone();
        }
        entry.entry_hash = entry_hash(&entry.prev_hash, entry);
        sqlx::query(
            "UPDATE audit_entries SET details = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?",
        )
        .bind(&entry.details)
        .bind(&entry.prev_hash)
        .bind(&entry.entry_hash)
        .bind(entry.seq)
        .execute(&mut conn)
        .await
        .unwrap();
        prev = Some(entry.entry_hash.clone());
    }
}
