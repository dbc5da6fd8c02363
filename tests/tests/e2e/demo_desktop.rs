//! The demo in the desktop app, in the real webview: `--demo` starts the sandbox services and
//! the demo agent (a real MCP client); the test decides every proposal through the screens as
//! the demo's script says — typing the danger word, the demo authenticator's code, signing the
//! prescription, ticking fields to release — vets the three routines on the Routines page (word
//! and code), rejects the run held for being over its bound, and checks each ends as expected for
//! the agent, the refusal shows as an alert, and the emails reached the demo's SMTP server. The
//! walkthrough's screenshots in the README come from here.

use std::time::Duration;

use countersign_demo::script::{Decision, Release, Sandbox, steps};
use countersign_e2e::Desktop;

use crate::demo_review::{check_mailbox, check_outcomes, settled_report};
use crate::review::free_port;

/// The text between “ and ” in `label`.
fn quoted(label: &str) -> String {
    label
        .split('“')
        .nth(1)
        .and_then(|rest| rest.split('”').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_in_the_desktop_app() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let home_text = home.to_string_lossy().into_owned();
    let connector = format!("127.0.0.1:{}", free_port());
    let _one_demo = crate::demo_review::ONE_DEMO_AT_A_TIME.lock().await;
    let desktop = Desktop::launch_with(
        &[
            ("COUNTERSIGN_HOME", &home_text),
            ("COUNTERSIGN_CONNECTOR_ADDR", &connector),
        ],
        &["--demo"],
    )
    .await
    .unwrap();
    let script = steps(&Sandbox {
        bank: String::new(),
        fhir: String::new(),
    });
    // The proposals the agent sends first; then its routines; then, once the bill routine is
    // approved, the run held for being over its bound.
    let proposed = script
        .iter()
        .filter(|s| s.asks_the_person() && !s.tool.contains("routine"))
        .count();
    let routines = script
        .iter()
        .filter(|s| s.decision == Decision::ApproveRoutine)
        .count();
    let pending = script
        .iter()
        .filter(|s| s.asks_the_person() && s.decision != Decision::ApproveRoutine)
        .count();
    desktop
        .find("#demo-label", Duration::from_secs(30))
        .await
        .unwrap();
    // The app opens on the newest proposal; wait until the agent has proposed everything.
    desktop
        .wait_for_text(
            "#pending-count",
            &format!("{proposed} waiting"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    desktop.click("#nav-inbox").await.unwrap();
    desktop
        .wait_for_text(".alerts", "demo-bank", Duration::from_secs(20))
        .await
        .unwrap();
    desktop
        .wait_for_text(
            "#routines-waiting",
            &format!("{routines} routines are waiting"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    desktop.screenshot("demo-inbox").await.unwrap();

    for n in 0..routines {
        desktop.click("#nav-routines").await.unwrap();
        desktop.click("#pending-routines a.headline").await.unwrap();
        let label = desktop
            .find("label[for=routine-word]", Duration::from_secs(20))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let summary = desktop.text_of("section.claim p").await.unwrap();
        let step = script
            .iter()
            .find(|s| s.is_shown_as(&summary, false))
            .unwrap_or_else(|| panic!("a demo routine: {summary}"));
        assert_eq!(step.decision, Decision::ApproveRoutine);
        if n == 0 {
            desktop.screenshot("demo-routine-review").await.unwrap();
        }
        desktop
            .find("#routine-word", Duration::from_secs(5))
            .await
            .unwrap()
            .send_keys(&quoted(&label))
            .await
            .unwrap();
        // The button arms after a moment; the code is read after it, so it has not rolled over.
        tokio::time::sleep(Duration::from_millis(1800)).await;
        desktop
            .find("#routine-code", Duration::from_secs(5))
            .await
            .unwrap()
            .send_keys(&desktop.text_of("#demo-code").await.unwrap())
            .await
            .unwrap();
        desktop.click("#approve-routine").await.unwrap();
        desktop
            .wait_for_text(".routine-review .meta", "Running", Duration::from_secs(20))
            .await
            .unwrap();
    }
    // Every routine is vetted: none waits on the Routines page.
    desktop.click("#nav-routines").await.unwrap();
    desktop
        .find("#routines", Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        desktop
            .client
            .find(fantoccini::Locator::Css("#pending-routines"))
            .await
            .is_err(),
        "a routine still waits"
    );
    desktop.click("#nav-inbox").await.unwrap();
    // The agent asks for the bill's runs once it sees the routine active; on a busy machine a
    // run of the reminders before it can take a while.
    if let Err(error) = desktop
        .wait_for_text("#pending", "Held run of a routine", Duration::from_secs(90))
        .await
    {
        panic!(
            "{error}; the demo agent's report: {}",
            std::fs::read_to_string(home.join("demo").join("demo-agent.json")).unwrap_or_default()
        );
    }

    for _ in 0..pending {
        desktop.click("#nav-inbox").await.unwrap();
        desktop.click("#pending a.proposal-link").await.unwrap();
        let summary = desktop.text_of("#agent-summary").await.unwrap();
        let held = desktop
            .text_of(".risks")
            .await
            .is_ok_and(|risks| risks.contains(countersign_demo::script::HELD_RUN_RISK));
        let step = script
            .iter()
            .find(|s| s.is_shown_as(&summary, held))
            .unwrap_or_else(|| panic!("a demo proposal: {summary}"));
        match &step.decision {
            Decision::Approve(release) => {
                if let Ok(label) = desktop.text_of(r#"label[for="confirm-word"]"#).await
                    && desktop
                        .client
                        .find(fantoccini::Locator::Css("#confirm-word"))
                        .await
                        .is_ok()
                {
                    let word = quoted(&label);
                    desktop
                        .find("#confirm-word", Duration::from_secs(5))
                        .await
                        .unwrap()
                        .send_keys(&word)
                        .await
                        .unwrap();
                }
                if desktop
                    .client
                    .find(fantoccini::Locator::Css("#second-factor"))
                    .await
                    .is_ok()
                {
                    let code = desktop.text_of("#demo-code").await.unwrap();
                    desktop
                        .find("#second-factor", Duration::from_secs(5))
                        .await
                        .unwrap()
                        .send_keys(&code)
                        .await
                        .unwrap();
                }
                match step.key {
                    "transfer" => desktop
                        .screenshot("demo-transfer-second-factor")
                        .await
                        .unwrap(),
                    "prescription" => desktop
                        .screenshot_from("demo-prescription-signing", "#decision-title")
                        .await
                        .unwrap(),
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(1700)).await;
                // The code may have rolled over while waiting; the banner always shows the current one.
                if desktop
                    .client
                    .find(fantoccini::Locator::Css("#second-factor"))
                    .await
                    .is_ok()
                {
                    let field = desktop
                        .find("#second-factor", Duration::from_secs(5))
                        .await
                        .unwrap();
                    field.clear().await.unwrap();
                    field
                        .send_keys(&desktop.text_of("#demo-code").await.unwrap())
                        .await
                        .unwrap();
                }
                desktop.click("#approve").await.unwrap();
                desktop
                    .wait_for_text("#result-status", "ran once", Duration::from_secs(30))
                    .await
                    .unwrap();
                match release {
                    Release::All => desktop.click("#release-all").await.unwrap(),
                    Release::Fields(fields) => {
                        for field in *fields {
                            desktop.tick_result_path(field).await.unwrap();
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                if step.key == "lab-results" {
                    desktop
                        .screenshot_from("demo-lab-results-release", "#result-title")
                        .await
                        .unwrap();
                }
                desktop.click("#release").await.unwrap();
                desktop
                    .find("#released", Duration::from_secs(10))
                    .await
                    .unwrap();
            }
            Decision::Reject(reason) => {
                match step.key {
                    "update-without-where" => desktop
                        .screenshot_from("demo-update-without-where", "#risks-title")
                        .await
                        .unwrap(),
                    "lying-summary" => desktop.screenshot("demo-lying-summary").await.unwrap(),
                    "lookalike" => desktop.screenshot("demo-lookalike").await.unwrap(),
                    "bill-over-bound" => desktop
                        .screenshot_from("demo-held-run", "#risks-title")
                        .await
                        .unwrap(),
                    _ => {}
                }
                let field = desktop
                    .find("#reject-reason", Duration::from_secs(5))
                    .await
                    .unwrap();
                field.send_keys(reason).await.unwrap();
                desktop.click("#reject").await.unwrap();
                desktop
                    .find("#reject-reason-shown", Duration::from_secs(10))
                    .await
                    .unwrap();
            }
            Decision::Refused(_) | Decision::ApproveRoutine | Decision::RunsUnasked => {
                unreachable!("refusals, routines and runs inside their bounds are not in the inbox")
            }
        }
    }
    desktop.click("#nav-inbox").await.unwrap();
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(20))
        .await
        .unwrap();
    check_outcomes(&settled_report(&home, Duration::from_secs(60)));
    check_mailbox(&home);
    desktop.click("#nav-audit").await.unwrap();
    desktop.click("#audit-verify").await.unwrap();
    desktop
        .wait_for_text("#audit-verdict", "intact", Duration::from_secs(20))
        .await
        .unwrap();
    desktop.close().await.unwrap();
}
