//! Any text as a SQL statement in each dialect: classification never panics.
#![no_main]

use countersign_core::credential::SqlDialect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(statement) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [SqlDialect::Sqlite, SqlDialect::Postgres, SqlDialect::Mysql] {
        let _ = countersign_core::sql::classify(statement, dialect);
    }
});
