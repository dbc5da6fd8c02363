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
        let entry = self.entry(name)?;
        patiently(|| entry.set_password(secret.expose())).map_err(classify)?;
        tracing::debug!(service = %self.service, name, "stored a keychain entry");
        Ok(())
    }

    /// The secret stored under `name`, or `None` when there is none.
    ///
    /// # Errors
    /// When the keychain is unavailable or refuses.
    pub fn read(&self, name: &str) -> Result<Option<Secret>, KeychainError> {
        let entry = self.entry(name)?;
        match patiently(|| entry.get_password()) {
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
        let entry = self.entry(name)?;
        // A removal asked again after a lost reply may find the entry already gone: still done.
        match patiently(|| entry.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }
}

/// How often a call is asked again when the keychain did not answer in time, and the pauses
/// between. A Secret Service on a busy machine (gnome-keyring re-encrypting its file while other
/// programs write) can miss the 2 s a D-Bus call is given; every call here is safe to repeat
/// (a store replaces, a read reads, a removal of a missing entry is done), so asking again is
/// better than telling the person their keychain is gone.
const PAUSES: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(250),
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(3),
];

fn patiently<T>(mut call: impl FnMut() -> keyring::Result<T>) -> keyring::Result<T> {
    let mut pauses = PAUSES.iter();
    loop {
        match call() {
            Err(error) if too_slow(&error) => match pauses.next() {
                Some(pause) => {
                    tracing::warn!(
                        ?pause,
                        "the system keychain did not answer in time; asking again"
                    );
                    std::thread::sleep(*pause);
                }
                None => return Err(error),
            },
            done => return done,
        }
    }
}

/// Whether the keychain was there but answered too late (D-Bus `NoReply`).
#[cfg(target_os = "linux")]
fn too_slow(error: &keyring::Error) -> bool {
    let (keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner)) = error
    else {
        return false;
    };
    matches!(
        inner.downcast_ref::<dbus_secret_service::Error>(),
        Some(dbus_secret_service::Error::Dbus(dbus)) if is_no_reply(dbus)
    )
}

#[cfg(target_os = "linux")]
fn is_no_reply(error: &dbus::Error) -> bool {
    error.name() == Some("org.freedesktop.DBus.Error.NoReply")
}

#[cfg(not(target_os = "linux"))]
fn too_slow(_error: &keyring::Error) -> bool {
    false
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

    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_late_answer_is_asked_again() {
        let late = dbus::Error::new_custom(
            "org.freedesktop.DBus.Error.NoReply",
            "Did not receive a reply",
        );
        let late =
            keyring::Error::PlatformFailure(Box::new(dbus_secret_service::Error::Dbus(late)));
        assert!(too_slow(&late));
        let absent =
            dbus::Error::new_custom("org.freedesktop.DBus.Error.ServiceUnknown", "no such name");
        let absent =
            keyring::Error::PlatformFailure(Box::new(dbus_secret_service::Error::Dbus(absent)));
        assert!(!too_slow(&absent));
        assert!(!too_slow(&keyring::Error::NoEntry));

        let mut calls = 0;
        let answered = patiently(|| {
            calls += 1;
            if calls < 3 {
                let late = dbus::Error::new_custom("org.freedesktop.DBus.Error.NoReply", "late");
                Err(keyring::Error::PlatformFailure(Box::new(
                    dbus_secret_service::Error::Dbus(late),
                )))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(answered.unwrap(), 3);
        let mut calls = 0;
        let refused: keyring::Result<()> = patiently(|| {
            calls += 1;
            Err(keyring::Error::NoEntry)
        });
        assert!(refused.is_err());
        assert_eq!(calls, 1, "a refusal is not asked again");
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
