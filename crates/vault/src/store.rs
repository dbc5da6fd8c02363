//! Credential metadata in SQLite (`vault.db` in the data home), secrets in the keychain.

use std::path::Path;
use std::str::FromStr as _;

use countersign_core::credential::{CredentialMeta, Registry};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

use crate::{Keychain, KeychainError, Secret};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Why a credential operation failed. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The metadata database failed.
    #[error("the credential list at {path} cannot be used: {reason}")]
    Database {
        /// The database file.
        path: String,
        /// What SQLite said.
        reason: String,
    },
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    /// A credential with this name exists.
    #[error("a credential named “{0}” already exists; remove it first to replace it")]
    Exists(String),
    /// No credential with this name.
    #[error("there is no credential named “{0}”")]
    Unknown(String),
    /// The metadata row has no secret in the keychain.
    #[error(
        "the secret of “{0}” is missing from the keychain; remove the credential and add it again"
    )]
    SecretMissing(String),
}

/// What is released to an agent from a credential's results by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseDefault {
    /// Ask the person every time.
    Ask,
    /// Release everything.
    Always,
    /// Release nothing.
    Never,
}

impl ReleaseDefault {
    /// The stored spelling: `ask`, `always` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseDefault::Ask => "ask",
            ReleaseDefault::Always => "always",
            ReleaseDefault::Never => "never",
        }
    }

    /// Reads the stored spelling back.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ask" => Some(ReleaseDefault::Ask),
            "always" => Some(ReleaseDefault::Always),
            "never" => Some(ReleaseDefault::Never),
            _ => None,
        }
    }
}

/// The credentials of one data home.
pub struct CredentialStore {
    path: String,
    connection: Mutex<SqliteConnection>,
    keychain: Keychain,
}

fn secret_entry(name: &str) -> String {
    format!("credential:{name}")
}

impl CredentialStore {
    /// Opens (creating if needed) `vault.db` in `home`, with secrets in `keychain`.
    ///
    /// # Errors
    /// When the database cannot be opened.
    pub async fn open(home: &Path, keychain: Keychain) -> Result<Self, VaultError> {
        let path = home.join("vault.db");
        let display = path.display().to_string();
        let database = |e: sqlx::Error| VaultError::Database {
            path: display.clone(),
            reason: e.to_string(),
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(database)?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let mut connection = SqliteConnection::connect_with(&options)
            .await
            .map_err(database)?;
        MIGRATOR
            .run_direct(&mut connection)
            .await
            .map_err(|e| database(e.into()))?;
        Ok(Self {
            path: display,
            connection: Mutex::new(connection),
            keychain,
        })
    }

    fn database(&self, error: sqlx::Error) -> VaultError {
        VaultError::Database {
            path: self.path.clone(),
            reason: error.to_string(),
        }
    }

    /// A number that changes whenever any credential is added, removed or changed, by any
    /// process: what a session cache compares before trusting what it holds.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn generation(&self) -> Result<i64, VaultError> {
        let mut connection = self.connection.lock().await;
        sqlx::query_scalar("SELECT generation FROM vault_generation WHERE id = 1")
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| self.database(e))
    }

    /// Adds a credential: its metadata here, its secret in the keychain. Nothing is kept if
    /// either fails.
    ///
    /// # Errors
    /// When the name exists, or the database or keychain fail.
    pub async fn add(
        &self,
        meta: &CredentialMeta,
        secret: &Secret,
        release: ReleaseDefault,
    ) -> Result<(), VaultError> {
        let json = serde_json::to_string(meta).map_err(|e| VaultError::Database {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut connection = self.connection.lock().await;
        let inserted = sqlx::query("INSERT OR IGNORE INTO credentials (name, metadata, release_default, added_at) VALUES (?, ?, ?, ?)")
            .bind(&meta.name)
            .bind(&json)
            .bind(release.as_str())
            .bind(&now)
            .execute(&mut *connection)
            .await
            .map_err(|e| self.database(e))?;
        if inserted.rows_affected() == 0 {
            return Err(VaultError::Exists(meta.name.clone()));
        }
        if let Err(error) = self.keychain.store(&secret_entry(&meta.name), secret) {
            // Undo the row, so no credential exists without its secret.
            let _ = sqlx::query("DELETE FROM credentials WHERE name = ?")
                .bind(&meta.name)
                .execute(&mut *connection)
                .await;
            return Err(error.into());
        }
        Ok(())
    }

    /// Removes a credential and its secret.
    ///
    /// # Errors
    /// When it does not exist, or the database or keychain fail.
    pub async fn remove(&self, name: &str) -> Result<(), VaultError> {
        let mut connection = self.connection.lock().await;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT name FROM credentials WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *connection)
                .await
                .map_err(|e| self.database(e))?;
        if exists.is_none() {
            return Err(VaultError::Unknown(name.to_owned()));
        }
        // The secret goes first: a failure leaves the credential listed (and removable again),
        // never a secret nobody can see.
        self.keychain.remove(&secret_entry(name))?;
        sqlx::query("DELETE FROM credentials WHERE name = ?")
            .bind(name)
            .execute(&mut *connection)
            .await
            .map_err(|e| self.database(e))?;
        Ok(())
    }

    /// Every credential's metadata, by name.
    ///
    /// # Errors
    /// When the database fails or holds metadata it cannot read.
    pub async fn list(&self) -> Result<Vec<CredentialMeta>, VaultError> {
        let mut connection = self.connection.lock().await;
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT metadata FROM credentials ORDER BY name")
                .fetch_all(&mut *connection)
                .await
                .map_err(|e| self.database(e))?;
        rows.iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|e| VaultError::Database {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// What is released from `name`'s results by default.
    ///
    /// # Errors
    /// When it does not exist or the database fails.
    pub async fn release_default(&self, name: &str) -> Result<ReleaseDefault, VaultError> {
        let mut connection = self.connection.lock().await;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT release_default FROM credentials WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *connection)
                .await
                .map_err(|e| self.database(e))?;
        let stored = stored.ok_or_else(|| VaultError::Unknown(name.to_owned()))?;
        Ok(ReleaseDefault::parse(&stored).unwrap_or(ReleaseDefault::Ask))
    }

    /// Changes what is released from `name`'s results by default.
    ///
    /// # Errors
    /// When it does not exist or the database fails.
    pub async fn set_release_default(
        &self,
        name: &str,
        release: ReleaseDefault,
    ) -> Result<(), VaultError> {
        let mut connection = self.connection.lock().await;
        let changed = sqlx::query("UPDATE credentials SET release_default = ? WHERE name = ?")
            .bind(release.as_str())
            .bind(name)
            .execute(&mut *connection)
            .await
            .map_err(|e| self.database(e))?;
        if changed.rows_affected() == 0 {
            return Err(VaultError::Unknown(name.to_owned()));
        }
        Ok(())
    }

    /// The metadata as a validation registry.
    ///
    /// # Errors
    /// As [`CredentialStore::list`].
    pub async fn registry(&self) -> Result<Registry, VaultError> {
        Ok(Registry {
            credentials: self.list().await?,
            plain_loopback_origins: Vec::new(),
        })
    }

    /// The secret of `name`, read from the keychain for one use.
    ///
    /// # Errors
    /// When the keychain fails or holds no secret for it.
    pub fn secret(&self, name: &str) -> Result<Secret, VaultError> {
        self.keychain
            .read(&secret_entry(name))?
            .ok_or_else(|| VaultError::SecretMissing(name.to_owned()))
    }
}
