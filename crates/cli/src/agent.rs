//! `countersign agent add|list|revoke`.

use std::process::ExitCode;

use clap::Subcommand;
use countersign_app::{Agents, DataHome};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register an agent and print its key once. The key lets it put proposals in front of you,
    /// and nothing more.
    Add {
        /// The agent's name (letters, digits, dots, dashes, underscores).
        name: String,
    },
    /// List agents (never their keys).
    List,
    /// Revoke an agent's key, at once.
    Revoke {
        /// The agent's name.
        name: String,
    },
}

pub fn run(command: AgentCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let home = DataHome::locate()?;
        let audit = crate::acting_audit(&home).await?;
        let agents = Agents::open(&home, audit).await?;
        match command {
            AgentCommand::Add { name } => {
                let key = agents.add(&name).await?;
                println!("{}", key.expose());
                eprintln!("This is the key of the agent “{name}”. It is shown only now: put it in the agent's settings (COUNTERSIGN_AGENT_KEY).");
            }
            AgentCommand::List => {
                let list = agents.list().await?;
                if list.is_empty() {
                    println!("No agents yet. Add one with: countersign agent add NAME");
                }
                for agent in list {
                    let state = agent.revoked_at.map_or_else(|| "active".to_owned(), |at| format!("revoked {at}"));
                    println!("{}\tadded {}\t{state}", agent.name, agent.added_at);
                }
            }
            AgentCommand::Revoke { name } => {
                agents.revoke(&name).await?;
                println!("Revoked the agent “{name}”; its key no longer works.");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
