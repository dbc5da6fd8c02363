//! `countersign review`: the application headless, reviewed in the terminal. It runs the
//! connector, and for each pending proposal shows the explanation and asks for a decision.

use std::collections::HashSet;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use countersign_app::{Audit, DataHome, Executions, Lifecycle, Record, Release};
use countersign_connector::{Connector, Limits};
use countersign_core::Severity;
use countersign_exec::{EmailExecutor, HttpExecutor, SqlExecutor};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::person;

/// Short, distinct words: the approval code is one of them, new for every proposal.
const WORDS: &[&str] = &[
    "amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "iris", "juniper",
    "kestrel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron",
    "thistle", "umber", "violet", "willow", "yarrow", "zephyr", "copper", "falcon", "granite",
];

fn approval_code() -> String {
    let mut byte = [0u8; 2];
    let _ = getrandom::fill(&mut byte);
    let word = WORDS[usize::from(u16::from_le_bytes(byte)) % WORDS.len()];
    format!("{word}{}", byte[0] % 10)
}

struct Terminal {
    lines: tokio::io::Lines<BufReader<tokio::io::Stdin>>,
}

impl Terminal {
    async fn ask(&mut self, prompt: &str) -> anyhow::Result<Option<String>> {
        print!("{prompt}");
        std::io::stdout().flush()?;
        Ok(self.lines.next_line().await?.map(|l| l.trim().to_owned()))
    }
}

fn show(record: &Record) {
    let e = &record.explanation;
    println!();
    println!("━━━ Proposal {} from {} ━━━", record.id, record.agent);
    println!("{}", e.headline);
    for detail in &e.details {
        println!(
            "  {}: {}",
            detail.label,
            detail.value.replace('\n', "\n      ")
        );
    }
    if !e.risks.is_empty() {
        println!("Risks:");
        for risk in &e.risks {
            let mark = match risk.severity {
                Severity::Danger => "DANGER ",
                Severity::Caution => "caution",
                Severity::Info => "note   ",
            };
            println!("  [{mark}] {}", risk.message);
        }
    }
    println!("The agent says: {}", e.agent_summary);
    println!("Purpose given: {}", record.purpose);
}

pub fn run() -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let home = DataHome::locate()?;
        home.ensure()?;
        // One reviewer per data home.
        let lock_path = home.root().join("review.lock");
        let lock = std::fs::File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
        if lock.try_lock().is_err() {
            anyhow::bail!("another `countersign review` (or the desktop app) is already using {}; close it first", home.root().display());
        }
        let audit = Arc::new(Audit::open(&home, person()).await?);
        audit.start_up().await?;
        let lifecycle = Arc::new(Lifecycle::open(&home).await?);
        let plain: Vec<String> = std::env::var("COUNTERSIGN_PLAIN_LOOPBACK_ORIGINS")
            .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let executions = Executions::open(&home, HttpExecutor::new().with_plain_loopback_origins(plain), SqlExecutor::new(), EmailExecutor::new()).await?;
        let unknown = lifecycle.recover(&audit, &executions).await?;
        for id in &unknown {
            println!("Proposal {id} was running when Countersign stopped: its outcome is unknown, and it was not retried. Check it yourself.");
        }
        let addr = std::env::var("COUNTERSIGN_CONNECTOR_ADDR").unwrap_or_else(|_| countersign_connector::DEFAULT_ADDR.to_owned());
        let listener = countersign_connector::bind(&addr).await?;
        let local = listener.local_addr()?;
        let connector = Connector { home: home.clone(), audit: Arc::clone(&audit), lifecycle: Arc::clone(&lifecycle), allowed_origins: Vec::new(), limits: Limits::default() };
        tokio::spawn(countersign_connector::serve(listener, connector));
        println!("Countersign is listening for agents on http://{local} (data home {}).", home.root().display());
        println!("Proposals appear here as they arrive. Press Ctrl-D to stop.");

        let mut terminal = Terminal { lines: BufReader::new(tokio::io::stdin()).lines() };
        let mut changes = lifecycle.subscribe();
        let mut skipped: HashSet<String> = HashSet::new();
        loop {
            lifecycle.expire_due(&audit).await?;
            let mut pending = lifecycle.pending().await?;
            pending.reverse(); // oldest first: in the order they arrived
            let Some(record) = pending.into_iter().find(|r| !skipped.contains(&r.id)) else {
                println!("No proposals waiting.");
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { break },
                    line = terminal.lines.next_line() => if line?.is_none() { break },
                }
                continue;
            };
            let record = lifecycle.view(&audit, &record.id).await?;
            show(&record);
            let code = approval_code();
            let Some(answer) = terminal.ask(&format!("Type {code} to approve, r to reject, s to skip: ")).await? else { break };
            if answer == code {
                let mut factor = None;
                if record.explanation.requires_second_factor {
                    if record.explanation.action == countersign_core::Action::Prescribe {
                        println!("By entering your code you sign this prescription. I attest that the prescription details above are correct and that I am the prescriber.");
                    }
                    factor = terminal.ask("Second factor code: ").await?;
                }
                match lifecycle.approve(&home, &audit, &executions, &record.id, factor.as_deref()).await {
                    Ok(done) => {
                        println!("Result: {}", done.status);
                        if let Some(result) = &done.result {
                            println!("{}", serde_json::to_string_pretty(result)?);
                            let choice = terminal.ask("Release to the agent: all, none, or field names separated by commas: ").await?.unwrap_or_default();
                            let release = match choice.as_str() {
                                "all" => Release::All,
                                "" | "none" => Release::Nothing,
                                fields => Release::Fields(fields.split(',').map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect()),
                            };
                            let released = lifecycle.release(&audit, &record.id, &release).await?;
                            println!("The agent receives: {}", released.agent_view()["result"]);
                        }
                    }
                    Err(error) => println!("Not approved: {error}"),
                }
            } else if answer == "r" {
                let reason = terminal.ask("Reason (optional): ").await?.unwrap_or_default();
                lifecycle.reject(&audit, &record.id, &reason).await?;
                println!("Rejected.");
            } else if answer == "s" {
                skipped.insert(record.id.clone());
                println!("Skipped for now.");
            } else {
                println!("That was not the approval code; nothing was approved.");
            }
        }
        println!("Stopped. Pending proposals wait for the next review.");
        Ok(ExitCode::SUCCESS)
    })
}
