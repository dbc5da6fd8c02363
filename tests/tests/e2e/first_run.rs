//! A newcomer's first run in the real webview: an empty data home opens on the guide; the
//! person enrols the second factor from its QR code, adds a first account from a template (the
//! secret typed into the native window), connects an assistant and sees the check turn green
//! when the assistant first asks what it may use; then the assistant's first proposal is
//! approved and runs once. The next start opens on the inbox. The guide also offers the demo.
//! Each step is saved to the build folder's `screenshots/` (first-run-*.png).

use std::path::Path;
use std::time::Duration;

use countersign_e2e::Desktop;

use crate::desktop::{
    approve_disabled, bank, call, enrol_in_window, launch, mcp, open_newest, type_into,
    type_into_native_dialog,
};
use crate::review::free_port;

async fn step_title(desktop: &Desktop, wanted: &str) {
    desktop
        .wait_for_text("#guide-step-title", wanted, Duration::from_secs(20))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_is_guided_from_the_empty_app_to_a_first_approved_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (origin, requests) = bank();
    let connector = format!("127.0.0.1:{}", free_port());
    let desktop = launch(&home, &connector).await;

    // 1. What Countersign does.
    step_title(&desktop, "Step 1 of 5: What Countersign does").await;
    assert_eq!(desktop.client.title().await.unwrap(), "Countersign");
    desktop.screenshot("first-run-1-welcome").await.unwrap();
    desktop.click("#guide-next").await.unwrap();

    // 2. The second factor, from the QR code's key as an authenticator app reads it.
    step_title(&desktop, "Step 2 of 5: Your second factor").await;
    enrol_in_window(&desktop, "first-run-2-second-factor", "#guide-page-title").await;
    desktop
        .wait_for_text(
            "#guide-status",
            "second factor is set up",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    desktop
        .wait_for_text("#guide-next", "Next", Duration::from_secs(10))
        .await
        .unwrap();
    desktop.click("#guide-next").await.unwrap();

    // 3. A first account from the "shop or bank" template: the address is what is left to type.
    step_title(&desktop, "Step 3 of 5: Your first account").await;
    desktop.click("#template-shop-or-bank").await.unwrap();
    let left = desktop.text_of("#cred-to-fill").await.unwrap();
    assert!(left.contains("the address of its API"), "{left}");
    let sentence = desktop.text_of("#scope-sentence").await.unwrap();
    assert!(sentence.contains("no address yet"), "{sentence}");
    type_into(&desktop, "#cred-origins", &origin).await;
    type_into(&desktop, "#cred-prefixes", "/v1").await;
    let sentence = desktop.text_of("#scope-sentence").await.unwrap();
    assert!(
        sentence.contains(&format!("only to {origin}")),
        "{sentence}"
    );
    desktop
        .screenshot_from("first-run-3-account", "#add-credential-title")
        .await
        .unwrap();
    desktop.click("#cred-add").await.unwrap();
    let secret = "shop-key-first-run-4471";
    tokio::task::spawn_blocking(move || type_into_native_dialog(secret))
        .await
        .unwrap();
    desktop
        .wait_for_text("#guide-accounts", "Added: “shop”", Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        !desktop.client.source().await.unwrap().contains(secret),
        "the secret never reached the page"
    );
    desktop.click("#guide-next").await.unwrap();

    // 4. The assistant: connected, then green once it asks what it may use.
    step_title(&desktop, "Step 4 of 5: Your assistant").await;
    type_into(&desktop, "#guide-agent-name", "claude-desktop").await;
    desktop.click("#guide-connect").await.unwrap();
    desktop
        .wait_for_text(
            "#agent-checks",
            "Waiting for “claude-desktop”",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let agent_key = desktop.text_of("#agent-key").await.unwrap();
    let agent = mcp(&connector, &agent_key).await;
    let capabilities = agent
        .call_tool(call("list_capabilities", serde_json::json!({})))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(capabilities["credentials"][0]["name"], "shop");
    desktop
        .wait_for_text(
            "#agent-checks",
            "✓ “claude-desktop” reached Countersign",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    desktop
        .screenshot_from("first-run-4-assistant", "#guide-step-title")
        .await
        .unwrap();
    desktop.click("#guide-next").await.unwrap();

    // 5. Ready: what is set up, then the inbox.
    step_title(&desktop, "Step 5 of 5: Ready").await;
    let summary = desktop.text_of("#guide-summary").await.unwrap();
    assert!(
        summary.contains("Second factor: set up.")
            && summary.contains("Accounts: shop.")
            && summary.contains("Assistants: claude-desktop."),
        "{summary}"
    );
    desktop.screenshot("first-run-5-ready").await.unwrap();
    desktop.click("#guide-finish").await.unwrap();
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(20))
        .await
        .unwrap();

    // The assistant's first proposal, approved: it runs once with the secret the page never saw.
    let proposed = agent
        .call_tool(call(
            "propose_http_request",
            serde_json::json!({
                "summary": "Read the order list", "purpose": "The person asked what is on order.",
                "credential": "shop", "method": "GET", "url": format!("{origin}/v1/orders"),
                "headers": {}, "body": null
            }),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(proposed["status"], "pending", "{proposed}");
    desktop
        .wait_for_text("#pending-count", "1 waiting", Duration::from_secs(20))
        .await
        .unwrap();
    open_newest(&desktop).await;
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(!approve_disabled(&desktop).await);
    desktop
        .screenshot("first-run-6-first-proposal")
        .await
        .unwrap();
    desktop.click("#approve").await.unwrap();
    desktop
        .wait_for_text("#result-status", "ran once", Duration::from_secs(30))
        .await
        .unwrap();
    {
        let seen = requests.lock().unwrap();
        assert_eq!(seen.len(), 1, "exactly one request reached the shop");
        assert!(seen[0].starts_with("GET /v1/orders"), "{}", seen[0]);
        assert!(seen[0].contains(&format!("Bearer {secret}")));
    }
    let _ = agent.cancel().await;
    desktop.close().await.unwrap();

    // The next start opens on the inbox: the guide is done.
    let desktop = launch(&home, &connector).await;
    desktop
        .find("#inbox-title, #pending", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        desktop
            .client
            .find(fantoccini::Locator::Css("#guide"))
            .await
            .is_err()
    );
    desktop.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_can_be_skipped_reopened_from_settings_and_offers_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let connector = format!("127.0.0.1:{}", free_port());
    let desktop = launch(&home, &connector).await;
    step_title(&desktop, "Step 1 of 5").await;
    desktop.click("#guide-skip").await.unwrap();
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(20))
        .await
        .unwrap();
    assert!(Path::new(&home).join("first-run.json").exists());
    desktop.click("#nav-settings").await.unwrap();
    desktop.click("#open-guide").await.unwrap();
    step_title(&desktop, "Step 1 of 5").await;
    for _ in 0..4 {
        desktop.click("#guide-next").await.unwrap();
    }
    step_title(&desktop, "Step 5 of 5: Ready").await;
    desktop.click("#guide-demo").await.unwrap();
    // The window now shows the demo: labelled, and its assistant's proposals arrive.
    desktop
        .find("#demo-label", Duration::from_secs(60))
        .await
        .unwrap();
    // The window may already have opened the newest proposal: the inbox lists what arrived.
    desktop.click("#nav-inbox").await.unwrap();
    desktop
        .find("#pending a.proposal-link", Duration::from_secs(60))
        .await
        .unwrap();
    desktop.close().await.unwrap();
}
