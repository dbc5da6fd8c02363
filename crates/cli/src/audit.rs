//! `countersign audit …`: verify, export, checkpoint, report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use countersign_app::{DataHome, ReportOutcome};
use countersign_audit::{ExportFormat, Filter};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check that no entry was altered, removed, inserted or reordered. Exit 0 when intact,
    /// 1 naming the first bad entry.
    Verify {
        /// Also check against this checkpoint file (detects entries deleted from the end).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Write entries as CSV or JSON, to standard output or a file.
    Export {
        /// The format.
        #[arg(long, value_enum)]
        format: Format,
        /// Only entries at or after this UTC time (e.g. 2026-11-01 or 2026-11-01T09:00:00Z).
        #[arg(long)]
        from: Option<String>,
        /// Only entries before this UTC time.
        #[arg(long)]
        to: Option<String>,
        /// Only entries by this actor (id such as person:alice, or name).
        #[arg(long)]
        actor: Option<String>,
        /// Only entries of this event (e.g. decision.approved).
        #[arg(long)]
        event: Option<String>,
        /// Only entries about this proposal.
        #[arg(long)]
        proposal: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sign a checkpoint of the log as it is now and write it to a file. Keep the file somewhere
    /// else: it lets `verify` detect entries deleted from the end.
    Checkpoint {
        /// Where to write the checkpoint.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Write the security report of the last 24 hours (refused attacks, scope violations, failed
    /// second factors, verification failures, unknown outcomes) and print it.
    Report,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array.
    Json,
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let home = DataHome::locate()?;
        let audit = crate::acting_audit(&home).await?;
        audit.start_up().await?;
        match command {
            AuditCommand::Verify { checkpoint } => {
                let verification = audit.verify(checkpoint.as_deref()).await?;
                match &verification.problem {
                    None => {
                        let short = verification.last_hash.get(..12).unwrap_or("");
                        let checkpoint = verification
                            .checkpoint_seq
                            .map(|seq| format!("; the checkpoint at entry {seq} matches"))
                            .unwrap_or_default();
                        println!(
                            "Audit log intact: {} entries, last entry {} (hash {short}…){checkpoint}.",
                            verification.entries, verification.last_seq
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Some(problem) => {
                        println!("Audit log NOT intact: first bad entry {}: {}.", problem.seq, problem.what);
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
            AuditCommand::Export { format, from, to, actor, event, proposal, out } => {
                let format = match format {
                    Format::Csv => ExportFormat::Csv,
                    Format::Json => ExportFormat::Json,
                };
                let filter = Filter { from, to, actor, event, proposal };
                // Streamed: a million entries never sit in memory.
                match out {
                    Some(path) => {
                        let mut file = countersign_app::DurableFile::create(&path)?;
                        let entries = audit.export_to(format, &filter, &mut file).await?;
                        file.commit()?;
                        eprintln!("Exported {entries} entries to {}.", path.display());
                    }
                    None => {
                        let mut stdout = std::io::BufWriter::new(std::io::stdout());
                        audit.export_to(format, &filter, &mut stdout).await?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint { out } => {
                let checkpoint = audit.checkpoint(&out).await?;
                println!("Checkpoint of entry {} written to {}.", checkpoint.seq, out.display());
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Report => {
                if let ReportOutcome::Written(path, report) = audit.daily_report(true).await? {
                    print!("{}", report.text);
                    println!("\n(saved to {})", path.display());
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
