//! `countersign mcp`: an MCP server on standard input and output that forwards every request to
//! the running application's `/mcp` (over loopback, with the agent key from
//! `COUNTERSIGN_AGENT_KEY`). Agents that only speak stdio MCP use Countersign through it; it adds
//! nothing and decides nothing.

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
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
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
        let server = bridge.serve(rmcp::transport::stdio()).await.context("starting MCP on standard input and output")?;
        server.waiting().await.context("serving MCP on standard input and output")?;
        Ok(ExitCode::SUCCESS)
    })
}
