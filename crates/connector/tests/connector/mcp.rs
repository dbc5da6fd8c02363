//! MCP over streamable HTTP at /mcp, with the rmcp client (a real MCP client) over real TCP.

use std::sync::Arc;

use countersign_app::{Audit, DataHome, Lifecycle};
use countersign_audit::Actor;
use countersign_connector::{Connector, Limits};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

#[tokio::test]
async fn an_mcp_agent_lists_tools_proposes_waits_and_reads_the_decision() {
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
        limits: Limits::default(),
    };
    tokio::spawn(countersign_connector::serve(listener, connector));

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"))
            .auth_header(key.clone()),
    );
    let client = ().serve(transport).await.expect("the MCP session starts");
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "get_proposal",
            "get_routine",
            "list_capabilities",
            "propose_email",
            "propose_http_request",
            "propose_routine",
            "propose_sql",
            "run_routine",
            "withdraw_proposal"
        ]
    );
    let info = client
        .peer_info()
        .map(|i| i.instructions.clone().unwrap_or_default())
        .unwrap_or_default();
    assert!(
        info.contains("never see or send a secret") || info.contains("PROPOSE"),
        "{info}"
    );

    let call = |name: &'static str, arguments: serde_json::Value| {
        CallToolRequestParams::new(name).with_arguments(arguments.as_object().cloned().unwrap())
    };
    let capabilities = client
        .call_tool(call("list_capabilities", serde_json::json!({})))
        .await
        .unwrap();
    assert_eq!(
        capabilities.structured_content.unwrap()["agent"]["name"],
        "claude"
    );

    let proposed = client
        .call_tool(call("propose_http_request", serde_json::json!({
            "summary": "Read the forecast", "purpose": "weather", "credential": null, "method": "GET",
            "url": "https://api.weather.example/v1/forecast?city=Boston"
        })))
        .await
        .unwrap();
    let proposed = proposed.structured_content.unwrap();
    assert_eq!(proposed["status"], "pending");
    assert_eq!(
        proposed["explanation"]["headline"],
        "Read the forecast for city “Boston” on api.weather.example"
    );
    let id = proposed["id"].as_str().unwrap().to_owned();

    // Refusals carry the same codes as REST.
    let refused = client.call_tool(call("propose_sql", serde_json::json!({ "summary": "x", "purpose": "y", "database": "nope", "statement": "SELECT 1" }))).await.unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(
        refused.structured_content.unwrap()["error"]["code"],
        "unknown_database"
    );

    // The agent waits; the person rejects.
    let waiting = client.call_tool(call(
        "get_proposal",
        serde_json::json!({ "id": id, "wait_seconds": 20 }),
    ));
    let decide = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        lifecycle.reject(&id, "not today").await.unwrap();
    };
    let (view, ()) = tokio::join!(waiting, decide);
    let view = view.unwrap().structured_content.unwrap();
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["decision"]["reason"], "not today");

    // The gate guards /mcp too: a rebinding Host or a foreign Origin never reaches MCP, and a
    // JSON-RPC batch is refused.
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let initialize = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let port = base.rsplit(':').next().unwrap().to_owned();
    let post = |body: serde_json::Value| {
        http.post(format!("{base}/mcp"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string())
    };
    assert_eq!(
        post(initialize.clone())
            .header("host", format!("evil.example:{port}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        post(initialize.clone())
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let batch = post(serde_json::json!([initialize.clone(), initialize]))
        .send()
        .await
        .unwrap();
    assert!(
        batch.status().is_client_error(),
        "a batch must be refused, got {}",
        batch.status()
    );

    // A wrong key gets no session.
    let bad = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"))
            .auth_header("csa_forged".to_owned()),
    );
    assert!(().serve(bad).await.is_err());
    client.cancel().await.unwrap();
}
