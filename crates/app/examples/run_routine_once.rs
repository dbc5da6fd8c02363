//! A helper for the routine crash test: sets up a data home with one HTTP credential for a server
//! on this computer, an approved routine that posts a payment to it, and starts one run,
//! printing the routine id first, so the test can `kill -9` it mid-request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

use countersign_app::{Audit, Collaborators, DataHome, Executions, Lifecycle, Requester};
use countersign_audit::Actor;
use countersign_core::json::Json;
use countersign_exec::{EmailExecutor, HttpExecutor, SqlExecutor};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let home = DataHome::at(
        args.next()
            .expect("usage: run_routine_once HOME ORIGIN")
            .into(),
    );
    let origin = args.next().expect("usage: run_routine_once HOME ORIGIN");
    let audit = Arc::new(
        Audit::open(&home, Actor::person("crash-test"))
            .await
            .unwrap(),
    );
    let credentials = countersign_app::Credentials::open(&home).await.unwrap();
    let meta = countersign_core::credential::CredentialMeta {
        name: "bank".into(),
        description: "Test bank".into(),
        kind: countersign_core::credential::CredentialKind::Http {
            auth: countersign_core::credential::HttpAuth::Bearer,
            scope: countersign_core::credential::HttpScope {
                origins: vec![origin.clone()],
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
            &countersign_vault::Secret::new("crash-token-0001".into()),
        )
        .await
        .unwrap();
    let secret = countersign_app::totp::new_secret().unwrap();
    home.keychain()
        .store(
            countersign_app::totp::KEYCHAIN_ENTRY,
            &countersign_vault::Secret::new(secret.clone()),
        )
        .unwrap();
    let http = HttpExecutor::new().with_plain_loopback_origins(vec![origin.clone()]);
    let executions = Executions::open(&home, http, SqlExecutor::new(), EmailExecutor::new())
        .await
        .unwrap();
    let lifecycle = Lifecycle::open(
        &home,
        Collaborators {
            audit,
            executions,
            second_factor: Arc::new(countersign_app::SecondFactor::new(home.keychain())),
        },
    )
    .await
    .unwrap();
    lifecycle.agents().add("claude").await.unwrap();
    let text = format!(
        r#"{{"summary":"Pay","purpose":"bills","routine":{{"parameters":{{"amount":{{"type":"money","currency":"USD","max":"200"}}}},
          "steps":[{{"id":"pay","artifact":{{"kind":"http","credential":"bank","method":"POST","url":"{origin}/v1/transfers",
            "headers":{{"Content-Type":"application/json"}},"body":{{"amount":{{"$param":"amount"}}}}}}}}],
          "limits":{{"runs_per_day":5}},"release":"all"}}}}"#
    );
    let routine = lifecycle
        .submit_routine("claude", &text)
        .await
        .unwrap()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = countersign_app::totp::code(&countersign_app::totp::decode(&secret).unwrap(), now);
    lifecycle
        .approve_routine(&routine.id, Some(&code))
        .await
        .unwrap();
    println!("routine {}", routine.id);
    std::io::stdout().flush().unwrap();
    let values = BTreeMap::from([("amount".to_owned(), Json::Number("100".into()))]);
    let outcome = lifecycle
        .run_routine(&routine.id, Requester::Agent("claude".into()), &values)
        .await;
    println!("finished {outcome:?}");
}
