//! Integration tests of the audit log on real SQLite files: tampering of every kind is detected
//! and located, checkpoints catch what a chain cannot, appends fail closed, and a `kill -9` loses
//! nothing that was acknowledged; the team log on a real PostgreSQL server forms one chain from
//! several desks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkpoints;
mod crash;
mod faults;
mod support;
mod tamper;
mod team;
