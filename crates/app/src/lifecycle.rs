//! The life of a proposal (design.md §3): received → refused | pending → approved | rejected |
//! withdrawn | expired → executing → succeeded | failed | outcome_unknown → released.
//!
//! The transitions, and nothing else: the rows live in [`Store`], what is released in
//! [`crate::release`]. The collaborators (the audit log, the executors, the second factor, the
//! session's credentials, settings and descriptors) are given once, when the lifecycle is opened.
//! Every step is recorded in the audit log before it takes effect.

use std::sync::Arc;
use std::time::Duration;

use countersign_audit::{Actor, Event, NewEntry};
use countersign_core::json::{Json, Object};
use countersign_core::{Proposal, Refusal, RefusalCode};
use countersign_exec::SqlOutcome;

use crate::audit::Audit;
use crate::error::AppError;
use crate::execute::{Executions, Outcome};
use crate::home::DataHome;
use crate::queue::Statement;
use crate::record::{Record, Status};
use crate::release::Release;
use crate::store::{NewProposal, Store, now_seconds};
use crate::totp::SecondFactor;

/// How long a proposal waits for a decision before it expires.
pub const PENDING_TTL: Duration = Duration::from_secs(24 * 60 * 60);

fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut buffer = vec![0u8; bytes];
    crate::error::random_bytes(&mut buffer)?;
    Ok(data_encoding::HEXLOWER.encode(&buffer))
}

/// The steps of a proposal's life over one data home.
pub struct Lifecycle {
    pub(crate) home: DataHome,
    pub(crate) store: Arc<Store>,
    pub(crate) audit: Arc<Audit>,
    pub(crate) executions: Executions,
    pub(crate) second_factor: Arc<SecondFactor>,
    /// Parsed once: the person's descriptor files and the shipped packs.
    pub(crate) descriptors: countersign_core::descriptor::Descriptors,
    /// `settings.json` as last read; read again only when the file changed.
    pub(crate) settings: crate::settings::SettingsCache,
    /// Credential metadata and secrets for this session (see `explain::Session`).
    pub(crate) credentials: crate::explain::Session,
    /// Proposals this desk is executing now: on a team, [`Lifecycle::recover_cut_off`] leaves
    /// them alone.
    in_flight: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Marks a proposal as executing in this process until dropped.
struct InFlight<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    id: String,
}

