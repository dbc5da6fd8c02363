//! The desktop app in the real webview (tauri-driver + WebKitWebDriver under Xvfb): an MCP agent
//! proposes a payment, the person is notified, reviews, approves with the second factor, the
//! payment runs once against a local server, the person releases two fields, the agent receives
//! only those, and the audit screen shows the entries and verifies. Also: rejecting, the
//! hidden-character and mismatch warnings, Approve not armed at first, and auto-lock. Each main
//! screen is saved to the build folder's `screenshots/` (`scripts/screenshots.sh` refreshes the
//! README's).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_e2e::Desktop;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

use crate::review::{countersign_binary, free_port};

const TOKEN: &str = "bank-token-e2e-5521";

/// A payments API on 127.0.0.1 that records every request it receives.
pub(crate) fn bank() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = vec![0u8; 16384];
            let n = stream.read(&mut buffer).unwrap_or(0);
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            let body = r#"{"id":"pay_0001","status":"completed","balance_after":412310,"account_holder":{"ssn":"123-45-6789"}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (origin, seen)
}

fn cli(home: &Path, args: &[&str], stdin: &str) -> String {
    let out = crate::review::run(home, args, stdin);
    assert!(
        out.status.success(),
        "countersign {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A data home with the bank credential, an agent, a $50 threshold, a second factor enrolled
/// (its seed returned) and `auto_lock_seconds`.
fn prepared_home(home: &Path, origin: &str, auto_lock_seconds: u32) -> (String, Vec<u8>) {
    cli(
        home,
        &[
            "credential",
            "add",
            "bank",
            "--kind",
            "http",
            "--auth",
            "bearer",
            "--origin",
            origin,
            "--path-prefix",
            "/v1",
            "--description",
            "Everyday bank account",
        ],
        &format!("{TOKEN}\n"),
    );
    let key = cli(home, &["agent", "add", "claude"], "");
    let settings = serde_json::json!({ "auto_lock_seconds": auto_lock_seconds, "threshold": { "amount": "50", "currency": "USD" } });
    std::fs::write(home.join("settings.json"), settings.to_string()).unwrap();
    let seed = countersign_app::totp::new_secret().unwrap();
    let keychain = countersign_vault::Keychain::for_home(&std::path::absolute(home).unwrap());
    keychain
        .store(
            countersign_app::totp::KEYCHAIN_ENTRY,
            &countersign_vault::Secret::new(seed.clone()),
        )
        .unwrap();
    (key, countersign_app::totp::decode(&seed).unwrap())
}

pub(crate) fn code(seed: &[u8]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    countersign_app::totp::code(seed, now)
}

/// Watches the session bus for desktop notifications (`Notify` calls), as a notification
/// server would receive them.
fn watch_notifications() -> (std::process::Child, Arc<Mutex<String>>) {
    let mut monitor = Command::new("dbus-monitor")
        .args([
            "--session",
            "interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-monitor (package dbus-bin) is needed: run through scripts/test.sh");
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    let stdout = monitor.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    (monitor, text)
}

pub(crate) async fn launch(home: &Path, connector: &str) -> Desktop {
    let home = home.to_string_lossy().into_owned();
    Desktop::launch_with(
        &[
            ("COUNTERSIGN_HOME", &home),
            ("COUNTERSIGN_CONNECTOR_ADDR", connector),
        ],
        &["--no-demo"],
    )
    .await
    .unwrap()
}

pub(crate) async fn mcp(
    connector: &str,
    key: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{connector}/mcp"))
            .auth_header(key.to_owned()),
    );
    ().serve(transport).await.expect("the MCP session starts")
}

pub(crate) fn call(tool: &'static str, arguments: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool).with_arguments(arguments.as_object().cloned().unwrap())
}

/// What the agent reads of its proposal now (`get_proposal` over MCP).
async fn agent_view(
    agent: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    id: &str,
) -> serde_json::Value {
    agent
        .call_tool(call(
            "get_proposal",
            serde_json::json!({ "id": id, "wait_seconds": 5 }),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap()
}

pub(crate) async fn open_newest(desktop: &Desktop) {
    desktop.click("#pending a.proposal-link").await.unwrap();
    desktop
        .find("#review-headline", Duration::from_secs(20))
        .await
        .unwrap();
}

pub(crate) async fn type_into(desktop: &Desktop, css: &str, text: &str) {
    let field = desktop.find(css, Duration::from_secs(10)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

pub(crate) async fn approve_disabled(desktop: &Desktop) -> bool {
    desktop
        .find("#approve", Duration::from_secs(10))
        .await
        .unwrap()
        .attr("disabled")
        .await
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_payment_reviewed_approved_with_totp_released_in_part_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (origin, requests) = bank();
    let (key, seed) = prepared_home(&home, &origin, 0);
    let connector = format!("127.0.0.1:{}", free_port());
    let (mut monitor, notifications) = watch_notifications();
    let desktop = launch(&home, &connector).await;
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(30))
        .await
        .unwrap();

    let agent = mcp(&connector, &key).await;
    let proposed = agent
        .call_tool(call("propose_http_request", serde_json::json!({
            "summary": "Pay Northwind $120.00 for the office chairs", "purpose": "The person asked to pay the invoice.",
            "credential": "bank", "method": "POST", "url": format!("{origin}/v1/payments"),
            "headers": { "Content-Type": "application/json" },
            "body": { "amount": 12000, "currency": "USD", "payee": "Northwind Office Supply", "reference": "INV-2231" }
        })))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(proposed["status"], "pending", "{proposed}");
    let id = proposed["id"].as_str().unwrap().to_owned();

    // The person is told: a desktop notification, the count in the window.
    desktop
        .wait_for_text("#pending-count", "1 waiting", Duration::from_secs(20))
        .await
        .unwrap();
    for _ in 0..50 {
        if notifications
            .lock()
            .unwrap()
            .contains("claude proposes something for you to review")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        notifications
            .lock()
            .unwrap()
            .contains("claude proposes something for you to review"),
        "a desktop notification was sent: {}",
        notifications.lock().unwrap()
    );
    let _ = monitor.kill();
    desktop.screenshot("inbox").await.unwrap();

    open_newest(&desktop).await;
    assert_eq!(
        desktop.text_of("#review-headline").await.unwrap(),
        "Pay $120.00 to Northwind Office Supply"
    );
    assert!(
        approve_disabled(&desktop).await,
        "Approve is not armed at first"
    );
    assert!(desktop.text_of("#risks-title").await.is_ok());
    type_into(&desktop, "#second-factor", &code(&seed)).await;
    assert!(
        approve_disabled(&desktop).await,
        "a code does not arm Approve before the moment has passed"
    );
    assert!(
        requests.lock().unwrap().is_empty(),
        "nothing ran before approval"
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Enter never approves.
    desktop
        .find("#second-factor", Duration::from_secs(5))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        requests.lock().unwrap().is_empty(),
        "Enter approved nothing"
    );
    desktop.click("#show-artifact").await.unwrap();
    desktop.screenshot("review").await.unwrap();
    assert!(
        !approve_disabled(&desktop).await,
        "Approve armed after the moment"
    );
    desktop.click("#approve").await.unwrap();

    desktop
        .wait_for_text("#result-status", "ran once", Duration::from_secs(30))
        .await
        .unwrap();
    {
        let seen = requests.lock().unwrap();
        assert_eq!(seen.len(), 1, "exactly one request reached the bank");
        assert!(
            seen[0].contains(&format!("Bearer {TOKEN}")),
            "the app placed the secret"
        );
    }
    // The result reads as named facts; ticking two releases exactly their paths.
    desktop
        .wait_for_text("#result-summary", "pay_0001", Duration::from_secs(10))
        .await
        .unwrap();
    desktop.tick_result_path("body.id").await.unwrap();
    desktop.tick_result_path("body.status").await.unwrap();
    let preview = desktop
        .wait_for_text("#release-preview", "pay_0001", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        !preview.contains("123-45-6789") && !preview.contains("412310"),
        "the preview shows only the ticked fields: {preview}"
    );
    desktop
        .screenshot_from("result", "#result-title")
        .await
        .unwrap();
    desktop.click("#release").await.unwrap();
    desktop
        .wait_for_text("#released", "pay_0001", Duration::from_secs(10))
        .await
        .unwrap();

    // The agent receives only those two fields.
    let view = agent_view(&agent, &id).await;
    assert_eq!(view["status"], "succeeded");
    assert_eq!(
        view["result"]["data"],
        serde_json::json!({ "body": { "id": "pay_0001", "status": "completed" } })
    );
    let text = view.to_string();
    assert!(
        !text.contains("123-45-6789") && !text.contains(TOKEN),
        "{text}"
    );

    // The audit screen shows the entries and verifies.
    desktop.click("#nav-audit").await.unwrap();
    desktop
        .wait_for_text("#audit-entries", "result.released", Duration::from_secs(20))
        .await
        .unwrap();
    let entries = desktop.text_of("#audit-entries").await.unwrap();
    for event in [
        "proposal.received",
        "proposal.viewed",
        "second_factor.succeeded",
        "decision.approved",
        "grant.consumed",
        "execution.started",
        "execution.succeeded",
    ] {
        assert!(entries.contains(event), "{event} is listed");
    }
    desktop.click("#audit-verify").await.unwrap();
    desktop
        .wait_for_text("#audit-verdict", "intact", Duration::from_secs(20))
        .await
        .unwrap();
    desktop.screenshot("audit").await.unwrap();
    // Export through the native save dialog.
    let export = dir.path().join("audit-export.csv");
    desktop.click("#audit-export-csv").await.unwrap();
    let path = export.display().to_string();
    tokio::task::spawn_blocking(move || save_in_native_dialog("Export the audit log", &path))
        .await
        .unwrap();
    desktop
        .wait_for_text("#audit-status", "Exported to", Duration::from_secs(20))
        .await
        .unwrap();
    let csv = std::fs::read_to_string(&export).unwrap();
    assert!(
        csv.contains("decision.approved") && csv.contains("result.released"),
        "{csv}"
    );
    assert!(!csv.contains(TOKEN));

    // The other screens, for the README.
    desktop.click("#nav-credentials").await.unwrap();
    desktop
        .wait_for_text("#credentials", "Sent only to", Duration::from_secs(10))
        .await
        .unwrap();
    desktop.screenshot("credentials").await.unwrap();
    desktop.click("#nav-agents").await.unwrap();
    type_into(&desktop, "#agent-name", "cursor").await;
    desktop.click("#agent-connect").await.unwrap();
    desktop
        .wait_for_text("#connected-agent", "mcpServers", Duration::from_secs(10))
        .await
        .unwrap();
    desktop.screenshot("agents").await.unwrap();
    desktop.click("#nav-settings").await.unwrap();
    desktop
        .find("#auto-lock", Duration::from_secs(10))
        .await
        .unwrap();
    desktop.screenshot("settings").await.unwrap();
    // The diagnostic report, for support: counts and paths, no secret, no proposal's words.
    desktop.click("#copy-diagnostics").await.unwrap();
    desktop
        .wait_for_text(
            "#diagnostics-report",
            "Credentials: 1",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let report = desktop.text_of("#diagnostics-report").await.unwrap();
    assert!(
        report.contains("Data home:") && report.contains("Audit log:"),
        "{report}"
    );
    for private in [TOKEN, "Northwind", "INV-2231", "office chairs"] {
        assert!(
            !report.contains(private),
            "{private} in the report: {report}"
        );
    }
    // A backup through the native save dialog; restored into a new data home, it verifies.
    let backup = dir.path().join("records.backup");
    desktop.click("#backup-records").await.unwrap();
    let path = backup.display().to_string();
    tokio::task::spawn_blocking(move || save_in_native_dialog("Back up my records", &path))
        .await
        .unwrap();
    desktop
        .wait_for_text("#backup-status", "Backed up to", Duration::from_secs(30))
        .await
        .unwrap();
    let bytes = std::fs::read(&backup).unwrap();
    assert!(
        !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
        "no secret in the backup"
    );
    let moved = dir.path().join("new-computer");
    let restored = crate::review::run(&moved, &["restore", backup.to_str().unwrap()], "");
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(String::from_utf8_lossy(&restored.stdout).contains("Type the secret again for: bank"));
    assert!(
        crate::review::run(&moved, &["audit", "verify"], "")
            .status
            .success()
    );
    let _ = agent.cancel().await;
    // The secret never reached the page.
    let page = desktop.client.source().await.unwrap();
    assert!(!page.contains(TOKEN));
    desktop.close().await.unwrap();
    // Nor the support log, nor the proposal's words.
    let logs: Vec<_> = std::fs::read_dir(home.join("logs"))
        .expect("the support log is written in the data home")
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!logs.is_empty());
    for log in logs {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("listening for agents"), "{}", log.display());
        for private in [
            TOKEN,
            "Northwind",
            "INV-2231",
            "office chairs",
            "123-45-6789",
        ] {
            assert!(!text.contains(private), "{private} in {}", log.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_proposal_with_hidden_characters_is_flagged_and_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (origin, requests) = bank();
    let (key, _) = prepared_home(&home, &origin, 0);
    let connector = format!("127.0.0.1:{}", free_port());
    let desktop = launch(&home, &connector).await;
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(30))
        .await
        .unwrap();
    let agent = mcp(&connector, &key).await;
    let proposed = agent
        .call_tool(call(
            "propose_http_request",
            serde_json::json!({
                "summary": "Pay $9.99 to Amazon for the phone case", "purpose": "Routine.",
                "credential": "bank", "method": "POST", "url": format!("{origin}/v1/payments"),
                "headers": { "Content-Type": "application/json" },
                "body": { "amount": 99999, "currency": "USD", "payee": "Ama\u{202E}nozr" }
            }),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    let id = proposed["id"].as_str().unwrap().to_owned();
    desktop
        .wait_for_text("#pending-count", "1 waiting", Duration::from_secs(20))
        .await
        .unwrap();
    open_newest(&desktop).await;
    desktop
        .wait_for_text("#mismatch", "does not match", Duration::from_secs(10))
        .await
        .unwrap();
    let marker = desktop.text_of(".reality mark.hidden-char").await.unwrap();
    assert_eq!(marker, "⟨U+202E⟩");
    desktop
        .find(
            r#".risks li[data-code="hidden_characters"]"#,
            Duration::from_secs(5),
        )
        .await
        .expect("a hidden-characters risk is listed");
    desktop
        .find(
            r#".risks li[data-code="summary_mismatch"]"#,
            Duration::from_secs(5),
        )
        .await
        .expect("a mismatch risk is listed");
    desktop.screenshot("mismatch").await.unwrap();
    desktop
        .screenshot_from("mismatch-details", "#risks-title")
        .await
        .unwrap();
    type_into(
        &desktop,
        "#reject-reason",
        "The amount is $999.99, not $9.99.",
    )
    .await;
    desktop.click("#reject").await.unwrap();
    desktop
        .wait_for_text("#reject-reason-shown", "999.99", Duration::from_secs(10))
        .await
        .unwrap();
    let view = agent_view(&agent, &id).await;
    assert_eq!(view["status"], "rejected");
    assert_eq!(
        view["decision"]["reason"],
        "The amount is $999.99, not $9.99."
    );
    assert!(requests.lock().unwrap().is_empty(), "nothing was sent");
    let _ = agent.cancel().await;
    desktop.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_locks_itself_after_inactivity_and_unlocks_with_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (origin, _) = bank();
    let (_, seed) = prepared_home(&home, &origin, 3);
    let connector = format!("127.0.0.1:{}", free_port());
    let desktop = launch(&home, &connector).await;
    desktop
        .find("#lock-screen", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        desktop
            .client
            .find(fantoccini::Locator::Css("#empty-inbox-heading"))
            .await
            .is_err(),
        "nothing shows while locked"
    );
    desktop.screenshot("locked").await.unwrap();
    type_into(&desktop, "#unlock-code", "000000").await;
    desktop.click("#unlock").await.unwrap();
    desktop
        .wait_for_text("#unlock-error", "not right", Duration::from_secs(10))
        .await
        .unwrap();
    type_into(&desktop, "#unlock-code", &code(&seed)).await;
    desktop.click("#unlock").await.unwrap();
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(10))
        .await
        .unwrap();
    desktop.close().await.unwrap();
    let audit = cli(&home, &["audit", "export", "--format", "json"], "");
    for event in ["app.locked", "second_factor.failed", "app.unlocked"] {
        assert!(audit.contains(event), "{event} recorded");
    }
}

/// Waits for the native dialog titled `title` and gives it the keyboard (real X focus). A busy
/// machine can take a while to open GTK's file chooser the first time, and focusing a window
/// that is not mapped yet fails, so the focus is tried again.
pub(crate) fn focus_native_dialog(title: &str) {
    let found = Command::new("timeout")
        .args(["90", "xdotool", "search", "--sync", "--name", title])
        .output()
        .expect("xdotool is needed (apt-get install xdotool): run through scripts/test.sh");
    let window = String::from_utf8_lossy(&found.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        found.status.success() && !window.is_empty(),
        "the native dialog “{title}” opened"
    );
    let focused = (0..10).any(|_| {
        let done = Command::new("timeout")
            .args(["5", "xdotool", "windowfocus", "--sync", &window])
            .status()
            .is_ok_and(|s| s.success());
        if !done {
            std::thread::sleep(Duration::from_millis(500));
        }
        done
    });
    assert!(focused, "the native dialog “{title}” took the keyboard");
    std::thread::sleep(Duration::from_millis(400));
}

/// Types a path into the native save dialog titled `title` and saves.
fn save_in_native_dialog(title: &str, path: &str) {
    focus_native_dialog(title);
    assert!(
        Command::new("xdotool")
            .args(["key", "ctrl+a"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("xdotool")
            .args(["type", "--delay", "20", path])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        Command::new("xdotool")
            .args(["key", "Return"])
            .status()
            .unwrap()
            .success()
    );
}

/// Types `text` and Enter into the native secret dialog, as a person at the keyboard would
/// (xdotool sends real X key events to the focused window).
/// Enrols the second factor on the screen showing "Set up a second factor", reading the QR
/// code's key as an authenticator app would, saving a screenshot `shot` scrolled to `from`;
/// returns the seed.
pub(crate) async fn enrol_in_window(desktop: &Desktop, shot: &str, from: &str) -> Vec<u8> {
    desktop.click("#enrol-start").await.unwrap();
    desktop
        .find("#enrol-qr", Duration::from_secs(10))
        .await
        .unwrap();
    let key = desktop.text_of("#enrol-key").await.unwrap();
    let seed = countersign_app::totp::decode(&key).unwrap();
    desktop.screenshot_from(shot, from).await.unwrap();
    type_into(desktop, "#enrol-code", &code(&seed)).await;
    desktop.click("#enrol-confirm").await.unwrap();
    seed
}

pub(crate) fn type_into_native_dialog(text: &str) {
    focus_native_dialog("Countersign — secret");
    assert!(
        Command::new("xdotool")
            .args(["type", "--delay", "30", text])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        Command::new("xdotool")
            .args(["key", "Return"])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_is_added_with_its_secret_typed_into_a_native_dialog_never_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // The person skipped the first-run guide (first_run.rs walks through it).
    std::fs::write(
        home.join(countersign_app::FIRST_RUN_FILE),
        r#"{"skipped":true}"#,
    )
    .unwrap();
    let (origin, _) = bank();
    let connector = format!("127.0.0.1:{}", free_port());
    let desktop = launch(&home, &connector).await;
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(30))
        .await
        .unwrap();
    desktop.click("#nav-credentials").await.unwrap();
    type_into(&desktop, "#cred-name", "shop").await;
    type_into(&desktop, "#cred-description", "Office supplies shop").await;
    type_into(&desktop, "#cred-origins", &origin).await;
    desktop.click("#cred-method-POST").await.unwrap();
    type_into(&desktop, "#cred-prefixes", "/v1").await;
    let sentence = desktop.text_of("#scope-sentence").await.unwrap();
    assert!(
        sentence.contains(&format!("only to {origin}")) && sentence.contains("only POST"),
        "{sentence}"
    );
    desktop.click("#cred-add").await.unwrap();
    let secret = "shop-key-typed-natively-7731";
    tokio::task::spawn_blocking(move || type_into_native_dialog(secret))
        .await
        .unwrap();
    desktop
        .wait_for_text(
            "#credentials-status",
            "Added “shop”",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    desktop
        .wait_for_text("#credentials", "Sent only to", Duration::from_secs(20))
        .await
        .unwrap();
    let page = desktop.client.source().await.unwrap();
    assert!(!page.contains(secret), "the secret never reached the page");
    desktop
        .click("#credentials .card button.secondary")
        .await
        .unwrap();
    desktop
        .wait_for_text(
            "#credentials-status",
            "answered (HTTP",
            Duration::from_secs(20),
        )
        .await
        .unwrap();

    // Enrol the second factor from the settings screen, as with an authenticator app.
    desktop.click("#nav-settings").await.unwrap();
    enrol_in_window(&desktop, "enrolment", "#enrol-title").await;
    desktop
        .wait_for_text("#enrol-state", "Set up.", Duration::from_secs(20))
        .await
        .unwrap();
    desktop.close().await.unwrap();
    // The keychain holds it: an artifact carrying it is refused as secret_in_artifact.
    let proposal = serde_json::json!({ "summary": "x", "purpose": "y", "artifact": { "kind": "http", "credential": "shop", "method": "POST", "url": format!("{origin}/v1/orders"), "headers": {}, "body": { "note": secret } } });
    let mut child = Command::new(countersign_binary())
        .args(["explain", "-"])
        .env("COUNTERSIGN_HOME", &home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(proposal.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("secret_in_artifact"));
}

/// A routine proposed over MCP is vetted in the webview — its words and bounds, the typed word
/// and the second factor — then runs at the agent's request with no prompt, inside its bound,
/// and a run over the bound waits in the inbox marked as a held run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routine_is_vetted_in_the_window_then_runs_within_its_bounds_without_a_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (origin, requests) = bank();
    let (key, seed) = prepared_home(&home, &origin, 0);
    let connector = format!("127.0.0.1:{}", free_port());
    let desktop = launch(&home, &connector).await;
    desktop
        .find("#empty-inbox-heading", Duration::from_secs(30))
        .await
        .unwrap();
    let agent = mcp(&connector, &key).await;
    let proposed = agent
        .call_tool(call("propose_routine", serde_json::json!({
            "summary": "Pay the power bill each month", "purpose": "Household bills",
            "routine": {
                "parameters": { "amount": { "type": "money", "currency": "USD", "max": "200.00" } },
                "steps": [{ "id": "pay", "artifact": { "kind": "http", "credential": "bank", "method": "POST",
                    "url": format!("{origin}/v1/payments"), "headers": { "Content-Type": "application/json" },
                    "body": { "amount": { "$param": "amount" }, "currency": "USD", "payee": "Acme Power" } } }],
                "trigger": { "schedule": { "every": "month", "day": 1, "at": "09:00" }, "on_request": true },
                "scheduled_parameters": { "amount": "120.00" },
                "limits": { "runs_per_day": 2, "total_money": "2400.00" },
                "release": { "fields": ["body.status"] }
            }
        })))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(proposed["status"], "pending", "{proposed}");
    let id = proposed["id"].as_str().unwrap().to_owned();

    desktop
        .wait_for_text(
            "#routines-waiting",
            "1 routine is waiting",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    desktop.click("#nav-routines").await.unwrap();
    desktop
        .find("#pending-routines", Duration::from_secs(20))
        .await
        .unwrap();
    desktop.screenshot("routines").await.unwrap();
    desktop.click("#pending-routines a.headline").await.unwrap();
    desktop
        .wait_for_text(
            "#routine-bounds",
            "at most $200.00",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let schedule = desktop.text_of("#routine-schedule").await.unwrap();
    assert!(
        schedule.contains("every month on day 1 at 09:00"),
        "{schedule}"
    );
    let word = desktop
        .find("label[for=routine-word]", Duration::from_secs(5))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let word = word
        .split('“')
        .nth(1)
        .unwrap()
        .split('”')
        .next()
        .unwrap()
        .to_owned();
    desktop.screenshot("routine-review").await.unwrap();
    type_into(&desktop, "#routine-word", &word).await;
    type_into(&desktop, "#routine-code", &code(&seed)).await;
    tokio::time::sleep(Duration::from_millis(1800)).await;
    desktop.click("#approve-routine").await.unwrap();
    desktop
        .wait_for_text(".routine-review .meta", "Running", Duration::from_secs(20))
        .await
        .unwrap();

    // The agent asks for a run inside the bound: it runs at once, nobody is asked.
    let run = agent
        .call_tool(call(
            "run_routine",
            serde_json::json!({ "id": id, "parameters": { "amount": "120.00" } }),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        run["result"]["data"]["body"]["status"], "completed",
        "{run}"
    );
    assert!(!run.to_string().contains("123-45-6789"), "{run}");
    assert_eq!(requests.lock().unwrap().len(), 1);
    assert!(requests.lock().unwrap()[0].contains(r#""amount":120.00"#));

    // Over the bound: held, nothing sent, and in the inbox marked as a held run.
    let held = agent
        .call_tool(call(
            "run_routine",
            serde_json::json!({ "id": id, "parameters": { "amount": "250.00" } }),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(held["status"], "held", "{held}");
    assert_eq!(requests.lock().unwrap().len(), 1);
    desktop.click("#nav-inbox").await.unwrap();
    desktop
        .wait_for_text("#pending", "Held run of a routine", Duration::from_secs(20))
        .await
        .unwrap();
    desktop.close().await.unwrap();
}

/// A clinic's two desks on one team database (design.md §19, 21 CFR 1311.135(a)): the nurse
/// reviews in a terminal (`countersign review --as`), the prescriber at the desktop, signed in on
/// its sign-in screen with his own second factor. The nurse's agent drafts a controlled-substance
/// prescription at her desk; she cannot sign it; it waits at the prescriber's desk too, he signs
/// it there and it is sent once, with his desk's own credential. The team's log names both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_drafts_and_the_prescriber_signs_at_another_desk() {
    use crate::review::{TeamDatabase, enrolled, team_code, team_database, watchdog};
    use expectrl::{ControlCode, Expect as _, Regex, Session};
    let TeamDatabase {
        address, password, ..
    } = team_database("team_desktop");
    let dir = tempfile::tempdir().unwrap();
    let front = dir.path().join("front");
    let back = dir.path().join("back");
    let made = crate::review::run(
        &front,
        &["team", "init", "--database", &address, "--as", "Ana Admin"],
        &format!("{password}\n"),
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let ana = enrolled(&made);
    let add = |args: &[&str]| {
        let out = crate::review::run(&front, args, &format!("{}\n", team_code(&ana)));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        enrolled(&out)
    };
    let nora = add(&[
        "person",
        "add",
        "Nora Nurse",
        "--role",
        "nurse",
        "--as",
        "Ana Admin",
    ]);
    let khan = add(&[
        "person",
        "add",
        "Dr Khan",
        "--role",
        "prescriber",
        "--dea-number",
        "AB1234563",
        "--address",
        "1 Main St, Springfield",
        "--as",
        "Ana Admin",
    ]);
    cli(
        &front,
        &[
            "person",
            "confirm",
            "Dr Khan",
            "--role",
            "prescriber",
            "--as",
            "Dr Khan",
        ],
        &format!("{}\n", team_code(&khan)),
    );
    cli(
        &back,
        &["team", "join", "--database", &address],
        &format!("{password}\n"),
    );

    let (fhir, requests) = bank();
    cli(
        &front,
        &[
            "credential",
            "add",
            "clinic-fhir",
            "--kind",
            "http",
            "--auth",
            "bearer",
            "--origin",
            &fhir,
            "--as",
            "Nora Nurse",
        ],
        &format!("{}\nfront-desk-fhir-token\n", team_code(&nora)),
    );
    cli(
        &back,
        &[
            "credential",
            "add",
            "clinic-fhir",
            "--kind",
            "http",
            "--auth",
            "bearer",
            "--origin",
            &fhir,
            "--prescriber-name",
            "Dr Khan",
            "--prescriber-address",
            "1 Main St, Springfield",
            "--dea-number",
            "AB1234563",
            "--as",
            "Dr Khan",
        ],
        &format!("{}\nback-desk-fhir-token\n", team_code(&khan)),
    );
    let key = cli(
        &front,
        &["agent", "add", "scribe", "--as", "Ana Admin"],
        &format!("{}\n", team_code(&ana)),
    );

    // The nurse's desk, in a terminal; her agent drafts the prescription there.
    let nurse_connector = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(countersign_binary());
    command
        .args(["review", "--as", "Nora Nurse"])
        .env("COUNTERSIGN_HOME", &front)
        .env("COUNTERSIGN_CONNECTOR_ADDR", &nurse_connector);
    let mut terminal = Session::spawn(command).unwrap();
    watchdog(terminal.get_process().pid(), Duration::from_secs(600));
    terminal.set_expect_timeout(Some(Duration::from_secs(60)));
    terminal
        .expect("Second factor code for Nora Nurse: ")
        .unwrap();
    terminal.send_line(team_code(&nora)).unwrap();
    terminal.expect("listening for agents").unwrap();
    let body = serde_json::json!({
        "summary": "Prescribe pain relief after surgery", "purpose": "post-op",
        "artifact": { "kind": "http", "credential": "clinic-fhir", "method": "POST", "url": format!("{fhir}/r4/MedicationRequest"),
            "headers": { "Content-Type": "application/json" },
            "body": { "resourceType": "MedicationRequest", "status": "draft", "intent": "order",
                "medicationCodeableConcept": { "coding": [ { "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049621", "display": "Oxycodone Hydrochloride 5 MG Oral Tablet" } ] },
                "subject": { "reference": "Patient/pat-456", "display": "Sam Rivera" },
                "requester": { "reference": "Practitioner/dr-7", "display": "Dr Khan" },
                "dosageInstruction": [ { "text": "1 tablet every 6 hours as needed for pain" } ],
                "dispenseRequest": { "quantity": { "value": 12 }, "numberOfRepeatsAllowed": 0 } } }
    });
    let drafted: serde_json::Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://{nurse_connector}/v1/proposals"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(drafted["status"], "pending", "{drafted}");
    let sha = drafted["artifact_sha256"].as_str().unwrap().to_owned();
    let prompt = terminal.expect(Regex(r"Type (\w+) to approve")).unwrap();
    let word = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
    terminal.send_line(&word).unwrap();
    terminal.expect("Second factor code: ").unwrap();
    terminal.send_line(team_code(&nora)).unwrap();
    terminal.expect("Only a prescriber signs").unwrap();
    assert!(
        requests.lock().unwrap().is_empty(),
        "the nurse signed nothing"
    );

    // The prescriber's desk: the desktop asks who signs in.
    let desktop = launch(&back, &format!("127.0.0.1:{}", free_port())).await;
    desktop
        .find("#sign-in-name", Duration::from_secs(30))
        .await
        .unwrap();
    desktop.screenshot("team-sign-in").await.unwrap();
    type_into(&desktop, "#sign-in-name", "Dr Khan").await;
    type_into(&desktop, "#sign-in-code", "000000").await;
    desktop.click("#sign-in").await.unwrap();
    desktop
        .wait_for_text(
            "#sign-in-error",
            "do not sign anyone in",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    type_into(&desktop, "#sign-in-code", &team_code(&khan)).await;
    desktop.click("#sign-in").await.unwrap();
    desktop
        .wait_for_text("#signed-in", "Signed in: Dr Khan", Duration::from_secs(60))
        .await
        .unwrap();
    desktop
        .wait_for_text("#pending-count", "1 waiting", Duration::from_secs(30))
        .await
        .unwrap();
    if desktop
        .find("#review-headline", Duration::from_secs(5))
        .await
        .is_err()
    {
        open_newest(&desktop).await;
    }
    desktop
        .find("#signing", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        desktop
            .text_of("#review-headline")
            .await
            .unwrap()
            .contains("Oxycodone")
    );
    type_into(
        &desktop,
        "#confirm-word",
        &countersign_app::confirmation_word(&sha),
    )
    .await;
    type_into(&desktop, "#second-factor", &team_code(&khan)).await;
    tokio::time::sleep(Duration::from_millis(1700)).await;
    desktop.click("#approve").await.unwrap();
    desktop
        .wait_for_text("#result-status", "ran once", Duration::from_secs(30))
        .await
        .unwrap();
    {
        let seen = requests.lock().unwrap();
        assert_eq!(seen.len(), 1, "signed and sent once");
        assert!(
            seen[0].contains("Bearer back-desk-fhir-token"),
            "the prescriber's desk's own credential"
        );
    }
    desktop.close().await.unwrap();
    terminal.send(ControlCode::EndOfTransmission).unwrap();

    let log = cli(
        &back,
        &["audit", "export", "--format", "json", "--as", "Dr Khan"],
        &format!("{}\n", team_code(&khan)),
    );
    let entries: serde_json::Value = serde_json::from_str(&log).unwrap();
    let approved = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "decision.approved")
        .unwrap_or_else(|| panic!("no approval in {entries}"));
    assert_eq!(approved["actor"]["name"], "Dr Khan");
    assert!(log.contains("Nora Nurse") && !log.contains("desk-fhir-token"));
}
