//! `countersign review`: the application headless, reviewed in the terminal. It runs the
//! connector, and for each pending proposal shows the explanation and asks for a decision. It
//! goes through the same [`Desk`] as the desktop app, so the same rules hold.

use std::collections::HashSet;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_app::views::{ProposalView, ReleaseChoice, ReleaseKind, RiskSeverity};
use countersign_app::{MINIMUM_VIEW, RoutineChange, RoutineStatus, Status, WORDS};
use countersign_launch::DemoChoice;
use tokio::io::{AsyncBufReadExt as _, BufReader};

fn approval_code() -> anyhow::Result<String> {
    let mut byte = [0u8; 2];
    // A predictable code would let a script type it; a failing random source stops the review.
    getrandom::fill(&mut byte)
        .map_err(|e| anyhow::anyhow!("the system's random number source failed: {e}"))?;
    let word = WORDS[usize::from(u16::from_le_bytes(byte)) % WORDS.len()];
    Ok(format!("{word}{}", byte[0] % 10))
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

/// Text for the terminal: anything a terminal would act on instead of showing — escape
/// sequences, carriage returns that overwrite a line, line separators, bidi overrides and
/// invisible characters — is shown as a marker like `⟨U+000D⟩`, so a proposal cannot repaint
/// the screen the person decides on.
pub(crate) fn safe(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || c == '\t' {
            out.push(c);
        } else if c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}')
            || countersign_core::text::is_hidden(c)
        {
            let _ = write!(out, "⟨U+{:04X}⟩", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn show(view: &ProposalView) {
    println!();
    println!(
        "━━━ Proposal {} from {} ━━━",
        safe(&view.line.id),
        safe(&view.line.agent)
    );
    println!("{}", safe(&view.line.headline));
    for detail in &view.details {
        println!(
            "  {}: {}",
            safe(&detail.label),
            safe(&detail.value).replace('\n', "\n      ")
        );
    }
    if !view.risks.is_empty() {
        println!("Risks:");
        for risk in &view.risks {
            let mark = match risk.severity {
                RiskSeverity::Danger => "DANGER ",
                RiskSeverity::Caution => "caution",
                RiskSeverity::Info => "note   ",
            };
            println!("  [{mark}] {}", safe(&risk.message));
        }
    }
    if let Some(first) = &view.first_approved_by {
        println!(
            "{} approved this first. The team's rule needs a second person: approving it makes you the second, and it runs.",
            safe(first)
        );
    }
    if view.mismatch {
        println!("WARNING: what the agent says does not match what this would do.");
    }
    println!("The agent says: {}", safe(&view.agent_summary));
    println!("Purpose given: {}", safe(&view.purpose));
}

pub fn run(
    demo: bool,
    team_database: Option<String>,
    person: Option<String>,
) -> anyhow::Result<ExitCode> {
    // The support log goes to the data home's `logs/` only: the terminal is the reviewer's.
    let _log = countersign_launch::start_logging(false);
    // The team demo's database password, then a person's code, are read before anything
    // starts: the terminal is then the reviewer's.
    let team_demo = match team_database {
        Some(database) => Some(countersign_launch::TeamDemo {
            database,
            password: crate::credential::read_secret("Team demo database password: ")?,
        }),
        None => None,
    };
    let sign_in = match person {
        Some(name) => {
            // A team demo desk shows its demo person's code, as the one-person demo does.
            if let Some(code) = countersign_app::DataHome::locate()
                .ok()
                .and_then(|home| countersign_demo::team::demo_code(&home, &name))
            {
                println!("(Demo: {name}'s authenticator shows {code}.)");
            }
            let code = rpassword::prompt_password(format!("Second factor code for {name}: "))
                .or_else(|_| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).map(|_| line)
                })?;
            Some(countersign_launch::SignIn {
                name,
                code: countersign_vault::Secret::new(code.trim().to_owned()),
            })
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let running = countersign_launch::start(countersign_launch::Launch {
            demo: if demo { DemoChoice::Always } else { DemoChoice::Never },
            // The terminal cannot unlock: it does not lock itself either.
            auto_lock: false,
            sign_in,
            team_demo,
        })
        .await?;
        let desk = Arc::clone(&running.desk);
        let demo = running.demo.as_ref();
        let home = desk.home().clone();
        let local = running.connector;
        for id in &running.unknown {
            println!("Proposal {id} was running when Countersign stopped: its outcome is unknown, and it was not retried. Check it yourself.");
        }
        println!("Countersign is listening for agents on http://{local} (data home {}).", home.root().display());
        if let Some(demo) = demo {
            println!("DEMO: sandbox shop/bank at {}, clinic FHIR server at {}; the demo agent is proposing now.", demo.sandbox().bank, demo.sandbox().fhir);
            if let Some(back) = demo.team_back() {
                println!("TEAM DEMO: this desk is {}'s. {}'s desk, in a second terminal:", countersign_demo::team::NURSE, countersign_demo::team::PRESCRIBER_NAME);
                println!("  COUNTERSIGN_HOME={} countersign review --as \"{}\"", back.root().display(), countersign_demo::team::PRESCRIBER_NAME);
                println!("  (or the desktop app with that COUNTERSIGN_HOME). Only the prescriber can sign the controlled-substance prescription.");
            }
        }
        println!("Proposals appear here as they arrive. Press Ctrl-D to stop.");

        let mut terminal = Terminal { lines: BufReader::new(tokio::io::stdin()).lines() };
        let mut changes = desk.lifecycle().store().subscribe();
        let mut skipped: HashSet<String> = HashSet::new();
        let mut alerted: HashSet<String> = HashSet::new();
        loop {
            // One step of the review; a store or log that cannot be reached (a team database
            // gone away) stops nothing for good: the desk says so, nothing is approved or run,
            // and it tries again.
            let step: anyhow::Result<bool> = async {
            let inbox = desk.inbox().await?;
            for alert in inbox.alerts.iter().rev() {
                if alerted.insert(format!("{}{}", alert.at, alert.credential)) {
                    println!("ALERT: {} tried to use the credential {} where it is not allowed, and was refused: {}", safe(&alert.agent), safe(&alert.credential), safe(&alert.message));
                }
            }
            // Routines waiting for a decision come first: they act without asking again.
            let routine = desk
                .routines()
                .await?
                .into_iter()
                .rev()
                .find(|r| r.status == RoutineStatus::Pending && !skipped.contains(&r.id));
            if let Some(line) = routine {
                match review_routine(&desk, &mut terminal, &line.id).await? {
                    Some(true) => {}
                    Some(false) => {
                        skipped.insert(line.id.clone());
                    }
                    None => return Ok(false),
                }
                return Ok(true);
            }
            // Oldest first: in the order they arrived, however many are waiting.
            let skipped_ids: Vec<String> = skipped.iter().cloned().collect();
            let Some(line) = desk.oldest_pending(&skipped_ids).await? else {
                println!("No proposals waiting.");
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return Ok(false) },
                    line = terminal.lines.next_line() => if line?.is_none() { return Ok(false) },
                }
                return Ok(true);
            };
            let view = desk.proposal(&line.id).await?;
            let shown = Instant::now();
            show(&view);
            let code = approval_code()?;
            let Some(answer) = terminal.ask(&format!("Type {code} to approve, r to reject, s to skip: ")).await? else { return Ok(false) };
            if answer == code {
                let mut factor = None;
                if view.requires_second_factor {
                    if let Some(signing) = &view.signing {
                        println!("{}", signing.attestation);
                    }
                    if let Some(demo_code) = desk.status().await?.demo_code {
                        println!("(Demo: the demo authenticator shows {demo_code}.)");
                    }
                    factor = terminal.ask("Second factor code: ").await?;
                }
                // Typing the code is the deliberate act here; the desk's minimum reading time
                // still applies.
                tokio::time::sleep_until((shown + MINIMUM_VIEW).into()).await;
                match desk.approve(&view.line.id, view.confirmation_word.as_deref(), factor.as_deref()).await {
                    Ok(done) if done.line.status == Status::Pending => {
                        // A team's two-person rule: this approval was the first.
                        println!("You approved first. The team's rule needs a second person: nothing runs until someone else approves it.");
                        skipped.insert(done.line.id.clone());
                    }
                    Ok(done) => {
                        println!("Result: {}", done.line.status);
                        if let Some(result) = &done.result {
                            let facts = done.result_words.as_ref().map(|w| w.facts.clone()).unwrap_or_default();
                            if let Some(words) = &done.result_words {
                                println!("{}", safe(&words.summary));
                                if !facts.is_empty() {
                                    println!("The result says:");
                                }
                                for (i, fact) in facts.iter().enumerate() {
                                    let mark = fact.sensitive.as_ref().map(|why| format!("   [sensitive: {why}]")).unwrap_or_default();
                                    println!("  {}. {}: {}{}", i + 1, safe(&fact.label), safe(&fact.value), safe(&mark));
                                }
                            }
                            if done.released.is_none() {
                                let mut choice = terminal.ask("Release to the agent: all, none, fact numbers (1,3) or field names separated by commas; raw shows the whole result: ").await?.unwrap_or_default();
                                if choice == "raw" {
                                    println!("{}", safe(&serde_json::to_string_pretty(result)?));
                                    choice = terminal.ask("Release to the agent: all, none, fact numbers or field names: ").await?.unwrap_or_default();
                                }
                                let choice = match choice.as_str() {
                                    "all" => ReleaseChoice { kind: ReleaseKind::All, fields: Vec::new() },
                                    "" | "none" => ReleaseChoice { kind: ReleaseKind::Nothing, fields: Vec::new() },
                                    // A number picks that fact's paths; anything else is a path.
                                    fields => ReleaseChoice {
                                        kind: ReleaseKind::Fields,
                                        fields: fields
                                            .split(',')
                                            .map(str::trim)
                                            .filter(|f| !f.is_empty())
                                            .flat_map(|f| match f.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| facts.get(i)) {
                                                Some(fact) => fact.paths.clone(),
                                                None => vec![f.to_owned()],
                                            })
                                            .collect(),
                                    },
                                };
                                let released = desk.release(&view.line.id, &choice).await?;
                                println!("The agent receives: {}", safe(&released.released.unwrap_or_default().to_string()));
                            } else {
                                println!("Released by this credential's default: {}", safe(&done.released.unwrap_or_default().to_string()));
                            }
                        }
                    }
                    Err(error) => println!("Not approved: {}", safe(&error.to_string())),
                }
            } else if answer == "r" {
                let reason = terminal.ask("Reason (optional): ").await?.unwrap_or_default();
                desk.reject(&view.line.id, &reason).await?;
                println!("Rejected.");
            } else if answer == "s" {
                skipped.insert(view.line.id.clone());
                println!("Skipped for now.");
            } else {
                println!("That was not the approval code; nothing was approved.");
            }
                        Ok(true)
            }
            .await;
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    println!("Countersign cannot reach its records now, so nothing is approved or run: {}. Trying again in a few seconds (Ctrl-D stops).", safe(&format!("{error:#}")));
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(3)) => {}
                        line = terminal.lines.next_line() => if line?.is_none() { break },
                    }
                }
            }
        }
        println!("Stopped. Pending proposals wait for the next review.");
        Ok(ExitCode::SUCCESS)
    })
}

