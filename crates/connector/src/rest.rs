//! The REST routes (design.md §13, §18): capabilities, propose, read (with long-poll), withdraw,
//! and routines (propose, read with its runs, request a run). Each
//! handler translates one HTTP request into one call of the application's agent side
//! (`countersign_app::AgentSide`) and its answer back; nothing else.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, Query, State as StateExtractor};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use countersign_app::AgentError;
use countersign_core::json::Json;
use countersign_core::{Refusal, RefusalCode};
use serde::Deserialize;

use crate::gate::{AgentName, State};

type Shared = StateExtractor<Arc<State>>;

/// The REST routes; the gate and the body limit are layered over them in `crate::router`.
pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/proposals", post(propose))
        .route("/v1/proposals/{id}", get(read).delete(withdraw))
        .route("/v1/routines", post(propose_routine))
        .route("/v1/routines/{id}", get(routine))
        .route("/v1/routines/{id}/runs", post(run_routine))
}

/// The body as text, or the refusal REST answers with.
fn body_text(body: &Result<Bytes, BytesRejection>) -> Result<&str, AgentError> {
    let refused = |code: RefusalCode, message: &str| AgentError::from(Refusal::new(code, message));
    let Ok(body) = body else {
        return Err(refused(
            RefusalCode::TooLarge,
            "The request body is over 1 MiB.",
        ));
    };
    std::str::from_utf8(body)
        .map_err(|_| refused(RefusalCode::InvalidJson, "The request is not UTF-8 text."))
}

async fn propose_routine(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let text = match body_text(&body) {
        Ok(text) => text,
        Err(error) => return exact(error.status, &error.to_wire()),
    };
    match state.agents.propose_routine(&agent, text).await {
        Ok(json) => (StatusCode::CREATED, axum::Json(json)).into_response(),
        Err(error) => exact(error.status, &error.to_wire()),
    }
}

async fn routine(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    Path(id): Path<String>,
) -> Response {
    answer(200, state.agents.routine(&agent, &id).await)
}

async fn run_routine(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let text = match body_text(&body) {
        Ok(text) => text,
        Err(error) => return exact(error.status, &error.to_wire()),
    };
    answer(201, state.agents.run_routine(&agent, &id, text).await)
}

/// A response whose body is the exact JSON text.
fn exact(status: u16, json: &Json) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json.canonical(),
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Ok(value) = "30".parse()
    {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

fn answer(ok: u16, result: Result<Json, AgentError>) -> Response {
    match result {
        Ok(json) => exact(ok, &json),
        Err(error) => exact(error.status, &error.to_wire()),
    }
}

async fn capabilities(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
) -> Response {
    match state.agents.capabilities(&agent).await {
        Ok(json) => (StatusCode::OK, axum::Json(json)).into_response(),
        Err(error) => exact(error.status, &error.to_wire()),
    }
}

async fn propose(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let refused = |code: RefusalCode, message: &str| {
        let error = AgentError::from(Refusal::new(code, message));
        exact(error.status, &error.to_wire())
    };
    let Ok(body) = body else {
        return refused(RefusalCode::TooLarge, "The request body is over 1 MiB.");
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return refused(RefusalCode::InvalidJson, "The proposal is not UTF-8 text.");
    };
    match state.agents.submit(&agent, text).await {
        Ok(json) => (StatusCode::CREATED, axum::Json(json)).into_response(),
        Err(error) => exact(error.status, &error.to_wire()),
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
    let wait = Duration::from_secs(wait.wait.unwrap_or(0));
    answer(200, state.agents.read(&agent, &id, wait).await)
}

async fn withdraw(
    StateExtractor(state): Shared,
    Extension(AgentName(agent)): Extension<AgentName>,
    Path(id): Path<String>,
) -> Response {
    answer(200, state.agents.withdraw(&agent, &id).await)
}
