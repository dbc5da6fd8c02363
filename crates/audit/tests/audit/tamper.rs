//! Any change to any entry is detected, and the first bad entry is named.

use countersign_audit::{Actor, Event, NewEntry};
use proptest::prelude::*;
use sqlx::Connection as _;

use crate::support::{all, attacker, log_with};

const TEXT_COLUMNS: [&str; 12] = [
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "event",
    "proposal_id",
    "artifact_sha256",
    "credential",
    "outcome",
    "details",
    "prev_hash",
    "entry_hash",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Any single-byte change to any field of any entry is detected and located.
    #[test]
    fn any_single_byte_change_is_found_at_its_entry(
        entries in 2usize..14,
        pick in any::<prop::sample::Index>(),
        column in 0usize..TEXT_COLUMNS.len(),
        position in any::<prop::sample::Index>(),
        replacement in 0x21u8..0x7f,
    ) {
        runtime().block_on(async {
            let test = log_with(entries).await;
            let seq = i64::try_from(pick.index(entries)).unwrap() + 1;
            let column = TEXT_COLUMNS[column];
            let mut conn = attacker(&test.path()).await;
            let value: Option<String> = sqlx::query_scalar(&format!("SELECT {column} FROM audit_entries WHERE seq = ?"))
                .bind(seq).fetch_one(&mut conn).await.unwrap();
            let Some(value) = value else { return Ok(()) };
            let mut bytes = value.into_bytes();
            if bytes.is_empty() { return Ok(()) }
            let at = position.index(bytes.len());
            if bytes[at] == replacement || !bytes[at].is_ascii() { return Ok(()) }
            bytes[at] = replacement;
            let changed = String::from_utf8(bytes).unwrap();
            sqlx::query(&format!("UPDATE audit_entries SET {column} = ? WHERE seq = ?"))
                .bind(&changed).bind(seq).execute(&mut conn).await.unwrap();
            let verdict = test.log.verify(None, None, None).await.unwrap();
            let problem = verdict.problem.expect("the change must be detected");
            prop_assert_eq!(problem.seq, seq, "{} changed in entry {}: {}", column, seq, problem.what);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn an_intact_log_verifies() {
    let test = log_with(25).await;
    let verdict = test.log.verify(None, None, None).await.unwrap();
    assert!(verdict.intact(), "{verdict:?}");
    assert_eq!((verdict.entries, verdict.last_seq), (25, 25));
}

#[tokio::test]
async fn the_table_refuses_updates_and_deletes() {
    let test = log_with(3).await;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", test.path().display()))
        .await
        .unwrap();
    let update = sqlx::query("UPDATE audit_entries SET outcome = 'x' WHERE seq = 1")
        .execute(&mut conn)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM audit_entries WHERE seq = 1")
        .execute(&mut conn)
        .await;
    assert!(delete.unwrap_err().to_string().contains("never deleted"));
}

#[tokio::test]
async fn deleting_an_entry_in_the_middle_is_found() {
    let test = log_with(10).await;
    let mut conn = attacker(&test.path()).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq = 6")
        .execute(&mut conn)
        .await
        .unwrap();
    let problem = test
        .log
        .verify(None, None, None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.seq, 6);
    assert!(problem.what.contains("missing"), "{}", problem.what);
}

#[tokio::test]
async fn renumbering_after_a_deletion_is_found() {
    let test = log_with(10).await;
    let mut conn = attacker(&test.path()).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq = 6")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET seq = seq - 1 WHERE seq > 6")
        .execute(&mut conn)
        .await
        .unwrap();
    let problem = test
        .log
        .verify(None, None, None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.seq, 6, "{}", problem.what);
}

#[tokio::test]
async fn swapping_two_entries_is_found() {
    let test = log_with(10).await;
    let entries = all(&test.log).await;
    let mut conn = attacker(&test.path()).await;
    for (seq, from) in [(3i64, &entries[6]), (7, &entries[2])] {
        sqlx::query("UPDATE audit_entries SET at = ?, actor_id = ?, event = ?, details = ?, prev_hash = ?, entry_hash = ? WHERE seq = ?")
            .bind(&from.at).bind(&from.actor.id).bind(&from.event).bind(&from.details)
            .bind(&from.prev_hash).bind(&from.entry_hash).bind(seq)
            .execute(&mut conn).await.unwrap();
    }
    let problem = test
        .log
        .verify(None, None, None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.seq, 3, "{}", problem.what);
}

#[tokio::test]
async fn inserting_an_entry_is_found() {
    let test = log_with(10).await;
    let entries = all(&test.log).await;
    let mut conn = attacker(&test.path()).await;
    // Make room at 5 and insert a well-formed entry that follows entry 4.
    sqlx::query("UPDATE audit_entries SET seq = seq + 100 WHERE seq >= 5")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET seq = seq - 99 WHERE seq >= 105")
        .execute(&mut conn)
        .await
        .unwrap();
    let mut forged = entries[4].clone();
    forged.seq = 5;
    forged.details = r#"{"note":"approved by the ceo"}"#.into();
    forged.prev_hash = entries[3].entry_hash.clone();
    forged.entry_hash = countersign_audit::entry_hash(&forged.prev_hash, &forged);
    sqlx::query("INSERT INTO audit_entries (seq, at, actor_kind, actor_id, actor_name, event, proposal_id, artifact_sha256, credential, outcome, details, prev_hash, entry_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
        .bind(forged.seq).bind(&forged.at).bind(forged.actor.kind.as_str()).bind(&forged.actor.id).bind(&forged.actor.name)
        .bind(&forged.event).bind(&forged.proposal_id).bind(&forged.artifact_sha256).bind(&forged.credential)
        .bind(&forged.outcome).bind(&forged.details).bind(&forged.prev_hash).bind(&forged.entry_hash)
        .execute(&mut conn).await.unwrap();
    let problem = test
        .log
        .verify(None, None, None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.seq, 6, "{}", problem.what);
    assert!(problem.what.contains("does not follow"), "{}", problem.what);
}

#[tokio::test]
async fn unreadable_text_is_an_altered_entry_not_an_error() {
    let test = log_with(5).await;
    let mut conn = attacker(&test.path()).await;
    sqlx::query("UPDATE audit_entries SET details = CAST(X'FF00FE' AS TEXT) WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let problem = test
        .log
        .verify(None, None, None)
        .await
        .unwrap()
        .problem
        .unwrap();
    assert_eq!(problem.seq, 2, "{}", problem.what);
}

#[tokio::test]
async fn deleting_the_tail_is_undetectable_by_the_chain_alone() {
    // Documented limitation: without a checkpoint, a shorter log is still a valid chain.
    let test = log_with(10).await;
    let mut conn = attacker(&test.path()).await;
    sqlx::query("DELETE FROM audit_entries WHERE seq > 7")
        .execute(&mut conn)
        .await
        .unwrap();
    let verdict = test.log.verify(None, None, None).await.unwrap();
    assert!(verdict.intact());
    assert_eq!(verdict.last_seq, 7);
}

#[tokio::test]
async fn entries_are_appended_with_gap_free_numbers() {
    let test = log_with(0).await;
    for expected in 1..=5 {
        let entry = test
            .log
            .append(NewEntry::new(Actor::app(), Event::SettingsChanged))
            .await
            .unwrap();
        assert_eq!(entry.seq, expected);
    }
    let entries = all(&test.log).await;
    assert_eq!(entries[0].prev_hash, countersign_audit::GENESIS_HASH);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].entry_hash);
    }
}
