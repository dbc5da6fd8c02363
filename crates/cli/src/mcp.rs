//! `countersign mcp`: an MCP server on standard input and output that forwards every request to
//! the running application's `/mcp` (over loopback, with the agent key from
//! `COUNTERSIGN_AGENT_KEY`). Agents that only speak stdio MCP use Countersign through it; it adds
//! nothing and decides nothing.
//!
//! One thing it does carry: each `tools/call` line exactly as the agent wrote it, in the call's
//! `_meta` (`countersign.exact_message`). rmcp reads arguments into doubles and keeps the last of
//! two equal keys; the app reads the exact line instead, so a proposal over stdio is refused or
//! hashed exactly as the same proposal over REST.

use std::process::ExitCode;

use anyhow::Context as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt as _};

struct Bridge {
    upstream: RunningService<RoleClient, ()>,
    instructions: Option<String>,
}

fn upstream_error(error: rmcp::ServiceError) -> ErrorData {
    ErrorData::internal_error(format!("the Countersign app did not answer: {error}"), None)
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        let config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        match &self.instructions {
            Some(text) => config.with_instructions(text.clone()),
            None => config,
        }
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.upstream
            .list_tools(request)
            .await
            .map_err(upstream_error)
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // rmcp moved the call's `_meta` (with the exact line) into the context; send it on.
        if request.meta.is_none() && !context.meta.0.0.is_empty() {
            request.meta = Some(context.meta.clone());
        }
        self.upstream
            .call_tool_once(request)
            .await
            .map_err(upstream_error)
    }
}

pub fn run() -> anyhow::Result<ExitCode> {
    let key = std::env::var("COUNTERSIGN_AGENT_KEY")
        .context("COUNTERSIGN_AGENT_KEY is not set: put the key `countersign agent add NAME` printed in the agent's MCP configuration")?;
    let addr = std::env::var("COUNTERSIGN_CONNECTOR_ADDR")
        .unwrap_or_else(|_| countersign_connector::DEFAULT_ADDR.to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let transport = StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp")).auth_header(key));
        let upstream = ().serve(transport).await.with_context(|| {
            format!("could not reach Countersign at {addr}: is `countersign review` or the desktop app running, and is the agent key valid?")
        })?;
        let instructions = upstream.peer_info().and_then(|info| info.instructions.clone());
        let bridge = Bridge { upstream, instructions };
        let (reader, mut feed) = tokio::io::simplex(1 << 20);
        tokio::spawn(async move {
            use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let carried = with_exact_message(&line);
                if feed.write_all(carried.as_bytes()).await.is_err() || feed.write_all(b"\n").await.is_err() {
                    break;
                }
            }
            let _closed = feed.shutdown().await;
        });
        let server = bridge.serve((reader, tokio::io::stdout())).await.context("starting MCP on standard input and output")?;
        server.waiting().await.context("serving MCP on standard input and output")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A `tools/call` line with the line itself added to its `_meta`; any other line unchanged.
fn with_exact_message(line: &str) -> String {
    let Ok(mut message) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    let is_call = message.get("method").and_then(serde_json::Value::as_str) == Some("tools/call");
    let Some(params) = message
        .get_mut("params")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return line.to_owned();
    };
    if !is_call {
        return line.to_owned();
    }
    let meta = params
        .entry("_meta")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return line.to_owned();
    };
    meta.insert(
        countersign_connector::EXACT_MESSAGE_META.to_owned(),
        serde_json::Value::String(line.to_owned()),
    );
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_carry_their_exact_line() {
        let line = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"propose_sql","arguments":{"a":1.50,"a":2}}}"#;
        let carried: serde_json::Value = serde_json::from_str(&with_exact_message(line)).unwrap();
        assert_eq!(
            carried["params"]["_meta"][countersign_connector::EXACT_MESSAGE_META],
            serde_json::Value::String(line.to_owned())
        );
        let other = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert_eq!(with_exact_message(other), other);
    }
}
