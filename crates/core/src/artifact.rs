//! Proposals and the three artifact kinds (design.md §5): strict reading, canonical form, hash.
//!
//! Reading is strict: unknown fields, duplicate keys and wrong types are refused with the codes of
//! §6 and the path of the field. The canonical form is built from the typed artifact with every
//! field present, so two spellings of the same artifact (key order, whitespace, an omitted empty
//! `cc`) hash the same, while any change to what would be sent changes the hash.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::json::{Json, Object};
use crate::refusal::{Refusal, RefusalCode};

/// The largest proposal accepted, in bytes of JSON.
pub const MAX_PROPOSAL_BYTES: usize = 1024 * 1024;
const MAX_SUMMARY_CHARS: usize = 4_000;
const MAX_URL_BYTES: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
const MAX_STATEMENT_BYTES: usize = 64 * 1024;
const MAX_SUBJECT_CHARS: usize = 998;
const MAX_RECIPIENTS: usize = 100;
const MAX_ATTACHMENTS: usize = 20;

/// What an agent submits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The agent's own account of the artifact: shown as its claim, and checked, never trusted.
    pub summary: String,
    /// Why the agent wants it done.
    pub purpose: String,
    /// The exact thing to execute.
    pub artifact: Artifact,
}

/// The exact thing to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// An HTTP request.
    Http(HttpArtifact),
    /// One SQL statement.
    Sql(SqlArtifact),
    /// An email.
    Email(EmailArtifact),
}

/// An HTTP request, exactly as it will be sent (the app adds only the credential's slot and an
/// `Idempotency-Key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpArtifact {
    /// The credential to use, or none for an anonymous request.
    pub credential: Option<String>,
    /// `GET`, `POST`, …
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Request headers by name as written (names are unique ignoring case).
    pub headers: BTreeMap<String, String>,
    /// JSON (sent as its canonical form), a string (sent as is), or null for no body.
    pub body: Json,
}

/// One SQL statement for a database credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlArtifact {
    /// The database credential's name.
    pub database: String,
    /// The statement, exactly as it will be sent.
    pub statement: String,
    /// Values bound to the statement's placeholders (`?` in SQLite, `$1`… in PostgreSQL), in
    /// order: text, numbers, true/false or null. Never spliced into the text; omitted from the
    /// canonical form when there are none, so statements without values hash as before.
    pub parameters: Vec<Json>,
}

/// An email sent from an account's fixed From address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailArtifact {
    /// The SMTP account's name.
    pub account: String,
    /// Visible recipients.
    pub to: Vec<String>,
    /// Copied recipients.
    pub cc: Vec<String>,
    /// Hidden recipients: in the envelope, not in the headers.
    pub bcc: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// Attached files.
    pub attachments: Vec<Attachment>,
}

/// An attached file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the recipient sees.
    pub filename: String,
    /// The declared MIME type.
    pub content_type: String,
    /// The content, base64-encoded.
    pub content_base64: String,
}

/// The SHA-256 of an artifact's canonical form; approval is bound to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArtifactSha256(pub [u8; 32]);

impl fmt::Display for ArtifactSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ArtifactSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactSha256({self})")
    }
}

impl Proposal {
    /// Reads a proposal `{summary, purpose, artifact}` from JSON text.
    ///
    /// # Errors
    /// A [`Refusal`] with the code of design.md §6 and the path of the offending field.
    pub fn parse(text: &str) -> Result<Proposal, Refusal> {
        if text.len() > MAX_PROPOSAL_BYTES {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!(
                    "The proposal is {} bytes; the limit is {MAX_PROPOSAL_BYTES}.",
                    text.len()
                ),
            ));
        }
        let json = Json::parse(text)?;
        let mut fields = Fields::of(&json, "")?;
        let summary = fields.string("summary")?;
        let purpose = fields.string("purpose")?;
        let artifact = Artifact::from_json(fields.required("artifact")?, "artifact")?;
        fields.finish()?;
        limit_chars(&summary, MAX_SUMMARY_CHARS, "summary")?;
        limit_chars(&purpose, MAX_SUMMARY_CHARS, "purpose")?;
        Ok(Proposal {
            summary,
            purpose,
            artifact,
        })
    }
}

