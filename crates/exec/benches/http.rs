//! HTTP execution overhead: the executor (re-check, DNS and address class, pinning, secret in
//! its slot, redaction) against a direct reqwest call to the same local server, p50 and p99,
//! printed as a difference and a ratio in one run (design.md §17: ≤ 1 ms added at p50).
//!
//! `cargo bench -p countersign-exec --bench http` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use countersign_core::Proposal;
use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth, HttpScope};
use countersign_exec::{GrantStore, HttpExecutor};
use countersign_vault::Secret;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 200 } else { 2_000 };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"{\"ok\":true}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let origin = format!("http://127.0.0.1:{port}");
    let url = format!("{origin}/v1/payments");
    let secret = Secret::new("bench-secret-token-123456".into());
    let meta = CredentialMeta {
        name: "bank".into(),
        description: String::new(),
        kind: CredentialKind::Http {
            auth: HttpAuth::Bearer,
            scope: HttpScope {
                origins: vec![origin.clone()],
                methods: vec![],
                path_prefixes: vec![],
            },
        },
        requires_second_factor: false,
        prescriber: None,
    };
    let body = r#"{"amount":9999,"currency":"USD","payee":"Amazon"}"#;

    // Baseline: a direct reqwest call with one long-lived client, as a program holding the
    // secret itself would make it.
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .build()
        .unwrap();
    let mut direct = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let response = client
            .post(&url)
            .bearer_auth(secret.expose())
            .body(body)
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await.unwrap();
        direct.push(start.elapsed());
    }

    // Grants are issued and consumed beforehand: this measures the execution, not approval.
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let text = format!(
        r#"{{"summary":"","purpose":"","artifact":{{"kind":"http","credential":"bank","method":"POST","url":"{url}","body":{body}}}}}"#
    );
    let artifact = Proposal::parse(&text).unwrap().artifact;
    let mut authorized = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let proposal = format!("p{i}");
        let grant = grants
            .issue(&proposal, artifact.sha256(), Duration::from_secs(600))
            .await
            .unwrap();
        authorized.push(
            grants
                .consume(&grant.id, &proposal, artifact.clone())
                .await
                .unwrap(),
        );
    }
    let executor = HttpExecutor::new();
    let mut executed = Vec::with_capacity(rounds);
    for a in authorized {
        let start = Instant::now();
        let outcome = executor.execute(a, Some((&meta, &secret))).await.unwrap();
        assert_eq!(outcome.status, 200);
        executed.push(start.elapsed());
    }

    let p = |samples: &mut Vec<Duration>, q: f64| {
        samples.sort();
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[index]
    };
    let (d50, d99) = (p(&mut direct, 0.50), p(&mut direct, 0.99));
    let (e50, e99) = (p(&mut executed, 0.50), p(&mut executed, 0.99));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("http execution benchmark ({rounds} requests each, local server)");
    println!(
        "  direct reqwest:   p50 {:>7.3} ms   p99 {:>7.3} ms",
        ms(d50),
        ms(d99)
    );
    println!(
        "  executor:         p50 {:>7.3} ms   p99 {:>7.3} ms",
        ms(e50),
        ms(e99)
    );
    println!(
        "  added:            p50 {:>7.3} ms   p99 {:>7.3} ms   (target ≤ 1 ms at p50)",
        ms(e50) - ms(d50),
        ms(e99) - ms(d99)
    );
    println!(
        "  ratio executor/direct: p50 {:.2}   p99 {:.2}",
        ms(e50) / ms(d50),
        ms(e99) / ms(d99)
    );
}
