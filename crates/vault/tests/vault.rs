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