impl Artifact {
    /// Reads an artifact object; `at` is its path in the proposal, for refusals.
    ///
    /// # Errors
    /// A [`Refusal`] naming the offending field.
    pub fn from_json(json: &Json, at: &str) -> Result<Artifact, Refusal> {
        let mut fields = Fields::of(json, at)?;
        let kind = fields.string("kind")?;
        let artifact = match kind.as_str() {
            "http" => Artifact::Http(HttpArtifact::read(&mut fields)?),
            "sql" => Artifact::Sql(SqlArtifact {
                database: fields.string("database")?,
                statement: fields.string("statement")?,
                parameters: sql_parameters(&mut fields)?,
            }),
            "email" => Artifact::Email(EmailArtifact::read(&mut fields)?),
            other => {
                return Err(Refusal::new(
                    RefusalCode::UnknownKind,
                    format!("The artifact kind {other:?} is not one of http, sql or email."),
                )
                .at(fields.path("kind")));
            }
        };
        fields.finish()?;
        if let Artifact::Sql(sql) = &artifact {
            limit_bytes(
                &sql.statement,
                MAX_STATEMENT_BYTES,
                &fields.path("statement"),
            )?;
        }
        Ok(artifact)
    }

    /// `http`, `sql` or `email`.
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Http(_) => "http",
            Artifact::Sql(_) => "sql",
            Artifact::Email(_) => "email",
        }
    }

    /// The name of the credential, database or account the artifact uses, if any.
    pub fn credential_name(&self) -> Option<&str> {
        match self {
            Artifact::Http(http) => http.credential.as_deref(),
            Artifact::Sql(sql) => Some(&sql.database),
            Artifact::Email(email) => Some(&email.account),
        }
    }

    /// The artifact with every field present, as JSON.
    pub fn to_json(&self) -> Json {
        let mut object = Object::new();
        let mut put = |key: &str, value: Json| {
            object.insert(key.to_owned(), value);
        };
        put("kind", text(self.kind()));
        match self {
            Artifact::Http(http) => {
                put(
                    "credential",
                    http.credential.as_deref().map_or(Json::Null, text),
                );
                put("method", text(&http.method));
                put("url", text(&http.url));
                put(
                    "headers",
                    Json::Object(
                        http.headers
                            .iter()
                            .map(|(k, v)| (k.clone(), text(v)))
                            .collect(),
                    ),
                );
                put("body", http.body.clone());
            }
            Artifact::Sql(sql) => {
                put("database", text(&sql.database));
                put("statement", text(&sql.statement));
                if !sql.parameters.is_empty() {
                    put("parameters", Json::Array(sql.parameters.clone()));
                }
            }
            Artifact::Email(email) => {
                put("account", text(&email.account));
                put("to", texts(&email.to));
                put("cc", texts(&email.cc));
                put("bcc", texts(&email.bcc));
                put("subject", text(&email.subject));
                put("text", text(&email.text));
                put(
                    "attachments",
                    Json::Array(
                        email
                            .attachments
                            .iter()
                            .map(|a| {
                                Json::Object(Object::from([
                                    ("content_base64".to_owned(), text(&a.content_base64)),
                                    ("content_type".to_owned(), text(&a.content_type)),
                                    ("filename".to_owned(), text(&a.filename)),
                                ]))
                            })
                            .collect(),
                    ),
                );
            }
        }
        Json::Object(object)
    }

    /// The canonical form (design.md §5).
    pub fn canonical(&self) -> String {
        self.to_json().canonical()
    }

    /// The SHA-256 of the canonical form.
    pub fn sha256(&self) -> ArtifactSha256 {
        ArtifactSha256(Sha256::digest(self.canonical().as_bytes()).into())
    }
}

