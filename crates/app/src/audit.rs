//! Audit operations as the shells offer them: verify, export, checkpoint, daily report. Each is
//! itself audited, and each entry is durable before the operation's result is handed back.

use std::path::{Path, PathBuf};

use countersign_audit::{
    Actor, AuditLog, Checkpoint, CheckpointKey, Event, ExportFormat, Filter, NewEntry,
    SecurityReport, TrustedCheckpoint, Verification, verifying_key_from_hex,
};
use countersign_vault::{Keychain, Secret};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::AppError;
use crate::home::DataHome;

const SIGNING_KEY: &str = "audit-signing-key";
const LATEST_CHECKPOINT: &str = "audit-latest-checkpoint";
/// A desk in a team remembers its latest checkpoint of the team's log apart from the one of its
/// own file log from before it joined: each is checked only against its own log.
const LATEST_TEAM_CHECKPOINT: &str = "audit-latest-team-checkpoint";

/// The keychain entries the audit log keeps for a data home (its signing key and the latest
/// checkpoint it remembers, of its own log and of its team's).
pub const KEYCHAIN_ENTRIES: [&str; 3] = [SIGNING_KEY, LATEST_CHECKPOINT, LATEST_TEAM_CHECKPOINT];
const LAST_REPORT: &str = "last_security_report_at";

/// The audit log of a data home, used on behalf of one person.
pub struct Audit {
    home: DataHome,
    log: AuditLog,
    keychain: Keychain,
    actor: Actor,
}

/// What [`Audit::daily_report`] did.
#[derive(Debug)]
pub enum ReportOutcome {
    /// A report was written to this file.
    Written(PathBuf, SecurityReport),
    /// The last report is less than a day old.
    NotDue,
}

fn stamp(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    at.format(format).unwrap_or_default()
}

/// Writes `text` to `path` so that a crash leaves either the old file or the whole new one: the
/// data goes to a sibling file, is flushed to the disk (`fsync`), renamed over `path`, and the
/// folder is flushed too so the rename itself survives a power cut.
///
/// # Errors
/// When any step fails; the old file is then left as it was.
pub fn write_durably(path: &Path, text: &str) -> Result<(), AppError> {
    use std::io::Write as _;
    let mut file = DurableFile::create(path)?;
    file.write_all(text.as_bytes())
        .map_err(|e| AppError::file("writing", path, e))?;
    file.commit()
}

/// A file written in full before it replaces `path`, as [`write_durably`] writes text, for
/// output too large to hold in memory (an audit export of a million entries): written to
/// `<path>.partial` through a buffer, then flushed, fsynced, renamed and the folder fsynced by
/// [`DurableFile::commit`]. Dropped without committing, it leaves `path` as it was.
pub struct DurableFile {
    path: std::path::PathBuf,
    partial: std::path::PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl DurableFile {
    /// Starts writing what will replace `path`.
    ///
    /// # Errors
    /// When the folder or the partial file cannot be created.
    pub fn create(path: &Path) -> Result<Self, AppError> {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| AppError::file("creating", parent, e))?;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        let partial = parent.join(name);
        let file =
            std::fs::File::create(&partial).map_err(|e| AppError::file("writing", &partial, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            partial,
            file: std::io::BufWriter::new(file),
        })
    }

    /// Makes the written bytes `path`, durably.
    ///
    /// # Errors
    /// When any step fails; `path` is then left as it was.
    pub fn commit(self) -> Result<(), AppError> {
        let fail = |e: std::io::Error| AppError::file("writing", &self.partial, e);
        let file = self.file.into_inner().map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)?;
        drop(file);
        std::fs::rename(&self.partial, &self.path)
            .map_err(|e| AppError::file("writing", &self.path, e))?;
        let parent = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        // Directories cannot be opened for syncing on every system (Windows); where they can, do.
        if let Ok(dir) = std::fs::File::open(parent) {
            dir.sync_all()
                .map_err(|e| AppError::file("flushing", parent, e))?;
        }
        Ok(())
    }
}

impl std::io::Write for DurableFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), AppError> {
    write_durably(path, text)
}

impl Audit {
    /// Opens the data home's audit log for `actor`: its own file, or, once the data home joined
    /// a team, the team's log on PostgreSQL.
    ///
    /// # Errors
    /// When the log cannot be opened durably (in a team: the database cannot be reached).
    pub async fn open(home: &DataHome, actor: Actor) -> Result<Self, AppError> {
        home.ensure()?;
        let log = match crate::team::TeamConfig::read(home)? {
            Some(team) => AuditLog::open_team(team.connect_options(home)?).await?,
            None => AuditLog::open(&home.audit_db()).await?,
        };
        Ok(Audit {
            home: home.clone(),
            log,
            keychain: home.keychain(),
            actor,
        })
    }

