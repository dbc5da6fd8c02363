//! Durable appends per second against the raw fsync rate of the same disk, and verification in
//! entries per second against plain SHA-256 over the same bytes, each measured in the same run
//! (design.md §17: appends within 2× of fsync, i.e. a ratio ≥ 0.5; verify ≥ 500,000 entries/s).
//!
//! `cargo bench -p countersign-audit --bench audit` (add `-- --quick` for a short run). Numbers
//! are printed, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::time::Instant;

use countersign_audit::{Actor, AuditLog, Entry, Event, GENESIS_HASH, NewEntry, entry_hash};
use sha2::{Digest, Sha256};
use sqlx::Connection as _;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let appends = if quick { 200 } else { 2_000 };
    let verify_entries: i64 = if quick { 50_000 } else { 1_000_000 };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();

    // Raw fsync rate: append a small record to a file and fsync it, as a commit must.
    let mut file = std::fs::File::create(dir.path().join("fsync-probe")).unwrap();
    let start = Instant::now();
    for i in 0..appends {
        writeln!(file, "record {i:>200}").unwrap();
        file.sync_all().unwrap();
    }
    let fsync_rate = f64::from(appends) / start.elapsed().as_secs_f64();

    let log = AuditLog::open(&dir.path().join("audit.db")).await.unwrap();
    let start = Instant::now();
    for i in 0..appends {
        log.append(
            NewEntry::new(Actor::person("alice"), Event::DecisionApproved)
                .details(serde_json::json!({ "n": i })),
        )
        .await
        .unwrap();
    }
    let append_rate = f64::from(appends) / start.elapsed().as_secs_f64();

    // Eight submitters at once, as the connector's agents are: group commit writes what queued
    // up during one fsync with the next (design.md §17: ≥ 3× one-at-a-time).
    let shared = std::sync::Arc::new(log);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..8u32 {
        let shared = std::sync::Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            for i in 0..appends / 8 {
                shared
                    .append(
                        NewEntry::new(Actor::agent("bench"), Event::ProposalReceived)
                            .details(serde_json::json!({ "task": task, "n": i })),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let concurrent_rate = f64::from(appends / 8 * 8) / start.elapsed().as_secs_f64();

    // A large log for verification, written in one transaction (the chain is computed the same
    // way; only the fsync per entry is skipped, since this measures reading).
    let path = dir.path().join("large.db");
    drop(AuditLog::open(&path).await.unwrap());
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    let mut prev = GENESIS_HASH.to_owned();
    let mut bytes_per_entry = Vec::new();
    for seq in 1..=verify_entries {
        let mut entry = Entry {
            seq,
            at: format!(
                "2026-11-26T10:{:02}:{:02}.{:06}Z",
                (seq / 60) % 60,
                seq % 60,
                seq % 1_000_000
            ),
            actor: Actor::agent("claude"),
            event: "proposal.received".into(),
            proposal_id: Some(format!("prop-{seq}")),
            artifact_sha256: Some(format!("{seq:064x}")),
            credential: Some("acme-bank".into()),
            outcome: None,
            details: format!(r#"{{"purpose":"bench {seq}"}}"#),
            prev_hash: prev.clone(),
            entry_hash: String::new(),
        };
        entry.entry_hash = entry_hash(&prev, &entry);
        sqlx::query("INSERT INTO audit_entries (seq, at, actor_kind, actor_id, actor_name, event, proposal_id, artifact_sha256, credential, outcome, details, prev_hash, entry_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
            .bind(entry.seq).bind(&entry.at).bind("agent").bind(&entry.actor.id).bind(&entry.actor.name)
            .bind(&entry.event).bind(&entry.proposal_id).bind(&entry.artifact_sha256).bind(&entry.credential)
            .bind(&entry.outcome).bind(&entry.details).bind(&entry.prev_hash).bind(&entry.entry_hash)
            .execute(&mut *tx).await.unwrap();
        if bytes_per_entry.len() < 1000 {
            bytes_per_entry.push(countersign_audit::leaf_encoding(&entry));
        }
        prev = entry.entry_hash;
    }
    tx.commit().await.unwrap();
    drop(conn);

    // The floor under verification: SQLite alone stepping through the same rows on one thread,
    // touching every column, hashing nothing.
    let sqlite_rate = {
        let connection = rusqlite::Connection::open(&path).unwrap();
        let start = Instant::now();
        let mut statement = connection
            .prepare("SELECT seq, at, actor_kind, actor_id, actor_name, event, proposal_id, artifact_sha256, credential, outcome, details, prev_hash, entry_hash FROM audit_entries ORDER BY seq")
            .unwrap();
        let mut rows = statement.query([]).unwrap();
        let mut bytes = 0usize;
        while let Some(row) = rows.next().unwrap() {
            for i in 0..13 {
                if let Ok(rusqlite::types::ValueRef::Text(text)) = row.get_ref(i) {
                    bytes += text.len();
                }
            }
        }
        std::hint::black_box(bytes);
        verify_entries as f64 / start.elapsed().as_secs_f64()
    };

    let large = AuditLog::open(&path).await.unwrap();
    let start = Instant::now();
    let verdict = large.verify(None, None, None).await.unwrap();
    let verify_rate = verdict.entries as f64 / start.elapsed().as_secs_f64();
    assert!(verdict.intact());

    // Export, streamed from a snapshot, against reading every entry into memory first (the
    // old way): throughput and how much the resident set grows, the peak reset before each.
    let export_path = dir.path().join("export.csv");
    let rss_before = memory_kb("VmRSS");
    reset_peak();
    let start = Instant::now();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&export_path).unwrap());
    let exported = large
        .export_to(
            &countersign_audit::Filter::default(),
            countersign_audit::ExportFormat::Csv,
            &mut file,
            |_| async { Ok(()) },
        )
        .await
        .unwrap();
    let export_rate = exported as f64 / start.elapsed().as_secs_f64();
    let streamed_growth = memory_kb("VmHWM").saturating_sub(rss_before);
    drop(file);
    let rss_before = memory_kb("VmRSS");
    reset_peak();
    let all = large
        .entries(&countersign_audit::Filter::default())
        .await
        .unwrap();
    let text = countersign_audit::ExportFormat::Csv.write(&all);
    let loaded_growth = memory_kb("VmHWM").saturating_sub(rss_before);
    std::hint::black_box(text.len());
    drop(all);

    // Baseline: SHA-256 over the same bytes (each entry's leaf encoding, then the node), in memory.
    let start = Instant::now();
    let mut digest = [0u8; 32];
    for i in 0..verify_entries {
        let bytes = bytes_per_entry[usize::try_from(i).unwrap() % bytes_per_entry.len()].as_slice();
        let leaf: [u8; 32] = Sha256::new().chain_update(bytes).finalize().into();
        digest = Sha256::new()
            .chain_update(digest)
            .chain_update(leaf)
            .finalize()
            .into();
    }
    std::hint::black_box(digest);
    let sha_rate = verify_entries as f64 / start.elapsed().as_secs_f64();

    println!(
        "audit benchmark ({} durable appends, {} entries verified)",
        appends, verdict.entries
    );
    println!("  raw fsync (same disk):        {fsync_rate:>12.0} /s");
    println!("  durable audit appends:        {append_rate:>12.0} /s");
    println!(
        "  ratio append/fsync:           {:>12.3}   (target ≥ 0.5)",
        append_rate / fsync_rate
    );
    println!("  8 concurrent submitters:      {concurrent_rate:>12.0} /s");
    println!(
        "  ratio concurrent/one at a time: {:>10.2}   (target ≥ 3, group commit)",
        concurrent_rate / append_rate
    );
    println!("  export, streamed:             {export_rate:>12.0} entries/s");
    println!(
        "  memory growth: streamed {:.1} MB, all read first {:.1} MB   (ratio {:.3}; flat means small and not growing with entries)",
        streamed_growth as f64 / 1024.0,
        loaded_growth as f64 / 1024.0,
        streamed_growth as f64 / (loaded_growth.max(1)) as f64
    );
    println!("  plain SHA-256, same bytes:    {sha_rate:>12.0} entries/s");
    println!(
        "  SQLite reading the rows only: {sqlite_rate:>12.0} entries/s   (one thread, no hashing)"
    );
    println!(
        "  verification:                 {verify_rate:>12.0} entries/s   (target ≥ 500,000; {} threads)",
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(8)
    );
    println!(
        "  ratio verify/SHA-256:         {:>12.3}",
        verify_rate / sha_rate
    );
}

/// A memory figure of this process from `/proc/self/status`, in kB (0 where unknown).
fn memory_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().trim_end_matches(" kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

/// Resets the peak resident set (Linux: `5` in `clear_refs`), so the next peak is this step's.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