impl HttpArtifact {
    fn read(fields: &mut Fields<'_>) -> Result<HttpArtifact, Refusal> {
        let credential = match fields.optional("credential") {
            None | Some(Json::Null) => None,
            Some(Json::String(name)) => Some(name.clone()),
            Some(other) => return Err(fields.wrong_type("credential", "text or null", other)),
        };
        let method = fields.string("method")?;
        let url = fields.string("url")?;
        limit_bytes(&url, MAX_URL_BYTES, &fields.path("url"))?;
        let mut headers = BTreeMap::new();
        if let Some(json) = fields.optional("headers") {
            let path = fields.path("headers");
            let Json::Object(members) = json else {
                return Err(fields.wrong_type("headers", "an object of text values", json));
            };
            if members.len() > MAX_HEADERS {
                return Err(Refusal::new(
                    RefusalCode::TooLarge,
                    format!("{} headers; the limit is {MAX_HEADERS}.", members.len()),
                )
                .at(path));
            }
            let mut seen = std::collections::HashSet::new();
            for (name, value) in members {
                let field = format!("{path}.{name}");
                let Json::String(value) = value else {
                    return Err(Refusal::new(
                        RefusalCode::InvalidJson,
                        format!(
                            "The header {name:?} must be text, not {}.",
                            value.type_name()
                        ),
                    )
                    .at(field));
                };
                // Servers compare names ignoring case, and CGI, WSGI and Rack read `_` as `-`.
                if !seen.insert(name.to_ascii_lowercase().replace('_', "-")) {
                    return Err(Refusal::new(
                        RefusalCode::DuplicateKey,
                        format!("The header {name:?} is given twice (header names ignore case, and some servers read _ as -)."),
                    )
                    .at(field));
                }
                limit_bytes(value, MAX_HEADER_VALUE_BYTES, &field)?;
                headers.insert(name.clone(), value.clone());
            }
        }
        let body = fields.optional("body").cloned().unwrap_or(Json::Null);
        Ok(HttpArtifact {
            credential,
            method,
            url,
            headers,
            body,
        })
    }

    /// The bytes of the body as they will be sent, if there is one.
    pub fn body_text(&self) -> Option<String> {
        match &self.body {
            Json::Null => None,
            Json::String(text) => Some(text.clone()),
            other => Some(other.canonical()),
        }
    }

    /// The value of a header, looked up ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl EmailArtifact {
    fn read(fields: &mut Fields<'_>) -> Result<EmailArtifact, Refusal> {
        let account = fields.string("account")?;
        let to = fields.string_list("to")?;
        let cc = fields.string_list("cc")?;
        let bcc = fields.string_list("bcc")?;
        let subject = fields.string("subject")?;
        let text = fields.string("text")?;
        let mut attachments = Vec::new();
        if let Some(json) = fields.optional("attachments") {
            let path = fields.path("attachments");
            let Json::Array(items) = json else {
                return Err(fields.wrong_type("attachments", "a list", json));
            };
            if items.len() > MAX_ATTACHMENTS {
                return Err(Refusal::new(
                    RefusalCode::TooLarge,
                    format!(
                        "{} attachments; the limit is {MAX_ATTACHMENTS}.",
                        items.len()
                    ),
                )
                .at(path));
            }
            for (i, item) in items.iter().enumerate() {
                let mut attachment = Fields::of(item, &format!("{path}[{i}]"))?;
                attachments.push(Attachment {
                    filename: attachment.string("filename")?,
                    content_type: attachment.string("content_type")?,
                    content_base64: attachment.string("content_base64")?,
                });
                attachment.finish()?;
            }
        }
        let recipients = to.len() + cc.len() + bcc.len();
        if recipients > MAX_RECIPIENTS {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!("{recipients} recipients; the limit is {MAX_RECIPIENTS}."),
            )
            .at(fields.path("to")));
        }
        limit_chars(&subject, MAX_SUBJECT_CHARS, &fields.path("subject"))?;
        Ok(EmailArtifact {
            account,
            to,
            cc,
            bcc,
            subject,
            text,
            attachments,
        })
    }

    /// Every recipient, visible and hidden, in the order To, Cc, Bcc.
    pub fn recipients(&self) -> impl Iterator<Item = (&'static str, &str)> {
        fn tagged<'a>(
            label: &'static str,
            list: &'a [String],
        ) -> impl Iterator<Item = (&'static str, &'a str)> {
            list.iter().map(move |address| (label, address.as_str()))
        }
        tagged("to", &self.to)
            .chain(tagged("cc", &self.cc))
            .chain(tagged("bcc", &self.bcc))
    }
}

