//! Errors the shells show to people.

/// Why an application call failed. Every message is meant for the person at the screen.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The audit log refused; the step did not happen.
    #[error(transparent)]
    Audit(#[from] countersign_audit::AuditError),
    /// The keychain refused or is unavailable.
    #[error(transparent)]
    Keychain(#[from] countersign_vault::KeychainError),
    /// A file in the data home could not be read or written.
    #[error("{what} {path}: {reason}")]
    File {
        /// What was being done ("reading", "writing").
        what: &'static str,
        /// The file.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// A descriptor file is not valid.
    #[error(transparent)]
    Descriptor(#[from] countersign_core::descriptor::DescriptorError),
    /// An OpenAPI document could not be turned into descriptors.
    #[error("the OpenAPI document cannot be imported: {0}")]
    Import(#[from] crate::openapi::ImportError),
    /// The data home cannot be located.
    #[error("no application data directory is known on this system: set COUNTERSIGN_HOME")]
    NoHome,
    /// A grant could not be used.
    #[error(transparent)]
    Grant(#[from] countersign_exec::GrantError),
    /// An execution was refused or failed.
    #[error(transparent)]
    Execution(#[from] countersign_exec::ExecError),
    /// The credential store failed.
    #[error(transparent)]
    Vault(#[from] countersign_vault::VaultError),
    /// A credential's description is not acceptable.
    #[error("{0}")]
    InvalidCredential(String),
    /// A lifecycle step is not allowed now (wrong second factor, unknown id…).
    #[error("{0}")]
    NotAllowed(String),
    /// The proposal is no longer pending (decided, withdrawn or expired, perhaps elsewhere).
    #[error("{0}")]
    NotPending(String),
    /// The keychain holds a checkpoint key that is not a key.
    #[error(
        "the audit signing key in the keychain is damaged; restore it from a backup of the keychain"
    )]
    DamagedKey,
    /// The system's random source failed, so no key, id or seed could be made safely.
    #[error("the system's random number source failed ({0}); nothing was changed")]
    Random(String),
    /// The desk is locked; only unlocking is answered.
    #[error("Countersign is locked. Unlock it to continue.")]
    Locked,
}

impl AppError {
    /// The stable code a screen acts on (design.md: one coded error across IPC).
    pub fn code(&self) -> crate::views::ErrorCode {
        use crate::views::ErrorCode;
        match self {
            AppError::Locked => ErrorCode::Locked,
            AppError::NotPending(_) => ErrorCode::NotPending,
            AppError::NotAllowed(_) | AppError::InvalidCredential(_) | AppError::Import(_) => {
                ErrorCode::NotAllowed
            }
            AppError::Audit(_) => ErrorCode::AuditUnavailable,
            AppError::Keychain(_) | AppError::DamagedKey => ErrorCode::KeychainUnavailable,
            AppError::Execution(_) | AppError::Grant(_) => ErrorCode::ExecutionFailed,
            AppError::File { .. }
            | AppError::Descriptor(_)
            | AppError::NoHome
            | AppError::Vault(_)
            | AppError::Random(_) => ErrorCode::Unavailable,
        }
    }
}

/// `bytes` random bytes from the system, or an error: never zeros in silence.
pub(crate) fn random_bytes(bytes: &mut [u8]) -> Result<(), AppError> {
    getrandom::fill(bytes).map_err(|e| AppError::Random(e.to_string()))
}

impl AppError {
    pub(crate) fn file(
        what: &'static str,
        path: &std::path::Path,
        error: impl std::fmt::Display,
    ) -> Self {
        AppError::File {
            what,
            path: path.display().to_string(),
            reason: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::{DeskError, ErrorCode};

    #[test]
    fn every_failure_crosses_with_its_code_and_words() {
        let locked = DeskError::from(AppError::Locked);
        assert_eq!(locked.code, ErrorCode::Locked);
        assert!(locked.message.contains("locked"));
        assert_eq!(
            DeskError::from(AppError::NotPending("decided".into())).code,
            ErrorCode::NotPending
        );
        assert_eq!(AppError::NoHome.code(), ErrorCode::Unavailable);
        let wire = serde_json::to_value(&locked).unwrap();
        assert_eq!(wire["code"], "locked");
    }
}
