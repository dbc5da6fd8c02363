//! Checkpoints catch what a chain cannot: a deleted tail, a rewritten log, a forged signature, a
//! replayed older checkpoint.

use countersign_audit::{CheckpointKey, TrustedCheckpoint};

use crate::support::{attacker, forge_from, log_with};

const AT: &str = "2026-11-26T00:00:00.000000Z";

#[tokio::test]
async fn a_deleted_tail_is_found_against_a_checkpoint() {
    let test = log_with(10).await;
    let key = CheckpointKey::generate().unwrap();
    let (seq, hash) = test.log.last().await.unwrap().unwrap();
    let checkpoint = key.sign(test.log.log_id(), seq, &hash, AT);
    let trusted = TrustedCheckpoint {
        seq,
        entry_hash: hash,
    };
    let ok = test
        .log
        .verify(
            Some(&checkpoint),
            Some(&key.verifying_key()),
            Some(&trusted),
        )
        .await
        .unwrap();
    assert!(ok.intact(), "{ok:?}");
    assert_eq!(ok.checkpoint_seq, Some(10));

    let mut conn = attacker(&test.path()).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq > 7")
        .execute(&mut conn)
        .await
        .unwrap();
    let with_file = test
        .log
        .verify(Some(&checkpoint), Some(&key.verifying_key()), None)
        .await
        .unwrap();
    let problem = with_file.problem.unwrap();
    assert_eq!(problem.seq, 8);
    assert!(
        problem.what.contains("deleted from the end"),
        "{}",
        problem.what
    );
    // The keychain's memory of the latest checkpoint catches it with no file at all.
    let from_keychain = test.log.verify(None, None, Some(&trusted)).await.unwrap();
    assert_eq!(from_keychain.problem.unwrap().seq, 8);
}

#[tokio::test]
async fn a_self_consistent_forgery_is_found_against_the_real_checkpoint() {
    let test = log_with(10).await;
    let key = CheckpointKey::generate().unwrap();
    let (seq, hash) = test.log.last().await.unwrap().unwrap();
    let checkpoint = key.sign(test.log.log_id(), seq, &hash, AT);
    forge_from(
        &test.path(),
        &test.log,
        4,
        r#"{"purpose":"nothing to see"}"#,
    )
    .await;
    // The chain itself is consistent again …
    assert!(test.log.verify(None, None, None).await.unwrap().intact());
    // … but not with what was signed.
    let problem = test
        .log
        .verify(Some(&checkpoint), Some(&key.verifying_key()), None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.seq, 10);
    assert!(problem.what.contains("rewritten"), "{}", problem.what);
}

#[tokio::test]
async fn a_forged_checkpoint_fails_its_signature() {
    let test = log_with(10).await;
    let real = CheckpointKey::generate().unwrap();
    let attacker_key = CheckpointKey::generate().unwrap();
    forge_from(&test.path(), &test.log, 4, r#"{"purpose":"forged"}"#).await;
    let (seq, hash) = test.log.last().await.unwrap().unwrap();
    let forged = attacker_key.sign(test.log.log_id(), seq, &hash, AT);
    let problem = test
        .log
        .verify(Some(&forged), Some(&real.verifying_key()), None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert!(
        problem.what.contains("signature is not valid"),
        "{}",
        problem.what
    );
}

#[tokio::test]
async fn a_replayed_older_checkpoint_is_refused() {
    let test = log_with(10).await;
    let key = CheckpointKey::generate().unwrap();
    let old_hash = test.log.entries(&Default::default()).await.unwrap()[5]
        .entry_hash
        .clone();
    let old = key.sign(test.log.log_id(), 6, &old_hash, AT);
    let (seq, hash) = test.log.last().await.unwrap().unwrap();
    let latest = TrustedCheckpoint {
        seq,
        entry_hash: hash,
    };
    let problem = test
        .log
        .verify(Some(&old), Some(&key.verifying_key()), Some(&latest))
        .await
        .unwrap()
        .problem
        .unwrap();
    assert!(
        problem.what.contains("older than the latest"),
        "{}",
        problem.what
    );
    // The same old checkpoint is fine when nothing newer was signed.
    assert!(
        test.log
            .verify(Some(&old), Some(&key.verifying_key()), None)
            .await
            .unwrap()
            .intact()
    );
}

#[tokio::test]
async fn a_checkpoint_of_another_log_is_refused() {
    let a = log_with(3).await;
    let b = log_with(3).await;
    let key = CheckpointKey::generate().unwrap();
    let (seq, hash) = a.log.last().await.unwrap().unwrap();
    let checkpoint = key.sign(a.log.log_id(), seq, &hash, AT);
    let problem = b
        .log
        .verify(Some(&checkpoint), Some(&key.verifying_key()), None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert!(
        problem.what.contains("different audit log"),
        "{}",
        problem.what
    );
}
