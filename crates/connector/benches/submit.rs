//! Submission-to-pending latency over REST with 10 concurrent agents (validate, hash, explain,
//! persist, durable audit), against an empty handler on the same kind of server with the same
//! client, p50 and p99, in one run (design.md §17: p99 ≤ 15 ms); then again with 50 credentials
//! in the keychain (p50 within 1.5× of none). Needs the keychain (run it through
//! `scripts/test.sh`'s environment).
//!
//! `cargo bench -p countersign-connector --bench submit` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use countersign_app::{Audit, DataHome, Lifecycle};
use countersign_audit::Actor;
use countersign_connector::{Connector, Limits};

const AGENTS: usize = 10;
const PROPOSAL: &str = r#"{"summary":"Buy two cables","purpose":"reorder","artifact":{"kind":"http","credential":null,"method":"POST","url":"https://shop.example/api/orders","headers":{"Content-Type":"application/json"},"body":{"item":"USB-C cable","quantity":2,"merchant":"Amazon","amount":1998,"currency":"USD"}}}"#;

async fn measure(base: &str, keys: &[String], per_agent: usize, path: &str) -> Vec<Duration> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut tasks = Vec::new();
    for key in keys {
        let http = http.clone();
        let url = format!("{base}{path}");
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_agent);
            for _ in 0..per_agent {
                let start = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(PROPOSAL)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                let _ = response.bytes().await.unwrap();
                samples.push(start.elapsed());
            }
            samples
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all
}

fn percentile(samples: &[Duration], q: f64) -> f64 {
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let per_agent = if quick { 20 } else { 100 };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = DataHome::at(dir.path().join("home"));
    let audit = Arc::new(Audit::open(&home, Actor::person("bench")).await.unwrap());
    let lifecycle = Arc::new(
        Lifecycle::open_standard(&home, Arc::clone(&audit))
            .await
            .unwrap(),
    );
    let mut keys = Vec::new();
    for i in 0..AGENTS {
        keys.push(
            lifecycle
                .agents()
                .add(&format!("agent-{i}"))
                .await
                .unwrap()
                .expose()
                .to_owned(),
        );
    }
    let listener = countersign_connector::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let limits = Limits {
        burst: 1_000_000,
        per_second: 1_000_000.0,
        max_pending: i64::MAX,
        max_body: 1024 * 1024,
    };
    let connector = Connector {
        lifecycle,
        allowed_origins: vec![],
        limits,
    };
    tokio::spawn(countersign_connector::serve(listener, connector));

    // The baseline: the same server stack answering with an empty handler.
    let empty = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let empty_base = format!("http://{}", empty.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/v1/proposals",
        axum::routing::post(|| async { axum::http::StatusCode::CREATED }),
    );
    tokio::spawn(async move { axum::serve(empty, router).await });

    let baseline = measure(&empty_base, &keys, per_agent, "/v1/proposals").await;
    let submitted = measure(&base, &keys, per_agent, "/v1/proposals").await;
    println!(
        "submission benchmark ({AGENTS} concurrent agents, {} proposals)",
        submitted.len()
    );
    println!(
        "  empty handler:        p50 {:>7.3} ms   p99 {:>7.3} ms",
        percentile(&baseline, 0.5),
        percentile(&baseline, 0.99)
    );
    println!(
        "  submit to pending:    p50 {:>7.3} ms   p99 {:>7.3} ms   (target p99 ≤ 15 ms)",
        percentile(&submitted, 0.5),
        percentile(&submitted, 0.99)
    );
    println!(
        "  ratio:                p50 {:>7.1}      p99 {:>7.1}",
        percentile(&submitted, 0.5) / percentile(&baseline, 0.5),
        percentile(&submitted, 0.99) / percentile(&baseline, 0.99)
    );

    // The same with 50 credentials, their secrets in the keychain.
    let credentials = countersign_app::Credentials::open(&home).await.unwrap();
    for i in 0..50 {
        let meta = countersign_core::credential::CredentialMeta {
            name: format!("bank-{i}"),
            description: String::new(),
            kind: countersign_core::credential::CredentialKind::Http {
                auth: countersign_core::credential::HttpAuth::Bearer,
                scope: countersign_core::credential::HttpScope {
                    origins: vec![format!("https://api{i}.bank.example")],
                    methods: vec![],
                    path_prefixes: vec![],
                },
            },
            requires_second_factor: false,
            prescriber: None,
        };
        credentials
            .add(
                &audit,
                &meta,
                &countersign_vault::Secret::new(format!("sk_live_bench_{i:04}_0123456789abcdef")),
            )
            .await
            .expect("the keychain must be running (scripts/test.sh starts one)");
    }
    // The session loads the 50 secrets once after the change (the first submission pays it);
    // what is measured is the steady state.
    let _warm = measure(&base, &keys[..1], 1, "/v1/proposals").await;
    let with_credentials = measure(&base, &keys, per_agent, "/v1/proposals").await;
    println!(
        "  with 50 credentials:  p50 {:>7.3} ms   p99 {:>7.3} ms   (target p99 ≤ 15 ms)",
        percentile(&with_credentials, 0.5),
        percentile(&with_credentials, 0.99)
    );
    println!(
        "  50 credentials / none: p50 {:>6.2}×      (target ≤ 1.5×)",
        percentile(&with_credentials, 0.5) / percentile(&submitted, 0.5)
    );
    // The keychain entries are the bench's own (namespaced by its data home); remove them.
    for meta in credentials.list().await.unwrap() {
        credentials.remove(&audit, &meta.name).await.unwrap();
    }
}