fn text(s: &str) -> Json {
    Json::String(s.to_owned())
}

fn texts(list: &[String]) -> Json {
    Json::Array(list.iter().map(|s| text(s)).collect())
}

fn limit_bytes(value: &str, limit: usize, field: &str) -> Result<(), Refusal> {
    if value.len() > limit {
        return Err(Refusal::new(
            RefusalCode::TooLarge,
            format!("This field is {} bytes; the limit is {limit}.", value.len()),
        )
        .at(field));
    }
    Ok(())
}

fn limit_chars(value: &str, limit: usize, field: &str) -> Result<(), Refusal> {
    let count = value.chars().count();
    if count > limit {
        return Err(Refusal::new(
            RefusalCode::TooLarge,
            format!("This field is {count} characters; the limit is {limit}."),
        )
        .at(field));
    }
    Ok(())
}

/// The most values one statement may bind.
const MAX_SQL_PARAMETERS: usize = 100;

fn sql_parameters(fields: &mut Fields<'_>) -> Result<Vec<Json>, Refusal> {
    let Some(json) = fields.optional("parameters") else {
        return Ok(Vec::new());
    };
    let path = fields.path("parameters");
    let Json::Array(items) = json else {
        return Err(fields.wrong_type("parameters", "a list of values", json));
    };
    if items.len() > MAX_SQL_PARAMETERS {
        return Err(Refusal::new(
            RefusalCode::TooLarge,
            format!("A statement binds at most {MAX_SQL_PARAMETERS} values."),
        )
        .at(path));
    }
    for (i, item) in items.iter().enumerate() {
        if matches!(item, Json::Object(_) | Json::Array(_)) {
            return Err(Refusal::new(
                RefusalCode::InvalidJson,
                format!(
                    "Each value bound to the statement is text, a number, true/false or null, not {}.",
                    item.type_name()
                ),
            )
            .at(format!("{path}[{i}]")));
        }
        if let Json::String(text) = item {
            limit_chars(text, MAX_SUMMARY_CHARS * 10, &format!("{path}[{i}]"))?;
        }
    }
    Ok(items.clone())
}

