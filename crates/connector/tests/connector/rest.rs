//! The REST connector over real TCP on 127.0.0.1, with a real HTTP client.

use std::sync::Arc;

use countersign_app::{Audit, DataHome, Lifecycle};
use countersign_audit::{Actor, ExportFormat, Filter};
use countersign_connector::{Connector, Limits};

/// A connector on 127.0.0.1 over a fresh data home, with one agent `claude`.
pub(crate) struct Running {
    _dir: tempfile::TempDir,
    pub(crate) audit: Arc<Audit>,
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) base: String,
    pub(crate) key: String,
}

pub(crate) async fn start(limits: Limits) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let home = DataHome::at(dir.path().join("home"));
    let audit = Arc::new(Audit::open(&home, Actor::person("alice")).await.unwrap());
    let lifecycle = Arc::new(
        Lifecycle::open_standard(&home, Arc::clone(&audit))
            .await
            .unwrap(),
    );
    let key = lifecycle
        .agents()
        .add("claude")
        .await
        .unwrap()
        .expose()
        .to_owned();
    let listener = countersign_connector::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let connector = Connector {
        lifecycle: Arc::clone(&lifecycle),
        allowed_origins: vec![],
        limits,
    };
    tokio::spawn(countersign_connector::serve(listener, connector));
    Running {
        _dir: dir,
        audit,
        lifecycle,
        base,
        key,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

const ANONYMOUS_READ: &str = r#"{"summary":"Read the forecast","purpose":"weather","artifact":{"kind":"http","credential":null,"method":"GET","url":"https://api.weather.example/v1/forecast?city=Boston"}}"#;

#[tokio::test]
async fn the_gate_refuses_what_is_not_a_local_agent() {
    let r = start(Limits::default()).await;
    let http = client();
    let url = format!("{}/v1/proposals", r.base);
    let send = |builder: reqwest::RequestBuilder| async move {
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        (
            status,
            body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let authorized = |b: reqwest::RequestBuilder| b.bearer_auth(&r.key);

    // DNS rebinding: a page on evil.example whose name now points here.
    let port = r.base.rsplit(':').next().unwrap();
    assert_eq!(
        send(
            authorized(http.post(&url))
                .header("host", format!("evil.example:{port}"))
                .header("content-type", "application/json")
                .body(ANONYMOUS_READ)
        )
        .await,
        (403, "forbidden_host".into())
    );
    assert_eq!(
        send(
            authorized(http.post(&url))
                .header("origin", "https://evil.example")
                .header("content-type", "application/json")
                .body(ANONYMOUS_READ)
        )
        .await,
        (403, "forbidden_origin".into())
    );
    // A CSRF-style simple request.
    assert_eq!(
        send(
            authorized(http.post(&url))
                .header("content-type", "text/plain")
                .body(ANONYMOUS_READ)
        )
        .await,
        (415, "unsupported_media_type".into())
    );
    assert_eq!(
        send(
            http.post(&url)
                .header("content-type", "application/json")
                .body(ANONYMOUS_READ)
        )
        .await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        send(
            http.post(&url)
                .bearer_auth("csa_forged")
                .header("content-type", "application/json")
                .body(ANONYMOUS_READ)
        )
        .await,
        (401, "unauthorized".into())
    );
    let huge = format!(
        r#"{{"summary":"{}","purpose":"x","artifact":{{"kind":"sql","database":"d","statement":"SELECT 1"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    assert_eq!(
        send(
            authorized(http.post(&url))
                .header("content-type", "application/json")
                .body(huge)
        )
        .await
        .0,
        413
    );
    assert_eq!(
        send(
            authorized(http.post(&url))
                .header("content-type", "application/json")
                .body("{\"summary\": ")
        )
        .await,
        (400, "invalid_json".into())
    );
    // A JSON-RPC batch is not a proposal.
    assert_eq!(
        send(
            authorized(http.post(&url))
                .header("content-type", "application/json")
                .body("[{\"jsonrpc\":\"2.0\"}]")
        )
        .await,
        (400, "invalid_json".into())
    );
    assert_eq!(send(authorized(http.post(&url)).header("content-type", "application/json").body(r#"{"summary":"x","purpose":"y","artifact":{"kind":"http","credential":"acme","method":"GET","url":"https://a.example/"}}"#)).await, (400, "unknown_credential".into()));

    // Revocation takes effect at once, while the connector runs.
    let ok = authorized(http.get(format!("{}/v1/capabilities", r.base)))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap()["agent"]["name"],
        "claude"
    );
    r.lifecycle.agents().revoke("claude").await.unwrap();
    assert_eq!(
        send(authorized(http.get(format!("{}/v1/capabilities", r.base)))).await,
        (401, "unauthorized".into())
    );
    assert!(r.lifecycle.store().pending().await.unwrap().is_empty());
}

#[tokio::test]
async fn propose_long_poll_and_read_only_the_released_part() {
    let r = start(Limits::default()).await;
    let http = client();
    let created = http
        .post(format!("{}/v1/proposals", r.base))
        .bearer_auth(&r.key)
        .header("content-type", "application/json")
        .body(ANONYMOUS_READ)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["status"], "pending");
    assert_eq!(
        created["explanation"]["headline"],
        "Read the forecast for city “Boston” on api.weather.example"
    );
    let id = created["id"].as_str().unwrap().to_owned();

    // The person rejects while the agent long-polls.
    let poll = http
        .get(format!("{}/v1/proposals/{id}?wait=20", r.base))
        .bearer_auth(&r.key)
        .send();
    let decide = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        r.lifecycle.reject(&id, "not now").await.unwrap();
    };
    let (response, ()) = tokio::join!(poll, decide);
    let view: serde_json::Value = response.unwrap().json().await.unwrap();
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["decision"]["reason"], "not now");
    assert_eq!(view["result"], serde_json::Value::Null);

    // Withdraw: only while pending, only one's own.
    let created: serde_json::Value = http
        .post(format!("{}/v1/proposals", r.base))
        .bearer_auth(&r.key)
        .header("content-type", "application/json")
        .body(ANONYMOUS_READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = created["id"].as_str().unwrap();
    let withdrawn = http
        .delete(format!("{}/v1/proposals/{second}", r.base))
        .bearer_auth(&r.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        withdrawn.json::<serde_json::Value>().await.unwrap()["status"],
        "withdrawn"
    );
    let again = http
        .delete(format!("{}/v1/proposals/{second}", r.base))
        .bearer_auth(&r.key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let missing = http
        .get(format!("{}/v1/proposals/prop_nope", r.base))
        .bearer_auth(&r.key)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn a_burst_of_1000_is_limited_and_nothing_runs_or_is_lost() {
    let r = start(Limits {
        burst: 50,
        per_second: 5.0,
        max_pending: 20,
        max_body: 1024 * 1024,
    })
    .await;
    let http = client();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let http = http.clone();
        let url = format!("{}/v1/proposals", r.base);
        let key = r.key.clone();
        tasks.push(tokio::spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(ANONYMOUS_READ)
                .send()
                .await
                .unwrap();
            let retry = response.headers().get("retry-after").is_some();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, retry, body)
        }));
    }
    let mut created = Vec::new();
    let mut limited = 0;
    for task in tasks {
        let (status, retry, body) = task.await.unwrap();
        match status {
            201 => created.push(body["id"].as_str().unwrap().to_owned()),
            429 => {
                assert!(retry, "429 without Retry-After");
                assert_eq!(body["error"]["code"], "rate_limited");
                limited += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created.len() + limited, 1000, "every request got an answer");
    assert!(
        created.len() <= 20,
        "at most the pending limit was accepted: {}",
        created.len()
    );
    let pending = r.lifecycle.store().pending().await.unwrap();
    assert_eq!(pending.len(), created.len(), "nothing accepted was lost");
    // The reviewer side stays responsive, and nothing ran without approval.
    let started = std::time::Instant::now();
    assert!(r.lifecycle.store().pending().await.is_ok());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let csv = r
        .audit
        .export(ExportFormat::Csv, &Filter::default())
        .await
        .unwrap();
    assert!(!csv.contains("execution.started"));
}
