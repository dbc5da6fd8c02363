//! A proposal as it is kept and read: its [`Status`] (stored as its wire spelling), the
//! [`Record`] with the artifact as its canonical text, inbox [`Line`]s, and registered agents.
//! Pure values: the store reads and writes them, the lifecycle moves them on.

use countersign_core::json::{Json, Object};
use countersign_core::{Artifact, Explanation};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::AppError;

/// A registered agent (never its key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AgentInfo {
    /// The name.
    pub name: String,
    /// When it was added.
    pub added_at: String,
    /// When its key was revoked, if it was.
    pub revoked_at: Option<String>,
    /// When it first asked what it may use (`list_capabilities`).
    pub checked_in_at: Option<String>,
}

/// A proposal as the person sees it.
///
/// The artifact, the result and the released part are kept as canonical JSON text and
/// [`Json`], never through a floating-point number: what was hashed is what is shown, approved
/// and sent, and the agent reads the server's exact number text.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its id.
    pub id: String,
    /// The agent that proposed it.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: Status,
    /// The agent's summary.
    pub summary: String,
    /// The agent's purpose.
    pub purpose: String,
    /// The exact artifact: its canonical JSON text, the bytes `artifact_sha256` is taken over.
    pub artifact: String,
    /// Its hash.
    pub artifact_sha256: String,
    /// The explanation the person reads.
    pub explanation: Explanation,
    /// The decision's time and reason.
    pub decided_at: Option<String>,
    /// The rejection reason.
    pub reason: Option<String>,
    /// The full result (secret redacted), once executed.
    pub result: Option<Json>,
    /// What the agent may read, once released.
    pub released: Option<Json>,
    /// The routine whose held run this is, if it is one.
    pub routine_id: Option<String>,
    /// Who approved or rejected it (on a team, other desks show it).
    pub decided_by: Option<String>,
    /// The money its artifact moves (amount, ISO currency), read from the artifact.
    pub amounts: Vec<(countersign_core::money::Decimal, String)>,
    /// On a team, the first of two people a rule asks for, once they approved.
    pub first_approved_by: Option<String>,
}

/// Where a proposal is in its life (design.md §3), stored as its wire spelling.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type, ts_rs::TS,
)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the person.
    Pending,
    /// Approved; about to run.
    Approved,
    /// Rejected by the person.
    Rejected,
    /// Withdrawn by the agent.
    Withdrawn,
    /// Not decided in time.
    Expired,
    /// Running now.
    Executing,
    /// Ran and succeeded.
    Succeeded,
    /// Ran and failed.
    Failed,
    /// Countersign stopped while it ran; never retried.
    OutcomeUnknown,
}

impl Status {
    /// The wire spelling (`outcome_unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Withdrawn => "withdrawn",
            Status::Expired => "expired",
            Status::Executing => "executing",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::OutcomeUnknown => "outcome_unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One inbox line, as [`crate::store::Store::lines`] reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct Line {
    /// The proposal's id.
    pub id: String,
    /// The agent.
    pub agent: String,
    /// When it arrived.
    pub received_at: String,
    /// Its status.
    pub status: Status,
    /// The routine whose held run this is, if it is one.
    pub routine_id: Option<String>,
    /// Its headline.
    pub headline: String,
    /// Its action's wire name.
    pub action: String,
    /// How many `danger` risks.
    pub danger: i64,
    /// How many `caution` risks.
    pub caution: i64,
}

impl Record {
    /// What the agent sees (design.md §13): `{id, status, decision, result}`, with the released
    /// data exactly as stored.
    pub fn agent_view(&self) -> Json {
        let text = |s: &str| Json::String(s.to_owned());
        let decision = match &self.decided_at {
            Some(at) => Json::Object(Object::from([
                ("at".to_owned(), text(at)),
                (
                    "reason".to_owned(),
                    self.reason.as_deref().map_or(Json::Null, text),
                ),
            ])),
            None => Json::Null,
        };
        Json::Object(Object::from([
            ("id".to_owned(), text(&self.id)),
            ("status".to_owned(), text(self.status.as_str())),
            ("decision".to_owned(), decision),
            (
                "result".to_owned(),
                self.released.clone().unwrap_or(Json::Null),
            ),
        ]))
    }

    /// Whether nothing more will happen that the agent waits for: decided against, ended, or
    /// succeeded with the release chosen.
    pub fn settled_for_agent(&self) -> bool {
        match self.status {
            Status::Pending | Status::Approved | Status::Executing => false,
            Status::Succeeded => self.released.is_some(),
            Status::Rejected
            | Status::Withdrawn
            | Status::Expired
            | Status::Failed
            | Status::OutcomeUnknown => true,
        }
    }

    /// The typed artifact, read back from its stored text; refused when the text no longer
    /// hashes to `artifact_sha256` or is not the canonical form of what it reads as.
    ///
    /// # Errors
    /// When the stored artifact was changed.
    pub fn typed_artifact(&self) -> Result<Artifact, AppError> {
        let changed =
            || not_allowed("the stored artifact does not match its hash; nothing was approved");
        let digest: String = Sha256::digest(self.artifact.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != self.artifact_sha256 {
            return Err(changed());
        }
        let artifact = Json::parse(&self.artifact)
            .and_then(|json| Artifact::from_json(&json, "artifact"))
            .map_err(|_| changed())?;
        if artifact.canonical() != self.artifact {
            return Err(changed());
        }
        Ok(artifact)
    }
}

fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}