/// Reads an object's fields one by one, then refuses whatever was not read.
pub(crate) struct Fields<'a> {
    members: &'a Object,
    at: String,
    read: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    pub(crate) fn of(json: &'a Json, at: &str) -> Result<Self, Refusal> {
        let Json::Object(members) = json else {
            let what = if at.is_empty() {
                "The proposal"
            } else {
                "This field"
            };
            let refusal = Refusal::new(
                RefusalCode::InvalidJson,
                format!("{what} must be a JSON object, not {}.", json.type_name()),
            );
            return Err(if at.is_empty() {
                refusal
            } else {
                refusal.at(at)
            });
        };
        Ok(Self {
            members,
            at: at.to_owned(),
            read: Vec::new(),
        })
    }

    pub(crate) fn path(&self, key: &str) -> String {
        if self.at.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.at)
        }
    }

    pub(crate) fn optional(&mut self, key: &'static str) -> Option<&'a Json> {
        self.read.push(key);
        self.members.get(key)
    }

    pub(crate) fn required(&mut self, key: &'static str) -> Result<&'a Json, Refusal> {
        self.optional(key).ok_or_else(|| {
            Refusal::new(
                RefusalCode::InvalidJson,
                format!("The field {key:?} is missing."),
            )
            .at(self.path(key))
        })
    }

    pub(crate) fn wrong_type(&self, key: &str, wanted: &str, got: &Json) -> Refusal {
        Refusal::new(
            RefusalCode::InvalidJson,
            format!(
                "The field {key:?} must be {wanted}, not {}.",
                got.type_name()
            ),
        )
        .at(self.path(key))
    }

    pub(crate) fn string(&mut self, key: &'static str) -> Result<String, Refusal> {
        match self.required(key)? {
            Json::String(s) => Ok(s.clone()),
            other => Err(self.wrong_type(key, "text", other)),
        }
    }

    pub(crate) fn string_list(&mut self, key: &'static str) -> Result<Vec<String>, Refusal> {
        match self.optional(key) {
            None => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Json::String(s) => Ok(s.clone()),
                    other => Err(Refusal::new(
                        RefusalCode::InvalidJson,
                        format!(
                            "Each entry of {key:?} must be text, not {}.",
                            other.type_name()
                        ),
                    )
                    .at(format!("{}[{i}]", self.path(key)))),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(key, "a list of text", other)),
        }
    }

    pub(crate) fn finish(&self) -> Result<(), Refusal> {
        match self
            .members
            .keys()
            .find(|key| !self.read.contains(&key.as_str()))
        {
            None => Ok(()),
            Some(key) => Err(Refusal::new(
                RefusalCode::UnknownField,
                format!("The field {key:?} is not part of this kind of proposal."),
            )
            .at(self.path(key))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYMENT: &str = r#"{"summary":"Pay","purpose":"order","artifact":{"kind":"http",
        "credential":"acme-bank","method":"POST","url":"https://api.acme.example/v1/payments",
        "headers":{"Content-Type":"application/json"},"body":{"amount":9999,"currency":"USD"}}}"#;

    #[test]
    fn reads_a_payment() {
        let proposal = Proposal::parse(PAYMENT).unwrap();
        let Artifact::Http(http) = &proposal.artifact else {
            panic!("not http")
        };
        assert_eq!(http.credential.as_deref(), Some("acme-bank"));
        assert_eq!(
            http.body_text().unwrap(),
            r#"{"amount":9999,"currency":"USD"}"#
        );
    }

    #[test]
    fn omitted_optional_fields_hash_like_empty_ones() {
        let a = Proposal::parse(
            r#"{"summary":"","purpose":"","artifact":{"kind":"email","account":"a","to":["x@y.example"],"subject":"s","text":"t"}}"#,
        )
        .unwrap();
        let b = Proposal::parse(
            r#"{"purpose":"","summary":"","artifact":{"text":"t","cc":[],"bcc":[],"attachments":[],"kind":"email","account":"a","to":["x@y.example"],"subject":"s"}}"#,
        )
        .unwrap();
        assert_eq!(a.artifact.sha256(), b.artifact.sha256());
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = Proposal::parse(
            r#"{"summary":"","purpose":"","artifact":{"kind":"sql","database":"d","statement":"SELECT 1","timeout":5}}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, RefusalCode::UnknownField);
        assert_eq!(err.field.as_deref(), Some("artifact.timeout"));
    }

    #[test]
    fn header_names_are_unique_ignoring_case() {
        let err = Proposal::parse(
            r#"{"summary":"","purpose":"","artifact":{"kind":"http","method":"GET","url":"https://a.example/","headers":{"Accept":"a","accept":"b"}}}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, RefusalCode::DuplicateKey);
    }
}
