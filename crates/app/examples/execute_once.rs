//! A helper for the crash test: approves and executes one plain-HTTP GET to a server on this
//! computer, printing the grant id before executing, so the test can `kill -9` it mid-request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::time::Duration;

use countersign_app::{Audit, DataHome, Executions};
use countersign_audit::Actor;
use countersign_core::Proposal;
use countersign_exec::{EmailExecutor, HttpExecutor, SqlExecutor};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let home = DataHome::at(args.next().expect("usage: execute_once HOME ORIGIN").into());
    let origin = args.next().expect("usage: execute_once HOME ORIGIN");
    let audit = Audit::open(&home, Actor::person("crash-test"))
        .await
        .unwrap();
    let http = HttpExecutor::new().with_plain_loopback_origins(vec![origin.clone()]);
    let executions = Executions::open(&home, http, SqlExecutor::new(), EmailExecutor::new())
        .await
        .unwrap();
    let text = format!(
        r#"{{"summary":"","purpose":"","artifact":{{"kind":"http","credential":null,"method":"POST","url":"{origin}/v1/transfers","body":{{"amount":100}}}}}}"#
    );
    let artifact = Proposal::parse(&text).unwrap().artifact;
    let grant = executions
        .grant("prop-crash", &artifact, Duration::from_secs(600))
        .await
        .unwrap();
    println!("grant {}", grant.id);
    std::io::stdout().flush().unwrap();
    let outcome = executions
        .execute(&audit, &grant.id, "prop-crash", artifact)
        .await;
    println!("finished {outcome:?}");
}
