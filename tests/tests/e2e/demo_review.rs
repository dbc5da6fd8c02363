//! The demo, reviewed in a pseudo-terminal: `countersign review --demo` starts the sandbox
//! services and the demo agent (a real MCP client); the test decides every proposal and vets
//! every routine (its word and the second factor) as the demo's script says, typing as a person
//! would, and checks each ends in its expected state as the agent sees it: the refusal shows as
//! an alert, the routines' runs inside their bounds ran with no prompt (the bill paid, tomorrow's
//! reminders really reached the demo's SMTP server, today's schedule released as first names and
//! times only), and the run over its bound waited for the person.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use countersign_demo::script::{Decision, Release, Sandbox, steps};
use expectrl::{ControlCode, Expect, Regex, Session};

use crate::review::{countersign_binary, free_port, watchdog};

/// The two demo tests fill the same keychain with a demo's credentials at once; one at a time,
/// as a person runs one demo.
pub static ONE_DEMO_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for the demo agent's report to settle and returns it.
pub fn settled_report(home: &Path, within: Duration) -> Vec<countersign_demo::agent::Outcome> {
    let report = home.join("demo").join("demo-agent.json");
    let start = Instant::now();
    loop {
        if let Ok(outcomes) = countersign_demo::agent::read_report(&report)
            && outcomes.len() == steps(&sandbox()).len()
            && outcomes.iter().all(|o| o.settled())
        {
            return outcomes;
        }
        assert!(
            start.elapsed() < within,
            "the demo agent's report did not settle: {:?}",
            std::fs::read_to_string(&report)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn sandbox() -> Sandbox {
    Sandbox {
        bank: String::new(),
        fhir: String::new(),
    }
}

/// Every step ends as the script says, as the agent sees it.
pub fn check_outcomes(outcomes: &[countersign_demo::agent::Outcome]) {
    for step in steps(&sandbox()) {
        let outcome = outcomes.iter().find(|o| o.key == step.key).unwrap();
        assert_eq!(
            outcome.status, step.expected_status,
            "step {}: {outcome:?}",
            step.key
        );
        match step.decision {
            Decision::Refused(code) => {
                assert_eq!(outcome.refusal.as_deref(), Some(code), "{}", step.key)
            }
            Decision::Approve(Release::Fields(fields)) => {
                let result = outcome.result.as_ref().unwrap();
                assert_eq!(result["released"], true, "{}", step.key);
                let data = result["data"].to_string();
                for field in fields {
                    let leaf = field.rsplit('.').next().unwrap();
                    assert!(
                        data.contains(leaf),
                        "step {}: {leaf} released: {data}",
                        step.key
                    );
                }
                assert!(
                    !result["withheld"].as_array().unwrap().is_empty(),
                    "step {}: something withheld",
                    step.key
                );
            }
            Decision::Approve(Release::All) => {
                assert_eq!(
                    outcome.result.as_ref().unwrap()["released"],
                    true,
                    "{}",
                    step.key
                );
            }
            Decision::Reject(_) => assert!(outcome.result.is_none()),
            Decision::ApproveRoutine => assert!(outcome.id.is_some(), "{}", step.key),
            Decision::RunsUnasked => {
                let result = outcome.result.as_ref().unwrap();
                let data = result["data"].to_string();
                match step.key {
                    "bill-run" => assert_eq!(result["data"]["body"]["status"], "completed"),
                    "reminders-run" => assert_eq!(result["released"], false, "{result}"),
                    "schedule-run" => {
                        // First names and times; never a surname or a phone number.
                        assert!(data.contains("Sam") && data.contains("09:00"), "{data}");
                        assert!(data.contains("Mei") && data.contains("11:30"), "{data}");
                        for hidden in ["Rivera", "Chen", "555-"] {
                            assert!(!data.contains(hidden), "{hidden} released: {data}");
                        }
                    }
                    other => panic!("an unknown run {other}"),
                }
            }
        }
    }
}

/// The “agent says” line of what the reviewer shows in `shown`, and the script's step for it.
pub fn step_shown<'a>(
    script: &'a [countersign_demo::Step],
    shown: &str,
) -> &'a countersign_demo::Step {
    let says = shown
        .rsplit("The agent says: ")
        .next()
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default()
        .trim();
    script
        .iter()
        .find(|s| {
            s.is_shown_as(
                says,
                shown.contains(countersign_demo::script::HELD_RUN_RISK),
            )
        })
        .unwrap_or_else(|| panic!("a demo proposal or routine: {shown}"))
}

/// The visit summary reached the demo SMTP server, with its attachment, for Jane only, and the
/// evening routine's reminders reached tomorrow's two patients, each addressed by first name.
pub fn check_mailbox(home: &Path) {
    let mailbox = home.join("demo").join("mailbox");
    let messages: Vec<String> = std::fs::read_dir(&mailbox)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(
        messages.len(),
        3,
        "the visit summary and two reminders were sent (the lookalike was rejected)"
    );
    let summary: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("visit-summary.pdf"))
        .collect();
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0].contains("X-Envelope-To: <jane.doe@mail.example>"),
        "{}",
        summary[0]
    );
    let reminders: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("Your appointment tomorrow"))
        .collect();
    assert_eq!(reminders.len(), 2, "one reminder per patient of tomorrow");
    for (address, first_name, time) in [
        ("jane.doe@mail.example", "Jane", "08:30"),
        ("sam.rivera@mail.example", "Sam", "15:00"),
    ] {
        assert!(
            reminders
                .iter()
                .any(|m| m.contains(&format!("X-Envelope-To: <{address}>"))
                    && m.contains(&format!("Dear {first_name},"))
                    && m.contains(time)),
            "a reminder to {address}: {reminders:?}"
        );
    }
    assert!(!messages.iter().any(|m| m.contains("mei.chen@mail.example")));
}

