//! The SQL executor against real SQLite files and a real PostgreSQL server (started by the test
//! command; `COUNTERSIGN_TEST_POSTGRES` names it, and these tests fail without it).

use std::time::Duration;

use countersign_core::Proposal;
use countersign_core::credential::{CredentialKind, CredentialMeta, SqlDialect};
use countersign_exec::{Authorized, ExecError, GrantStore, SqlExecutor, SqlOutcome};
use countersign_vault::Secret;
use sqlx::Connection as _;

fn database(
    name: &str,
    dialect: SqlDialect,
    url: &str,
    read_only: bool,
    max_rows: u64,
) -> CredentialMeta {
    CredentialMeta {
        name: name.into(),
        description: String::new(),
        kind: CredentialKind::Sql {
            dialect,
            url: url.into(),
            read_only,
            max_rows,
        },
        requires_second_factor: false,
        prescriber: None,
    }
}

async fn authorize(database: &str, statement: &str) -> (tempfile::TempDir, Authorized) {
    authorize_with(database, statement, serde_json::json!([])).await
}

async fn sqlite_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billing.db");
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount_cents INTEGER, status TEXT, note BLOB);
         INSERT INTO invoices (amount_cents, status) VALUES (1200, 'unpaid'), (3400, 'paid'), (560, 'unpaid'), (990, 'unpaid');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    (dir, url)
}

#[tokio::test]
async fn sqlite_reads_are_capped_and_writes_report_rows() {
    let (_db, url) = sqlite_file().await;
    let secret = Secret::new("unused-for-sqlite".into());
    let reader = database("billing", SqlDialect::Sqlite, &url, true, 2);
    let (_g, read) = authorize(
        "billing",
        "SELECT id, amount_cents, status FROM invoices WHERE status = 'unpaid' ORDER BY id",
    )
    .await;
    match SqlExecutor::new()
        .execute(read, &reader, &secret)
        .await
        .unwrap()
    {
        SqlOutcome::Rows {
            columns,
            rows,
            truncated,
        } => {
            assert_eq!(columns, ["id", "amount_cents", "status"]);
            assert_eq!(
                rows,
                vec![
                    serde_json::json!([1, 1200, "unpaid"])
                        .as_array()
                        .unwrap()
                        .clone(),
                    serde_json::json!([3, 560, "unpaid"])
                        .as_array()
                        .unwrap()
                        .clone()
                ]
            );
            assert!(truncated, "three unpaid invoices, two allowed");
        }
        other => panic!("{other:?}"),
    }
    let writer = database("billing", SqlDialect::Sqlite, &url, false, 100);
    let (_g, write) = authorize(
        "billing",
        "UPDATE invoices SET status = 'paid' WHERE amount_cents < 1000",
    )
    .await;
    assert_eq!(
        SqlExecutor::new()
            .execute(write, &writer, &secret)
            .await
            .unwrap(),
        SqlOutcome::Changed { rows_affected: 2 }
    );
    // The read-only credential refuses the same write before anything runs.
    let (_g, write) = authorize("billing", "UPDATE invoices SET status = 'paid'").await;
    assert!(matches!(
        SqlExecutor::new().execute(write, &reader, &secret).await,
        Err(ExecError::Refused(_))
    ));
}

