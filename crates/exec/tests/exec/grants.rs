//! Grants are single-use, expire, and bind the exact artifact.

use std::sync::Arc;
use std::time::Duration;

use countersign_core::{Artifact, Proposal};
use countersign_exec::{GrantError, GrantStore};

pub fn artifact(url: &str) -> Artifact {
    Proposal::parse(&format!(
        r#"{{"summary":"","purpose":"","artifact":{{"kind":"http","credential":null,"method":"POST","url":"{url}","body":{{"amount":1}}}}}}"#
    ))
    .unwrap()
    .artifact
}

#[tokio::test]
async fn a_grant_is_used_once() {
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let a = artifact("https://api.acme.example/v1/payments");
    let grant = grants
        .issue("p1", a.sha256(), Duration::from_secs(600))
        .await
        .unwrap();
    let authorized = grants.consume(&grant.id, "p1", a.clone()).await.unwrap();
    assert_eq!(authorized.approved_sha256(), a.sha256().to_string());
    assert_eq!(
        grants
            .consume(&grant.id, "p1", a.clone())
            .await
            .unwrap_err(),
        GrantError::AlreadyUsed
    );
    // A second store on the same file (another process) sees the same.
    let again = GrantStore::open(dir.path()).await.unwrap();
    assert_eq!(
        again.consume(&grant.id, "p1", a).await.unwrap_err(),
        GrantError::AlreadyUsed
    );
}

#[tokio::test]
async fn an_expired_grant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let a = artifact("https://api.acme.example/v1/payments");
    let grant = grants
        .issue("p1", a.sha256(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        grants.consume(&grant.id, "p1", a).await.unwrap_err(),
        GrantError::Expired
    );
}

#[tokio::test]
async fn a_different_artifact_is_refused_and_leaves_the_grant_unused() {
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let approved = artifact("https://api.acme.example/v1/payments");
    let other = artifact("https://api.acme.example/v1/payments?to=mallory");
    let grant = grants
        .issue("p1", approved.sha256(), Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        grants.consume(&grant.id, "p1", other).await.unwrap_err(),
        GrantError::HashMismatch
    );
    assert_eq!(
        grants
            .consume(&grant.id, "p2", approved.clone())
            .await
            .unwrap_err(),
        GrantError::Unknown
    );
    assert!(grants.consume(&grant.id, "p1", approved).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_get_one_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let a = artifact("https://api.acme.example/v1/payments");
    let grant = GrantStore::open(dir.path())
        .await
        .unwrap()
        .issue("p1", a.sha256(), Duration::from_secs(600))
        .await
        .unwrap();
    // Separate stores, like separate processes, racing on one grant.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let path = dir.path().to_path_buf();
        let id = grant.id.clone();
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let store = GrantStore::open(&path).await.unwrap();
            store.consume(&id, "p1", a).await.is_ok()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    let _ = Arc::new(());
}