/// Types the code the demo authenticator shows when the reviewer asks for it.
fn enter_second_factor<S: Expect>(review: &mut S) {
    let factor = review
        .expect(Regex(r"authenticator shows (\d{6})"))
        .unwrap();
    let factor = String::from_utf8_lossy(factor.get(1).unwrap()).into_owned();
    review.expect("Second factor code: ").unwrap();
    review.send_line(&factor).unwrap();
}

#[test]
fn the_demo_in_the_terminal_reviewer() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut command = Command::new(countersign_binary());
    command
        .args(["review", "--demo"])
        .env("COUNTERSIGN_HOME", &home)
        .env(
            "COUNTERSIGN_CONNECTOR_ADDR",
            format!("127.0.0.1:{}", free_port()),
        );
    let _one_demo = ONE_DEMO_AT_A_TIME.blocking_lock();
    let mut review = Session::spawn(command).unwrap();
    watchdog(review.get_process().pid(), Duration::from_secs(600));
    review.set_expect_timeout(Some(Duration::from_secs(60)));
    // The demo's start, or the reason it could not start.
    let started = review
        .expect(Regex(r"DEMO: sandbox|countersign: [^\r\n]*"))
        .unwrap();
    let said = String::from_utf8_lossy(started.get(0).unwrap()).into_owned();
    assert!(
        said.starts_with("DEMO: sandbox"),
        "the demo did not start: {said}"
    );

    let script = steps(&sandbox());
    let asked = script.iter().filter(|s| s.asks_the_person()).count();
    let mut seen_alert = false;
    for _ in 0..asked {
        let prompt = review
            .expect(Regex(
                r"Type (\w+) to approve(?: this routine)?, r to reject, s to skip: ",
            ))
            .unwrap();
        let shown = String::from_utf8_lossy(prompt.before()).into_owned();
        seen_alert |= shown.contains("ALERT: demo-agent tried to use the credential demo-bank");
        let code = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
        let step = step_shown(&script, &shown);
        match &step.decision {
            Decision::ApproveRoutine => {
                assert!(
                    shown.contains("It runs without asking you again"),
                    "{shown}"
                );
                review.send_line(&code).unwrap();
                enter_second_factor(&mut review);
                review.expect("Routine approved").unwrap();
            }
            Decision::Approve(release) => {
                review.send_line(&code).unwrap();
                if step.key == "transfer" || step.key == "prescription" {
                    enter_second_factor(&mut review);
                }
                review.expect("Release to the agent").unwrap();
                match release {
                    Release::All => review.send_line("all").unwrap(),
                    Release::Fields(fields) => review.send_line(fields.join(",")).unwrap(),
                }
                review.expect("The agent receives").unwrap();
            }
            Decision::Reject(reason) => {
                if step.tool == "run_routine" {
                    assert!(
                        shown.contains("$212.40 is over the routine's most, $200.00"),
                        "{shown}"
                    );
                    assert!(
                        shown.contains("The agent says: Pay the Acme Power bill when it arrives"),
                        "{shown}"
                    );
                }
                review.send_line("r").unwrap();
                review.expect("Reason").unwrap();
                review.send_line(reason).unwrap();
                review.expect("Rejected.").unwrap();
            }
            Decision::Refused(_) | Decision::RunsUnasked => {
                unreachable!("refusals and runs inside their bounds never reach the person")
            }
        }
    }
    let waiting = review.expect("No proposals waiting.").unwrap();
    seen_alert |= String::from_utf8_lossy(waiting.before()).contains("ALERT: demo-agent");
    assert!(seen_alert, "the off-scope attempt is shown as an alert");

    check_outcomes(&settled_report(&home, Duration::from_secs(60)));
    check_mailbox(&home);
    review.send(ControlCode::EndOfTransmission).unwrap();
    review.expect("Stopped").unwrap();
}

