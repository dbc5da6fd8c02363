//! `kill -9` between an append and the next step loses nothing that was acknowledged, and
//! several processes appending at once keep one intact chain.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use countersign_audit::AuditLog;

use crate::support::all;

fn helper() -> PathBuf {
    // Examples are built next to the test binary's directory: target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let helper = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("append_forever");
    assert!(
        helper.is_file(),
        "{} is missing: cargo test builds examples; run through cargo test",
        helper.display()
    );
    helper
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    for round in 0..3 {
        let mut child = Command::new(helper())
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acknowledged = Vec::new();
        // Let it get well into its loop, then kill it mid-stream.
        for _ in 0..(20 + round * 15) {
            acknowledged.push(lines.next().unwrap().unwrap().parse::<i64>().unwrap());
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Read whatever else it acknowledged before dying.
        for line in lines.map_while(Result::ok) {
            acknowledged.push(line.parse().unwrap());
        }
        let log = AuditLog::open(&path).await.unwrap();
        let verdict = log.verify(None, None, None).await.unwrap();
        assert!(verdict.intact(), "round {round}: {verdict:?}");
        let stored: Vec<i64> = all(&log).await.iter().map(|e| e.seq).collect();
        for seq in &acknowledged {
            assert!(
                stored.contains(seq),
                "round {round}: acknowledged entry {seq} is gone"
            );
        }
    }
}

#[tokio::test]
async fn several_processes_appending_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    // Create the file first so the writers do not race to create the schema.
    drop(AuditLog::open(&path).await.unwrap());
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(helper())
                .arg(&path)
                .arg("40")
                .arg(format!("agent-{i}"))
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let log = AuditLog::open(&path).await.unwrap();
    let verdict = log.verify(None, None, None).await.unwrap();
    assert!(verdict.intact(), "{verdict:?}");
    assert_eq!(verdict.entries, 160);
}

/// Group commit: many tasks appending at once each get back their own durable entry, the chain
/// holds, and the sequence has no gap or repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_committed_together_and_stay_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(
        countersign_audit::AuditLog::open(&dir.path().join("audit.db"))
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for task in 0..8 {
        let log = std::sync::Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..25 {
                let entry = log
                    .append(crate::support::sample(task * 100 + i))
                    .await
                    .unwrap();
                mine.push((entry.seq, task * 100 + i));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let seqs: Vec<i64> = all.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<i64>>());
    let stored = log
        .entries(&countersign_audit::Filter::default())
        .await
        .unwrap();
    for (seq, n) in &all {
        let entry = &stored[usize::try_from(*seq - 1).unwrap()];
        assert!(
            entry.details.contains(&format!("\"n\":{n}")),
            "entry {seq} is the one its caller was given"
        );
    }
    assert!(log.verify(None, None, None).await.unwrap().intact());
}

/// An export streams from a snapshot: entries appended while it is being written are not in it,
/// the count recorded beforehand is the count written, and the text is what `write` gives.
#[tokio::test]
async fn exports_stream_a_snapshot_while_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = countersign_audit::AuditLog::open(&dir.path().join("audit.db"))
        .await
        .unwrap();
    for i in 0..10 {
        log.append(crate::support::sample(i)).await.unwrap();
    }
    let mut out = Vec::new();
    let counted = std::sync::Mutex::new(None);
    let written = log
        .export_to(
            &countersign_audit::Filter::default(),
            countersign_audit::ExportFormat::Json,
            &mut out,
            |n| {
                *counted.lock().unwrap() = Some(n);
                // The caller records the export here; that entry is after the snapshot.
                let log = &log;
                async move { log.append(crate::support::sample(99)).await.map(|_| ()) }
            },
        )
        .await
        .unwrap();
    assert_eq!(written, 10);
    assert_eq!(*counted.lock().unwrap(), Some(10));
    let first_ten: Vec<_> = log
        .entries(&countersign_audit::Filter::default())
        .await
        .unwrap()
        .into_iter()
        .take(10)
        .collect();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        countersign_audit::ExportFormat::Json.write(&first_ten)
    );
}
