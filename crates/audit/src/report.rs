//! The daily security report (21 CFR 1311.150(b)): the last day's events that may mean an attack
//! or a failure, in words a person reads.

use std::fmt::Write as _;

use crate::entry::{Entry, Event};

/// Events that belong in the security report.
pub fn security_events(entry: &Entry) -> Option<&'static str> {
    let event = Event::parse(&entry.event)?;
    match event {
        Event::CredentialScopeViolation => {
            Some("An agent tried to use a credential outside its scope")
        }
        Event::SecondFactorFailed => Some("A wrong second factor was entered"),
        Event::PersonSignInFailed => Some("A sign-in to a desk was refused"),
        Event::PersonAdded => Some("A person was added to the team"),
        Event::PersonDisabled => Some("A person was disabled"),
        Event::RoleGranted => Some("A role took effect for a person"),
        Event::RuleRemoved => Some("A team rule was removed"),
        Event::BackupRestored => Some("This data home was restored from a backup"),
        Event::ExecutionOutcomeUnknown => {
            Some("An execution's outcome is unknown (Countersign stopped during it)")
        }
        Event::AuditVerified if entry.outcome.as_deref() != Some("intact") => {
            Some("Verifying the audit log found a problem")
        }
        Event::ProposalRefused
            if matches!(
                entry.outcome.as_deref(),
                Some("credential_scope_violation" | "secret_in_artifact")
            ) =>
        {
            Some("A proposal was refused because it looked like an attack")
        }
        _ => None,
    }
}

/// A report over a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityReport {
    /// Start of the period (UTC).
    pub from: String,
    /// End of the period (UTC).
    pub to: String,
    /// The text a person reads.
    pub text: String,
    /// How many events were found.
    pub events: usize,
}

impl SecurityReport {
    /// Builds the report from the period's entries.
    pub fn build(from: &str, to: &str, entries: &[Entry]) -> Self {
        let mut text = format!("Countersign security report\nPeriod: {from} to {to} (UTC)\n\n");
        let found: Vec<(&Entry, &str)> = entries
            .iter()
            .filter_map(|e| security_events(e).map(|why| (e, why)))
            .collect();
        if found.is_empty() {
            text.push_str("Nothing to report: no refused attacks, scope violations, failed second factors, verification failures or unknown outcomes.\n");
        } else {
            let _ = writeln!(text, "{} event(s) need your attention:\n", found.len());
            for (entry, why) in &found {
                let _ = writeln!(
                    text,
                    "- {} — {}. Entry {}, by {} ({}){}{}{}",
                    entry.at,
                    why,
                    entry.seq,
                    entry.actor.name,
                    entry.actor.id,
                    entry
                        .proposal_id
                        .as_ref()
                        .map(|p| format!(", proposal {p}"))
                        .unwrap_or_default(),
                    entry
                        .credential
                        .as_ref()
                        .map(|c| format!(", credential {c}"))
                        .unwrap_or_default(),
                    entry
                        .outcome
                        .as_ref()
                        .map(|o| format!(", outcome {o}"))
                        .unwrap_or_default(),
                );
            }
        }
        SecurityReport {
            from: from.to_owned(),
            to: to.to_owned(),
            events: found.len(),
            text,
        }
    }
}
