//! The inbox and the status the screens poll, with 10,000 proposals pending (design.md §17:
//! p99 ≤ 20 ms), against the same calls with 10 pending in the same run. The pending rows are
//! copies of one real submission (explained, audited), written straight into `proposals.db`, so
//! the state is realistic and the setup takes seconds. Needs the keychain (run it through
//! `scripts/bench.sh`).
//!
//! `cargo bench -p countersign-app --bench inbox` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use countersign_app::{Audit, DataHome, Desk, DeskOptions, Lifecycle};
use countersign_audit::Actor;
use sqlx::Connection as _;

const PROPOSAL: &str = r#"{"summary":"Buy two cables","purpose":"reorder","artifact":{"kind":"http","credential":null,"method":"POST","url":"https://api.shop.example/api/orders","headers":{"Content-Type":"application/json"},"body":{"item":"USB-C cable","quantity":2,"merchant":"Amazon","amount":1998,"currency":"USD"}}}"#;

/// A data home with `pending` proposals waiting.
async fn home_with(pending: usize) -> (tempfile::TempDir, DataHome) {
    let dir = tempfile::tempdir().unwrap();
    let home = DataHome::at(dir.path().to_path_buf());
    home.ensure().unwrap();
    {
        let audit = std::sync::Arc::new(Audit::open(&home, Actor::app()).await.unwrap());
        let lifecycle = Lifecycle::open_standard(&home, std::sync::Arc::clone(&audit))
            .await
            .unwrap();
        let _key = lifecycle.agents().add("bench").await.unwrap();
        lifecycle.submit("bench", PROPOSAL).await.unwrap().unwrap();
    }
    let mut db = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        home.root().join("proposals.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO proposals (id, agent, received_at, expires_at, summary, purpose, artifact,
             artifact_sha256, explanation, status)
         SELECT p.id || '-' || n.i, p.agent,
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || n.i || ' seconds'),
                p.expires_at, p.summary, p.purpose, p.artifact, p.artifact_sha256,
                p.explanation, 'pending'
         FROM proposals p, n",
    )
    .bind(i64::try_from(pending).unwrap() - 1)
    .execute(&mut db)
    .await
    .unwrap();
    (dir, home)
}

fn percentile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

async fn measure(home: DataHome, rounds: usize) -> (f64, f64, f64, f64) {
    let (desk, _) = Desk::open(home, Actor::person("bench"), DeskOptions::default())
        .await
        .unwrap();
    let mut inbox = Vec::with_capacity(rounds);
    let mut status = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let view = desk.inbox().await.unwrap();
        inbox.push(start.elapsed());
        assert!(!view.pending.is_empty());
        let start = Instant::now();
        let _ = desk.status().await.unwrap();
        status.push(start.elapsed());
    }
    (
        percentile(&mut inbox, 0.5),
        percentile(&mut inbox, 0.99),
        percentile(&mut status, 0.5),
        percentile(&mut status, 0.99),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 50 } else { 300 };
    let (_few_dir, few) = home_with(10).await;
    let (_many_dir, many) = home_with(10_000).await;
    let (few_inbox50, few_inbox99, few_status50, few_status99) = measure(few, rounds).await;
    let (inbox50, inbox99, status50, status99) = measure(many, rounds).await;
    println!("inbox and status: 10 pending (baseline) against 10,000 pending, {rounds} rounds");
    println!(
        "  inbox  p50 {few_inbox50:>7.2} ms → {inbox50:>7.2} ms   p99 {few_inbox99:>7.2} ms → {inbox99:>7.2} ms   ratio p99 {:.2}",
        inbox99 / few_inbox99
    );
    println!(
        "  status p50 {few_status50:>7.2} ms → {status50:>7.2} ms   p99 {few_status99:>7.2} ms → {status99:>7.2} ms   ratio p99 {:.2}",
        status99 / few_status99
    );
    let met = inbox99 <= 20.0 && status99 <= 20.0;
    println!(
        "  target p99 ≤ 20 ms with 10,000 pending: {}",
        if met { "met" } else { "NOT met" }
    );
}
