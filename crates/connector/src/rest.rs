//! The REST routes: capabilities, propose, read (with long-poll), withdraw.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State as StateExtractor};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, routing::post};
use countersign_app::{AppError, Credentials};
use countersign_core::RefusalCode;
use countersign_core::json::{Json as JsonValue, Object};
use serde::Deserialize;

use crate::gate::{self, AgentName, State, error};

type Shared = StateExtractor<Arc<State>>;

pub fn router(state: Arc<State>) -> Router {
    let max_body = state.connector.limits.max_body;
    Router::new()
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/proposals", post(propose))
        .route("/v1/proposals/{id}", get(read).delete(withdraw))
        .nest_service("/mcp", crate::mcp::service(Arc::clone(&state)))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            gate::check,
        ))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is no such route.",
            )
        })
        .with_state(state)
}

async fn capabilities(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
) -> Response {
    let (status, json) = capabilities_json(&state, &agent).await;
    (status, Json(json)).into_response()
}

/// The agent's name and the credentials it may name (never their secrets).
pub async fn capabilities_json(state: &State, agent: &str) -> (StatusCode, serde_json::Value) {
    let unavailable = |e: &dyn std::fmt::Display| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "error": { "code": "unavailable", "message": e.to_string(), "field": null } }),
        )
    };
    let credentials = match Credentials::open(&state.connector.home).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let list = match credentials.list().await {
        Ok(list) => list,
        Err(e) => return unavailable(&e),
    };
    let credentials: Vec<serde_json::Value> = list
        .iter()
        .map(|meta| {
            let mut scope = serde_json::to_value(&meta.kind).unwrap_or_default();
            if let Some(object) = scope.as_object_mut() {
                object.remove("kind");
            }
            serde_json::json!({ "name": meta.name, "kind": meta.kind_name(), "description": meta.description, "scope": scope })
        })
        .collect();
    (
        StatusCode::OK,
        serde_json::json!({ "agent": { "name": agent }, "credentials": credentials }),
    )
}

async fn propose(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            RefusalCode::TooLarge.as_str(),
            "The request body is over 1 MiB.",
        );
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            RefusalCode::InvalidJson.as_str(),
            "The proposal is not UTF-8 text.",
        );
    };
    let (status, json) = submit(&state, &agent, text).await;
    let mut response = (status, Json(json)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Ok(value) = "30".parse()
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

/// Submits a proposal for an agent, with the per-agent pending limit; the same for REST and MCP.
pub async fn submit(state: &State, agent: &str, text: &str) -> (StatusCode, serde_json::Value) {
    let connector = &state.connector;
    let wire = |code: RefusalCode, message: &str| serde_json::json!({ "error": { "code": code.as_str(), "message": message, "field": null } });
    let lock = state.submission_lock(agent);
    let _one_at_a_time = lock.lock().await;
    match connector.lifecycle.pending_count(agent).await {
        Ok(n) if n >= connector.limits.max_pending => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                wire(
                    RefusalCode::RateLimited,
                    "Too many of your proposals are waiting for the person; wait for decisions first.",
                ),
            );
        }
        Ok(_) => {}
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({ "error": { "code": "unavailable", "message": e.to_string(), "field": null } }),
            );
        }
    }
    match connector
        .lifecycle
        .submit(&connector.home, &connector.audit, agent, text)
        .await
    {
        Ok(Ok(record)) => (
            StatusCode::CREATED,
            serde_json::json!({
                "id": record.id,
                "status": record.status,
                "artifact_sha256": record.artifact_sha256,
                "explanation": record.explanation,
            }),
        ),
        Ok(Err(refusal)) => {
            let status = if refusal.code == RefusalCode::TooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            (
                status,
                serde_json::to_value(refusal.to_wire()).unwrap_or_default(),
            )
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "error": { "code": "unavailable", "message": e.to_string(), "field": null } }),
        ),
    }
}

#[derive(Deserialize)]
struct Wait {
    wait: Option<u64>,
}

async fn read(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    Path(id): Path<String>,
    Query(wait): Query<Wait>,
) -> Response {
    let seconds = wait.wait.unwrap_or(0).min(60);
    let (status, json) = read_answer(&state, &agent, &id, Duration::from_secs(seconds)).await;
    exact(status, &json)
}

async fn withdraw(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    Path(id): Path<String>,
) -> Response {
    let (status, json) = withdraw_answer(&state, &agent, &id).await;
    exact(status, &json)
}

/// A response whose body is the exact JSON text.
fn exact(status: StatusCode, json: &JsonValue) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json.canonical(),
    )
        .into_response()
}

fn wire(code: &str, message: &str, field: Option<&str>) -> JsonValue {
    let text = |s: &str| JsonValue::String(s.to_owned());
    JsonValue::Object(Object::from([(
        "error".to_owned(),
        JsonValue::Object(Object::from([
            ("code".to_owned(), text(code)),
            ("message".to_owned(), text(message)),
            ("field".to_owned(), field.map_or(JsonValue::Null, text)),
        ])),
    )]))
}

/// Reads (and waits for) an agent's proposal; the same answer for REST and MCP.
pub async fn read_answer(
    state: &State,
    agent: &str,
    id: &str,
    wait: Duration,
) -> (StatusCode, JsonValue) {
    match state
        .connector
        .lifecycle
        .wait_for_agent(agent, id, wait)
        .await
    {
        Ok(Some(record)) => (StatusCode::OK, record.agent_view()),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            wire(
                "not_found",
                "There is no such proposal of yours.",
                Some("id"),
            ),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            wire("unavailable", &e.to_string(), None),
        ),
    }
}

/// Withdraws an agent's pending proposal; the same answer for REST and MCP: 404 `not_found`
/// when it is not the agent's, 409 `not_pending` when it was decided, 503 `unavailable` when the
/// store or the log failed (never "not pending" for a failure).
pub async fn withdraw_answer(state: &State, agent: &str, id: &str) -> (StatusCode, JsonValue) {
    let connector = &state.connector;
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            wire(
                "not_found",
                "There is no such proposal of yours.",
                Some("id"),
            ),
        )
    };
    match connector.lifecycle.get_for_agent(agent, id).await {
        Ok(None) => return not_found(),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                wire("unavailable", &e.to_string(), None),
            );
        }
        Ok(Some(_)) => {}
    }
    match connector
        .lifecycle
        .withdraw(&connector.audit, agent, id)
        .await
    {
        Ok(record) => (StatusCode::OK, record.agent_view()),
        Err(AppError::NotPending(message)) => (
            StatusCode::CONFLICT,
            wire("not_pending", &message, Some("id")),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            wire("unavailable", &e.to_string(), None),
        ),
    }
}