/// Reviews one pending routine: its words, bounds and risks, then its word typed and the second
/// factor to approve. `Some(false)`: skipped; `None`: the input ended.
async fn review_routine(
    desk: &countersign_app::Desk,
    terminal: &mut Terminal,
    id: &str,
) -> anyhow::Result<Option<bool>> {
    let view = desk.routine(id).await?;
    let shown = Instant::now();
    println!();
    println!(
        "ROUTINE from {}: {}",
        safe(&view.line.agent),
        safe(&view.line.headline)
    );
    println!("It runs without asking you again, within these bounds:");
    println!("  {}", safe(&view.schedule));
    for (i, step) in view.steps.iter().enumerate() {
        println!("  Step {}: {}", i + 1, safe(step));
        if let Some(Some(limits)) = view.at_limits.get(i) {
            println!("    At its limits: {}", safe(limits));
        }
    }
    for bound in &view.bounds {
        println!("  Parameter {}", safe(bound));
    }
    for limit in &view.limits {
        println!("  {}", safe(limit));
    }
    println!("  {}", safe(&view.expiry));
    println!("  {}", safe(&view.release));
    if !view.risks.is_empty() {
        println!("Risks:");
        for risk in &view.risks {
            let mark = match risk.severity {
                RiskSeverity::Danger => "DANGER ",
                RiskSeverity::Caution => "caution",
                RiskSeverity::Info => "note   ",
            };
            println!("  [{mark}] {}", safe(&risk.message));
        }
    }
    println!("The agent says: {}", safe(&view.agent_summary));
    println!("Purpose given: {}", safe(&view.purpose));
    println!("routine_sha256: {}", view.routine_sha256);
    let word = &view.confirmation_word;
    let Some(answer) = terminal
        .ask(&format!(
            "Type {word} to approve this routine, r to reject, s to skip: "
        ))
        .await?
    else {
        return Ok(None);
    };
    if answer.trim().eq_ignore_ascii_case(word) {
        if let Some(demo_code) = desk.status().await?.demo_code {
            println!("(Demo: the demo authenticator shows {demo_code}.)");
        }
        let factor = terminal.ask("Second factor code: ").await?;
        tokio::time::sleep_until((shown + MINIMUM_VIEW).into()).await;
        match desk
            .approve_routine(id, Some(word), factor.as_deref())
            .await
        {
            Ok(done) => println!(
                "Routine approved: it is {}. {}",
                serde_json::to_value(done.line.status)?
                    .as_str()
                    .unwrap_or_default(),
                safe(&done.expiry)
            ),
            Err(error) => println!("Not approved: {}", safe(&error.to_string())),
        }
        Ok(Some(true))
    } else if answer == "r" {
        let reason = terminal
            .ask("Reason (optional): ")
            .await?
            .unwrap_or_default();
        desk.change_routine(id, RoutineChange::Reject, &reason)
            .await?;
        println!("Rejected.");
        Ok(Some(true))
    } else if answer == "s" {
        println!("Skipped for now.");
        Ok(Some(false))
    } else {
        println!("That was not the word; nothing was approved.");
        Ok(Some(true))
    }
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn nothing_a_terminal_acts_on_gets_through() {
        for text in [
            "Pay $5000.00\rPay $5.00",
            "\u{1b}[2J\u{1b}[HApproved",
            "a\u{2028}b",
            "evil\u{202e}gnp.exe",
            "\u{7}bell",
        ] {
            let shown = safe(text);
            assert!(
                !shown
                    .chars()
                    .any(|c| (c.is_control() && c != '\n') || c == '\u{2028}' || c == '\u{202e}'),
                "{shown:?}"
            );
            assert!(shown.contains("⟨U+"), "{shown:?}");
        }
        assert_eq!(safe("plain text\nnext"), "plain text\nnext");
    }
}
