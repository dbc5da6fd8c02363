//! Refusals: why a proposal is not put in front of the person, with the stable codes of
//! design.md §6. The wire form is `{"error":{"code","message","field"}}`.

use std::fmt;

use serde::Serialize;

/// The stable refusal codes. Agents and tests outside the project match on these strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The input is not well-formed JSON, or a field has the wrong type or is missing.
    InvalidJson,
    /// A field that the contract does not define.
    UnknownField,
    /// An object names the same key twice.
    DuplicateKey,
    /// The artifact's `kind` is not `http`, `sql` or `email`.
    UnknownKind,
    /// The proposal, or one of its fields, is over its size limit.
    TooLarge,
    /// The URL cannot be parsed, or is not an `http`/`https` URL in a form we can show exactly.
    InvalidUrl,
    /// The URL carries a user name or password (`https://user:pass@host`).
    UserinfoInUrl,
    /// The artifact names a credential the app does not hold.
    UnknownCredential,
    /// The artifact would use a credential outside its scope (origin, method, path, writes).
    CredentialScopeViolation,
    /// Plain `http://` outside the loopback origins the person allowed.
    InsecureTransport,
    /// A known secret value or keychain material appears in the artifact.
    SecretInArtifact,
    /// A header name or value, or an email header, would inject further headers (CR/LF).
    HeaderInjection,
    /// A header that only the app may set (authorization, cookies, method overrides, framing).
    ForbiddenHeader,
    /// An email address that is not a plain `local@domain` address.
    InvalidAddress,
    /// More than one SQL statement.
    MultipleStatements,
    /// SQL that does not parse in the database's dialect, or anything the app cannot explain.
    Unexplainable,
    /// A SQL statement that is never run for an agent (`COPY … PROGRAM`, transaction control, …).
    ForbiddenStatement,
    /// The artifact names a database the app does not know.
    UnknownDatabase,
    /// The artifact names an email account the app does not know.
    UnknownAccount,
    /// The agent is proposing too fast.
    RateLimited,
    /// A routine that cannot be vetted as written: a placeholder where a routine is fixed, bounds
    /// that do not make sense, a step that names what does not exist (design.md §18).
    InvalidRoutine,
}

impl RefusalCode {
    /// Every code, for tests that must cover them all.
    pub const ALL: [RefusalCode; 21] = [
        RefusalCode::InvalidJson,
        RefusalCode::UnknownField,
        RefusalCode::DuplicateKey,
        RefusalCode::UnknownKind,
        RefusalCode::TooLarge,
        RefusalCode::InvalidUrl,
        RefusalCode::UserinfoInUrl,
        RefusalCode::UnknownCredential,
        RefusalCode::CredentialScopeViolation,
        RefusalCode::InsecureTransport,
        RefusalCode::SecretInArtifact,
        RefusalCode::HeaderInjection,
        RefusalCode::ForbiddenHeader,
        RefusalCode::InvalidAddress,
        RefusalCode::MultipleStatements,
        RefusalCode::Unexplainable,
        RefusalCode::ForbiddenStatement,
        RefusalCode::UnknownDatabase,
        RefusalCode::UnknownAccount,
        RefusalCode::RateLimited,
        RefusalCode::InvalidRoutine,
    ];

    /// The wire spelling, e.g. `secret_in_artifact`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::InvalidJson => "invalid_json",
            RefusalCode::UnknownField => "unknown_field",
            RefusalCode::DuplicateKey => "duplicate_key",
            RefusalCode::UnknownKind => "unknown_kind",
            RefusalCode::TooLarge => "too_large",
            RefusalCode::InvalidUrl => "invalid_url",
            RefusalCode::UserinfoInUrl => "userinfo_in_url",
            RefusalCode::UnknownCredential => "unknown_credential",
            RefusalCode::CredentialScopeViolation => "credential_scope_violation",
            RefusalCode::InsecureTransport => "insecure_transport",
            RefusalCode::SecretInArtifact => "secret_in_artifact",
            RefusalCode::HeaderInjection => "header_injection",
            RefusalCode::ForbiddenHeader => "forbidden_header",
            RefusalCode::InvalidAddress => "invalid_address",
            RefusalCode::MultipleStatements => "multiple_statements",
            RefusalCode::Unexplainable => "unexplainable",
            RefusalCode::ForbiddenStatement => "forbidden_statement",
            RefusalCode::UnknownDatabase => "unknown_database",
            RefusalCode::UnknownAccount => "unknown_account",
            RefusalCode::RateLimited => "rate_limited",
            RefusalCode::InvalidRoutine => "invalid_routine",
        }
    }

    /// Whether a refusal with this code looks like an attack, so the person is alerted too.
    pub fn is_alarming(self) -> bool {
        matches!(
            self,
            RefusalCode::CredentialScopeViolation | RefusalCode::SecretInArtifact
        )
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a proposal was refused. The message is for people and agents alike, and never contains a
/// secret (a secret found in an artifact is named by its credential, never quoted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// The stable code.
    pub code: RefusalCode,
    /// One or two plain sentences.
    pub message: String,
    /// The path of the offending field (`artifact.headers.Cookie`), when there is one.
    pub field: Option<String>,
}

impl Refusal {
    /// A refusal with no field.
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the offending field.
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The wire form `{"error":{"code","message","field"}}`, fields in that order.
    pub fn to_wire(&self) -> Wire<'_> {
        Wire { error: self }
    }
}

/// A refusal as agents receive it.
#[derive(Debug, Serialize)]
pub struct Wire<'a> {
    /// The refusal.
    pub error: &'a Refusal,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_matches_the_contract() {
        let refusal =
            Refusal::new(RefusalCode::ForbiddenHeader, "no").at("artifact.headers.Cookie");
        assert_eq!(
            serde_json::to_string(&refusal.to_wire()).unwrap(),
            r#"{"error":{"code":"forbidden_header","message":"no","field":"artifact.headers.Cookie"}}"#
        );
        assert_eq!(
            serde_json::to_value(refusal.to_wire()).unwrap(),
            serde_json::json!({"error": {"code": "forbidden_header", "message": "no", "field": "artifact.headers.Cookie"}})
        );
    }

    #[test]
    fn serde_spelling_matches_as_str() {
        for code in RefusalCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(code.as_str())
            );
        }
    }
}
