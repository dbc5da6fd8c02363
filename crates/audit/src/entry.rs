//! What an audit entry records.

use serde::{Deserialize, Serialize};

/// Who did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person using the app or the CLI.
    Person,
    /// An agent, identified by its registered name.
    Agent,
    /// Countersign itself (executions, expiries, checkpoints).
    App,
}

impl ActorKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Person => "person",
            ActorKind::Agent => "agent",
            ActorKind::App => "app",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "person" => Some(ActorKind::Person),
            "agent" => Some(ActorKind::Agent),
            "app" => Some(ActorKind::App),
            _ => None,
        }
    }
}

/// A unique identity: each person and each agent has its own `id`; `name` is for reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Person, agent or app.
    pub kind: ActorKind,
    /// A stable identifier (`person:alice`, `agent:claude-desktop`, `app`).
    pub id: String,
    /// The name shown to people.
    pub name: String,
}

impl Actor {
    /// Countersign itself.
    pub fn app() -> Self {
        Actor {
            kind: ActorKind::App,
            id: "app".into(),
            name: "Countersign".into(),
        }
    }

    /// A person known by their operating-system account name.
    pub fn person(account: &str) -> Self {
        Actor {
            kind: ActorKind::Person,
            id: format!("person:{account}"),
            name: account.into(),
        }
    }

    /// An agent known by its registered name.
    pub fn agent(name: &str) -> Self {
        Actor {
            kind: ActorKind::Agent,
            id: format!("agent:{name}"),
            name: name.into(),
        }
    }
}

