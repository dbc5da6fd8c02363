//! Why the audit log could not do something.

/// An audit-log failure. When an append fails, the step it would have recorded must not happen;
/// the message says why in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database could not be opened, read or written (read-only, disk full, locked…).
    #[error(
        "the audit log at {path} cannot be written, so nothing will run until it can: {reason}"
    )]
    Unwritable {
        /// The log's file.
        path: String,
        /// What the database said.
        reason: String,
    },
    /// The log file was removed or replaced while in use.
    #[error(
        "the audit log file {path} was removed or replaced while Countersign was using it; nothing will run until it is restored"
    )]
    FileReplaced {
        /// The log's file.
        path: String,
    },
    /// SQLite did not accept the durability settings.
    #[error(
        "the audit log at {path} would not be durable ({setting} is {actual}, expected {expected}); refusing to use it"
    )]
    NotDurable {
        /// The log's file.
        path: String,
        /// The pragma.
        setting: &'static str,
        /// What SQLite reported.
        actual: String,
        /// What is required.
        expected: &'static str,
    },
    /// The entry's details could not be encoded.
    #[error("an audit entry's details could not be encoded: {0}")]
    Details(String),
    /// A checkpoint file is malformed.
    #[error("the checkpoint file is not valid: {0}")]
    BadCheckpoint(String),
    /// Writing an export or report failed.
    #[error("could not write {what}: {reason}")]
    Output {
        /// What was being written.
        what: String,
        /// Why it failed.
        reason: String,
    },
}
