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
use countersign_app::Credentials;
use countersign_core::RefusalCode;
use serde::Deserialize;

use crate::gate::{self, AgentName, State, error};

type Shared = StateExtractor<Arc<State>>;

pub fn router(state: Arc<State>) -> Router {
    let max_body = state.connector.limits.max_body;
    Router::new()
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/proposals", post(propose))
        .route("/v1/proposals/{id}", get(read).delete(withdraw))
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

fn app_error(e: &dyn std::fmt::Display) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "unavailable",
        &e.to_string(),
    )
}

async fn capabilities(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
) -> Response {
    let credentials = match Credentials::open(&state.connector.home).await {
        Ok(c) => c,
        Err(e) => return app_error(&e),
    };
    let list = match credentials.list().await {
        Ok(list) => list,
        Err(e) => return app_error(&e),
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
    Json(serde_json::json!({ "agent": { "name": agent }, "credentials": credentials }))
        .into_response()
}

async fn propose(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                RefusalCode::TooLarge.as_str(),
                "The request body is over 1 MiB.",
            );
        }
    };
    let connector = &state.connector;
    let lock = state.submission_lock(&agent);
    let _one_at_a_time = lock.lock().await;
    match connector.lifecycle.pending_count(&agent).await {
        Ok(n) if n >= connector.limits.max_pending => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                RefusalCode::RateLimited.as_str(),
                "Too many of your proposals are waiting for the person; wait for decisions first.",
            );
            if let Ok(value) = "30".parse() {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            return response;
        }
        Ok(_) => {}
        Err(e) => return app_error(&e),
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            RefusalCode::InvalidJson.as_str(),
            "The proposal is not UTF-8 text.",
        );
    };
    match connector
        .lifecycle
        .submit(&connector.home, &connector.audit, &agent, text)
        .await
    {
        Ok(Ok(record)) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "id": record.id,
                "status": record.status,
                "artifact_sha256": record.artifact_sha256,
                "explanation": record.explanation,
            })),
        )
            .into_response(),
        Ok(Err(refusal)) => {
            let status = if refusal.code == RefusalCode::TooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            (
                status,
                Json(serde_json::to_value(refusal.to_wire()).unwrap_or_default()),
            )
                .into_response()
        }
        Err(e) => app_error(&e),
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
    match state
        .connector
        .lifecycle
        .wait_for_agent(&agent, &id, Duration::from_secs(seconds))
        .await
    {
        Ok(Some(record)) => Json(record.agent_view()).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no such proposal of yours.",
        ),
        Err(e) => app_error(&e),
    }
}

async fn withdraw(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    Path(id): Path<String>,
) -> Response {
    let connector = &state.connector;
    match connector.lifecycle.get_for_agent(&agent, &id).await {
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is no such proposal of yours.",
            );
        }
        Err(e) => return app_error(&e),
        Ok(Some(_)) => {}
    }
    match connector
        .lifecycle
        .withdraw(&connector.audit, &agent, &id)
        .await
    {
        Ok(record) => Json(record.agent_view()).into_response(),
        Err(e) => error(StatusCode::CONFLICT, "not_pending", &e.to_string()),
    }
}