impl<'a> InFlight<'a> {
    fn start(set: &'a std::sync::Mutex<std::collections::HashSet<String>>, id: &str) -> Self {
        set.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned());
        InFlight {
            set,
            id: id.to_owned(),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// What a lifecycle is opened with.
pub struct Collaborators {
    /// The audit log every step is recorded in.
    pub audit: Arc<Audit>,
    /// The executors approved artifacts run on.
    pub executions: Executions,
    /// The person's second factor.
    pub second_factor: Arc<SecondFactor>,
}

/// ", by NAME" when the record names who decided it (on a team, possibly at another desk).
fn decided_by(record: &Record) -> String {
    record
        .decided_by
        .as_deref()
        .map(|name| format!(", by {name}"))
        .unwrap_or_default()
}

/// How a person's approval counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Their approval is enough.
    Alone,
    /// A team rule asks for two people, and this person (a different one) is the second to
    /// the named first approver.
    SecondTo(String),
}

impl Lifecycle {
    /// Opens the data home's proposals with the collaborators every step uses.
    ///
    /// # Errors
    /// When the store or the descriptors cannot be read.
    pub async fn open(home: &DataHome, with: Collaborators) -> Result<Self, AppError> {
        Ok(Lifecycle {
            home: home.clone(),
            store: Arc::new(Store::open(home).await?),
            audit: with.audit,
            executions: with.executions,
            second_factor: with.second_factor,
            descriptors: crate::explain::load_descriptors(home)?,
            settings: crate::settings::SettingsCache::default(),
            credentials: crate::explain::Session::default(),
            in_flight: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// Opens with the standard executors and the data home's second factor (the connector's
    /// tests and benchmarks, and `countersign` commands that take no decision).
    ///
    /// # Errors
    /// As [`Lifecycle::open`].
    pub async fn open_standard(home: &DataHome, audit: Arc<Audit>) -> Result<Self, AppError> {
        let executions = Executions::open(
            home,
            countersign_exec::HttpExecutor::new(),
            countersign_exec::SqlExecutor::new(),
            countersign_exec::EmailExecutor::new(),
        )
        .await?;
        let second_factor = Arc::new(SecondFactor::new(home.keychain()));
        Lifecycle::open(
            home,
            Collaborators {
                audit,
                executions,
                second_factor,
            },
        )
        .await
    }

    /// The proposals as stored, for reading.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The audit log the steps are recorded in.
    pub fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }

    /// The agent registry in the same store.
    pub fn agents(&self) -> crate::agents::Agents {
        crate::agents::Agents::new(Arc::clone(&self.store), Arc::clone(&self.audit))
    }

    /// The credentials' metadata as the session holds it (no secret; `vault.db` is asked only
    /// whether it changed).
    ///
    /// # Errors
    /// When `vault.db` or the keychain cannot be read.
    pub async fn credential_list(
        &self,
    ) -> Result<Vec<countersign_core::credential::CredentialMeta>, AppError> {
        Ok(self
            .credentials
            .current(&self.home)
            .await?
            .registry
            .credentials
            .clone())
    }

    /// The record's result in words, once it has one (the descriptors in force describe it).
    pub fn result_words(&self, record: &Record) -> Option<countersign_core::result::ResultWords> {
        let result = record.result.as_ref()?;
        let artifact = record.typed_artifact().ok()?;
        Some(countersign_core::result::describe(
            &artifact,
            result,
            &self.descriptors,
        ))
    }

    /// Receives a proposal: explains it, or refuses it (recorded as `proposal.refused`, and as
    /// `credential.scope_violation` too when it is one).
    ///
    /// # Errors
    /// When the app fails; a refusal is the inner error.
    pub async fn submit(
        &self,
        agent: &str,
        text: &str,
    ) -> Result<Result<Record, Refusal>, AppError> {
        let actor = Actor::agent(agent);
        let loaded = self.credentials.current(&self.home).await?;
        let settings = self.settings.current(&self.home)?.for_explanations();
        // The text is read once: the proposal explained is the one stored.
        let parsed = Proposal::parse(text);
        let explained = parsed.as_ref().map_err(Clone::clone).and_then(|proposal| {
            crate::explain::explain_proposal(&loaded, &self.descriptors, &settings, proposal)
        });
        let (proposal, explained) = match (parsed, explained) {
            (Ok(proposal), Ok(explained)) => (proposal, explained),
            (parsed, Err(refusal)) => {
                let details = serde_json::json!({ "code": refusal.code, "field": refusal.field, "message": refusal.message });
                let mut entry = NewEntry::new(actor.clone(), Event::ProposalRefused)
                    .outcome(refusal.code.as_str())
                    .details(details.clone());
                entry.credential = parsed
                    .ok()
                    .and_then(|p| p.artifact.credential_name().map(str::to_owned));
                self.audit.record(entry.clone()).await?;
                if refusal.code == RefusalCode::CredentialScopeViolation {
                    let mut violation =
                        NewEntry::new(actor, Event::CredentialScopeViolation).details(details);
                    violation.credential = entry.credential;
                    self.audit.record(violation).await?;
                }
                // Screens show scope violations as alerts.
                self.store.changed();
                return Ok(Err(refusal));
            }
            (Err(refusal), Ok(_)) => return Ok(Err(refusal)),
        };
        let id = format!("prop_{}", random_hex(12)?);
        let sha256 = explained.artifact_sha256.to_string();
        let mut entry = NewEntry::new(actor, Event::ProposalReceived)
            .details(serde_json::json!({ "purpose": proposal.purpose, "headline": explained.explanation.headline }));
        entry.proposal_id = Some(id.clone());
        entry.artifact_sha256 = Some(sha256.clone());
        entry.credential = proposal.artifact.credential_name().map(str::to_owned);
        self.audit.record(entry).await?;
        let explanation = serde_json::to_string(&explained.explanation)
            .map_err(|e| not_allowed(e.to_string()))?;
        let artifact = proposal.artifact.canonical();
        self.store
            .insert(&NewProposal {
                id: &id,
                agent,
                expires_at: now_seconds() + i64::try_from(PENDING_TTL.as_secs()).unwrap_or(86_400),
                summary: &proposal.summary,
                purpose: &proposal.purpose,
                artifact: &artifact,
                artifact_sha256: &sha256,
                explanation: &explanation,
                amounts: crate::store::amounts_text(&explained.amounts),
            })
            .await?;
        Ok(Ok(self.store.existing(&id).await?))
    }

    async fn pending_record(&self, id: &str) -> Result<Record, AppError> {
        let record = self.store.existing(id).await?;
        if record.status != Status::Pending {
            return Err(AppError::NotPending(format!(
                "proposal {id} is {}{}, not waiting for a decision",
                record.status,
                decided_by(&record)
            )));
        }
        match self.explained_here(record).await? {
            Ok(record) => Ok(record),
            Err(refusal) => Err(not_allowed(format!(
                "This desk cannot run proposal {id}: {} Nothing was approved.",
                refusal.message
            ))),
        }
    }

    /// On a team, `record` explained again with this desk's own credentials, descriptors and
    /// settings: the desk that decides executes with its own credential, so what the person
    /// reads — its scope, its prescriber's signing block, whether it needs the second factor —
    /// is what *this* desk would do, not what the desk that received it saw. Elsewhere (one
    /// desk explained it already), and for a held run of a routine (explained with its reasons),
    /// the stored explanation. A refusal here is returned as such.
    ///
    /// # Errors
    /// When the credentials or settings cannot be read.
    pub(crate) async fn explained_here(
        &self,
        mut record: Record,
    ) -> Result<Result<Record, Refusal>, AppError> {
        if !self.store.is_team() || record.routine_id.is_some() {
            return Ok(Ok(record));
        }
        // One that no longer matches its hash is shown as stored; it cannot be approved.
        let Ok(artifact) = record.typed_artifact() else {
            return Ok(Ok(record));
        };
        let proposal = Proposal {
            summary: record.summary.clone(),
            purpose: record.purpose.clone(),
            artifact,
        };
        let loaded = self.credentials.current(&self.home).await?;
        let settings = self.settings.current(&self.home)?.for_explanations();
        match crate::explain::explain_proposal(&loaded, &self.descriptors, &settings, &proposal) {
            Ok(explained) => {
                record.explanation = explained.explanation;
                Ok(Ok(record))
            }
            Err(refusal) => Ok(Err(refusal)),
        }
    }

    /// The person opened a proposal: recorded as `proposal.viewed`.
    ///
    /// # Errors
    /// When there is no such proposal or the entry cannot be recorded.
    pub async fn view(&self, id: &str) -> Result<Record, AppError> {
        let record = self.store.existing(id).await?;
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::ProposalViewed);
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        self.audit.record(entry).await?;
        Ok(record)
    }

    /// The agent withdraws its pending proposal.
    ///
    /// # Errors
    /// When it is not the agent's, not pending, or the entry cannot be recorded.
    pub async fn withdraw(&self, agent: &str, id: &str) -> Result<Record, AppError> {
        let record = self
            .store
            .get_for_agent(agent, id)
            .await?
            .ok_or_else(|| not_allowed(format!("there is no proposal {id}")))?;
        if record.status != Status::Pending {
            return Err(AppError::NotPending(format!(
                "proposal {id} is {}, and only a pending proposal can be withdrawn",
                record.status
            )));
        }
        let mut entry = NewEntry::new(Actor::agent(agent), Event::ProposalWithdrawn);
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        if !self
            .store
            .move_status(
                id,
                &[Status::Pending],
                Status::Withdrawn,
                None,
                Some((&self.audit, entry)),
            )
            .await?
        {
            return Err(AppError::NotPending(format!(
                "proposal {id} was decided before it could be withdrawn"
            )));
        }
        self.store.existing(id).await
    }

    /// The person rejects a pending proposal, with an optional reason.
    ///
    /// # Errors
    /// When it is not pending or the entry cannot be recorded.
    pub async fn reject(&self, id: &str, reason: &str) -> Result<Record, AppError> {
        let record = self.pending_record(id).await?;
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::DecisionRejected)
            .details(serde_json::json!({ "reason": reason }));
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256);
        if !self
            .store
            .move_status(
                id,
                &[Status::Pending],
                Status::Rejected,
                Some(reason),
                Some((&self.audit, entry)),
            )
            .await?
        {
            return Err(AppError::NotPending(format!(
                "proposal {id} was decided elsewhere; nothing was rejected"
            )));
        }
        self.store.existing(id).await
    }

