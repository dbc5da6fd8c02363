//! Executing an approved artifact: consume the grant, record `grant.consumed` and
//! `execution.started` durably, run the executor with the secret from the keychain, record the
//! outcome. After a crash, an execution with no recorded outcome is `outcome_unknown`, shown to
//! the person, and never retried on its own.

use std::collections::BTreeMap;
use std::time::Duration;

use countersign_audit::{Actor, Event, Filter, NewEntry};
use countersign_core::Artifact;
use countersign_exec::{
    EmailExecutor, EmailOutcome, Grant, GrantStore, HttpExecutor, HttpOutcome, SqlExecutor,
    SqlOutcome,
};

use crate::audit::Audit;
use crate::credentials::Credentials;
use crate::error::AppError;
use crate::home::DataHome;

/// What an execution returned (the secret already redacted).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// An HTTP response.
    Http(HttpOutcome),
    /// Rows or a count of changed rows.
    Sql(SqlOutcome),
    /// What the SMTP server accepted.
    Email(EmailOutcome),
}

/// Runs approved artifacts for one data home.
pub struct Executions {
    grants: GrantStore,
    credentials: Credentials,
    http: HttpExecutor,
    sql: SqlExecutor,
    email: EmailExecutor,
}

fn failed(error: &dyn std::fmt::Display) -> serde_json::Value {
    serde_json::json!({ "error": error.to_string() })
}

impl Executions {
    /// Opens the data home's grants and credentials, with the given executors.
    ///
    /// # Errors
    /// When they cannot be opened.
    pub async fn open(
        home: &DataHome,
        http: HttpExecutor,
        sql: SqlExecutor,
        email: EmailExecutor,
    ) -> Result<Self, AppError> {
        home.ensure()?;
        Ok(Executions {
            grants: GrantStore::open(home.root()).await?,
            credentials: Credentials::open(home).await?,
            http,
            sql,
            email,
        })
    }

    /// Issues the single-use grant an approval creates, bound to the artifact's hash.
    ///
    /// # Errors
    /// When the grant cannot be stored.
    pub async fn grant(
        &self,
        proposal_id: &str,
        artifact: &Artifact,
        ttl: Duration,
    ) -> Result<Grant, AppError> {
        Ok(self
            .grants
            .issue(proposal_id, artifact.sha256(), ttl)
            .await?)
    }

    /// Executes an approved artifact once.
    ///
    /// # Errors
    /// When the grant is not valid, an audit entry cannot be written (then nothing is sent), the
    /// credential or its secret is missing, or the execution fails.
    pub async fn execute(
        &self,
        audit: &Audit,
        grant_id: &str,
        proposal_id: &str,
        artifact: Artifact,
    ) -> Result<Outcome, AppError> {
        let sha256 = artifact.sha256().to_string();
        let credential_name = artifact.credential_name().map(str::to_owned);
        let entry = |event: Event| {
            let mut entry = NewEntry::new(Actor::app(), event);
            entry.proposal_id = Some(proposal_id.to_owned());
            entry.artifact_sha256 = Some(sha256.clone());
            entry.credential = credential_name.clone();
            entry
        };
        let authorized = self.grants.consume(grant_id, proposal_id, artifact).await?;
        audit
            .record(entry(Event::GrantConsumed).details(serde_json::json!({ "grant": grant_id })))
            .await?;
        let credential = match &credential_name {
            Some(name) => {
                let meta = self
                    .credentials
                    .list()
                    .await?
                    .into_iter()
                    .find(|c| &c.name == name);
                let meta =
                    meta.ok_or_else(|| countersign_vault::VaultError::Unknown(name.clone()))?;
                let secret = self.credentials.store().secret(name)?;
                Some((meta, secret))
            }
            None => None,
        };
        // Durable before anything leaves the machine: if this cannot be written, nothing runs.
        audit.record(entry(Event::ExecutionStarted)).await?;
        let kind = authorized.artifact().kind();
        let result = match (kind, &credential) {
            ("http", _) => self
                .http
                .execute(authorized, credential.as_ref().map(|(m, s)| (m, s)))
                .await
                .map(Outcome::Http),
            ("sql", Some((meta, secret))) => self
                .sql
                .execute(authorized, meta, secret)
                .await
                .map(Outcome::Sql),
            (_, Some((meta, secret))) => self
                .email
                .execute(authorized, meta, secret)
                .await
                .map(Outcome::Email),
            (_, None) => Err(countersign_exec::ExecError::WrongCredential),
        };
        match &result {
            Ok(outcome) => {
                let details = match outcome {
                    Outcome::Http(http) => {
                        serde_json::json!({ "status": http.status, "bytes": http.body.len(), "truncated": http.truncated })
                    }
                    Outcome::Sql(SqlOutcome::Rows {
                        rows, truncated, ..
                    }) => serde_json::json!({ "rows": rows.len(), "truncated": truncated }),
                    Outcome::Sql(SqlOutcome::Changed { rows_affected }) => {
                        serde_json::json!({ "rows_affected": rows_affected })
                    }
                    Outcome::Email(email) => {
                        serde_json::json!({ "recipients": email.recipients.len() })
                    }
                };
                audit
                    .record(
                        entry(Event::ExecutionSucceeded)
                            .outcome("succeeded")
                            .details(details),
                    )
                    .await?;
            }
            Err(error) => {
                audit
                    .record(
                        entry(Event::ExecutionFailed)
                            .outcome("failed")
                            .details(failed(error)),
                    )
                    .await?;
            }
        }
        Ok(result?)
    }

    /// Marks each execution of `candidates` (proposal or run ids) that started but has no
    /// recorded outcome as `outcome_unknown`, and returns those ids. Nothing is retried: whether
    /// it ran is for the person to check. Only the candidates' own entries are read (the log may
    /// hold a million, and on a team other desks' executions are theirs to finish).
    ///
    /// # Errors
    /// When the log cannot be read or written.
    pub async fn recover(
        &self,
        audit: &Audit,
        candidates: &[String],
    ) -> Result<Vec<String>, AppError> {
        let mut open: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        for candidate in candidates {
            let entries = audit
                .log()
                .entries(&Filter {
                    proposal: Some(candidate.clone()),
                    ..Filter::default()
                })
                .await?;
            for entry in &entries {
                if entry.proposal_id.as_deref() != Some(candidate.as_str()) {
                    continue;
                }
                match Event::parse(&entry.event) {
                    Some(Event::ExecutionStarted) => {
                        open.insert(
                            candidate.clone(),
                            (entry.artifact_sha256.clone(), entry.credential.clone()),
                        );
                    }
                    Some(
                        Event::ExecutionSucceeded
                        | Event::ExecutionFailed
                        | Event::ExecutionOutcomeUnknown,
                    ) => {
                        open.remove(candidate);
                    }
                    _ => {}
                }
            }
        }
        for (proposal, (sha256, credential)) in &open {
            let mut entry = NewEntry::new(Actor::app(), Event::ExecutionOutcomeUnknown).outcome("outcome_unknown").details(serde_json::json!({
                "reason": "Countersign stopped while this was running; it may or may not have happened, and it is not retried",
            }));
            entry.proposal_id = Some(proposal.clone());
            entry.artifact_sha256 = sha256.clone();
            entry.credential = credential.clone();
            audit.record(entry).await?;
        }
        Ok(open.into_keys().collect())
    }
}
