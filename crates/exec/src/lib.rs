//! Grants and executors.
//!
//! Approval creates a [`Grant`]: single-use, expiring, bound to the SHA-256 of the artifact's
//! canonical form. Consuming it (atomically: a second use fails, also under concurrency) is the
//! only way to obtain an [`Authorized`] artifact, and executors accept nothing else: there is no
//! way to run a bare artifact. Before anything leaves the machine, the executor recomputes the
//! hash and refuses on a mismatch.
//!
//! Executors place a credential's secret in its declared slot only, re-check its scope on the
//! final target, and redact the secret (raw, base64, URL-encoded) from everything they return.

mod email;
mod grant;
mod http;
mod redact;
mod sql;

pub use email::{EmailExecutor, EmailOutcome};
pub use grant::{Authorized, DEFAULT_GRANT_TTL, Grant, GrantError, GrantStore};
pub use http::{HttpExecutor, HttpOutcome, Resolve, SystemResolver};
pub use redact::Redactor;
pub use sql::{SqlExecutor, SqlOutcome};

/// Why an execution did not happen or did not complete. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The authorized artifact's hash no longer matches what was approved.
    #[error("the artifact does not match what was approved (hash mismatch); nothing was sent")]
    HashMismatch,
    /// The artifact was refused on re-checking (scope, transport, …).
    #[error("refused before sending: {0}")]
    Refused(countersign_core::Refusal),
    /// The artifact is not of the kind this executor runs.
    #[error("this executor runs {expected} artifacts, not {actual}")]
    WrongKind {
        /// What it runs.
        expected: &'static str,
        /// What it got.
        actual: &'static str,
    },
    /// The credential named by the artifact is not the one handed in.
    #[error("the credential handed to the executor is not the one the artifact names")]
    WrongCredential,
    /// The target's address is not of the class its name promises (DNS rebinding and the like).
    #[error("{0}; nothing was sent")]
    AddressClass(String),
    /// The target's name did not resolve.
    #[error("could not find the address of {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// The request could not be built or sent, or the response could not be read.
    #[error("the request failed: {0}")]
    Transport(String),
}

/// Re-checks an authorized artifact before anything is sent: its hash against the approval, and
/// every rule of `countersign-core` against the one credential it uses (scope, transport, the
/// secret not inside the artifact). The same rules as at proposal time, on what will be sent.
pub(crate) fn recheck(
    authorized: &grant::Authorized,
    credential: Option<(
        &countersign_core::credential::CredentialMeta,
        &countersign_vault::Secret,
    )>,
    plain_loopback_origins: &[String],
) -> Result<(), ExecError> {
    use countersign_core::credential::Registry;
    use countersign_core::descriptor::Descriptors;
    use countersign_core::{Context, Proposal, SecretProbe, Settings};

    if !authorized.still_matches() {
        return Err(ExecError::HashMismatch);
    }
    let registry = Registry {
        credentials: credential
            .map(|(meta, _)| meta.clone())
            .into_iter()
            .collect(),
        plain_loopback_origins: plain_loopback_origins.to_vec(),
    };
    let probes: Vec<SecretProbe<'_>> = credential
        .map(|(meta, secret)| SecretProbe {
            credential: &meta.name,
            value: secret.expose(),
        })
        .into_iter()
        .collect();
    let descriptors = Descriptors::default();
    let settings = Settings::default();
    let context = Context {
        registry: &registry,
        secrets: &probes,
        descriptors: &descriptors,
        settings: &settings,
    };
    let proposal = Proposal {
        summary: String::new(),
        purpose: String::new(),
        artifact: authorized.artifact().clone(),
    };
    countersign_core::explain(&proposal, &context)
        .map(|_| ())
        .map_err(ExecError::Refused)
}
