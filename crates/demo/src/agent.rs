//! The demo agent: a real MCP client (rmcp over streamable HTTP) that proposes the demo's steps
//! through the connector, like any agent would, asks for a routine's runs once the person has
//! approved it, then waits for each decision and keeps what it was given in a report file the
//! tests read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
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
    /// The proposal or routine id, when it was accepted for review (for a held run: the
    /// proposal it became).
    pub id: Option<String>,
    /// `refused`, or the status the connector reports (a routine's, or a run's until it is held,
    /// then its proposal's).
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
            "pending" | "approved" | "executing" | "held" | "running" => false,
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

/// What the agent knows from the connector's answer to a call for step `key`; `id_field` names
/// the id to follow.
fn answered(key: &str, answer: CallToolResult, id_field: &str) -> Outcome {
    let content = answer.structured_content.unwrap_or_default();
    if answer.is_error == Some(true) {
        return Outcome {
            key: key.to_owned(),
            id: None,
            status: "refused".into(),
            refusal: content["error"]["code"].as_str().map(str::to_owned),
            result: None,
        };
    }
    Outcome {
        key: key.to_owned(),
        id: content[id_field].as_str().map(str::to_owned),
        status: content["status"].as_str().unwrap_or("pending").to_owned(),
        refusal: None,
        result: (!content["result"].is_null()).then(|| content["result"].clone()),
    }
}

/// The pause before each poll, under the connector's default rate of 5 requests a second.
const PACE: Duration = Duration::from_millis(250);

/// Calls `tool`, waiting and trying again (at most 10 times) while the connector's rate limit
/// turns it away (HTTP 429: the call was not taken, so trying again cannot do it twice).
async fn call_paced(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
    tool: &str,
    arguments: &serde_json::Value,
) -> Result<CallToolResult, DemoError> {
    let mut tries = 0;
    loop {
        match client.call_tool(call(tool, arguments)).await {
            Ok(answer) => return Ok(answer),
            Err(error) if tries < 10 && error.to_string().contains("429") => {
                tracing::debug!(%error, tool, "the connector turned a call away; trying again");
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(DemoError::Agent(error.to_string())),
        }
    }
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
    for step in steps.iter().filter(|s| s.tool != "run_routine") {
        let answer = call_paced(&client, step.tool, &step.arguments).await?;
        let outcome = answered(step.key, answer, "id");
        tracing::info!(step = step.key, status = %outcome.status, "the demo agent proposed");
        outcomes.push(outcome);
        write_report(&report, &outcomes)?;
        // A moment apart, so the inbox shows them in the order they were proposed.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let runs: Vec<&Step> = steps.iter().filter(|s| s.tool == "run_routine").collect();
    while outcomes.len() < steps.len() || outcomes.iter().any(|o| !o.settled()) {
        let mut changed = false;
        // A routine's runs, in order, once the person approved it.
        for run in &runs {
            if outcomes.iter().any(|o| o.key == run.key) {
                continue;
            }
            let routine_key = run.arguments["id"].as_str().unwrap_or_default();
            let Some(routine) = outcomes.iter().find(|o| o.key == routine_key) else {
                continue;
            };
            match routine.status.as_str() {
                "active" => {}
                "pending" => continue,
                // Not approved: the run is never asked for.
                _ => {
                    outcomes.push(Outcome {
                        key: run.key.to_owned(),
                        id: None,
                        status: format!("routine {}", routine.status),
                        refusal: None,
                        result: None,
                    });
                    changed = true;
                    continue;
                }
            }
            let mut arguments = run.arguments.clone();
            arguments["id"] = serde_json::json!(routine.id);
            let answer = call_paced(&client, "run_routine", &arguments).await?;
            // A held run is followed as the proposal it became.
            let outcome = answered(run.key, answer, "proposal_id");
            tracing::info!(step = run.key, status = %outcome.status, "the demo agent asked for a run");
            outcomes.push(outcome);
            changed = true;
        }
        // Routines first: their runs wait on them.
        outcomes.sort_by_key(|o| !o.id.as_deref().is_some_and(|id| id.starts_with("rtn_")));
        for outcome in outcomes.iter_mut().filter(|o| !o.settled()) {
            let Some(id) = outcome.id.clone() else {
                continue;
            };
            let routine = id.starts_with("rtn_");
            let (tool, arguments) = if routine {
                ("get_routine", serde_json::json!({ "id": id }))
            } else {
                (
                    "get_proposal",
                    serde_json::json!({ "id": id, "wait_seconds": 0 }),
                )
            };
            // Paced under the connector's rate limit (5 a second); a refusal waits a moment.
            tokio::time::sleep(PACE).await;
            let Ok(answer) = client.call_tool(call(tool, &arguments)).await else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let view = answer.structured_content.unwrap_or_default();
            let status = view["status"].as_str().unwrap_or_default().to_owned();
            let result = if routine {
                None
            } else {
                (!view["result"].is_null()).then(|| view["result"].clone())
            };
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
