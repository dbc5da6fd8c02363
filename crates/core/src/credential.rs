//! What the app knows about a credential without its secret: name, kind and scope
//! (design.md §8). The vault stores these beside the keychain entry; validation needs only these.

use serde::{Deserialize, Serialize};

/// A credential's public description. It never holds the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialMeta {
    /// The name agents use (`acme-bank`, `clinic-db`, `front-desk`).
    pub name: String,
    /// What it is for, in the person's words.
    #[serde(default)]
    pub description: String,
    /// The kind and its scope.
    #[serde(flatten)]
    pub kind: CredentialKind,
    /// Whether every use needs the second factor.
    #[serde(default)]
    pub requires_second_factor: bool,
    /// For a clinic's records credential: the prescriber whose name, address and DEA number the
    /// EPCS signing block shows (21 CFR 1311.120(b)(9)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescriber: Option<Prescriber>,
}

/// The prescriber a credential signs prescriptions for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prescriber {
    /// Full name, as on the DEA registration.
    pub name: String,
    /// Practice address.
    pub address: String,
    /// DEA registration number.
    pub dea_number: String,
}

/// The three kinds, each with its own scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialKind {
    /// A secret for HTTP APIs.
    Http {
        /// Where the secret goes in a request.
        auth: HttpAuth,
        /// Where the secret may be sent.
        scope: HttpScope,
    },
    /// A database login.
    Sql {
        /// The SQL dialect, which decides how statements are parsed.
        dialect: SqlDialect,
        /// The connection URL without its password.
        url: String,
        /// Whether only reads are allowed (the default).
        read_only: bool,
        /// The most rows a read returns.
        max_rows: u64,
    },
    /// An SMTP account.
    Smtp {
        /// The server's host name.
        host: String,
        /// The server's port.
        port: u16,
        /// How the connection is secured.
        tls: SmtpTls,
        /// The login user name.
        username: String,
        /// The fixed From address.
        from: String,
        /// When not empty, the only recipient domains allowed.
        #[serde(default)]
        allowed_domains: Vec<String>,
    },
}

/// Where an HTTP secret is placed: the credential's one declared slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum HttpAuth {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `Authorization: Basic base64(user:password)`.
    Basic,
    /// A named header, e.g. `X-Api-Key`.
    Header(String),
    /// A named query parameter, e.g. `api_key`.
    Query(String),
}

/// Where an HTTP credential may be used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpScope {
    /// Exact origins: `https://api.acme.example` or `http://127.0.0.1:8080`.
    pub origins: Vec<String>,
    /// Allowed methods; empty means any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Allowed path prefixes, matched on whole segments; empty means any path.
    #[serde(default)]
    pub path_prefixes: Vec<String>,
}

/// SQL dialects Countersign parses and executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlDialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS.
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption: only for a server on this machine.
    PlainLoopback,
}

impl CredentialMeta {
    /// The kind's name as agents see it: `http`, `sql` or `smtp`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            CredentialKind::Http { .. } => "http",
            CredentialKind::Sql { .. } => "sql",
            CredentialKind::Smtp { .. } => "smtp",
        }
    }
}

/// The credentials a validation may use, and the plain-HTTP loopback origins the person allowed
/// for requests without a credential.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Every credential's metadata.
    pub credentials: Vec<CredentialMeta>,
    /// Loopback origins that may be called over plain `http://` without a credential.
    pub plain_loopback_origins: Vec<String>,
}

impl Registry {
    /// The credential with this name.
    pub fn get(&self, name: &str) -> Option<&CredentialMeta> {
        self.credentials.iter().find(|c| c.name == name)
    }
}
