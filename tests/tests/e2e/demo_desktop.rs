//! The demo in the desktop app, in the real webview: `--demo` starts the sandbox services and
//! the demo agent (a real MCP client); the test decides every proposal through the screens as
//! the demo's script says — typing the danger word, the demo authenticator's code, signing the
//! prescription, ticking fields to release — and checks each ends as expected for the agent, the
//! refusal shows as an alert, and the email reached the demo's SMTP server. The walkthrough's
//! screenshots in the README come from here.

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
    let pending = script
        .iter()
        .filter(|s| !matches!(s.decision, Decision::Refused(_)))
        .count();
    desktop
        .find("#demo-label", Duration::from_secs(30))
        .await
        .unwrap();
    // The app opens on the newest proposal; wait until the agent has proposed everything.
    desktop
        .wait_for_text(
            "#pending-count",
            &format!("{pending} waiting"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    desktop.click("#nav-inbox").await.unwrap();
    desktop
        .wait_for_text(".alerts", "demo-bank", Duration::from_secs(20))
        .await
        .unwrap();
    desktop.screenshot("demo-inbox").await.unwrap();

    for _ in 0..pending {
        desktop.click("#nav-inbox").await.unwrap();
        desktop.click("#pending a.proposal-link").await.unwrap();
        let summary = desktop.text_of("#agent-summary").await.unwrap();
        let step = script
            .iter()
            .find(|s| s.arguments["summary"].as_str() == Some(summary.as_str()))
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
            Decision::Refused(_) => unreachable!("refusals never reach the person"),
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
