//! Grants, stored in SQLite so that a grant is consumed once even across processes.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use countersign_core::{Artifact, ArtifactSha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection as _, SqliteConnection};
use tokio::sync::Mutex;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a grant stays valid unless the person's settings say otherwise.
pub const DEFAULT_GRANT_TTL: Duration = Duration::from_secs(10 * 60);

/// A single-use permission to execute one artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// A random identifier.
    pub id: String,
    /// The proposal it was granted for.
    pub proposal_id: String,
    /// The hash of the approved artifact.
    pub artifact_sha256: String,
    /// When it stops being valid (unix seconds).
    pub expires_at: i64,
}

/// An artifact that a valid grant was consumed for. Only [`GrantStore::consume`] creates one,
/// and executors take nothing else.
#[derive(Debug)]
pub struct Authorized {
    grant_id: String,
    proposal_id: String,
    artifact: Artifact,
    approved_sha256: String,
}

impl Authorized {
    /// The grant that was consumed.
    pub fn grant_id(&self) -> &str {
        &self.grant_id
    }

    /// The proposal.
    pub fn proposal_id(&self) -> &str {
        &self.proposal_id
    }

    /// The artifact, for reading.
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// The hash that was approved.
    pub fn approved_sha256(&self) -> &str {
        &self.approved_sha256
    }

    /// Recomputes the artifact's hash and compares it with the approved one.
    pub(crate) fn still_matches(&self) -> bool {
        self.artifact.sha256().to_string() == self.approved_sha256
    }
}

/// Why a grant could not be consumed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// No grant with this id for this proposal.
    #[error("there is no such grant for this proposal")]
    Unknown,
    /// It was used already.
    #[error("this approval was already used; approve again to run it again")]
    AlreadyUsed,
    /// It expired.
    #[error("this approval expired before it was used; approve again")]
    Expired,
    /// The artifact is not the one that was approved.
    #[error("the artifact is not the one that was approved (hash mismatch)")]
    HashMismatch,
    /// The system's random source failed; no grant was issued.
    #[error("the system's random number source failed ({0}); nothing was approved")]
    Random(String),
    /// The grant database failed.
    #[error("the grant database at {path} failed: {reason}")]
    Database {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The grants of one data home (`grants.db`).
pub struct GrantStore {
    path: String,
    connection: Mutex<SqliteConnection>,
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn random_id() -> Result<String, GrantError> {
    let mut bytes = [0u8; 16];
    // A failing random source must not issue a guessable grant id.
    getrandom::fill(&mut bytes).map_err(|e| GrantError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl GrantStore {
    /// Opens (creating if needed) `grants.db` in `home`.
    ///
    /// # Errors
    /// When it cannot be opened.
    pub async fn open(home: &Path) -> Result<Self, GrantError> {
        let path = home.join("grants.db");
        let display = path.display().to_string();
        let database = |e: String| GrantError::Database {
            path: display.clone(),
            reason: e,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| database(e.to_string()))?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        let mut connection = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| database(e.to_string()))?;
        MIGRATOR
            .run_direct(&mut connection)
            .await
            .map_err(|e| database(e.to_string()))?;
        Ok(Self {
            path: display,
            connection: Mutex::new(connection),
        })
    }

    fn database(&self, error: impl std::fmt::Display) -> GrantError {
        GrantError::Database {
            path: self.path.clone(),
            reason: error.to_string(),
        }
    }

    /// Issues a grant for the approved artifact of a proposal.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn issue(
        &self,
        proposal_id: &str,
        approved: ArtifactSha256,
        ttl: Duration,
    ) -> Result<Grant, GrantError> {
        let now = now_seconds();
        let grant = Grant {
            id: random_id()?,
            proposal_id: proposal_id.to_owned(),
            artifact_sha256: approved.to_string(),
            expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        let mut connection = self.connection.lock().await;
        sqlx::query("INSERT INTO grants (id, proposal_id, artifact_sha256, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&grant.id)
            .bind(&grant.proposal_id)
            .bind(&grant.artifact_sha256)
            .bind(now)
            .bind(grant.expires_at)
            .execute(&mut *connection)
            .await
            .map_err(|e| self.database(e))?;
        Ok(grant)
    }

    /// Consumes the grant for `artifact` and returns the only value executors accept. The grant
    /// is used up whether or not the execution then succeeds; a second call fails.
    ///
    /// # Errors
    /// When the grant is unknown, used, expired, or bound to another artifact.
    pub async fn consume(
        &self,
        grant_id: &str,
        proposal_id: &str,
        artifact: Artifact,
    ) -> Result<Authorized, GrantError> {
        let presented = artifact.sha256().to_string();
        let now = now_seconds();
        let mut connection = self.connection.lock().await;
        // One statement decides: concurrent consumers (threads or processes) cannot both match.
        let consumed = sqlx::query(
            "UPDATE grants SET consumed_at = ? WHERE id = ? AND proposal_id = ? AND artifact_sha256 = ? AND consumed_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(grant_id)
        .bind(proposal_id)
        .bind(&presented)
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(|e| self.database(e))?;
        if consumed.rows_affected() == 1 {
            return Ok(Authorized {
                grant_id: grant_id.to_owned(),
                proposal_id: proposal_id.to_owned(),
                artifact,
                approved_sha256: presented,
            });
        }
        let row: Option<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT artifact_sha256, expires_at, consumed_at FROM grants WHERE id = ? AND proposal_id = ?")
                .bind(grant_id)
                .bind(proposal_id)
                .fetch_optional(&mut *connection)
                .await
                .map_err(|e| self.database(e))?;
        Err(match row {
            None => GrantError::Unknown,
            Some((_, _, Some(_))) => GrantError::AlreadyUsed,
            Some((hash, _, None)) if hash != presented => GrantError::HashMismatch,
            Some(_) => GrantError::Expired,
        })
    }
}
