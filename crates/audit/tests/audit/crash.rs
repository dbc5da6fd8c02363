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