    /// Expires pending proposals whose time ran out; returns their ids.
    ///
    /// # Errors
    /// When the store or the log fail.
    pub async fn expire_due(&self) -> Result<Vec<String>, AppError> {
        let due = self.store.due(now_seconds()).await?;
        for id in &due {
            let mut entry = NewEntry::new(Actor::app(), Event::ProposalExpired);
            entry.proposal_id = Some(id.clone());
            // Decided in the meantime: then it did not expire, and nothing is recorded.
            self.store
                .move_status(
                    id,
                    &[Status::Pending],
                    Status::Expired,
                    None,
                    Some((&self.audit, entry)),
                )
                .await?;
        }
        Ok(due)
    }

    /// The person approves: the second factor is checked when the explanation requires it, the
    /// approval recorded, a grant issued and the artifact executed once.
    ///
    /// # Errors
    /// When it is not pending, the second factor is missing or wrong, an entry cannot be
    /// recorded, or the execution cannot start. An execution that fails is a `failed` proposal,
    /// not an error.
    pub async fn approve(&self, id: &str, second_factor: Option<&str>) -> Result<Record, AppError> {
        self.approve_as(id, second_factor, Approval::Alone).await
    }

    /// Checks the second factor when the proposal needs it, recording the attempt; returns the
    /// method approval used.
    async fn second_factor_for(
        &self,
        record: &Record,
        second_factor: Option<&str>,
    ) -> Result<&'static str, AppError> {
        if !record.explanation.requires_second_factor {
            return Ok("confirmation");
        }
        let Some(right) = self.second_factor.check(second_factor)? else {
            return Err(not_allowed(
                "this needs your second factor, and none is set up yet: enroll one first",
            ));
        };
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::SecondFactorFailed)
            .details(serde_json::json!({ "method": "totp" }));
        entry.proposal_id = Some(record.id.clone());
        if !right {
            self.audit.record(entry).await?;
            return Err(not_allowed(
                "the second-factor code is not right; nothing was approved",
            ));
        }
        entry.event = Event::SecondFactorSucceeded;
        self.audit.record(entry).await?;
        Ok("totp")
    }

    /// The first of two people a team rule asks for approves: recorded as
    /// `decision.first_approved`; the proposal stays pending, nothing runs, and only another
    /// person's approval ([`Approval::SecondTo`]) executes it.
    ///
    /// # Errors
    /// When it is not pending, someone approved first already, the second factor is missing or
    /// wrong, or the entry cannot be recorded.
    pub async fn first_approve(
        &self,
        id: &str,
        second_factor: Option<&str>,
        rule: &str,
    ) -> Result<Record, AppError> {
        let record = self.pending_record(id).await?;
        if let Some(first) = &record.first_approved_by {
            return Err(AppError::NotPending(format!(
                "{first} already approved proposal {id} first; it waits for a second person"
            )));
        }
        let method = self.second_factor_for(&record, second_factor).await?;
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::DecisionFirstApproved)
            .details(serde_json::json!({ "purpose": record.purpose, "auth_method": method, "headline": record.explanation.headline, "rule": rule }));
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        entry.credential = record
            .typed_artifact()?
            .credential_name()
            .map(str::to_owned);
        let first = Statement::new(
            "UPDATE proposals SET first_approved_by = ? WHERE id = ? AND status = 'pending' AND first_approved_by IS NULL",
        )
        .bind(entry.actor.name.clone())
        .bind(id);
        if !self
            .store
            .audited_change(first, Some((&self.audit, entry)))
            .await?
        {
            let now = self.store.existing(id).await?;
            return Err(AppError::NotPending(format!(
                "proposal {id} was approved first{} a moment ago, or decided; look at it again",
                now.first_approved_by
                    .map(|name| format!(" by {name}"))
                    .unwrap_or_default()
            )));
        }
        self.store.changed();
        self.store.existing(id).await
    }

    /// Approves and executes, alone or as the second of two people (`approval`).
    ///
    /// # Errors
    /// As [`Lifecycle::approve`]; as the second person, when the first approval is not the one
    /// named.
    pub async fn approve_as(
        &self,
        id: &str,
        second_factor: Option<&str>,
        approval: Approval,
    ) -> Result<Record, AppError> {
        let record = self.pending_record(id).await?;
        let method = self.second_factor_for(&record, second_factor).await?;
        let artifact = record.typed_artifact()?;
        let mut details = serde_json::json!({ "purpose": record.purpose, "auth_method": method, "headline": record.explanation.headline });
        if let Approval::SecondTo(first) = &approval {
            details["second_to"] = serde_json::Value::String(first.clone());
        }
        let mut entry =
            NewEntry::new(self.audit.actor().clone(), Event::DecisionApproved).details(details);
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256.clone());
        entry.credential = artifact.credential_name().map(str::to_owned);
        let first = match &approval {
            Approval::Alone => None,
            Approval::SecondTo(first) => Some(first.as_str()),
        };
        let _running = InFlight::start(&self.in_flight, id);
        if !self
            .store
            .move_status_after(
                id,
                &[Status::Pending],
                Status::Approved,
                None,
                Some((&self.audit, entry)),
                first,
            )
            .await?
        {
            let now = self.store.existing(id).await?;
            return Err(AppError::NotPending(format!(
                "proposal {id} was decided elsewhere{}; nothing was approved",
                decided_by(&now)
            )));
        }
        let grant = self
            .executions
            .grant(id, &artifact, countersign_exec::DEFAULT_GRANT_TTL)
            .await?;
        self.store
            .move_status(id, &[Status::Approved], Status::Executing, None, None)
            .await?;
        let result = self
            .executions
            .execute(&self.audit, &grant.id, id, artifact)
            .await;
        let (status, stored) = match result {
            Ok(outcome) => (Status::Succeeded, result_json(&outcome)),
            Err(error) => (
                Status::Failed,
                Json::Object(Object::from([(
                    "error".to_owned(),
                    Json::String(error.to_string()),
                )])),
            ),
        };
        self.store.set_result(id, &stored).await?;
        self.store
            .move_status(id, &[Status::Executing], status, None, None)
            .await?;
        self.store.existing(id).await
    }

    /// Marks executions interrupted by a crash as `outcome_unknown` (see [`Executions::recover`]).
    ///
    /// # Errors
    /// When the store or the log fail.
    pub async fn recover(&self) -> Result<Vec<String>, AppError> {
        let mut unknown = self.recover_proposals(false).await?;
        // Routine runs that were executing: their executions are logged by run id.
        let runs = self.store.running_runs_here().await?;
        unknown.extend(self.executions.recover(&self.audit, &runs).await?);
        self.recover_runs().await?;
        Ok(unknown)
    }

    /// On a team, after the database came back: this desk's proposals left approved or
    /// executing by an execution the lost connection cut off (not one running now) become
    /// `outcome_unknown`, never retried. Returns their ids.
    ///
    /// # Errors
    /// When the store or the log fail.
    pub async fn recover_cut_off(&self) -> Result<Vec<String>, AppError> {
        if !self.store.is_team() {
            return Ok(Vec::new());
        }
        self.recover_proposals(true).await
    }

    async fn recover_proposals(&self, skip_running: bool) -> Result<Vec<String>, AppError> {
        let interrupted = [Status::Approved, Status::Executing];
        let mut left: Vec<String> = self
            .store
            .with_status_here(Status::Executing)
            .await?
            .into_iter()
            .chain(self.store.with_status_here(Status::Approved).await?)
            .map(|record| record.id)
            .collect();
        if skip_running {
            // Read after the list: a proposal approved since is in the set already (it is
            // marked before it is approved), and one finished since moves no more.
            let running = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            left.retain(|id| !running.contains(id));
        }
        let unknown = self.executions.recover(&self.audit, &left).await?;
        // Those without an execution.started never sent anything; they are not run later either.
        for id in &left {
            self.store
                .move_status(id, &interrupted, Status::OutcomeUnknown, None, None)
                .await?;
        }
        Ok(unknown)
    }

    /// The person releases (part of) a result to the agent; recorded as `result.released`.
    ///
    /// # Errors
    /// When there is no result yet, or the entry cannot be recorded.
    pub async fn release(&self, id: &str, choice: &Release) -> Result<Record, AppError> {
        let record = self.store.existing(id).await?;
        let Some(result) = record.result.clone() else {
            return Err(not_allowed(format!(
                "proposal {id} has no result to release"
            )));
        };
        let projection = crate::release::project(&result, choice);
        let mut entry = NewEntry::new(self.audit.actor().clone(), Event::ResultReleased).details(
            serde_json::json!({ "released_paths": projection.released_paths, "withheld": projection.withheld }),
        );
        entry.proposal_id = Some(id.to_owned());
        entry.artifact_sha256 = Some(record.artifact_sha256);
        self.audit.record(entry).await?;
        self.store
            .set_released(id, &projection.agent_view())
            .await?;
        self.store.existing(id).await
    }
}

