//! Keeping a person's records safe (issue 17): one backup file of a data home, and restoring it
//! into a new data home on another computer.
//!
//! A backup is one SQLite file (`files(path, bytes)` and `meta(key, value)`): a consistent copy of
//! each store (`VACUUM INTO`, safe while the app runs), the settings, the public key and the
//! checkpoints and reports, and a checkpoint signed just before the copy. Secrets never go in:
//! they stay in the keychain they were typed into, and after a restore each credential is listed
//! as needing its secret typed again.
//!
//! **Invariant**: nothing deletes an audit entry. A restore goes only into a data home with no
//! log of its own; the log restored is verified against the backup's signed checkpoint before
//! anything is added, and then continues with `backup.restored`. The old signing key's public
//! half is kept beside the checkpoints (a new key is made for this computer at the next
//! checkpoint).

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use countersign_audit::{Actor, Event, NewEntry};
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;

/// The backup format this release writes and reads.
const FORMAT: &str = "countersign-backup-1";

/// The stores copied, by file name in the data home.
const STORES: [&str; 4] = ["audit.db", "proposals.db", "vault.db", "grants.db"];

/// The folders copied whole (their files, not their subfolders).
const FOLDERS: [&str; 3] = ["checkpoints", "reports", "descriptors"];

/// Single files copied when present.
const FILES: [&str; 2] = ["settings.json", "audit.pub"];

/// What a backup held, as `restore` reports it.
#[derive(Debug)]
pub struct Restored {
    /// How many audit entries the restored log holds (with `backup.restored`).
    pub entries: u64,
    /// The names of the credentials whose secret must be typed again on this computer.
    pub needing_their_secret: Vec<String>,
}

fn file_error(what: &'static str, path: &Path, error: impl std::fmt::Display) -> AppError {
    AppError::file(what, path, error)
}

async fn open_container(path: &Path, create: bool) -> Result<SqliteConnection, AppError> {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|e| file_error("opening", path, e))?
        .filename(path)
        .create_if_missing(create)
        .read_only(!create);
    SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| file_error("opening", path, e))
}

/// Writes a backup of `home` to `out` and records `backup.made` (before the copy, so the backup
/// holds its own entry and the checkpoint covers it).
///
/// # Errors
/// On a team desk (the team's records are backed up with the database's own tools), when the log
/// or a file cannot be read, or `out` cannot be written.
pub async fn backup(home: &DataHome, audit: &Audit, out: &Path) -> Result<u64, AppError> {
    if crate::team::TeamConfig::read(home)?.is_some() {
        return Err(AppError::NotAllowed(
            "this desk is in a team: its records are in the team's PostgreSQL database, backed up with PostgreSQL's own tools (pg_dump, replication)".into(),
        ));
    }
    if out.exists() {
        return Err(AppError::NotAllowed(format!(
            "{} already exists; choose a new file name",
            out.display()
        )));
    }
    audit
        .record(
            NewEntry::new(audit.actor().clone(), Event::BackupMade)
                .details(serde_json::json!({ "file": out.display().to_string() })),
        )
        .await?;
    std::fs::create_dir_all(home.checkpoints())
        .map_err(|e| file_error("creating", &home.checkpoints(), e))?;
    let checkpoint_path = home.checkpoints().join(format!(
        "backup-{}.json",
        time::OffsetDateTime::now_utc().unix_timestamp()
    ));
    let checkpoint = audit.checkpoint(&checkpoint_path).await?;

    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let _ = std::fs::remove_file(&partial);
    let mut container = open_container(&partial, true).await?;
    let fail = |e: sqlx::Error| file_error("writing", &partial, e);
    sqlx::query("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        .execute(&mut container)
        .await
        .map_err(fail)?;
    sqlx::query("CREATE TABLE files (path TEXT PRIMARY KEY, bytes BLOB NOT NULL)")
        .execute(&mut container)
        .await
        .map_err(fail)?;
    for (key, value) in [
        ("format", FORMAT.to_owned()),
        ("made_at", crate::store::now_text()),
        ("checkpoint", checkpoint.to_json()),
        ("version", env!("CARGO_PKG_VERSION").to_owned()),
    ] {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?)")
            .bind(key)
            .bind(value)
            .execute(&mut container)
            .await
            .map_err(fail)?;
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for name in STORES {
        let source = home.root().join(name);
        if !source.exists() {
            continue;
        }
        // A consistent copy, whatever the app is writing meanwhile.
        let copy = PathBuf::from(format!("{}.{name}", partial.display()));
        let _ = std::fs::remove_file(&copy);
        let mut connection = open_container(&source, false).await?;
        sqlx::query("VACUUM INTO ?")
            .bind(copy.display().to_string())
            .execute(&mut connection)
            .await
            .map_err(|e| file_error("copying", &source, e))?;
        connection
            .close()
            .await
            .map_err(|e| file_error("copying", &source, e))?;
        let bytes = std::fs::read(&copy).map_err(|e| file_error("reading", &copy, e))?;
        std::fs::remove_file(&copy).map_err(|e| file_error("removing", &copy, e))?;
        files.push((name.to_owned(), bytes));
    }
    for name in FILES {
        let path = home.root().join(name);
        if path.exists() {
            files.push((
                name.to_owned(),
                std::fs::read(&path).map_err(|e| file_error("reading", &path, e))?,
            ));
        }
    }
    for folder in FOLDERS {
        let dir = home.root().join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let name = format!("{folder}/{}", entry.file_name().to_string_lossy());
                files.push((
                    name,
                    std::fs::read(&path).map_err(|e| file_error("reading", &path, e))?,
                ));
            }
        }
    }
    for (name, bytes) in &files {
        sqlx::query("INSERT INTO files (path, bytes) VALUES (?, ?)")
            .bind(name)
            .bind(bytes.as_slice())
            .execute(&mut container)
            .await
            .map_err(fail)?;
    }
    container.close().await.map_err(fail)?;
    // Durable before it takes its name.
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| file_error("writing", &partial, e))?;
    std::fs::rename(&partial, out).map_err(|e| file_error("writing", out, e))?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| file_error("writing", parent, e))?;
    }
    Ok(checkpoint.seq.try_into().unwrap_or(0))
}

