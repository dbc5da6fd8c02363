//! `countersign`: the terminal face of Countersign.
//!
//! This binary is an adapter. It parses arguments, reads files, calls the library crates and
//! prints what they return; it holds no business logic of its own (design.md §1, invariant 7).

mod agent;
mod audit;
mod credential;
mod descriptor;
mod mcp;
mod review;
mod routine;
mod team;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use countersign_audit::Actor;
use countersign_core::{Refusal, RefusalCode};

/// Let AI agents propose actions that only you can approve.
///
/// Agents never hold your passwords or keys. They propose an exact HTTP call, SQL statement or
/// email; Countersign explains it in plain words, you approve or reject it, and only then does it
/// run, once, with a secret kept in your system keychain.
#[derive(Debug, Parser)]
#[command(
    name = "countersign",
    version,
    about,
    long_about,
    arg_required_else_help = true
)]
struct Cli {
    /// On a team desk: who you are (your second factor's code is asked for; every entry names
    /// you). With `team init`: your name as the team's first person.
    #[arg(long = "as", global = true, value_name = "NAME")]
    acting_as: Option<String>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the `Credential` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Explain a proposal in plain words, or say why it is refused. Makes no network calls.
    ///
    /// Prints {"artifact_sha256", "explanation"} and exits 0, or {"error": {code, message,
    /// field}} and exits 2.
    Explain {
        /// The proposal file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Add, list and remove credentials (secrets go to the system keychain).
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// Run Countersign headless and review proposals in this terminal: listens for agents on
    /// loopback, shows each proposal's explanation, and asks you to approve, reject or skip.
    Review {
        /// Run the demo: sandbox services, their credentials and a demo agent, in a demo home
        /// inside the data home that starts fresh every time.
        #[arg(long)]
        demo: bool,
        /// With --demo: run the demo as a team of two people (a nurse at this desk, a
        /// prescriber at a second desk) on this PostgreSQL database, which the demo empties:
        /// postgres://USER@HOST:PORT/DATABASE (the password is asked for).
        #[arg(long, requires = "demo")]
        team_database: Option<String>,
    },
    /// Bridge an agent that speaks MCP over standard input and output to the running app (the
    /// agent key comes from COUNTERSIGN_AGENT_KEY).
    Mcp,
    /// Register, list and revoke agents.
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Check, export and sign the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Make descriptors (how an API is explained) from an OpenAPI document.
    #[command(subcommand)]
    Descriptor(descriptor::DescriptorCommand),
    /// List, show, pause, resume, revoke and run routines.
    #[command(subcommand)]
    Routine(routine::RoutineCommand),
    /// Make or join a team: several people at several desks sharing one PostgreSQL database
    /// for their people, roles and audit log (secrets stay in each person's keychain).
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// Add, list, disable people of the team, and confirm roles that need two people.
    #[command(subcommand)]
    Person(team::PersonCommand),
    /// Write one backup file of this data home: the audit log, proposals, credential settings
    /// (never secrets), settings and checkpoints, with a checkpoint signed just before.
    Backup {
        /// The file to write (it must not exist yet).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into this data home, which must be new and empty (set COUNTERSIGN_HOME
    /// to a new folder): the log is verified against the backup's signed checkpoint and
    /// continues; credentials are listed whose secret must be typed again.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
}

/// What `explain` prints for an explained proposal (design.md §14).
#[derive(serde::Serialize)]
struct ExplainOutput<'a> {
    artifact_sha256: String,
    explanation: &'a countersign_core::Explanation,
}

/// `--as`, once parsed.
static ACTING_AS: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// `--as NAME`, if given.
fn acting_as() -> Option<&'static str> {
    ACTING_AS.get().and_then(Option::as_deref)
}

