//! A helper for the crash and concurrency tests: appends entries to the log at the path given,
//! printing each sequence number only after `append` returned (so every printed number must be
//! in the log after a `kill -9`). Stops after COUNT entries, or never when COUNT is 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;

use countersign_audit::{Actor, AuditLog, Event, NewEntry};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: append_forever PATH [COUNT] [NAME]");
    let count: u64 = args
        .next()
        .map_or(0, |c| c.parse().expect("COUNT is a number"));
    let name = args.next().unwrap_or_else(|| "crash-test".into());
    let log = AuditLog::open(std::path::Path::new(&path)).await.unwrap();
    let mut stdout = std::io::stdout();
    let mut done = 0u64;
    while count == 0 || done < count {
        let entry = log
            .append(
                NewEntry::new(Actor::agent(&name), Event::ProposalReceived)
                    .details(serde_json::json!({ "n": done })),
            )
            .await
            .unwrap();
        writeln!(stdout, "{}", entry.seq).unwrap();
        stdout.flush().unwrap();
        done += 1;
    }
}
