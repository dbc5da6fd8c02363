//! Once the first-run guide is done, the app opens on the empty inbox, under a strict CSP, and
//! stays a single instance.

use std::process::Command;
use std::time::{Duration, Instant};

use countersign_e2e::Desktop;

/// The app on an empty data home of its own, without the demo, whose person already skipped
/// the first-run guide (`first_run.rs` tests the guide).
async fn launch_empty(home: &std::path::Path) -> anyhow::Result<Desktop> {
    std::fs::write(
        home.join(countersign_app::FIRST_RUN_FILE),
        r#"{"skipped":true}"#,
    )?;
    let home = home.to_string_lossy().into_owned();
    let connector = format!("127.0.0.1:{}", crate::review::free_port());
    Desktop::launch_with(
        &[
            ("COUNTERSIGN_HOME", &home),
            ("COUNTERSIGN_CONNECTOR_ADDR", &connector),
        ],
        &["--no-demo"],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_on_the_empty_inbox() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let desktop = launch_empty(dir.path()).await?;
    assert_eq!(
        desktop.text_of("#empty-inbox-heading").await?,
        "No proposals waiting."
    );
    let body = desktop.text_of("main").await?;
    assert!(
        body.contains("Connect an agent to get started."),
        "main reads: {body}"
    );
    assert_eq!(desktop.client.title().await?, "Countersign");
    desktop.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_script_is_blocked_and_no_global_tauri() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let desktop = launch_empty(dir.path()).await?;
    desktop.text_of("#empty-inbox-heading").await?;
    // The WebDriver script itself is exempt from the page's CSP; the inline <script> it adds is not.
    let ran = desktop
        .client
        .execute(
            "const s = document.createElement('script');
             s.textContent = 'window.__inlineRan = true;';
             document.head.append(s);
             return [window.__inlineRan === true, typeof window.__TAURI__];",
            vec![],
        )
        .await?;
    assert_eq!(ran, serde_json::json!([false, "undefined"]));
    desktop.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_hands_over_and_exits() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let desktop = launch_empty(dir.path()).await?;
    desktop.text_of("#empty-inbox-heading").await?;
    let mut second = Command::new(&desktop.binary)
        .env("COUNTERSIGN_HOME", dir.path())
        .arg("--no-demo")
        .spawn()?;
    // A hang guard, not a performance budget: the second copy must not stay up beside the first.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            anyhow::bail!("the second launch kept running beside the first");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the second launch exited with {status}");
    // The first copy is still there and still answers.
    assert_eq!(
        desktop.text_of("#empty-inbox-heading").await?,
        "No proposals waiting."
    );
    desktop.close().await
}
