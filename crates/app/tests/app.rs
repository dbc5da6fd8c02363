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

/// SIGKILL during an execution: on restart the execution is `outcome_unknown`, and nothing is
/// sent again (the server sees one request, the grant is used up).
#[tokio::test]
async fn kill_9_during_an_execution_is_outcome_unknown_and_never_retried() {
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A server that reads requests and never answers.
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

    let (_dir, home) = home();
    let exe = std::env::current_exe().unwrap();
    let helper = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("execute_once");
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
    assert_eq!(executions.recover(&audit).await.unwrap(), ["prop-crash"]);
    assert!(
        executions.recover(&audit).await.unwrap().is_empty(),
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
