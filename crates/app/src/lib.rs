//! The application API: the one place the desktop shell and the `countersign` CLI call.
//!
//! It owns the data home (where files live, which keychain namespace is used) and the order of
//! steps around the library crates: for the audit log, that verifying and exporting are themselves
//! audited, that checkpoints are signed with a key kept in the keychain and remembered there, and
//! that the daily security report is produced when a day has passed. Shells only translate between
//! people and these calls.

mod agent_side;
mod agents;
mod audit;
pub mod backup;
mod credentials;
mod desk;
mod error;
mod execute;
mod explain;
mod home;
mod lifecycle;
pub mod openapi;
pub mod present;
mod queue;
mod record;
pub mod release;
pub mod routines;
mod settings;
mod store;
pub mod team;
pub mod templates;
pub mod totp;
pub mod views;

pub use agent_side::{AgentError, AgentSide};

/// How many pending proposals the inbox lists (newest first); the total is always given.
pub const INBOX_PAGE: u32 = 100;
pub use agents::Agents;
pub use audit::{
    Audit, DurableFile, KEYCHAIN_ENTRIES as AUDIT_KEYCHAIN_ENTRIES, ReportOutcome, write_durably,
};
pub use credentials::{Credentials, check as check_credential, needs_no_secret};
pub use desk::{ATTESTATION, Desk, DeskOptions, FIRST_RUN_FILE, MINIMUM_VIEW, WORDS, person};
pub use error::AppError;
pub use execute::{Executions, Outcome};
pub use explain::explain;
pub use home::DataHome;
pub use lifecycle::{Approval, Collaborators, Lifecycle, PENDING_TTL};
pub use present::{agent_configs, confirmation_word};
pub use record::{AgentInfo, Line, Record, Status};
pub use release::Release;
pub use routines::{Requester, RoutineChange, RoutineRecord, RoutineStatus, RunRecord, RunStatus};
pub use settings::{MoneyThreshold, Settings};
pub use store::Store;
pub use totp::SecondFactor;
