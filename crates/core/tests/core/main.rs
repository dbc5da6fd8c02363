//! Integration tests of countersign-core: the snapshot corpus (every shipped use, and the
//! adversarial corpus), coverage of every refusal and risk code, and properties of the canonical
//! form.

// Test helpers outside #[test] functions may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attacks;
mod fixture;
mod properties;
mod results;
mod routines;
mod snapshots;