/// The demo in team mode (design.md §19): `countersign review --demo --team-database` is the
/// nurse's desk, signed in as Nora Nurse; a second terminal is Dr Amir Khan's desk. Her agent's
/// controlled-substance prescription cannot be signed at her desk; he signs it at his, with his
/// own code, and it is sent once.
#[test]
fn the_team_demo_at_two_desks() {
    use crate::review::{TeamDatabase, team_database};
    let TeamDatabase {
        address, password, ..
    } = team_database("team_demo");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let mut command = Command::new(countersign_binary());
    command
        .args(["review", "--demo", "--team-database", &address])
        .env("COUNTERSIGN_HOME", &home)
        .env(
            "COUNTERSIGN_CONNECTOR_ADDR",
            format!("127.0.0.1:{}", free_port()),
        );
    let _one_demo = ONE_DEMO_AT_A_TIME.blocking_lock();
    let mut nurse = Session::spawn(command).unwrap();
    watchdog(nurse.get_process().pid(), Duration::from_secs(600));
    nurse.set_expect_timeout(Some(Duration::from_secs(60)));
    nurse.expect("Team demo database password: ").unwrap();
    nurse.send_line(&password).unwrap();
    let started = nurse
        .expect(Regex(
            r"COUNTERSIGN_HOME=(\S+) countersign review|countersign: [^\r\n]*",
        ))
        .unwrap();
    let back = String::from_utf8_lossy(started.get(1).unwrap_or_else(|| {
        panic!(
            "the team demo did not start: {}",
            String::from_utf8_lossy(started.get(0).unwrap())
        )
    }))
    .into_owned();

    // At the nurse's desk: everything is skipped, and the prescription cannot be signed.
    let mut refused = false;
    for _ in 0..40 {
        let prompt = nurse
            .expect(Regex(r"Type (\w+) to approve(?: this routine)?, r to reject, s to skip: |No proposals waiting\."))
            .unwrap();
        let Some(code) = prompt.get(1) else {
            if refused {
                break;
            }
            continue;
        };
        let code = String::from_utf8_lossy(code).into_owned();
        let shown = String::from_utf8_lossy(prompt.before()).into_owned();
        if shown.contains("Oxycodone") && !refused {
            nurse.send_line(&code).unwrap();
            enter_second_factor(&mut nurse);
            nurse.expect("Only a prescriber signs").unwrap();
            refused = true;
        } else {
            nurse.send_line("s").unwrap();
        }
    }
    assert!(
        refused,
        "the nurse was shown the prescription and could not sign it"
    );

    // At the prescriber's desk, in a second terminal.
    let mut command = Command::new(countersign_binary());
    command
        .args(["review", "--as", "Dr Amir Khan"])
        .env("COUNTERSIGN_HOME", &back)
        .env(
            "COUNTERSIGN_CONNECTOR_ADDR",
            format!("127.0.0.1:{}", free_port()),
        );
    let mut doctor = Session::spawn(command).unwrap();
    watchdog(doctor.get_process().pid(), Duration::from_secs(600));
    doctor.set_expect_timeout(Some(Duration::from_secs(60)));
    let shown = doctor
        .expect(Regex(r"Dr Amir Khan's authenticator shows (\d{6})"))
        .unwrap();
    let code = String::from_utf8_lossy(shown.get(1).unwrap()).into_owned();
    doctor
        .expect("Second factor code for Dr Amir Khan: ")
        .unwrap();
    doctor.send_line(&code).unwrap();
    let mut signed = false;
    for _ in 0..40 {
        let prompt = doctor
            .expect(Regex(
                r"Type (\w+) to approve(?: this routine)?, r to reject, s to skip: ",
            ))
            .unwrap();
        let word = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
        let shown = String::from_utf8_lossy(prompt.before()).into_owned();
        if shown.contains("Oxycodone") {
            assert!(
                shown.contains("AK1234563"),
                "his own signing block: {shown}"
            );
            doctor.send_line(&word).unwrap();
            enter_second_factor(&mut doctor);
            doctor.expect("Release to the agent").unwrap();
            doctor.send_line("all").unwrap();
            doctor.expect("The agent receives").unwrap();
            signed = true;
            break;
        }
        doctor.send_line("s").unwrap();
    }
    assert!(signed, "the prescriber signed the prescription at his desk");
    doctor.send(ControlCode::EndOfTransmission).unwrap();
    doctor.expect("Stopped").unwrap();
    nurse.send(ControlCode::EndOfTransmission).unwrap();
    nurse.expect("Stopped").unwrap();
}