/// The events of design.md §12 (and `audit.reported` for the daily security report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// An agent submitted a proposal.
    #[serde(rename = "proposal.received")]
    ProposalReceived,
    /// A proposal was refused (details carry the error code).
    #[serde(rename = "proposal.refused")]
    ProposalRefused,
    /// The agent withdrew its proposal.
    #[serde(rename = "proposal.withdrawn")]
    ProposalWithdrawn,
    /// Nobody decided in time.
    #[serde(rename = "proposal.expired")]
    ProposalExpired,
    /// A person opened the proposal.
    #[serde(rename = "proposal.viewed")]
    ProposalViewed,
    /// A person approved.
    #[serde(rename = "decision.approved")]
    DecisionApproved,
    /// A person rejected.
    #[serde(rename = "decision.rejected")]
    DecisionRejected,
    /// The second factor was given correctly.
    #[serde(rename = "second_factor.succeeded")]
    SecondFactorSucceeded,
    /// A wrong second factor was given.
    #[serde(rename = "second_factor.failed")]
    SecondFactorFailed,
    /// A grant was used up by an execution.
    #[serde(rename = "grant.consumed")]
    GrantConsumed,
    /// Execution began: written before anything leaves the machine.
    #[serde(rename = "execution.started")]
    ExecutionStarted,
    /// Execution finished and succeeded.
    #[serde(rename = "execution.succeeded")]
    ExecutionSucceeded,
    /// Execution finished and failed.
    #[serde(rename = "execution.failed")]
    ExecutionFailed,
    /// Execution's outcome is unknown (the app stopped during it).
    #[serde(rename = "execution.outcome_unknown")]
    ExecutionOutcomeUnknown,
    /// A person released (part of) a result to the agent.
    #[serde(rename = "result.released")]
    ResultReleased,
    /// A credential was added.
    #[serde(rename = "credential.added")]
    CredentialAdded,
    /// A credential was removed.
    #[serde(rename = "credential.removed")]
    CredentialRemoved,
    /// An agent tried to use a credential outside its scope.
    #[serde(rename = "credential.scope_violation")]
    CredentialScopeViolation,
    /// An agent was registered.
    #[serde(rename = "agent.added")]
    AgentAdded,
    /// An agent's key was revoked.
    #[serde(rename = "agent.revoked")]
    AgentRevoked,
    /// The app was unlocked.
    #[serde(rename = "app.unlocked")]
    AppUnlocked,
    /// The app was locked.
    #[serde(rename = "app.locked")]
    AppLocked,
    /// A setting changed.
    #[serde(rename = "settings.changed")]
    SettingsChanged,
    /// The log was verified (details carry the verdict).
    #[serde(rename = "audit.verified")]
    AuditVerified,
    /// The log was exported (details carry the filters).
    #[serde(rename = "audit.exported")]
    AuditExported,
    /// A checkpoint was signed.
    #[serde(rename = "audit.checkpoint")]
    AuditCheckpoint,
    /// The daily security report was produced.
    #[serde(rename = "audit.reported")]
    AuditReported,
    /// An agent proposed a routine (`artifact_sha256` holds its `routine_sha256`).
    #[serde(rename = "routine.proposed")]
    RoutineProposed,
    /// The person approved a routine.
    #[serde(rename = "routine.approved")]
    RoutineApproved,
    /// The person rejected a routine.
    #[serde(rename = "routine.rejected")]
    RoutineRejected,
    /// The person paused a routine.
    #[serde(rename = "routine.paused")]
    RoutinePaused,
    /// The person resumed a routine.
    #[serde(rename = "routine.resumed")]
    RoutineResumed,
    /// The person revoked a routine.
    #[serde(rename = "routine.revoked")]
    RoutineRevoked,
    /// A routine reached its expiry.
    #[serde(rename = "routine.expired")]
    RoutineExpired,
    /// A run of a routine started (details carry the routine and its hash).
    #[serde(rename = "routine.run.started")]
    RoutineRunStarted,
    /// A run of a routine finished.
    #[serde(rename = "routine.run.succeeded")]
    RoutineRunSucceeded,
    /// A run of a routine failed or was missed.
    #[serde(rename = "routine.run.failed")]
    RoutineRunFailed,
    /// A run of a routine was held as a pending proposal for the person.
    #[serde(rename = "routine.run.held")]
    RoutineRunHeld,
    /// This desk joined a team (or made one): its log is the team's from here on.
    #[serde(rename = "team.joined")]
    TeamJoined,
    /// A person was added to the team (details: roles, who added them).
    #[serde(rename = "person.added")]
    PersonAdded,
    /// A person was disabled: they can no longer sign in.
    #[serde(rename = "person.disabled")]
    PersonDisabled,
    /// A person signed in to a desk with their second factor.
    #[serde(rename = "person.signed_in")]
    PersonSignedIn,
    /// A sign-in was refused (unknown or disabled person, wrong code).
    #[serde(rename = "person.sign_in_failed")]
    PersonSignInFailed,
    /// A role was asked for a person; a role needing two people waits for the second.
    #[serde(rename = "role.requested")]
    RoleRequested,
    /// A role took effect.
    #[serde(rename = "role.granted")]
    RoleGranted,
    /// A team rule (who may decide what; what needs two people) was added.
    #[serde(rename = "rule.added")]
    RuleAdded,
    /// A team rule was removed.
    #[serde(rename = "rule.removed")]
    RuleRemoved,
    /// The first of two people a rule asks for approved; the proposal waits for a second.
    #[serde(rename = "decision.first_approved")]
    DecisionFirstApproved,
    /// A backup of the data home was made (`countersign backup`).
    #[serde(rename = "backup.made")]
    BackupMade,
    /// A data home was restored from a backup; its log continues here.
    #[serde(rename = "backup.restored")]
    BackupRestored,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 50] = [
        Event::ProposalReceived,
        Event::ProposalRefused,
        Event::ProposalWithdrawn,
        Event::ProposalExpired,
        Event::ProposalViewed,
        Event::DecisionApproved,
        Event::DecisionRejected,
        Event::SecondFactorSucceeded,
        Event::SecondFactorFailed,
        Event::GrantConsumed,
        Event::ExecutionStarted,
        Event::ExecutionSucceeded,
        Event::ExecutionFailed,
        Event::ExecutionOutcomeUnknown,
        Event::ResultReleased,
        Event::CredentialAdded,
        Event::CredentialRemoved,
        Event::CredentialScopeViolation,
        Event::AgentAdded,
        Event::AgentRevoked,
        Event::AppUnlocked,
        Event::AppLocked,
        Event::SettingsChanged,
        Event::AuditVerified,
        Event::AuditExported,
        Event::AuditCheckpoint,
        Event::AuditReported,
        Event::RoutineProposed,
        Event::RoutineApproved,
        Event::RoutineRejected,
        Event::RoutinePaused,
        Event::RoutineResumed,
        Event::RoutineRevoked,
        Event::RoutineExpired,
        Event::RoutineRunStarted,
        Event::RoutineRunSucceeded,
        Event::RoutineRunFailed,
        Event::RoutineRunHeld,
        Event::TeamJoined,
        Event::PersonAdded,
        Event::PersonDisabled,
        Event::PersonSignedIn,
        Event::PersonSignInFailed,
        Event::RoleRequested,
        Event::RoleGranted,
        Event::RuleAdded,
        Event::RuleRemoved,
        Event::DecisionFirstApproved,
        Event::BackupMade,
        Event::BackupRestored,
    ];

    /// The stored spelling, e.g. `decision.approved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ProposalReceived => "proposal.received",
            Event::ProposalRefused => "proposal.refused",
            Event::ProposalWithdrawn => "proposal.withdrawn",
            Event::ProposalExpired => "proposal.expired",
            Event::ProposalViewed => "proposal.viewed",
            Event::DecisionApproved => "decision.approved",
            Event::DecisionRejected => "decision.rejected",
            Event::SecondFactorSucceeded => "second_factor.succeeded",
            Event::SecondFactorFailed => "second_factor.failed",
            Event::GrantConsumed => "grant.consumed",
            Event::ExecutionStarted => "execution.started",
            Event::ExecutionSucceeded => "execution.succeeded",
            Event::ExecutionFailed => "execution.failed",
            Event::ExecutionOutcomeUnknown => "execution.outcome_unknown",
            Event::ResultReleased => "result.released",
            Event::CredentialAdded => "credential.added",
            Event::CredentialRemoved => "credential.removed",
            Event::CredentialScopeViolation => "credential.scope_violation",
            Event::AgentAdded => "agent.added",
            Event::AgentRevoked => "agent.revoked",
            Event::AppUnlocked => "app.unlocked",
            Event::AppLocked => "app.locked",
            Event::SettingsChanged => "settings.changed",
            Event::AuditVerified => "audit.verified",
            Event::AuditExported => "audit.exported",
            Event::AuditCheckpoint => "audit.checkpoint",
            Event::AuditReported => "audit.reported",
            Event::RoutineProposed => "routine.proposed",
            Event::RoutineApproved => "routine.approved",
            Event::RoutineRejected => "routine.rejected",
            Event::RoutinePaused => "routine.paused",
            Event::RoutineResumed => "routine.resumed",
            Event::RoutineRevoked => "routine.revoked",
            Event::RoutineExpired => "routine.expired",
            Event::RoutineRunStarted => "routine.run.started",
            Event::RoutineRunSucceeded => "routine.run.succeeded",
            Event::RoutineRunFailed => "routine.run.failed",
            Event::RoutineRunHeld => "routine.run.held",
            Event::TeamJoined => "team.joined",
            Event::PersonAdded => "person.added",
            Event::PersonDisabled => "person.disabled",
            Event::PersonSignedIn => "person.signed_in",
            Event::PersonSignInFailed => "person.sign_in_failed",
            Event::RoleRequested => "role.requested",
            Event::RoleGranted => "role.granted",
            Event::RuleAdded => "rule.added",
            Event::RuleRemoved => "rule.removed",
            Event::DecisionFirstApproved => "decision.first_approved",
            Event::BackupMade => "backup.made",
            Event::BackupRestored => "backup.restored",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Event::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// An entry to append. The log adds `seq`, `at` and the hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    /// Who.
    pub actor: Actor,
    /// What happened.
    pub event: Event,
    /// The proposal concerned, if any.
    pub proposal_id: Option<String>,
    /// The artifact hash concerned, if any.
    pub artifact_sha256: Option<String>,
    /// The credential's name (never its secret), if any.
    pub credential: Option<String>,
    /// The outcome (`succeeded`, `failed`, `intact`, a refusal code…), if any.
    pub outcome: Option<String>,
    /// Purpose, reason, auth method, released paths, error code… Never secrets; health data
    /// only as identifiers or hashes.
    pub details: serde_json::Value,
}

impl NewEntry {
    /// An entry with no proposal, credential or outcome, and empty details.
    pub fn new(actor: Actor, event: Event) -> Self {
        NewEntry {
            actor,
            event,
            proposal_id: None,
            artifact_sha256: None,
            credential: None,
            outcome: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets the outcome.
    #[must_use]
    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    /// Sets the details.
    #[must_use]
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// An entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Gap-free sequence number, from 1.
    pub seq: i64,
    /// When, in UTC (RFC 3339 with microseconds).
    pub at: String,
    /// Who.
    pub actor: Actor,
    /// What happened, e.g. `decision.approved` (stored text; unknown spellings stay visible).
    pub event: String,
    /// The proposal concerned.
    pub proposal_id: Option<String>,
    /// The artifact hash concerned.
    pub artifact_sha256: Option<String>,
    /// The credential's name.
    pub credential: Option<String>,
    /// The outcome.
    pub outcome: Option<String>,
    /// Canonical JSON text of the details.
    pub details: String,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// This entry's hash.
    pub entry_hash: String,
}
