//! The checks every request passes before a handler runs.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Connector;

/// Per-agent limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests an agent may make in a burst.
    pub burst: u32,
    /// Requests per second it earns back.
    pub per_second: f64,
    /// Proposals it may have pending at once.
    pub max_pending: i64,
    /// The largest request body.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            burst: 60,
            per_second: 5.0,
            max_pending: 20,
            max_body: 1024 * 1024,
        }
    }
}

/// The connector's shared state.
pub struct State {
    pub connector: Connector,
    pub local: SocketAddr,
    /// Each agent's request rate (GCRA, governor): `burst` at once, `per_second` after.
    rates: governor::DefaultKeyedRateLimiter<String>,
    /// The application's agent side: every handler's one way in.
    pub agents: countersign_app::AgentSide,
}

/// The agent a request was authenticated as.
#[derive(Clone, Debug)]
pub struct AgentName(pub String);

impl State {
    pub fn new(connector: Connector, local: SocketAddr) -> Self {
        let limits = connector.limits;
        let period = Duration::from_secs_f64(1.0 / limits.per_second.max(1e-6));
        let burst =
            std::num::NonZeroU32::new(limits.burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        let quota = governor::Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MIN))
            .allow_burst(burst);
        let agents = countersign_app::AgentSide::new(
            std::sync::Arc::clone(&connector.lifecycle),
            limits.max_pending,
        );
        State {
            connector,
            local,
            rates: governor::RateLimiter::keyed(quota),
            agents,
        }
    }

    /// Takes a request from the agent's allowance, or says how long to wait (at least a second,
    /// as `Retry-After` counts in whole seconds).
    fn take(&self, agent: &str) -> Result<(), Duration> {
        use governor::clock::Clock as _;
        self.rates
            .check_key(&agent.to_owned())
            .map_err(|not_until| {
                not_until
                    .wait_time_from(self.rates.clock().now())
                    .max(Duration::from_secs(1))
            })
    }
}

/// A JSON error response `{"error":{"code","message","field"}}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message, "field": null } });
    (status, axum::Json(body)).into_response()
}

fn host_allowed(headers: &HeaderMap, local: SocketAddr) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let port = local.port();
    let allowed = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("{local}"),
    ];
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

/// The gate: Host, Origin, content type, agent key, rate.
pub async fn check(
    state: axum::extract::State<std::sync::Arc<State>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if !host_allowed(headers, state.local) {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            "Requests must name this computer's connector address as Host.",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !state.connector.allowed_origins.iter().any(|o| o == origin) {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                "Web pages may not call the connector.",
            );
        }
    }
    if matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    ) {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send JSON with Content-Type: application/json.",
            );
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > state.connector.limits.max_body) {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "The request body is over 1 MiB.",
            );
        }
    }
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let Some(key) = key else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Send the agent key as Authorization: Bearer <key>.",
        );
    };
    let agent = match state.agents.authenticate(&key).await {
        Ok(Some(agent)) => agent,
        Ok(None) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "This agent key is unknown or was revoked.",
            );
        }
        Err(e) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", &e.message);
        }
    };
    if let Err(wait) = state.take(&agent) {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests; wait before trying again.",
        );
        if let Ok(value) = wait.as_secs().max(1).to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    request.extensions_mut().insert(AgentName(agent));
    if request.method() == Method::POST && request.uri().path().starts_with("/mcp") {
        // MCP tool arguments are read again from the exact bytes (see `mcp::ExactCalls`).
        let (mut parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, state.connector.limits.max_body).await else {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "The request body is over 1 MiB.",
            );
        };
        parts.extensions.insert(crate::mcp::exact_calls(&bytes));
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    next.run(request).await
}
