//! `countersign routine list|show|pause|resume|revoke|run` (design.md §18): the person's
//! commands for routines. Approving one happens in `countersign review` or the desktop app,
//! where its words are read first.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Subcommand;
use countersign_app::{DataHome, Lifecycle, Requester, RoutineChange};
use countersign_core::json::Json;

use crate::review::safe;

#[derive(Debug, Subcommand)]
pub enum RoutineCommand {
    /// List routines: status, what each does, when it stops.
    List,
    /// Show a routine in words, its bounds and its runs.
    Show {
        /// The routine's id.
        id: String,
    },
    /// Pause a routine: it does not run until resumed.
    Pause {
        /// The routine's id.
        id: String,
    },
    /// Resume a paused routine (times that passed meanwhile are not caught up).
    Resume {
        /// The routine's id.
        id: String,
    },
    /// Revoke a routine for good, at once.
    Revoke {
        /// The routine's id.
        id: String,
    },
    /// Run an active routine now, with a value for each parameter.
    Run {
        /// The routine's id.
        id: String,
        /// A parameter, as NAME=VALUE (a number when it reads as one, text otherwise).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
}

fn value(text: &str) -> Json {
    match Json::parse(text) {
        Ok(json @ (Json::Number(_) | Json::Bool(_))) => json,
        _ => Json::String(text.to_owned()),
    }
}

pub fn run(command: RoutineCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let home = DataHome::locate()?;
        let audit = crate::acting_audit(&home).await?;
        let lifecycle = Lifecycle::open_standard(&home, audit).await?;
        let store = lifecycle.store();
        match command {
            RoutineCommand::List => {
                let routines = store.routines().await?;
                if routines.is_empty() {
                    println!("No routines yet. Agents propose them; you approve them in countersign review or the app.");
                }
                for r in routines {
                    println!(
                        "{}\t{}\t{}\t{}",
                        r.id,
                        serde_json::to_value(r.status)?.as_str().unwrap_or_default(),
                        safe(&r.agent),
                        safe(&r.explanation.headline)
                    );
                }
            }
            RoutineCommand::Show { id } => {
                let r = store
                    .routine(&id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("there is no routine {id}"))?;
                let e = &r.explanation;
                println!("Routine {} ({}), proposed by {}", r.id, serde_json::to_value(r.status)?.as_str().unwrap_or_default(), safe(&r.agent));
                println!("{}", safe(&e.headline));
                println!("{}", safe(&e.schedule));
                for step in &e.steps {
                    println!("  Step: {}", safe(step));
                }
                for bound in &e.bounds {
                    println!("  Parameter {}", safe(bound));
                }
                for limit in &e.limits {
                    println!("  {}", safe(limit));
                }
                println!("{}", safe(&e.expiry));
                println!("{}", safe(&e.release));
                for risk in &e.risks {
                    println!("  [{:?}] {}", risk.severity, safe(&risk.message));
                }
                println!("The agent says: {}", safe(&e.agent_summary));
                println!("routine_sha256: {}", r.routine_sha256);
                for run in store.runs(&id).await? {
                    println!(
                        "  run {} {} by {} at {}{}",
                        run.id,
                        serde_json::to_value(run.status)?.as_str().unwrap_or_default(),
                        safe(&run.requested_by),
                        run.started_at,
                        run.reason.map(|r| format!(": {}", safe(&r))).unwrap_or_default()
                    );
                }
            }
            RoutineCommand::Pause { id } => {
                lifecycle.change_routine(&id, RoutineChange::Pause, "").await?;
                println!("Paused routine {id}: it does not run until you resume it.");
            }
            RoutineCommand::Resume { id } => {
                lifecycle.change_routine(&id, RoutineChange::Resume, "").await?;
                println!("Resumed routine {id}.");
            }
            RoutineCommand::Revoke { id } => {
                lifecycle.change_routine(&id, RoutineChange::Revoke, "").await?;
                println!("Revoked routine {id}: it never runs again.");
            }
            RoutineCommand::Run { id, params } => {
                let mut values = BTreeMap::new();
                for param in params {
                    let (name, text) = param
                        .split_once('=')
                        .ok_or_else(|| anyhow::anyhow!("write each parameter as NAME=VALUE, not {param}"))?;
                    values.insert(name.to_owned(), value(text));
                }
                match lifecycle.run_routine(&id, Requester::Person, &values).await? {
                    Ok(run) => {
                        println!("{}", run.agent_view().canonical());
                        if let Some(proposal) = &run.proposal_id {
                            eprintln!("The run was held for you as proposal {proposal}: {}", safe(run.reason.as_deref().unwrap_or_default()));
                        }
                    }
                    Err(refusal) => {
                        println!("{}", serde_json::to_string(&refusal.to_wire())?);
                        return Ok(ExitCode::from(crate::REFUSED));
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
