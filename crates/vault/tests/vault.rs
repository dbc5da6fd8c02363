//! The real OS keychain (gnome-keyring's Secret Service in the test command's D-Bus session).
//! These tests fail, never skip, when no keychain is running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use countersign_vault::{Keychain, Secret};

#[test]
fn stores_reads_and_removes_in_the_real_keychain() {
    let home = tempfile::tempdir().unwrap();
    let keychain = Keychain::for_home(home.path());
    let secret = Secret::new(format!("s3cr3t-{}", std::process::id()));
    keychain
        .store("test-entry", &secret)
        .expect("a keychain must be running (see README: scripts/test.sh starts gnome-keyring)");
    let read = keychain.read("test-entry").unwrap().unwrap();
    assert_eq!(read.expose(), secret.expose());

    // Another data home does not see it.
    let other = tempfile::tempdir().unwrap();
    assert!(
        Keychain::for_home(other.path())
            .read("test-entry")
            .unwrap()
            .is_none()
    );

    keychain.remove("test-entry").unwrap();
    assert!(keychain.read("test-entry").unwrap().is_none());
    keychain.remove("test-entry").unwrap();
}

#[tokio::test]
async fn credentials_keep_metadata_in_the_database_and_secrets_in_the_keychain() {
    use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth, HttpScope};
    use countersign_vault::{CredentialStore, ReleaseDefault, VaultError};

    let home = tempfile::tempdir().unwrap();
    let store = CredentialStore::open(home.path(), Keychain::for_home(home.path()))
        .await
        .unwrap();
    let meta = CredentialMeta {
        name: "acme-bank".into(),
        description: "Checking account".into(),
        kind: CredentialKind::Http {
            auth: HttpAuth::Bearer,
            scope: HttpScope {
                origins: vec!["https://api.acme.example".into()],
                methods: vec![],
                path_prefixes: vec![],
            },
        },
        requires_second_factor: false,
        prescriber: None,
    };
    let value = format!("tok_{}_unmistakable", std::process::id());
    store
        .add(&meta, &Secret::new(value.clone()), ReleaseDefault::Ask)
        .await
        .unwrap();
    assert!(matches!(
        store
            .add(&meta, &Secret::new("x".into()), ReleaseDefault::Ask)
            .await,
        Err(VaultError::Exists(_))
    ));
    assert_eq!(store.list().await.unwrap(), vec![meta.clone()]);
    assert_eq!(store.secret("acme-bank").unwrap().expose(), value);

    // The secret is in no file of the data home.
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "a file of the data home holds the secret"
        );
    }

    store.remove("acme-bank").await.unwrap();
    assert!(store.list().await.unwrap().is_empty());
    assert!(
        Keychain::for_home(home.path())
            .read("credential:acme-bank")
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.remove("acme-bank").await,
        Err(VaultError::Unknown(_))
    ));
}
