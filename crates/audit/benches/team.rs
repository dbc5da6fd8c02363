//! The team log's append rate on a real PostgreSQL server, from one desk and from several desks
//! at once (design.md §19), against the file log's one-at-a-time rate on this machine, measured in
//! the same run. Each desk is its own `TeamLog` (its own connection), submitting from eight tasks
//! as a desk's connector and reviewer do. ARCHITECTURE.md quotes these numbers.
//!
//! `scripts/bench.sh` starts PostgreSQL and runs it (`-- --quick` for a short run). Numbers are
//! printed, never asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use countersign_audit::{Actor, AuditLog, Event, NewEntry};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

fn entry(desk: usize, n: usize) -> NewEntry {
    NewEntry::new(
        Actor::person(&format!("person-{desk}")),
        Event::DecisionApproved,
    )
    .details(serde_json::json!({ "desk": desk, "n": n }))
}

/// Appends per second from `desks` desks with `tasks` submitters each, `per_task` entries each.
async fn team_rate(options: &PgConnectOptions, desks: usize, tasks: usize, per_task: usize) -> f64 {
    let mut logs = Vec::new();
    for _ in 0..desks {
        logs.push(Arc::new(
            AuditLog::open_team(options.clone()).await.unwrap(),
        ));
    }
    let start = Instant::now();
    let mut running = Vec::new();
    for (desk, log) in logs.iter().enumerate() {
        for task in 0..tasks {
            let log = Arc::clone(log);
            running.push(tokio::spawn(async move {
                for n in 0..per_task {
                    log.append(entry(desk, task * per_task + n)).await.unwrap();
                }
            }));
        }
    }
    for task in running {
        task.await.unwrap();
    }
    let total = desks * tasks * per_task;
    let rate = total as f64 / start.elapsed().as_secs_f64();
    assert!(logs[0].verify(None, None, None).await.unwrap().intact());
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let appends: usize = if quick { 200 } else { 2_000 };
    let admin: PgConnectOptions = std::env::var("COUNTERSIGN_TEST_POSTGRES")
        .expect("COUNTERSIGN_TEST_POSTGRES is not set: run through scripts/bench.sh, which starts PostgreSQL")
        .parse()
        .unwrap();

    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let file_log = AuditLog::open(&dir.path().join("audit.db")).await.unwrap();
    let start = Instant::now();
    for n in 0..appends {
        file_log.append(entry(0, n)).await.unwrap();
    }
    let file_rate = appends as f64 / start.elapsed().as_secs_f64();

    let mut conn = PgConnection::connect_with(&admin).await.unwrap();
    let fresh = |label: &str| {
        let name = format!("bench_team_{label}_{}", std::process::id());
        (name.clone(), admin.clone().database(&name))
    };
    let mut rates = Vec::new();
    for (label, desks, tasks) in [("one", 1, 1), ("one_busy", 1, 8), ("four", 4, 8)] {
        let (name, options) = fresh(label);
        // One statement each: PostgreSQL runs several in one transaction, which these refuse.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(&statement).execute(&mut conn).await.unwrap();
        }
        let per_task = (appends / (desks * tasks)).max(1);
        let rate = team_rate(&options, desks, tasks, per_task).await;
        rates.push((desks, tasks, rate));
        sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    println!("file log, one at a time (baseline): {file_rate:>10.0} appends/s");
    for (desks, tasks, rate) in rates {
        println!(
            "team log, {desks} desk(s) × {tasks} submitter(s):    {rate:>10.0} appends/s   ratio to the file log {:.2}",
            rate / file_rate
        );
    }
}
