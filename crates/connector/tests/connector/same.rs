//! The same input through REST and through MCP gives the same answer: refusal code and field, or
//! the same artifact hash and explanation. MCP is spoken here by hand over HTTP (initialize, then
//! `tools/call` with the arguments as raw text), because an MCP client library would re-encode
//! the arguments — and the point is what happens to the exact bytes an agent sends: duplicate
//! keys, `12.50`, `1e2`, `-0`, a 30-digit integer.

use countersign_connector::Limits;

struct Both {
    running: crate::rest::Running,
    session: String,
    client: reqwest::Client,
    next_id: std::sync::atomic::AtomicU64,
}

/// The JSON-RPC answer in a streamable-HTTP response (plain JSON or one SSE `data:` event).
fn rpc_answer(body: &str) -> serde_json::Value {
    if let Ok(value) = serde_json::from_str(body) {
        return value;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {body}"))
}

impl Both {
    async fn start() -> Both {
        let running = crate::rest::start(Limits::default()).await;
        let (base, key) = (running.base.clone(), running.key.clone());
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let initialize = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
        let response = client
            .post(format!("{base}/mcp"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize)
            .send()
            .await
            .unwrap();
        let session = response
            .headers()
            .get("mcp-session-id")
            .expect("a session id")
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.text().await.unwrap();
        let both = Both {
            running,
            session,
            client,
            next_id: std::sync::atomic::AtomicU64::new(1),
        };
        both.mcp_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        both
    }

    async fn mcp_raw(&self, body: &str) -> String {
        self.client
            .post(format!("{}/mcp", self.running.base))
            .bearer_auth(&self.running.key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Calls a tool with `arguments` exactly as written; returns (is_error, the JSON it carried).
    async fn tool(&self, name: &str, arguments: &str) -> (bool, serde_json::Value) {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}","arguments":{arguments}}}}}"#
        );
        let answer = rpc_answer(&self.mcp_raw(&body).await);
        let result = &answer["result"];
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text in {answer}"));
        (
            result["isError"] == true,
            serde_json::from_str(text).unwrap(),
        )
    }

    async fn rest(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.running.base))
            .bearer_auth(&self.running.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// (what it is, the artifact's own fields as raw JSON text after `"credential":null,`)
const CASES: &[(&str, &str)] = &[
    (
        "exact numbers",
        r#""method":"POST","url":"https://api.payments.example/v1/charges","headers":{"Content-Type":"application/json"},"body":{"amount":12.50,"rate":1e2,"zero":-0,"id":123456789012345678901234567890,"currency":"usd"}"#,
    ),
    (
        "a duplicate key in the body",
        r#""method":"POST","url":"https://api.payments.example/v1/charges","headers":{"Content-Type":"application/json"},"body":{"amount":500000,"currency":"usd","amount":100}"#,
    ),
    (
        "a duplicate key in JSON text",
        r#""method":"POST","url":"https://api.payments.example/v1/charges","headers":{"Content-Type":"application/json"},"body":"{\"amount\":500000,\"amount\":100}""#,
    ),
    (
        "a repeated form field",
        r#""method":"POST","url":"https://api.payments.example/v1/charges","headers":{"Content-Type":"application/x-www-form-urlencoded"},"body":"amount=500000&currency=usd&amount=100""#,
    ),
    (
        "a duplicate header name",
        r#""method":"GET","url":"https://api.payments.example/v1/balance","headers":{"Accept":"a","Accept":"b"},"body":null"#,
    ),
    (
        "a method override spelled with underscores",
        r#""method":"POST","url":"https://api.payments.example/v1/charges","headers":{"X_HTTP_Method_Override":"DELETE","Content-Type":"application/json"},"body":{"amount":1}"#,
    ),
    (
        "a field the artifact does not have",
        r#""method":"GET","url":"https://api.payments.example/v1/balance","timeout":5"#,
    ),
    (
        "a field of the wrong type",
        r#""method":5,"url":"https://api.payments.example/v1/balance""#,
    ),
    ("a missing URL", r#""method":"GET""#),
    (
        "a text body without a content type",
        r#""method":"POST","url":"https://api.payments.example/v1/charges","headers":{},"body":"amount=1""#,
    ),
];

fn rest_proposal(fields: &str) -> String {
    format!(
        r#"{{"summary":"Charge","purpose":"order 7","artifact":{{"kind":"http","credential":null,{fields}}}}}"#
    )
}

fn mcp_arguments(fields: &str) -> String {
    format!(r#"{{"summary":"Charge","purpose":"order 7","credential":null,{fields}}}"#)
}

#[tokio::test]
async fn rest_and_mcp_answer_the_same_input_the_same_way() {
    let both = Both::start().await;
    for (what, fields) in CASES {
        let (status, rest_text) = both
            .rest(
                reqwest::Method::POST,
                "/v1/proposals",
                Some(&rest_proposal(fields)),
            )
            .await;
        let rest: serde_json::Value = serde_json::from_str(&rest_text).unwrap();
        let (is_error, mcp) = both
            .tool("propose_http_request", &mcp_arguments(fields))
            .await;
        assert_eq!(
            status == 201,
            !is_error,
            "{what}: REST {status} {rest}, MCP {mcp}"
        );
        if status == 201 {
            assert_eq!(rest["artifact_sha256"], mcp["artifact_sha256"], "{what}");
            assert_eq!(rest["explanation"], mcp["explanation"], "{what}");
            assert_eq!(rest["status"], mcp["status"], "{what}");
        } else {
            assert_eq!(
                rest["error"]["code"], mcp["error"]["code"],
                "{what}: {rest} {mcp}"
            );
            assert_eq!(
                rest["error"]["field"], mcp["error"]["field"],
                "{what}: {rest} {mcp}"
            );
        }
    }
}

#[tokio::test]
async fn a_tool_argument_cannot_change_the_kind() {
    let both = Both::start().await;
    let (is_error, answer) = both
        .tool(
            "propose_http_request",
            r#"{"summary":"s","purpose":"p","kind":"sql","database":"db","statement":"SELECT 1"}"#,
        )
        .await;
    assert!(is_error, "{answer}");
    assert_eq!(answer["error"]["code"], "unknown_field");
}

#[tokio::test]
async fn exact_number_text_is_hashed_as_written() {
    let both = Both::start().await;
    let (_, fields) = CASES[0];
    let (status, text) = both
        .rest(
            reqwest::Method::POST,
            "/v1/proposals",
            Some(&rest_proposal(fields)),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let canonical = r#"{"body":{"amount":12.50,"currency":"usd","id":123456789012345678901234567890,"rate":1e2,"zero":-0},"credential":null,"headers":{"Content-Type":"application/json"},"kind":"http","method":"POST","url":"https://api.payments.example/v1/charges"}"#;
    use sha2::Digest as _;
    let expected: String = sha2::Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(answer["artifact_sha256"], expected.as_str());
}

#[tokio::test]
async fn withdraw_answers_agree() {
    let both = Both::start().await;
    let (_, fields) = CASES[0];
    let (_, text) = both
        .rest(
            reqwest::Method::POST,
            "/v1/proposals",
            Some(&rest_proposal(fields)),
        )
        .await;
    let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = both
        .rest(
            reqwest::Method::DELETE,
            &format!("/v1/proposals/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Withdrawn already: REST 409 not_pending, MCP the same code.
    let (status, rest) = both
        .rest(
            reqwest::Method::DELETE,
            &format!("/v1/proposals/{id}"),
            None,
        )
        .await;
    let rest: serde_json::Value = serde_json::from_str(&rest).unwrap();
    let (is_error, mcp) = both
        .tool("withdraw_proposal", &format!(r#"{{"id":"{id}"}}"#))
        .await;
    assert_eq!(status, 409);
    assert!(is_error);
    assert_eq!(rest["error"]["code"], "not_pending");
    assert_eq!(rest["error"]["code"], mcp["error"]["code"]);
    // Not the agent's: 404 not_found on both.
    let (status, rest) = both
        .rest(reqwest::Method::DELETE, "/v1/proposals/prop_nope", None)
        .await;
    let rest: serde_json::Value = serde_json::from_str(&rest).unwrap();
    let (_, mcp) = both
        .tool("withdraw_proposal", r#"{"id":"prop_nope"}"#)
        .await;
    assert_eq!(status, 404);
    assert_eq!(rest["error"]["code"], "not_found");
    assert_eq!(rest["error"]["code"], mcp["error"]["code"]);
    let (_, mcp) = both.tool("get_proposal", r#"{"id":"prop_nope"}"#).await;
    assert_eq!(mcp["error"]["code"], "not_found");
}

/// Routines (design.md §18) answer alike over REST and MCP: the same hash and words for the same
/// routine, the same refusal for a placeholder where a routine is fixed, 409 `not_active` for a
/// run of a routine the person has not approved, 404 for one that is not the agent's.
#[tokio::test]
async fn routines_answer_alike_over_rest_and_mcp() {
    let both = Both::start().await;
    let routine = r#"{"parameters":{"city":{"type":"enum","values":["Boston","Austin"]}},
      "steps":[{"id":"read","artifact":{"kind":"http","credential":null,"method":"GET",
        "url":"https://api.weather.example/v1/forecast?city={{city}}"}}],
      "trigger":{"on_request":true},"limits":{"runs_per_day":3},"release":"all",
      "example":{"city":"Boston"}}"#;
    let body = format!(
        r#"{{"summary":"Forecast each morning","purpose":"planning","routine":{routine}}}"#
    );
    let (status, rest) = both
        .rest(reqwest::Method::POST, "/v1/routines", Some(&body))
        .await;
    assert_eq!(status, 201, "{rest}");
    let rest: serde_json::Value = serde_json::from_str(&rest).unwrap();
    let (error, mcp) = both
        .tool(
            "propose_routine",
            &format!(
                r#"{{"summary":"Forecast each morning","purpose":"planning","routine":{routine}}}"#
            ),
        )
        .await;
    assert!(!error, "{mcp}");
    assert_eq!(rest["routine_sha256"], mcp["routine_sha256"]);
    assert_eq!(rest["explanation"], mcp["explanation"]);
    assert_eq!(rest["status"], "pending");
    assert!(
        rest["explanation"]["headline"]
            .as_str()
            .unwrap()
            .contains("Boston"),
        "{rest}"
    );

    let fixed = r#"{"parameters":{"m":{"type":"enum","values":["GET"]}},
      "steps":[{"id":"a","artifact":{"kind":"http","credential":null,"method":{"$param":"m"},"url":"https://a.example/"}}],
      "limits":{"runs_per_day":1},"release":"all"}"#;
    let (status, rest_refusal) = both
        .rest(
            reqwest::Method::POST,
            "/v1/routines",
            Some(&format!(
                r#"{{"summary":"","purpose":"","routine":{fixed}}}"#
            )),
        )
        .await;
    assert_eq!(status, 400);
    let rest_refusal: serde_json::Value = serde_json::from_str(&rest_refusal).unwrap();
    let (error, mcp_refusal) = both
        .tool(
            "propose_routine",
            &format!(r#"{{"summary":"","purpose":"","routine":{fixed}}}"#),
        )
        .await;
    assert!(error);
    assert_eq!(rest_refusal["error"]["code"], "invalid_routine");
    assert_eq!(rest_refusal["error"], mcp_refusal["error"]);

    let id = rest["id"].as_str().unwrap();
    let (status, run) = both
        .rest(
            reqwest::Method::POST,
            &format!("/v1/routines/{id}/runs"),
            Some(r#"{"parameters":{"city":"Boston"}}"#),
        )
        .await;
    assert_eq!(status, 409, "{run}");
    let run: serde_json::Value = serde_json::from_str(&run).unwrap();
    let (error, mcp_run) = both
        .tool(
            "run_routine",
            &format!(r#"{{"id":"{id}","parameters":{{"city":"Boston"}}}}"#),
        )
        .await;
    assert!(error);
    assert_eq!(run["error"]["code"], "not_active");
    assert_eq!(run["error"]["code"], mcp_run["error"]["code"]);

    let (status, read) = both
        .rest(reqwest::Method::GET, &format!("/v1/routines/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let read: serde_json::Value = serde_json::from_str(&read).unwrap();
    let (_, mcp_read) = both
        .tool("get_routine", &format!(r#"{{"id":"{id}"}}"#))
        .await;
    assert_eq!(read, mcp_read);
    assert_eq!(read["status"], "pending");
    let (status, _) = both
        .rest(reqwest::Method::GET, "/v1/routines/rtn_nope", None)
        .await;
    assert_eq!(status, 404);
}