/// The full result as JSON: what the person sees and chooses from. An HTTP body that is JSON
/// is kept as its exact text (duplicate keys or malformed JSON make it text).
pub(crate) fn result_json(outcome: &Outcome) -> Json {
    let exact = |value: &serde_json::Value| {
        serde_json::to_string(value)
            .ok()
            .and_then(|text| Json::parse(&text).ok())
            .unwrap_or(Json::Null)
    };
    let object = |members: Vec<(&str, Json)>| {
        Json::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    };
    match outcome {
        Outcome::Http(http) => {
            let text = String::from_utf8_lossy(&http.body).into_owned();
            let body = Json::parse(&text).unwrap_or(Json::String(text));
            object(vec![
                ("status", Json::Number(http.status.to_string())),
                ("body", body),
                ("truncated", Json::Bool(http.truncated)),
            ])
        }
        Outcome::Sql(SqlOutcome::Rows {
            columns,
            rows,
            truncated,
        }) => object(vec![
            (
                "columns",
                Json::Array(columns.iter().map(|c| Json::String(c.clone())).collect()),
            ),
            (
                "rows",
                Json::Array(
                    rows.iter()
                        .map(|row| Json::Array(row.iter().map(exact).collect()))
                        .collect(),
                ),
            ),
            ("truncated", Json::Bool(*truncated)),
        ]),
        Outcome::Sql(SqlOutcome::Changed { rows_affected }) => object(vec![(
            "rows_affected",
            Json::Number(rows_affected.to_string()),
        )]),
        Outcome::Email(email) => object(vec![
            (
                "recipients",
                Json::Array(
                    email
                        .recipients
                        .iter()
                        .map(|r| Json::String(r.clone()))
                        .collect(),
                ),
            ),
            ("reply", Json::String(email.reply.clone())),
        ]),
    }
}
