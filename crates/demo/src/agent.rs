//! The demo agent: a real MCP client (rmcp over streamable HTTP) that proposes the demo's steps
//! through the connector, like any agent would, then waits for each decision and keeps what it
//! was given in a report file the tests read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde::{Deserialize, Serialize};

use crate::DemoError;
use crate::script::Step;

/// What the agent knows about one of its proposals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The step's key.
    pub key: String,
    /// The proposal id, when it was accepted for review.
    pub id: Option<String>,
    /// `refused`, or the status the connector reports.
    pub status: String,
    /// The refusal code, when refused.
    pub refusal: Option<String>,
    /// What the agent was given (`{released, data, withheld}`), once released.
    pub result: Option<serde_json::Value>,
}

impl Outcome {
    /// Whether nothing more will change for the agent.
    pub fn settled(&self) -> bool {
        match self.status.as_str() {
            "pending" | "approved" | "executing" => false,
            "succeeded" => self.result.is_some(),
            _ => true,
        }
    }
}

fn write_report(path: &Path, outcomes: &[Outcome]) -> Result<(), DemoError> {
    let text =
        serde_json::to_string_pretty(outcomes).map_err(|e| DemoError::Agent(e.to_string()))?;
    Ok(countersign_app::write_durably(path, &text)?)
}

/// Reads the agent's report.
///
/// # Errors
/// When it cannot be read or parsed.
pub fn read_report(path: &Path) -> Result<Vec<Outcome>, DemoError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| DemoError::Io(path.display().to_string(), e))?;
    serde_json::from_str(&text).map_err(|e| DemoError::Agent(e.to_string()))
}

fn call(tool: &str, arguments: &serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap_or_default())
}

/// Proposes every step through the connector at `address` with `key`, then follows each until
/// it settles, rewriting `report` after every change.
///
/// # Errors
/// When the MCP session cannot be started or the report cannot be written.
pub async fn run(
    address: String,
    key: String,
    steps: Vec<Step>,
    report: PathBuf,
) -> Result<(), DemoError> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{address}/mcp"))
            .auth_header(key),
    );
    let client = ().serve(transport).await.map_err(|e| DemoError::Agent(e.to_string()))?;
    let _ = client
        .call_tool(call("list_capabilities", &serde_json::json!({})))
        .await;
    let mut outcomes = Vec::new();
    for step in &steps {
        let answer = client
            .call_tool(call(step.tool, &step.arguments))
            .await
            .map_err(|e| DemoError::Agent(e.to_string()))?;
        let content = answer.structured_content.unwrap_or_default();
        let outcome = if answer.is_error == Some(true) {
            Outcome {
                key: step.key.to_owned(),
                id: None,
                status: "refused".into(),
                refusal: content["error"]["code"].as_str().map(str::to_owned),
                result: None,
            }
        } else {
            Outcome {
                key: step.key.to_owned(),
                id: content["id"].as_str().map(str::to_owned),
                status: content["status"].as_str().unwrap_or("pending").to_owned(),
                refusal: None,
                result: None,
            }
        };
        tracing::info!(step = step.key, status = %outcome.status, "the demo agent proposed");
        outcomes.push(outcome);
        write_report(&report, &outcomes)?;
        // A moment apart, so the inbox shows them in the order they were proposed.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    while outcomes.iter().any(|o| !o.settled()) {
        let mut changed = false;
        for outcome in outcomes.iter_mut().filter(|o| !o.settled()) {
            let Some(id) = outcome.id.clone() else {
                continue;
            };
            let Ok(answer) = client
                .call_tool(call(
                    "get_proposal",
                    &serde_json::json!({ "id": id, "wait_seconds": 0 }),
                ))
                .await
            else {
                continue;
            };
            let view = answer.structured_content.unwrap_or_default();
            let status = view["status"].as_str().unwrap_or_default().to_owned();
            let result = (!view["result"].is_null()).then(|| view["result"].clone());
            if status != outcome.status || result != outcome.result {
                outcome.status = status;
                outcome.result = result;
                changed = true;
            }
        }
        if changed {
            write_report(&report, &outcomes)?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tracing::info!("every demo proposal is settled");
    let _ = client.cancel().await;
    Ok(())
}
