//! The heart of Countersign: proposals, their artifacts, and the plain-language explanation a
//! person reads before deciding.
//!
//! Everything here is pure: no files, no network, no keychain, no clock. Callers hand in what is
//! needed (credential metadata, the secret values to look for, descriptor texts, settings) and get
//! back either an [`Explained`] proposal or a [`Refusal`] with a stable code.
//!
//! The explanation is derived from the artifact alone. The agent's own summary is carried along,
//! labelled as its claim, and compared with what the artifact does (`summary_mismatch`).

pub mod address;
pub mod artifact;
pub mod body;
pub mod controlled;
pub mod credential;
pub mod descriptor;
pub mod explain;
pub mod explanation;
pub mod json;
pub mod money;
pub mod refusal;
pub mod result;
pub mod routine;
pub mod secret;
pub mod sql;
pub mod target;
pub mod text;

pub use artifact::{Artifact, ArtifactSha256, Proposal};
pub use explain::{Context, Explained, SecretProbe, Settings, Threshold, explain};
pub use explanation::{Action, Detail, Explanation, Risk, RiskCode, Severity};
pub use refusal::{Refusal, RefusalCode};