#[tokio::test]
async fn a_secret_in_a_row_is_redacted_in_every_encoding() {
    use base64::Engine as _;
    let (_db, url) = sqlite_file().await;
    let password = "db-pw/7731&x+NEVER";
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let php = password.replace('/', "\\/");
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("reader:{password}"));
    let percent: String = password.bytes().map(|b| format!("%{b:02x}")).collect();
    sqlx::query("CREATE TABLE settings (name TEXT, value TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    for (name, value) in [
        ("raw", format!("postgres://reader:{password}@db/clinic")),
        ("php", php),
        ("basic", b64),
        ("percent", percent),
    ] {
        sqlx::query("INSERT INTO settings VALUES (?, ?)")
            .bind(name)
            .bind(value)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let reader = database("billing", SqlDialect::Sqlite, &url, true, 50);
    let (_g, read) = authorize("billing", "SELECT name, value FROM settings").await;
    let outcome = SqlExecutor::new()
        .execute(read, &reader, &Secret::new(password.into()))
        .await
        .unwrap();
    let SqlOutcome::Rows { rows, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let finder = countersign_core::secret::SecretFinder::new([password]);
    assert_eq!(rows.len(), 4);
    for row in rows {
        let text = serde_json::to_string(&row).unwrap();
        assert!(!finder.found_in(text.as_bytes()), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}

fn postgres_admin() -> String {
    std::env::var("COUNTERSIGN_TEST_POSTGRES").expect(
        "COUNTERSIGN_TEST_POSTGRES is not set: run through scripts/test.sh, which starts PostgreSQL",
    )
}

/// A fresh database with two logins: a read-write agent and a read-only reader.
async fn postgres_clinic() -> (String, String) {
    let admin = postgres_admin();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let name = format!("clinic_{}_{}", std::process::id(), rand_suffix());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let db_url = admin.rsplit_once('/').unwrap().0.to_owned() + "/" + &name;
    let mut db = sqlx::PgConnection::connect(&db_url).await.unwrap();
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN CREATE ROLE clinic_agent LOGIN PASSWORD 'agent-pw-7731';
           EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         DO $$ BEGIN CREATE ROLE clinic_reader LOGIN PASSWORD 'reader-pw-2284';
           EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         CREATE TABLE patients (id int PRIMARY KEY, name text, dob date, balance numeric(10,2), seen_at timestamptz, tags jsonb);
         INSERT INTO patients VALUES (1, 'Jane Doe', '1980-02-29', 12.50, '2026-11-26 09:00:00+00', '[\"vip\"]'), (2, 'Sam Rivera', '1975-06-01', 0, NULL, NULL);
         CREATE SEQUENCE invoice_numbers;
         GRANT CONNECT ON DATABASE {name} TO clinic_agent, clinic_reader;
         GRANT SELECT, UPDATE ON patients TO clinic_agent;
         GRANT USAGE ON SEQUENCE invoice_numbers TO clinic_agent, clinic_reader;
         GRANT SELECT ON patients TO clinic_reader;"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    let host = admin
        .split('@')
        .nth(1)
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0
        .to_owned();
    (
        format!("postgres://clinic_agent@{host}/{name}"),
        format!("postgres://clinic_reader@{host}/{name}"),
    )
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[tokio::test]
async fn postgres_reads_with_the_keychain_password_and_typed_values() {
    let (agent_url, _) = postgres_clinic().await;
    let meta = database("clinic-db", SqlDialect::Postgres, &agent_url, true, 50);
    let (_g, read) = authorize(
        "clinic-db",
        "SELECT id, name, dob, balance, seen_at, tags FROM patients ORDER BY id",
    )
    .await;
    let outcome = SqlExecutor::new()
        .execute(read, &meta, &Secret::new("agent-pw-7731".into()))
        .await
        .unwrap();
    let SqlOutcome::Rows {
        columns,
        rows,
        truncated,
    } = outcome
    else {
        panic!()
    };
    assert_eq!(columns, ["id", "name", "dob", "balance", "seen_at", "tags"]);
    assert!(!truncated);
    assert_eq!(rows[0][0], 1);
    assert_eq!(rows[0][1], "Jane Doe");
    assert_eq!(rows[0][2], "1980-02-29");
    assert_eq!(rows[0][3], "12.50");
    assert_eq!(rows[0][5], serde_json::json!(["vip"]));
    assert_eq!(rows[1][4], serde_json::Value::Null);
}

#[tokio::test]
async fn postgres_writes_report_rows_and_read_only_runs_read_only() {
    let (agent_url, _) = postgres_clinic().await;
    let secret = Secret::new("agent-pw-7731".into());
    let writer = database("clinic-db", SqlDialect::Postgres, &agent_url, false, 50);
    let (_g, write) = authorize("clinic-db", "UPDATE patients SET balance = 0 WHERE id = 1").await;
    assert_eq!(
        SqlExecutor::new()
            .execute(write, &writer, &secret)
            .await
            .unwrap(),
        SqlOutcome::Changed { rows_affected: 1 }
    );

    // A "read" that calls a function with an effect: a read-only credential allows only plain
    // calculations, so it is refused before anything is sent.
    let reader = database("clinic-db", SqlDialect::Postgres, &agent_url, true, 50);
    let (_g, sneaky) = authorize("clinic-db", "SELECT nextval('invoice_numbers')").await;
    let error = SqlExecutor::new()
        .execute(sneaky, &reader, &secret)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("refused before sending"),
        "{error}"
    );

    // A read that locks rows passes the checks; the database refuses it, because a read-only
    // credential's statements always run in a read-only transaction.
    let (_g, locking) = authorize("clinic-db", "SELECT id FROM patients FOR UPDATE").await;
    let error = SqlExecutor::new()
        .execute(locking, &reader, &secret)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("read-only transaction"),
        "{error}"
    );
}

#[tokio::test]
async fn postgres_statements_time_out_and_passwords_never_show() {
    let (agent_url, reader_url) = postgres_clinic().await;
    // pg_sleep is a side effect a read-write credential may run (a read-only one may not).
    let meta = database("clinic-db", SqlDialect::Postgres, &agent_url, false, 50);
    let (_g, slow) = authorize("clinic-db", "SELECT pg_sleep(5)").await;
    let error = SqlExecutor::new()
        .with_timeout(Duration::from_millis(500))
        .execute(slow, &meta, &Secret::new("agent-pw-7731".into()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("statement timeout"), "{error}");

    let reader = database("clinic-db", SqlDialect::Postgres, &reader_url, true, 50);
    let wrong = "wrong-pw-NEVER-SHOWN-99";
    let (_g, read) = authorize("clinic-db", "SELECT 1").await;
    let error = SqlExecutor::new()
        .execute(read, &reader, &Secret::new(wrong.into()))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("password authentication failed"),
        "{error}"
    );
    assert!(!error.to_string().contains(wrong));
    assert!(!format!("{error:?}").contains(wrong));
}

#[tokio::test]
async fn postgres_refuses_a_second_command_even_if_one_slipped_through() {
    // The classifier refuses two statements; behind it, the statement is prepared, and
    // PostgreSQL will not prepare two commands. Checked here directly on the server.
    let (agent_url, _) = postgres_clinic().await;
    let url = agent_url.replacen("clinic_agent@", "clinic_agent:agent-pw-7731@", 1);
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let result = sqlx::query("SELECT 1; SELECT 2").execute(&mut conn).await;
    assert!(result.is_err());
}

async fn authorize_with(
    database: &str,
    statement: &str,
    parameters: serde_json::Value,
) -> (tempfile::TempDir, Authorized) {
    let text = serde_json::json!({"summary": "", "purpose": "", "artifact": {"kind": "sql", "database": database, "statement": statement, "parameters": parameters}}).to_string();
    let artifact = Proposal::parse(&text).unwrap().artifact;
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let grant = grants
        .issue("prop-sql", artifact.sha256(), Duration::from_secs(600))
        .await
        .unwrap();
    let authorized = grants
        .consume(&grant.id, "prop-sql", artifact)
        .await
        .unwrap();
    (dir, authorized)
}

#[tokio::test]
async fn bound_values_are_values_never_sql_on_both_databases() {
    // A value that would be an injection if it were spliced into the text is compared as text.
    let (_db, url) = sqlite_file().await;
    let secret = Secret::new("unused-for-sqlite".into());
    let writer = database("billing", SqlDialect::Sqlite, &url, false, 100);
    let (_g, write) = authorize_with(
        "billing",
        "UPDATE invoices SET status = ? WHERE amount_cents < ?",
        serde_json::json!(["x'; DROP TABLE invoices; --", 1000]),
    )
    .await;
    assert_eq!(
        SqlExecutor::new()
            .execute(write, &writer, &secret)
            .await
            .unwrap(),
        SqlOutcome::Changed { rows_affected: 2 }
    );
    let (_g, read) = authorize_with(
        "billing",
        "SELECT count(*) AS n FROM invoices WHERE status = ?",
        serde_json::json!(["x'; DROP TABLE invoices; --"]),
    )
    .await;
    let SqlOutcome::Rows { rows, .. } = SqlExecutor::new()
        .execute(read, &writer, &secret)
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(rows[0][0], 2);

    let (agent_url, _) = postgres_clinic().await;
    let meta = database("clinic-db", SqlDialect::Postgres, &agent_url, true, 50);
    let (_g, read) = authorize_with(
        "clinic-db",
        "SELECT name FROM patients WHERE id = $1 OR name = $2",
        serde_json::json!([2, "' OR 1=1 --"]),
    )
    .await;
    let SqlOutcome::Rows { rows, .. } = SqlExecutor::new()
        .execute(read, &meta, &Secret::new("agent-pw-7731".into()))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(rows, vec![vec![serde_json::json!("Sam Rivera")]]);
}