    /// Who this audit acts for.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The underlying log, for the other application steps that append to it.
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Appends an entry by this person (or by whoever the entry names).
    ///
    /// # Errors
    /// When it is not durably written: the step must then not happen.
    pub async fn record(&self, entry: NewEntry) -> Result<(), AppError> {
        self.log.append(entry).await?;
        Ok(())
    }

    /// Where the latest checkpoint of this log is remembered.
    fn latest_checkpoint_entry(&self) -> &'static str {
        if self.log.path().is_some() {
            LATEST_CHECKPOINT
        } else {
            LATEST_TEAM_CHECKPOINT
        }
    }

    fn signing_key(&self) -> Result<Option<CheckpointKey>, AppError> {
        match self.keychain.read(SIGNING_KEY)? {
            None => Ok(None),
            Some(secret) => CheckpointKey::from_secret_hex(secret.expose())
                .map(Some)
                .ok_or(AppError::DamagedKey),
        }
    }

    /// Verifies the chain, the latest checkpoint the keychain remembers, and `checkpoint_file`
    /// when given; records the verdict as `audit.verified`.
    ///
    /// # Errors
    /// When the log cannot be read, the checkpoint file cannot be read, or the verdict cannot be
    /// recorded.
    pub async fn verify(&self, checkpoint_file: Option<&Path>) -> Result<Verification, AppError> {
        let checkpoint = match checkpoint_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| AppError::file("reading", path, e))?;
                Some(Checkpoint::from_json(&text)?)
            }
            None => None,
        };
        // The keychain is a separate store from the log file; when it cannot be read, the chain
        // is still verified, and the verdict says what could not be checked.
        let remembered = self
            .keychain
            .read(self.latest_checkpoint_entry())
            .map_err(AppError::from);
        let (key, latest, keychain_note) = match (self.signing_key(), remembered) {
            (Ok(key), Ok(latest)) => (
                key.map(|k| k.verifying_key()),
                latest.and_then(|s| TrustedCheckpoint::decode(s.expose())),
                None,
            ),
            (Err(error), _) | (_, Err(error)) => (None, None, Some(error.to_string())),
        };
        let public_file = self.home.audit_public_key();
        let file_text = std::fs::read_to_string(&public_file).ok();
        let file_key = file_text.as_deref().and_then(verifying_key_from_hex);
        let mut verification = self
            .log
            .verify(
                checkpoint.as_ref(),
                key.as_ref().or(file_key.as_ref()),
                latest.as_ref(),
            )
            .await?;
        // The public key beside the log must be the keychain key's: a replaced file would let a
        // forger's checkpoints verify for anyone who only has the file.
        let file_mismatch = match (key, &file_text) {
            (Some(key), Some(_)) => file_key != Some(key),
            _ => false,
        };
        if verification.problem.is_none() && file_mismatch {
            verification.problem = Some(countersign_audit::Problem {
                seq: verification.last_seq,
                what: format!(
                    "the public key beside the log ({}) is not the one in the keychain",
                    public_file.display()
                ),
            });
        }
        let outcome = if verification.intact() {
            "intact"
        } else {
            "broken"
        };
        let mut details = serde_json::json!({
            "entries": verification.entries,
            "last_seq": verification.last_seq,
            "checkpoint_seq": verification.checkpoint_seq,
        });
        if let Some(problem) = &verification.problem {
            details["first_bad_seq"] = problem.seq.into();
            details["problem"] = problem.what.clone().into();
        }
        if let Some(note) = keychain_note {
            details["keychain"] = note.into();
        }
        self.log
            .append(
                NewEntry::new(self.actor.clone(), Event::AuditVerified)
                    .outcome(outcome)
                    .details(details),
            )
            .await?;
        Ok(verification)
    }

    /// Exports the entries matching `filter`; records `audit.exported` first, so an export that
    /// cannot be recorded does not happen.
    ///
    /// # Errors
    /// When the log cannot be read or the export cannot be recorded.
    pub async fn export(&self, format: ExportFormat, filter: &Filter) -> Result<String, AppError> {
        let mut out = Vec::new();
        self.export_to(format, filter, &mut out).await?;
        String::from_utf8(out).map_err(|e| AppError::NotAllowed(e.to_string()))
    }

    /// Streams the export into `out` from a snapshot of the log (appends go on meanwhile;
    /// memory stays flat at any size), after recording `audit.exported` with the number of
    /// entries. Returns that number.
    ///
    /// # Errors
    /// When the log cannot be read, the export cannot be recorded, or `out` cannot be written.
    pub async fn export_to<W: std::io::Write + Send>(
        &self,
        format: ExportFormat,
        filter: &Filter,
        out: &mut W,
    ) -> Result<u64, AppError> {
        let log = &self.log;
        let actor = self.actor.clone();
        let described = filter.describe();
        let name = match format {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        };
        let record = move |entries: u64| async move {
            let details =
                serde_json::json!({ "format": name, "filter": described, "entries": entries });
            log.append(NewEntry::new(actor, Event::AuditExported).details(details))
                .await
                .map(|_| ())
        };
        Ok(self.log.export_to(filter, format, out, record).await?)
    }

    /// Signs a checkpoint of the log as it is now, writes it to `out`, remembers it in the
    /// keychain, and records `audit.checkpoint`. Creates the signing key on first use (kept in
    /// the keychain; its public half written beside the log).
    ///
    /// # Errors
    /// When the keychain, the log or the file cannot be used.
    pub async fn checkpoint(&self, out: &Path) -> Result<Checkpoint, AppError> {
        let key = match self.signing_key()? {
            Some(key) => key,
            None => {
                let key = CheckpointKey::generate()?;
                self.keychain
                    .store(SIGNING_KEY, &Secret::new(key.secret_hex()))?;
                key
            }
        };
        write_file(
            &self.home.audit_public_key(),
            &format!("{}\n", key.public_hex()),
        )?;
        // An empty log gets a first entry so there is something to sign.
        let (seq, hash) = match self.log.last().await? {
            Some(last) => last,
            None => {
                let entry = self
                    .log
                    .append(
                        NewEntry::new(Actor::app(), Event::AuditCheckpoint).outcome("log started"),
                    )
                    .await?;
                (entry.seq, entry.entry_hash)
            }
        };
        let checkpoint = key.sign(
            self.log.log_id(),
            seq,
            &hash,
            &stamp(OffsetDateTime::now_utc()),
        );
        write_file(out, &checkpoint.to_json())?;
        let trusted = TrustedCheckpoint {
            seq,
            entry_hash: hash.clone(),
        };
        self.keychain.store(
            self.latest_checkpoint_entry(),
            &Secret::new(trusted.encode()),
        )?;
        let details = serde_json::json!({ "seq": seq, "entry_hash": hash, "file": out.display().to_string() });
        self.log
            .append(NewEntry::new(self.actor.clone(), Event::AuditCheckpoint).details(details))
            .await?;
        Ok(checkpoint)
    }

    /// Writes the security report of the last day when a day has passed since the last one (or
    /// always, with `force`), and records `audit.reported`.
    ///
    /// # Errors
    /// When the log or the report file cannot be used.
    pub async fn daily_report(&self, force: bool) -> Result<ReportOutcome, AppError> {
        let now = OffsetDateTime::now_utc();
        let day_ago = now - time::Duration::days(1);
        if !force
            && let Some(last) = self.log.meta(LAST_REPORT).await?
            && last > stamp(day_ago)
        {
            return Ok(ReportOutcome::NotDue);
        }
        let from = stamp(day_ago);
        let to = stamp(now);
        let entries = self
            .log
            .entries(&Filter {
                from: Some(from.clone()),
                to: Some(to.clone()),
                ..Filter::default()
            })
            .await?;
        let report = SecurityReport::build(&from, &to, &entries);
        let date = now.date();
        let path = self.home.reports().join(format!("security-{date}.txt"));
        write_file(&path, &report.text)?;
        let details = serde_json::json!({ "from": from, "to": to, "events": report.events, "file": path.display().to_string() });
        self.log
            .append(NewEntry::new(Actor::app(), Event::AuditReported).details(details))
            .await?;
        self.log.set_meta(LAST_REPORT, &to).await?;
        Ok(ReportOutcome::Written(path, report))
    }

    /// Start-up duties: the daily report when due, and a checkpoint into the data home's
    /// `checkpoints/` folder alongside it when the keychain is available.
    ///
    /// # Errors
    /// When the report cannot be produced.
    pub async fn start_up(&self) -> Result<(), AppError> {
        if let ReportOutcome::Written(..) = self.daily_report(false).await? {
            let seq = self.log.last().await?.map_or(0, |(seq, _)| seq);
            let path = self
                .home
                .checkpoints()
                .join(format!("checkpoint-{seq:08}.json"));
            if let Err(error) = self.checkpoint(&path).await {
                tracing::warn!(%error, "could not write the daily checkpoint");
            }
        }
        Ok(())
    }
}
