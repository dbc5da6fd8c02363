//! The team log on a real PostgreSQL server (started by the test command): several desks append
//! at once and form one gap-free chain; entries cannot be changed, removed or truncated through
//! the database; tampering by the server's owner is found and located; a dropped connection fails
//! the append in flight closed, or is replaced before anything was sent.

use countersign_audit::{Actor, AuditLog, Event, NewEntry};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

fn admin_url() -> String {
    std::env::var("COUNTERSIGN_TEST_POSTGRES").expect(
        "COUNTERSIGN_TEST_POSTGRES is not set: run through scripts/test.sh, which starts PostgreSQL",
    )
}

/// A fresh database on the test server; its connect options.
async fn team_database() -> PgConnectOptions {
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    let mut conn = PgConnection::connect_with(&admin).await.unwrap();
    let name = format!(
        "team_audit_{}_{}",
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
    admin.database(&name)
}

fn entry(person: &str, n: usize) -> NewEntry {
    NewEntry::new(Actor::person(person), Event::DecisionApproved)
        .details(serde_json::json!({ "n": n, "desk": person }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desks_appending_at_once_form_one_gap_free_chain() {
    let options = team_database().await;
    let nurse = std::sync::Arc::new(AuditLog::open_team(options.clone()).await.unwrap());
    let doctor = std::sync::Arc::new(AuditLog::open_team(options.clone()).await.unwrap());
    assert_eq!(nurse.log_id(), doctor.log_id(), "one log for the team");
    let mut tasks = Vec::new();
    for (log, person) in [(&nurse, "nurse"), (&doctor, "doctor")] {
        for worker in 0..4 {
            let log = std::sync::Arc::clone(log);
            tasks.push(tokio::spawn(async move {
                for n in 0..50 {
                    log.append(entry(person, worker * 100 + n)).await.unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let verdict = nurse.verify(None, None, None).await.unwrap();
    assert!(verdict.intact(), "{:?}", verdict.problem);
    assert_eq!(verdict.entries, 400);
    assert_eq!(verdict.last_seq, 400);
    let entries = doctor
        .entries(&countersign_audit::Filter::default())
        .await
        .unwrap();
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
    let switches = entries
        .windows(2)
        .filter(|w| w[0].actor.name != w[1].actor.name)
        .count();
    assert!(switches > 1, "the desks' entries interleave in one chain");
    assert_eq!(
        nurse.last().await.unwrap(),
        Some((400, verdict.last_hash.clone()))
    );
    // Filters read as in the file log.
    let doctors = nurse
        .entries(&countersign_audit::Filter {
            actor: Some("doctor".into()),
            ..countersign_audit::Filter::default()
        })
        .await
        .unwrap();
    assert_eq!(doctors.len(), 200);
}

#[tokio::test]
async fn entries_cannot_be_changed_and_tampering_is_located() {
    let options = team_database().await;
    let log = AuditLog::open_team(options.clone()).await.unwrap();
    for n in 0..10 {
        log.append(entry("nurse", n)).await.unwrap();
    }
    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    for statement in [
        "UPDATE team_audit_entries SET details = '{}' WHERE seq = 3",
        "DELETE FROM team_audit_entries WHERE seq = 10",
        "TRUNCATE team_audit_entries",
    ] {
        let refused = sqlx::raw_sql(statement).execute(&mut conn).await;
        assert!(refused.is_err(), "{statement} was allowed");
    }
    assert!(log.verify(None, None, None).await.unwrap().intact());

    // The server's owner can switch the triggers off; the chain still tells.
    sqlx::raw_sql("ALTER TABLE team_audit_entries DISABLE TRIGGER USER")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(r#"UPDATE team_audit_entries SET details = '{"n":99}' WHERE seq = 4"#)
        .execute(&mut conn)
        .await
        .unwrap();
    let verdict = log.verify(None, None, None).await.unwrap();
    assert_eq!(verdict.problem.as_ref().unwrap().seq, 4, "{verdict:?}");
    assert!(verdict.problem.unwrap().what.contains("changed"));

    sqlx::raw_sql("DELETE FROM team_audit_entries WHERE seq = 4")
        .execute(&mut conn)
        .await
        .unwrap();
    let verdict = log.verify(None, None, None).await.unwrap();
    assert_eq!(verdict.problem.as_ref().unwrap().seq, 5, "{verdict:?}");
    assert!(verdict.problem.unwrap().what.contains("missing"));
}

#[tokio::test]
async fn a_dropped_connection_is_replaced_and_an_unreachable_server_fails_closed() {
    let options = team_database().await;
    let log = AuditLog::open_team(options.clone()).await.unwrap();
    log.append(entry("nurse", 0)).await.unwrap();
    // The server drops every connection of this database (a restart, a failover).
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .unwrap();
    let database = options.get_database().unwrap().to_owned();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database)
        .execute(&mut admin)
        .await
        .unwrap();
    // Nothing was sent on the dead connection: a new one writes the entry.
    log.append(entry("nurse", 1)).await.unwrap();
    let verdict = log.verify(None, None, None).await.unwrap();
    assert!(verdict.intact());
    assert_eq!(verdict.entries, 2);

    // No server at all: opening and appending fail, with the place named and no password.
    let nowhere = options.clone().port(free_port());
    let error = AuditLog::open_team(nowhere)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("cannot be written"), "{error}");
    assert!(!error.contains("postgres-admin-pw"), "{error}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Export, the newest entries, metadata and checkpoints work on the team log as on the file log.
#[tokio::test]
async fn the_team_log_exports_pages_and_checkpoints_as_the_file_log() {
    let options = team_database().await;
    let log = AuditLog::open_team(options).await.unwrap();
    for n in 0..5 {
        log.append(entry("nurse", n)).await.unwrap();
    }
    let newest = log
        .latest(&countersign_audit::Filter::default(), 2)
        .await
        .unwrap();
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 4]);
    let mut out = Vec::new();
    let counted = std::sync::Mutex::new(0);
    let written = log
        .export_to(
            &countersign_audit::Filter::default(),
            countersign_audit::ExportFormat::Json,
            &mut out,
            |n| {
                *counted.lock().unwrap() = n;
                async { Ok(()) }
            },
        )
        .await
        .unwrap();
    assert_eq!((written, *counted.lock().unwrap()), (5, 5));
    assert_eq!(
        String::from_utf8(out)
            .unwrap()
            .matches("decision.approved")
            .count(),
        5
    );
    log.set_meta("last_security_report_at", "2026-12-02")
        .await
        .unwrap();
    assert_eq!(
        log.meta("last_security_report_at")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-12-02")
    );

    // A checkpoint signed over the team log catches a deleted tail.
    let key = countersign_audit::CheckpointKey::generate().unwrap();
    let (seq, hash) = log.last().await.unwrap().unwrap();
    let checkpoint = key.sign(log.log_id(), seq, &hash, "2026-12-02T12:00:00.000000Z");
    let verdict = log
        .verify(Some(&checkpoint), Some(&key.verifying_key()), None)
        .await
        .unwrap();
    assert!(verdict.intact(), "{verdict:?}");
    assert!(log.place().starts_with("team database 127.0.0.1:"));
    assert!(log.path().is_none());
}
