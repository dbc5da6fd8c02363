//! The agent connector: REST on loopback (design.md §13).
//!
//! Every request passes the same gate before any handler runs: the `Host` must be this
//! listener's loopback address or `localhost` with its port (DNS rebinding), a present `Origin`
//! must be allowed (none is by default: agents are programs, not web pages), request bodies must
//! be JSON and at most 1 MiB, the bearer key must belong to a registered, unrevoked agent (checked
//! on every request, so revocation is immediate), and each agent has a request rate and a limit
//! on pending proposals. Handlers only translate to and from the application API.

mod gate;
mod mcp;
mod rest;

use std::net::SocketAddr;
use std::sync::Arc;

use countersign_app::Lifecycle;

pub use gate::Limits;
pub use mcp::EXACT_MESSAGE_META;

/// Where the connector listens unless `COUNTERSIGN_CONNECTOR_ADDR` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7717";

/// What the connector serves from.
pub struct Connector {
    /// The proposal lifecycle (with its data home and audit log).
    pub lifecycle: Arc<Lifecycle>,
    /// Origins allowed to call (browser pages); empty by default.
    pub allowed_origins: Vec<String>,
    /// Rate and pending limits.
    pub limits: Limits,
}

/// Why the connector could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The address is not on this computer.
    #[error("the connector listens only on this computer (127.0.0.1, ::1 or localhost), not {0}")]
    NotLoopback(String),
    /// The address could not be bound.
    #[error("could not listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// Binds the listener: loopback addresses only.
///
/// # Errors
/// When the address is not loopback or cannot be bound.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener, ConnectorError> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|_| ConnectorError::NotLoopback(addr.to_owned()))?;
    if !parsed.ip().is_loopback() {
        return Err(ConnectorError::NotLoopback(addr.to_owned()));
    }
    tokio::net::TcpListener::bind(parsed)
        .await
        .map_err(|e| ConnectorError::Bind {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })
}

/// Serves agents on `listener` until the future is dropped.
///
/// # Errors
/// When the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, connector: Connector) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    axum::serve(
        listener,
        router(Arc::new(gate::State::new(connector, local))),
    )
    .await
}

/// REST and MCP side by side behind one gate: siblings over the application's agent side, with
/// no path from one into the other.
fn router(state: Arc<gate::State>) -> axum::Router {
    let max_body = state.connector.limits.max_body;
    rest::routes()
        .nest_service("/mcp", mcp::service(Arc::clone(&state)))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            gate::check,
        ))
        .fallback(|| async {
            gate::error(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "There is no such route.",
            )
        })
        .with_state(state)
}
