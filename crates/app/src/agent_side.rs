//! The agent's side of the application: the one way in for every agent adapter (REST, MCP over
//! HTTP, the stdio bridge behind it). Authenticate, list capabilities, submit (with the per-agent
//! pending limit, one submission at a time per agent so the limit holds in a burst), read and
//! wait, withdraw. Every answer is exact JSON (`countersign_core::json::Json`) and every failure
//! one [`AgentError`] carrying the wire code and the HTTP status it maps to, so the adapters
//! only translate and can never answer the same input differently.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use countersign_core::json::{Json, Object};
use countersign_core::{Refusal, RefusalCode};

use crate::agents::Agents;
use crate::error::AppError;
use crate::lifecycle::Lifecycle;

/// Why an agent's request was not done: `{"error":{"code","message","field"}}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AgentError {
    /// The HTTP status REST answers with (MCP answers with a tool error).
    pub status: u16,
    /// The stable code (design.md §6, or `not_found`, `not_pending`, `unavailable`).
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
    /// The field it concerns.
    pub field: Option<String>,
}

impl AgentError {
    fn new(status: u16, code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        AgentError {
            status,
            code: code.to_owned(),
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    /// The store, the log or the keychain failed: nothing was done.
    fn unavailable(error: &AppError) -> Self {
        AgentError::new(503, "unavailable", error.to_string(), None)
    }

    fn not_found() -> Self {
        AgentError::new(
            404,
            "not_found",
            "There is no such proposal of yours.",
            Some("id"),
        )
    }

    /// The wire form.
    pub fn to_wire(&self) -> Json {
        let text = |s: &str| Json::String(s.to_owned());
        Json::Object(Object::from([(
            "error".to_owned(),
            Json::Object(Object::from([
                ("code".to_owned(), text(&self.code)),
                ("message".to_owned(), text(&self.message)),
                (
                    "field".to_owned(),
                    self.field.as_deref().map_or(Json::Null, text),
                ),
            ])),
        )]))
    }
}

impl From<Refusal> for AgentError {
    fn from(refusal: Refusal) -> Self {
        let status = match refusal.code {
            RefusalCode::TooLarge => 413,
            RefusalCode::RateLimited => 429,
            _ => 400,
        };
        AgentError {
            status,
            code: refusal.code.as_str().to_owned(),
            message: refusal.message,
            field: refusal.field,
        }
    }
}

/// The agents' facade over one data home.
pub struct AgentSide {
    lifecycle: Arc<Lifecycle>,
    agents: Agents,
    max_pending: i64,
    submitting: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Agents whose first `list_capabilities` is already noted, so later calls write nothing.
    checked_in: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl AgentSide {
    /// The agents' side of `lifecycle`, with at most `max_pending` proposals pending per agent.
    pub fn new(lifecycle: Arc<Lifecycle>, max_pending: i64) -> Self {
        AgentSide {
            agents: lifecycle.agents(),
            lifecycle,
            max_pending,
            submitting: std::sync::Mutex::new(HashMap::new()),
            checked_in: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The agent a key belongs to, if it is registered and not revoked (checked on every
    /// request, so revoking is immediate).
    ///
    /// # Errors
    /// `unavailable` when the store cannot be read.
    pub async fn authenticate(&self, key: &str) -> Result<Option<String>, AgentError> {
        self.agents
            .authenticate(key)
            .await
            .map_err(|e| AgentError::unavailable(&e))
    }

    /// `{agent: {name}, credentials: [{name, kind, description, scope}]}` — never a secret.
    ///
    /// # Errors
    /// `unavailable` when the credentials cannot be read.
    pub async fn capabilities(&self, agent: &str) -> Result<serde_json::Value, AgentError> {
        let unavailable = |e: AppError| AgentError::unavailable(&e);
        let noted = self
            .checked_in
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(agent);
        if !noted {
            self.agents.checked_in(agent).await.map_err(unavailable)?;
            self.checked_in
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(agent.to_owned());
        }
        // The session's copy: list_capabilities no longer opens vault.db on every call.
        let list = self
            .lifecycle
            .credential_list()
            .await
            .map_err(unavailable)?;
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
        Ok(serde_json::json!({ "agent": { "name": agent }, "credentials": credentials }))
    }

    /// Submits a proposal: `{id, status, artifact_sha256, explanation}`.
    ///
    /// # Errors
    /// The refusal (design.md §6, `rate_limited` over the pending limit), or `unavailable`.
    pub async fn submit(&self, agent: &str, text: &str) -> Result<serde_json::Value, AgentError> {
        let lock = {
            let mut locks = self
                .submitting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(locks.entry(agent.to_owned()).or_default())
        };
        // One submission at a time per agent, so the pending limit holds under a burst.
        let _one_at_a_time = lock.lock().await;
        let pending = self
            .lifecycle
            .store()
            .pending_count(agent)
            .await
            .map_err(|e| AgentError::unavailable(&e))?;
        if pending >= self.max_pending {
            return Err(Refusal::new(
                RefusalCode::RateLimited,
                "Too many of your proposals are waiting for the person; wait for decisions first.",
            )
            .into());
        }
        let record = self
            .lifecycle
            .submit(agent, text)
            .await
            .map_err(|e| AgentError::unavailable(&e))??;
        Ok(serde_json::json!({
            "id": record.id,
            "status": record.status,
            "artifact_sha256": record.artifact_sha256,
            "explanation": record.explanation,
        }))
    }

    /// Reads the agent's proposal, waiting up to `wait` (at most 60 s) for it to be settled for
    /// the agent: `{id, status, decision, result}` with the released data exactly as stored.
    ///
    /// # Errors
    /// `not_found` when it is not the agent's, `unavailable` when the store fails.
    pub async fn read(&self, agent: &str, id: &str, wait: Duration) -> Result<Json, AgentError> {
        let wait = wait.min(Duration::from_secs(60));
        match self.lifecycle.store().wait_for_agent(agent, id, wait).await {
            Ok(Some(record)) => Ok(record.agent_view()),
            Ok(None) => Err(AgentError::not_found()),
            Err(e) => Err(AgentError::unavailable(&e)),
        }
    }

    /// Withdraws the agent's pending proposal.
    ///
    /// # Errors
    /// `not_found` when it is not the agent's, `not_pending` (409) when it was decided,
    /// `unavailable` when the store or the log fail — never "not pending" for a failure.
    pub async fn withdraw(&self, agent: &str, id: &str) -> Result<Json, AgentError> {
        match self.lifecycle.store().get_for_agent(agent, id).await {
            Ok(None) => return Err(AgentError::not_found()),
            Err(e) => return Err(AgentError::unavailable(&e)),
            Ok(Some(_)) => {}
        }
        match self.lifecycle.withdraw(agent, id).await {
            Ok(record) => Ok(record.agent_view()),
            Err(AppError::NotPending(message)) => {
                Err(AgentError::new(409, "not_pending", message, Some("id")))
            }
            Err(e) => Err(AgentError::unavailable(&e)),
        }
    }

    /// Proposes a routine (design.md §18): `{id, status, routine_sha256, explanation}`.
    ///
    /// # Errors
    /// The refusal (`invalid_routine` and the proposal codes), or `unavailable`.
    pub async fn propose_routine(
        &self,
        agent: &str,
        text: &str,
    ) -> Result<serde_json::Value, AgentError> {
        let record = self
            .lifecycle
            .submit_routine(agent, text)
            .await
            .map_err(|e| AgentError::unavailable(&e))??;
        let e = &record.explanation;
        Ok(serde_json::json!({
            "id": record.id,
            "status": record.status,
            "routine_sha256": record.routine_sha256,
            "explanation": {
                "headline": e.headline, "schedule": e.schedule, "bounds": e.bounds,
                "steps": e.steps, "limits": e.limits, "expiry": e.expiry, "release": e.release,
                "risks": e.risks,
            },
        }))
    }

    /// The agent's routine and its runs: `{id, status, routine_sha256, runs}`.
    ///
    /// # Errors
    /// `not_found` when it is not the agent's, `unavailable` when the store fails.
    pub async fn routine(&self, agent: &str, id: &str) -> Result<Json, AgentError> {
        let store = self.lifecycle.store();
        let record = match store.routine(id).await {
            Ok(Some(record)) if record.agent == agent => record,
            Ok(_) => return Err(routine_not_found()),
            Err(e) => return Err(AgentError::unavailable(&e)),
        };
        let runs = store
            .runs(id)
            .await
            .map_err(|e| AgentError::unavailable(&e))?;
        Ok(record.agent_view(&runs))
    }

    /// Asks for a run of the agent's routine with `{"parameters": {...}}`: `{id, status,
    /// proposal_id, result}` — run at once within its bounds, or held for the person.
    ///
    /// # Errors
    /// `not_found`, `not_active` (409) when it is pending, paused, revoked or expired, a refusal
    /// for unknown or mistyped parameters, or `unavailable`.
    pub async fn run_routine(&self, agent: &str, id: &str, text: &str) -> Result<Json, AgentError> {
        let json = Json::parse(text).map_err(AgentError::from)?;
        let Json::Object(members) = &json else {
            return Err(
                Refusal::new(RefusalCode::InvalidJson, "The request must be an object.").into(),
            );
        };
        if let Some(key) = members.keys().find(|k| k.as_str() != "parameters") {
            return Err(Refusal::new(
                RefusalCode::UnknownField,
                format!("The field {key:?} is not part of a run request."),
            )
            .at(key.clone())
            .into());
        }
        let values = match members.get("parameters") {
            None => std::collections::BTreeMap::new(),
            Some(Json::Object(values)) => values.clone().into_iter().collect(),
            Some(_) => {
                return Err(Refusal::new(
                    RefusalCode::InvalidJson,
                    "parameters must be an object of values.",
                )
                .at("parameters")
                .into());
            }
        };
        match self
            .lifecycle
            .run_routine(
                id,
                crate::routines::Requester::Agent(agent.to_owned()),
                &values,
            )
            .await
        {
            Ok(Ok(run)) => Ok(run.agent_view()),
            Ok(Err(refusal)) => Err(refusal.into()),
            Err(AppError::NotAllowed(message)) if message.starts_with("there is no routine") => {
                Err(routine_not_found())
            }
            Err(AppError::NotPending(message) | AppError::NotAllowed(message)) => {
                Err(AgentError::new(409, "not_active", message, Some("id")))
            }
            Err(e) => Err(AgentError::unavailable(&e)),
        }
    }
}

fn routine_not_found() -> AgentError {
    AgentError::new(
        404,
        "not_found",
        "There is no such routine of yours.",
        Some("id"),
    )
}
