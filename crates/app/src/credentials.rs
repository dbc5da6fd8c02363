//! Adding, listing and removing credentials, each recorded in the audit log; and the context an
//! explanation needs (metadata, plus the stored secrets to refuse an artifact that contains one).

use countersign_audit::{Event, NewEntry};
use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth, SmtpTls};
use countersign_vault::{CredentialStore, ReleaseDefault, Secret};

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;

/// Why a credential's description is not acceptable.
fn invalid(message: String) -> AppError {
    AppError::InvalidCredential(message)
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks what a person typed before anything is stored.
pub fn check(meta: &CredentialMeta) -> Result<(), AppError> {
    let name_ok = !meta.name.is_empty()
        && meta.name.len() <= 64
        && meta
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !name_ok {
        return Err(invalid(format!(
            "“{}” is not a usable name: use 1 to 64 letters, digits, dots, dashes or underscores",
            meta.name
        )));
    }
    match &meta.kind {
        CredentialKind::Http { auth, scope } => {
            if scope.origins.is_empty() {
                return Err(invalid(
                    "an HTTP credential needs at least one --origin".into(),
                ));
            }
            for origin in &scope.origins {
                let url = url::Url::parse(origin)
                    .map_err(|e| invalid(format!("{origin} is not an origin ({e})")))?;
                let bare = url.path() == "/"
                    && url.query().is_none()
                    && url.fragment().is_none()
                    && url.username().is_empty()
                    && url.password().is_none();
                if !bare || !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid(format!(
                        "{origin} must be just scheme://host[:port], like https://api.example.com"
                    )));
                }
                if url.scheme() == "http" && !url.host_str().is_some_and(is_loopback_host) {
                    return Err(invalid(format!(
                        "{origin} uses plain http://, which is allowed only for programs on this computer (127.0.0.1, localhost)"
                    )));
                }
            }
            if let HttpAuth::Header(name) | HttpAuth::Query(name) = auth
                && (name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            {
                return Err(invalid(format!(
                    "“{name}” is not a usable header or parameter name"
                )));
            }
            for method in &scope.methods {
                if !["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
                    .contains(&method.as_str())
                {
                    return Err(invalid(format!(
                        "{method} is not an HTTP method Countersign uses (GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE)"
                    )));
                }
            }
            for prefix in &scope.path_prefixes {
                if !prefix.starts_with('/') || prefix.contains("..") || prefix.contains('%') {
                    return Err(invalid(format!(
                        "the path prefix {prefix} must start with / and contain no .. or %"
                    )));
                }
            }
        }
        CredentialKind::Sql { url, max_rows, .. } => {
            let parsed = url::Url::parse(url)
                .map_err(|e| invalid(format!("{url} is not a database URL ({e})")))?;
            if parsed.password().is_some() {
                return Err(invalid("the database URL must not contain the password; Countersign asks for it separately and keeps it in the keychain".into()));
            }
            if *max_rows == 0 {
                return Err(invalid("--max-rows must be at least 1".into()));
            }
        }
        CredentialKind::Smtp {
            host, tls, from, ..
        } => {
            if *tls == SmtpTls::PlainLoopback && !is_loopback_host(host) {
                return Err(invalid(format!(
                    "--tls plain-loopback is allowed only for a server on this computer, not {host}"
                )));
            }
            countersign_core::address::parse(from, "from")
                .map_err(|e| invalid(format!("--from: {}", e.message)))?;
        }
    }
    Ok(())
}

/// The data home's credentials, with every change audited.
pub struct Credentials {
    store: CredentialStore,
}

impl Credentials {
    /// Opens the data home's credential list.
    ///
    /// # Errors
    /// When it cannot be opened.
    pub async fn open(home: &DataHome) -> Result<Self, AppError> {
        home.ensure()?;
        Ok(Credentials {
            store: CredentialStore::open(home.root(), home.keychain()).await?,
        })
    }

    /// The underlying store.
    pub fn store(&self) -> &CredentialStore {
        &self.store
    }

    /// Adds a credential and records `credential.added`; if the entry cannot be recorded, the
    /// credential is removed again and nothing was added.
    ///
    /// # Errors
    /// When the description is not acceptable, the name exists, or the vault or log fail.
    pub async fn add(
        &self,
        audit: &Audit,
        meta: &CredentialMeta,
        secret: &Secret,
    ) -> Result<(), AppError> {
        check(meta)?;
        // A SQLite file needs no secret (whoever can read the file can read it); every other
        // kind does.
        if secret.expose().is_empty() && !needs_no_secret(meta) {
            return Err(invalid("the secret is empty".into()));
        }
        self.store.add(meta, secret, ReleaseDefault::Ask).await?;
        let mut entry = NewEntry::new(audit.actor().clone(), Event::CredentialAdded)
            .details(serde_json::to_value(meta).unwrap_or_default());
        entry.credential = Some(meta.name.clone());
        if let Err(error) = audit.record(entry).await {
            let _ = self.store.remove(&meta.name).await;
            return Err(error);
        }
        Ok(())
    }

    /// Records `credential.removed`, then removes the credential and its secret.
    ///
    /// # Errors
    /// When it does not exist, or the log or vault fail.
    pub async fn remove(&self, audit: &Audit, name: &str) -> Result<(), AppError> {
        if !self.store.list().await?.iter().any(|c| c.name == name) {
            return Err(countersign_vault::VaultError::Unknown(name.to_owned()).into());
        }
        let mut entry = NewEntry::new(audit.actor().clone(), Event::CredentialRemoved);
        entry.credential = Some(name.to_owned());
        audit.record(entry).await?;
        if let Err(error) = self.store.remove(name).await {
            let mut failed =
                NewEntry::new(audit.actor().clone(), Event::CredentialRemoved).outcome("failed");
            failed.credential = Some(name.to_owned());
            failed.details = serde_json::json!({ "error": error.to_string() });
            let _ = audit.record(failed).await;
            return Err(error.into());
        }
        Ok(())
    }

    /// Every credential's metadata.
    ///
    /// # Errors
    /// When the list cannot be read.
    pub async fn list(&self) -> Result<Vec<CredentialMeta>, AppError> {
        Ok(self.store.list().await?)
    }

    /// The credentials whose secret is not in this computer's keychain (a data home moved or
    /// restored here): each needs its secret typed again before it can run.
    ///
    /// # Errors
    /// When the store or the keychain cannot be read.
    pub async fn needing_their_secret(&self) -> Result<Vec<String>, AppError> {
        let mut missing = Vec::new();
        for meta in self.store.list().await? {
            if needs_no_secret(&meta) {
                continue;
            }
            match self.store.secret(&meta.name) {
                Ok(_) => {}
                Err(countersign_vault::VaultError::SecretMissing(name)) => missing.push(name),
                Err(error) => return Err(error.into()),
            }
        }
        Ok(missing)
    }

    /// Every stored secret, by credential name, for one explanation's `secret_in_artifact` check.
    ///
    /// # Errors
    /// When a secret cannot be read: an artifact is then not explained, rather than explained
    /// without the check. A credential with no secret in this keychain has none to look for.
    pub async fn secrets(&self) -> Result<Vec<(String, Secret)>, AppError> {
        let mut secrets = Vec::new();
        for meta in self.store.list().await? {
            let secret = match self.store.secret(&meta.name) {
                Ok(secret) => secret,
                // No secret on this computer (a data home moved here, or made by an older
                // release): there is nothing an artifact could hold, and the credential cannot
                // run until its secret is typed again. A keychain that fails is still an error.
                Err(countersign_vault::VaultError::SecretMissing(name)) => {
                    tracing::warn!(credential = %name, "a credential has no secret in this keychain; it needs its secret typed again");
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            // An empty secret (a SQLite file's) is nothing to look for in an artifact: it would
            // be "found" in every one.
            if !secret.expose().is_empty() {
                secrets.push((meta.name, secret));
            }
        }
        Ok(secrets)
    }
}

/// Whether a credential of this kind has no secret: a SQLite database is a file on this computer.
pub fn needs_no_secret(meta: &CredentialMeta) -> bool {
    matches!(
        meta.kind,
        countersign_core::credential::CredentialKind::Sql {
            dialect: countersign_core::credential::SqlDialect::Sqlite,
            ..
        }
    )
}
