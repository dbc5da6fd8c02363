//! The tamper-evident audit log (design.md §12).
//!
//! Every step of a proposal's life, and every change to credentials, agents and settings, is an
//! [`Entry`] appended to an SQLite table. Entries form a hash chain with domain-separated SHA-256
//! (a leaf prefix `0x00` for an entry's contents and a node prefix `0x01` for linking it to the
//! previous one, as in RFC 6962), and sequence numbers have no gaps. A [`Checkpoint`] signs the
//! latest sequence number and hash with an Ed25519 key, so deleting the tail of the log, which a
//! chain alone cannot reveal, is detected against a checkpoint.
//!
//! The log fails closed: [`AuditLog::append`] returns only after the entry is durably committed
//! (WAL with `synchronous=FULL`, both read back when the log is opened), and returns an error if it
//! cannot write, so the step it records never starts. Nothing in this crate changes or deletes an
//! entry, and the table refuses both.
//!
//! In team mode (design.md §19) the same entries form one chain in PostgreSQL, appended from
//! every desk in one order: [`AuditLog::open_team`].

mod chain;
mod checkpoint;
mod entry;
mod error;
mod export;
mod log;
mod report;
mod team;
mod verify;

pub use chain::{GENESIS_HASH, entry_hash, leaf_encoding, leaf_hash};
pub use checkpoint::{Checkpoint, CheckpointKey, TrustedCheckpoint, verifying_key_from_hex};
pub use entry::{Actor, ActorKind, Entry, Event, NewEntry};
pub use error::AuditError;
pub use export::{ExportFormat, Filter};
pub use log::{AuditLog, Problem, Verification};
pub use report::{SecurityReport, security_events};
