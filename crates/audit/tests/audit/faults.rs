//! Fail closed: when an entry cannot be durably written, `append` says so and writes nothing.
//! These tests mount small tmpfs filesystems, so they need root (the test command runs as root
//! in CI); without it they fail, loudly, rather than skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use countersign_audit::{Actor, AuditError, AuditLog, Event, NewEntry};
use sqlx::Connection as _;

use crate::support::{all, sample};

struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs failed: these fault-injection tests need root (run scripts/test.sh as root)"
        );
        Mount(dir.to_path_buf())
    }

    fn read_only(&self) {
        let status = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remounting read-only failed");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_filesystem_refuses_the_append_and_keeps_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let _mount = Mount::tmpfs(dir.path(), "384k");
    let log = AuditLog::open(&dir.path().join("audit.db")).await.unwrap();
    let big = "x".repeat(16 * 1024);
    let mut acknowledged = Vec::new();
    let error = loop {
        let entry = NewEntry::new(Actor::app(), Event::SettingsChanged)
            .details(serde_json::json!({ "blob": big }));
        match log.append(entry).await {
            Ok(entry) => acknowledged.push(entry.seq),
            Err(error) => break error,
        }
        assert!(
            acknowledged.len() < 1000,
            "the small filesystem never filled up"
        );
    };
    assert!(matches!(error, AuditError::Unwritable { .. }), "{error}");
    assert!(error.to_string().contains("nothing will run"), "{error}");
    assert!(!acknowledged.is_empty());
    let entries = all(&log).await;
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        acknowledged,
        "every acknowledged entry, and nothing else"
    );
    assert!(log.verify(None, None, None).await.unwrap().intact());
}

/// Marks files immutable (`chattr +i`), which even root cannot write through an open descriptor.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(files: &[PathBuf]) -> Immutable {
        for file in files {
            let status = Command::new("chattr")
                .arg("+i")
                .arg(file)
                .status()
                .expect("running chattr");
            assert!(
                status.success(),
                "chattr +i {} failed: this fault-injection test needs root and a filesystem with file attributes",
                file.display()
            );
        }
        Immutable(files.to_vec())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(file).status();
        }
    }
}

#[tokio::test]
async fn a_read_only_log_file_refuses_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open(&path).await.unwrap();
    for i in 0..3 {
        log.append(sample(i)).await.unwrap();
    }
    let _immutable = Immutable::set(&[path.clone(), dir.path().join("audit.db-wal")]);
    let error = log.append(sample(3)).await.unwrap_err();
    assert!(matches!(error, AuditError::Unwritable { .. }), "{error}");
    assert_eq!(
        all(&log).await.len(),
        3,
        "the refused entry left nothing behind"
    );
}

#[tokio::test]
async fn a_read_only_filesystem_refuses_to_open_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mount = Mount::tmpfs(dir.path(), "4m");
    mount.read_only();
    let error = AuditLog::open(&dir.path().join("audit.db"))
        .await
        .err()
        .expect("opening must fail");
    assert!(matches!(error, AuditError::Unwritable { .. }), "{error}");
}

#[tokio::test]
async fn a_removed_log_file_refuses_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open(&path).await.unwrap();
    log.append(sample(0)).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    let error = log.append(sample(1)).await.unwrap_err();
    assert!(matches!(error, AuditError::FileReplaced { .. }), "{error}");
}

#[tokio::test]
async fn a_lock_held_too_long_refuses_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open_with(&path, Duration::from_millis(300))
        .await
        .unwrap();
    log.append(sample(0)).await.unwrap();
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let error = log.append(sample(1)).await.unwrap_err();
    assert!(matches!(error, AuditError::Unwritable { .. }), "{error}");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    assert_eq!(log.append(sample(1)).await.unwrap().seq, 2);
}
