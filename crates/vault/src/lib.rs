//! Secrets in the OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) through `keyring`.
//!
//! Every entry lives under a service name derived from the data home, so two data homes (a
//! person's and a test's) never see each other's secrets. Values come back as [`Secret`], which
//! prints `<redacted>`, cannot be serialized, and is zeroized when dropped. Credential metadata
//! (names, kinds, scopes; never secrets) lives beside them in `vault.db` ([`CredentialStore`]).

mod store;

pub use store::{CredentialStore, ReleaseDefault, VaultError};

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// A secret value. Its `Debug` and `Display` print `<redacted>`; it implements no `Serialize`;
/// its memory is zeroized on drop.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value read from the person or the keychain.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The value, for the one place that must place it (an executor's slot, a signature key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why the keychain could not do what was asked. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum KeychainError {
    /// No OS keychain answered (on Linux: no Secret Service on the session bus, or it is locked).
    #[error(
        "the system keychain is not available ({0}); on Linux, Countersign needs a Secret Service such as gnome-keyring, unlocked, on the D-Bus session bus"
    )]
    Unavailable(String),
    /// The keychain refused or failed the operation.
    #[error("the system keychain failed: {0}")]
    Failed(String),
}

/// The keychain entries of one data home.
#[derive(Clone, Debug)]
pub struct Keychain {
    service: String,
}

impl Keychain {
    /// The namespace for `data_home`: `countersign.<first 16 hex digits of SHA-256 of its path>`.
    pub fn for_home(data_home: &Path) -> Self {
        let absolute = std::path::absolute(data_home).unwrap_or_else(|_| data_home.to_path_buf());
        let digest = Sha256::digest(absolute.to_string_lossy().as_bytes());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Self {
            service: format!("countersign.{hex}"),
        }
    }

    /// The service name every entry of this data home is stored under.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, name).map_err(classify)
    }

    /// Stores `secret` under `name`, replacing any previous value.
    ///
    /// # Errors
    /// When the keychain is unavailable or refuses.
    pub fn store(&self, name: &str, secret: &Secret) -> Result<(), KeychainError> {
        self.entry(name)?
            .set_password(secret.expose())
            .map_err(classify)?;
        tracing::debug!(service = %self.service, name, "stored a keychain entry");
        Ok(())
    }

    /// The secret stored under `name`, or `None` when there is none.
    ///
    /// # Errors
    /// When the keychain is unavailable or refuses.
    pub fn read(&self, name: &str) -> Result<Option<Secret>, KeychainError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(classify(error)),
        }
    }

    /// Removes the entry `name`; removing a missing entry is not an error.
    ///
    /// # Errors
    /// When the keychain is unavailable or refuses.
    pub fn remove(&self, name: &str) -> Result<(), KeychainError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }
}

fn classify(error: keyring::Error) -> KeychainError {
    match error {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => {
            KeychainError::Unavailable(inner.to_string())
        }
        other => KeychainError::Failed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2-very-secret".into());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn namespaces_differ_by_data_home() {
        let a = Keychain::for_home(Path::new("/tmp/home-a"));
        let b = Keychain::for_home(Path::new("/tmp/home-b"));
        assert_ne!(a.service(), b.service());
        assert!(a.service().starts_with("countersign."));
        assert_eq!(
            a.service(),
            Keychain::for_home(Path::new("/tmp/home-a")).service()
        );
    }
}