/// The audit log a command records in, for who it acts for: on a team desk, the person `--as`
/// names, signed in with their code (no one else may act there), and the sign-in's own log is the
/// one handed back (one connection to the team database, not two); on a single person's desk,
/// this computer's account.
///
/// # Errors
/// When a team desk has no `--as`, the sign-in fails, `--as` is given outside a team, or the log
/// cannot be opened.
async fn acting_audit(
    home: &countersign_app::DataHome,
) -> anyhow::Result<std::sync::Arc<countersign_app::Audit>> {
    let in_team = countersign_app::team::TeamConfig::read(home)?.is_some();
    match (in_team, acting_as()) {
        (false, None) => Ok(std::sync::Arc::new(
            countersign_app::Audit::open(home, countersign_app::person()).await?,
        )),
        (false, Some(_)) => anyhow::bail!(
            "this data home is not in a team, so there is no one to sign in as: leave out --as"
        ),
        (true, None) => anyhow::bail!("this desk is in a team: say who you are with --as NAME"),
        (true, Some(name)) => {
            let audit =
                std::sync::Arc::new(countersign_app::Audit::open(home, Actor::person(name)).await?);
            let team = countersign_app::team::Team::open(home, std::sync::Arc::clone(&audit))?
                .ok_or_else(|| anyhow::anyhow!("this desk's team could not be opened"))?;
            team::sign_in(&team, name).await?;
            Ok(audit)
        }
    }
}

fn backup(out: &std::path::Path) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let home = countersign_app::DataHome::locate()?;
            let audit = acting_audit(&home).await?;
            let seq = countersign_app::backup::backup(&home, &audit, out).await?;
            println!(
                "Wrote the backup {} (the audit log up to entry {seq}, with its signed checkpoint). It holds no secret: on a new computer, each credential's secret is typed again.",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        })
}

fn restore(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let home = countersign_app::DataHome::locate()?;
            let restored = countersign_app::backup::restore(&home, file).await?;
            println!(
                "Restored {} into {}: the audit log verifies against the backup's signed checkpoint and continues ({} entries).",
                file.display(),
                home.root().display(),
                restored.entries
            );
            // Credential names only: a backup holds no secret.
            if restored.needing_their_secret.is_empty() {
                println!("No credential needs its secret typed again.");
            } else {
                println!("Type the secret again for: {}", restored.needing_their_secret.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        })
}

/// Exit status of a refused proposal (design.md §6).
const REFUSED: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = ACTING_AS.set(cli.acting_as.clone());
    let outcome = match cli.command {
        Command::Explain { file } => explain(file),
        Command::Credential(command) => credential::run(command),
        Command::Review {
            demo,
            team_database,
        } => review::run(demo, team_database, cli.acting_as),
        Command::Mcp => mcp::run(),
        Command::Agent(command) => agent::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Descriptor(command) => descriptor::run(command),
        Command::Routine(command) => routine::run(command),
        Command::Team(command) => team::run_team(command),
        Command::Person(command) => team::run_person(command),
        Command::Backup { out } => backup(&out),
        Command::Restore { file } => restore(&file),
    };
    // Errors are for people: one line of causes, no backtrace.
    outcome.unwrap_or_else(|error| {
        eprintln!("countersign: {error:#}");
        ExitCode::FAILURE
    })
}

fn explain(file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let bytes = match file.as_deref() {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            bytes
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(refused(&Refusal::new(
            RefusalCode::InvalidJson,
            "The proposal is not UTF-8 text.",
        )));
    };
    let home = countersign_app::DataHome::locate()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(countersign_app::explain(&home, &text))? {
        Ok(explained) => {
            let output = ExplainOutput {
                artifact_sha256: explained.artifact_sha256.to_string(),
                explanation: &explained.explanation,
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => Ok(refused(&refusal)),
    }
}

fn refused(refusal: &Refusal) -> ExitCode {
    println!(
        "{}",
        serde_json::to_string_pretty(&refusal.to_wire()).unwrap_or_default()
    );
    ExitCode::from(REFUSED)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_names_the_package_version() {
        let version = Cli::command().render_version();
        assert_eq!(
            version.trim(),
            format!("countersign {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