/// A path inside a backup as a path inside the data home: one of the known names, never
/// absolute, never `..` (a backup file is data, and may have been changed).
fn inside(home: &DataHome, name: &str) -> Option<PathBuf> {
    let known = STORES.contains(&name)
        || FILES.contains(&name)
        || FOLDERS.iter().any(|folder| {
            name.strip_prefix(folder)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|file| {
                    !file.is_empty()
                        && !file.contains('/')
                        && !file.contains('\\')
                        && file != ".."
                        && file != "."
                })
        });
    known.then(|| home.root().join(name))
}

/// Restores the backup `file` into `home`, which must hold no audit log yet: writes its files,
/// verifies the restored log against the backup's signed checkpoint, records `backup.restored`,
/// and keeps the old signing key's public half beside the checkpoints.
///
/// # Errors
/// When `home` already has a log (nothing is replaced), the file is not a backup, a path in it is
/// not one Countersign writes, the restored log does not verify, or a file cannot be written.
pub async fn restore(home: &DataHome, file: &Path) -> Result<Restored, AppError> {
    if STORES.iter().any(|name| home.root().join(name).exists()) {
        return Err(AppError::NotAllowed(format!(
            "{} already holds Countersign's records; restore into a new, empty data home (set COUNTERSIGN_HOME to a new folder): nothing is ever replaced or deleted",
            home.root().display()
        )));
    }
    let mut container = open_container(file, false).await?;
    let fail = |e: sqlx::Error| file_error("reading", file, e);
    let meta: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM meta")
        .fetch_all(&mut container)
        .await
        .map_err(|_| {
            AppError::NotAllowed(format!("{} is not a Countersign backup", file.display()))
        })?;
    let value = |key: &str| meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if value("format").as_deref() != Some(FORMAT) {
        return Err(AppError::NotAllowed(format!(
            "{} is not a backup this version can read (format {:?})",
            file.display(),
            value("format")
        )));
    }
    let checkpoint = value("checkpoint").ok_or_else(|| {
        AppError::NotAllowed(format!("{} holds no signed checkpoint", file.display()))
    })?;
    let files: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT path, bytes FROM files")
        .fetch_all(&mut container)
        .await
        .map_err(fail)?;
    container.close().await.map_err(fail)?;
    let mut targets = Vec::new();
    for (name, bytes) in files {
        let target = inside(home, &name).ok_or_else(|| {
            AppError::NotAllowed(format!(
                "{} holds a file Countersign does not write ({name:?}); nothing was restored",
                file.display()
            ))
        })?;
        targets.push((target, bytes));
    }
    home.ensure()?;
    for (target, bytes) in &targets {
        // Each file whole and durable, or not there: a crash mid-restore leaves no torn store.
        let mut out = crate::audit::DurableFile::create(target)?;
        std::io::Write::write_all(&mut out, bytes).map_err(|e| file_error("writing", target, e))?;
        out.commit()?;
    }
    let checkpoint_path = home.checkpoints().join("restored-from-backup.json");
    std::fs::create_dir_all(home.checkpoints())
        .map_err(|e| file_error("creating", &home.checkpoints(), e))?;
    crate::audit::write_durably(&checkpoint_path, &checkpoint)?;

    let audit = Audit::open(home, crate::desk::person()).await?;
    let verdict = audit.verify(Some(&checkpoint_path)).await?;
    if !verdict.intact() {
        return Err(AppError::NotAllowed(format!(
            "the restored audit log does not verify against the backup's signed checkpoint: {}",
            verdict
                .problem
                .as_ref()
                .map_or_else(|| "unknown problem".to_owned(), |p| p.what.clone())
        )));
    }
    // The old computer's key signed the checkpoints so far; this computer makes its own at the
    // next checkpoint. The old public half is kept, never deleted.
    let public = home.audit_public_key();
    let previous = home.checkpoints().join("previous-signing-key.pub");
    let previous_key = std::fs::read_to_string(&public).ok();
    if previous_key.is_some() {
        std::fs::rename(&public, &previous).map_err(|e| file_error("moving", &public, e))?;
    }
    audit
        .record(
            NewEntry::new(Actor::app(), Event::BackupRestored).details(serde_json::json!({
                "file": file.display().to_string(),
                "made_at": value("made_at"),
                "checkpoint_seq": verdict.checkpoint_seq,
                "previous_public_key": previous_key.map(|k| k.trim().to_owned()),
            })),
        )
        .await?;
    let after = audit.log().last().await?.map_or(0, |(seq, _)| seq);
    let needing_their_secret = crate::credentials::Credentials::open(home)
        .await?
        .needing_their_secret()
        .await?;
    Ok(Restored {
        entries: after.try_into().unwrap_or(0),
        needing_their_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_files_countersign_writes_are_restored() {
        let home = DataHome::at(PathBuf::from("/tmp/home"));
        assert!(inside(&home, "audit.db").is_some());
        assert!(inside(&home, "checkpoints/backup-1.json").is_some());
        for bad in [
            "../evil",
            "/etc/passwd",
            "checkpoints/../../x",
            "checkpoints/",
            "checkpoints/a/b",
            "descriptors/..",
            "audit.db/../x",
            "logs/x.log",
            "checkpoints\\..\\x",
        ] {
            assert!(inside(&home, bad).is_none(), "{bad}");
        }
    }
}
