//! The whole loop, headless: an agent proposes over REST, a person reviews in a pseudo-terminal
//! (`countersign review`), typing as a person would; the artifact runs against a real local
//! server; the agent reads only the released part; the audit log verifies.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use expectrl::{ControlCode, Expect as _, Regex, Session};

pub fn countersign_binary() -> PathBuf {
    let binary = countersign_e2e::app_binary()
        .unwrap()
        .with_file_name("countersign");
    assert!(
        binary.is_file(),
        "{} is not built: cargo build -p countersign-cli",
        binary.display()
    );
    binary
}

pub fn run(home: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(countersign_binary())
        .args(args)
        .env("COUNTERSIGN_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A bank API on 127.0.0.1 that answers every request with a balance, and counts requests.
fn bank() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 8192];
            let _ = stream.read(&mut buffer);
            counter.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"balance":1200,"account":"4410","owner":{"ssn":"123-45-6789"}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, count)
}

/// Kills the process `pid` after `after`: a reviewer that stops answering makes its test fail
/// with what it printed, instead of hanging the whole run until CI's limit.
pub fn watchdog(pid: impl std::fmt::Display, after: Duration) {
    let pid = pid.to_string();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let _ = Command::new("kill").args(["-9", &pid]).status();
    });
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn propose_review_in_a_terminal_execute_release_verify() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (bank_port, requests) = bank();
    let added = run(
        &home,
        &[
            "credential",
            "add",
            "bank",
            "--kind",
            "http",
            "--auth",
            "bearer",
            "--origin",
            &format!("http://127.0.0.1:{bank_port}"),
            "--description",
            "Test bank",
        ],
        "bank-token-0001\n",
    );
    assert!(
        added.status.success(),
        "a keychain must be running: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    let key_out = run(&home, &["agent", "add", "claude"], "");
    let key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();

    let connector = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(countersign_binary());
    command
        .arg("review")
        .env("COUNTERSIGN_HOME", &home)
        .env("COUNTERSIGN_CONNECTOR_ADDR", &connector);
    let mut review = Session::spawn(command).unwrap();
    watchdog(review.get_process().pid(), Duration::from_secs(600));
    review.set_expect_timeout(Some(Duration::from_secs(30)));
    review.expect("listening for agents").unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let propose = |body: String| {
        runtime.block_on(async {
            let response = http
                .post(format!("http://{connector}/v1/proposals"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201);
            response.json::<serde_json::Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
    };
    let read = |id: &str| {
        runtime.block_on(async {
            http.get(format!("http://{connector}/v1/proposals/{id}?wait=10"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        })
    };

    // Approve and release one field.
    let id = propose(format!(
        r#"{{"summary":"Check the balance","purpose":"budget","artifact":{{"kind":"http","credential":"bank","method":"GET","url":"http://127.0.0.1:{bank_port}/v1/balance"}}}}"#
    ));
    review.expect("Read the balance on 127.0.0.1").unwrap();
    let prompt = review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    let code = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "nothing runs before the person types the code"
    );
    review.send_line("approve").unwrap(); // not the code: nothing happens
    review.expect("nothing was approved").unwrap();
    let prompt = review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    let code_again = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
    let _ = code;
    review.send_line(&code_again).unwrap();
    review.expect("Release to the agent").unwrap();
    review.send_line("body.balance").unwrap();
    review.expect("The agent receives").unwrap();
    let view = read(&id);
    assert_eq!(view["status"], "succeeded");
    assert_eq!(
        view["result"]["data"],
        serde_json::json!({ "body": { "balance": 1200 } })
    );
    assert!(!view.to_string().contains("123-45-6789"));
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // Reject with a reason.
    let id = propose(format!(
        r#"{{"summary":"Check again","purpose":"budget","artifact":{{"kind":"http","credential":"bank","method":"GET","url":"http://127.0.0.1:{bank_port}/v1/balance?again=1"}}}}"#
    ));
    review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    review.send_line("r").unwrap();
    review.expect("Reason").unwrap();
    review.send_line("once is enough").unwrap();
    review.expect("Rejected.").unwrap();
    let view = read(&id);
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["decision"]["reason"], "once is enough");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "a rejected proposal never runs"
    );

    // An MCP agent over stdio through `countersign mcp`, with the rmcp client.
    let url = format!("http://127.0.0.1:{bank_port}/v1/balance?via=mcp");
    let proposed = runtime.block_on(async {
        use rmcp::ServiceExt as _;
        let mut bridge = tokio::process::Command::new(countersign_binary());
        bridge.arg("mcp").env("COUNTERSIGN_AGENT_KEY", &key).env("COUNTERSIGN_CONNECTOR_ADDR", &connector).env("COUNTERSIGN_HOME", &home);
        let client = ().serve(rmcp::transport::TokioChildProcess::new(bridge).unwrap()).await.unwrap();
        let tools = client.list_all_tools().await.unwrap();
        assert_eq!(tools.len(), 9);
        let arguments = serde_json::json!({ "summary": "Check via MCP", "purpose": "budget", "credential": "bank", "method": "GET", "url": url });
        let result = client
            .call_tool(rmcp::model::CallToolRequestParams::new("propose_http_request").with_arguments(arguments.as_object().cloned().unwrap()))
            .await
            .unwrap();
        client.cancel().await.unwrap();
        result.structured_content.unwrap()
    });
    assert_eq!(proposed["status"], "pending");
    review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    review.send_line("r").unwrap();
    review.expect("Reason").unwrap();
    review.send_line("").unwrap();
    review.expect("Rejected.").unwrap();
    assert_eq!(read(proposed["id"].as_str().unwrap())["status"], "rejected");

    // An MCP client nobody here wrote: the official Python SDK, through `countersign mcp`.
    let python = std::env::var("COUNTERSIGN_TEST_PYTHON").expect("COUNTERSIGN_TEST_PYTHON is not set: run through scripts/test.sh, which installs the official MCP SDK");
    let script = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../scripts/mcp_sdk_check.py");
    let output = Command::new(python)
        .arg(script)
        .arg(countersign_binary())
        .arg(format!(
            "http://127.0.0.1:{bank_port}/v1/balance?via=python"
        ))
        .env("COUNTERSIGN_AGENT_KEY", &key)
        .env("COUNTERSIGN_CONNECTOR_ADDR", &connector)
        .env("COUNTERSIGN_HOME", &home)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let checked: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        checked["tools"],
        serde_json::json!([
            "get_proposal",
            "get_routine",
            "list_capabilities",
            "propose_email",
            "propose_http_request",
            "propose_routine",
            "propose_sql",
            "run_routine",
            "withdraw_proposal"
        ])
    );
    assert_eq!(checked["proposal"]["status"], "pending");
    review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    review.send_line("s").unwrap();
    review.expect("Skipped").unwrap();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "nothing an MCP agent proposed ran without approval"
    );

    // The exact line through the stdio bridge: a duplicate key inside the arguments is refused as
    // over REST (rmcp's own parsing would have kept the second `method`).
    {
        use std::io::{BufRead as _, Write as _};
        let mut bridge = Command::new(countersign_binary())
            .arg("mcp")
            .env("COUNTERSIGN_AGENT_KEY", &key)
            .env("COUNTERSIGN_CONNECTOR_ADDR", &connector)
            .env("COUNTERSIGN_HOME", &home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = bridge.stdin.take().unwrap();
        let stdout = bridge.stdout.take().unwrap();
        let (lines, answers) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let answer = |id: u64| loop {
            let line = answers
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("the bridge answers");
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            if value["id"] == id {
                break value;
            }
        };
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"raw","version":"1"}}}}}}"#).unwrap();
        answer(1);
        writeln!(
            stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )
        .unwrap();
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"propose_http_request","arguments":{{"summary":"Check","purpose":"budget","credential":"bank","method":"GET","url":"http://127.0.0.1:{bank_port}/v1/balance","method":"DELETE"}}}}}}"#).unwrap();
        let refused = answer(2);
        let text = refused["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        let wire: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(refused["result"]["isError"], true, "{refused}");
        assert_eq!(wire["error"]["code"], "duplicate_key", "{refused}");
        assert_eq!(wire["error"]["field"], "artifact.method", "{refused}");
        drop(stdin);
        let _ = bridge.kill();
        let _ = bridge.wait();
    }

    // The management commands keep working while the reviewer runs, appending to the same log.
    for args in [
        &["agent", "list"][..],
        &["credential", "list"],
        &["audit", "verify"],
        &["agent", "add", "second-agent"],
    ] {
        let output = run(&home, args, "");
        assert!(
            output.status.success(),
            "{args:?} while reviewing: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // A second reviewer on the same data home is turned away.
    let second = run(&home, &["review"], "");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already using"));

    review.send(ControlCode::EndOfTransmission).unwrap();
    review.expect("Stopped").unwrap();
    let verify = run(&home, &["audit", "verify"], "");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

/// A fresh database on the test command's PostgreSQL for a team.
pub struct TeamDatabase {
    /// The administrator's address (for the test's own changes).
    pub admin: String,
    /// The database's name.
    pub name: String,
    /// Its address without the password, as `team init` and `team join` take it.
    pub address: String,
    /// The password, typed where the CLI asks for it.
    pub password: String,
}

pub fn team_database(prefix: &str) -> TeamDatabase {
    let admin = std::env::var("COUNTERSIGN_TEST_POSTGRES").expect(
        "COUNTERSIGN_TEST_POSTGRES is not set: run through scripts/test.sh, which starts PostgreSQL",
    );
    let (base, _) = admin.rsplit_once('/').unwrap();
    let (credentials, host) = base
        .strip_prefix("postgres://")
        .unwrap()
        .split_once('@')
        .unwrap();
    let (user, password) = credentials.split_once(':').unwrap();
    let name = format!("{prefix}_{}", std::process::id());
    // On a thread of its own: callers may be inside a runtime already.
    let (to_admin, to_name) = (admin.clone(), name.clone());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&to_admin).await.unwrap();
                for statement in [
                    format!("DROP DATABASE IF EXISTS {to_name}"),
                    format!("CREATE DATABASE {to_name}"),
                ] {
                    sqlx::raw_sql(&statement).execute(&mut conn).await.unwrap();
                }
            });
    })
    .join()
    .unwrap();
    TeamDatabase {
        address: format!("postgres://{user}@{host}/{name}"),
        password: password.to_owned(),
        admin: admin.clone(),
        name,
    }
}

pub fn team_code(secret: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    countersign_app::totp::code(&countersign_app::totp::decode(secret).unwrap(), now)
}

pub fn enrolled(output: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout);
    text.split("type this secret into the authenticator: ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no enrolment in {text}"))
        .to_owned()
}

/// A desk in a team on a real PostgreSQL server: `countersign review` will not start without a
/// person signing in, a wrong code signs no one in, and what the signed-in nurse approves is in
/// the team's log under her name.
#[test]
fn a_team_desk_reviews_as_the_person_who_signed_in() {
    let TeamDatabase {
        admin,
        name,
        address: database,
        password,
    } = team_database("team_review");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let password = password.as_str();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("desk");
    let made = run(
        &home,
        &["team", "init", "--database", &database, "--as", "Ana Admin"],
        &format!("{password}\n"),
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let ana = enrolled(&made);
    let added = run(
        &home,
        &[
            "person",
            "add",
            "Nora Nurse",
            "--role",
            "nurse",
            "--as",
            "Ana Admin",
        ],
        &format!("{}\n", team_code(&ana)),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let nora = enrolled(&added);
    let (bank_port, requests) = bank();
    let credential = run(
        &home,
        &[
            "credential",
            "add",
            "bank",
            "--kind",
            "http",
            "--auth",
            "bearer",
            "--origin",
            &format!("http://127.0.0.1:{bank_port}"),
            "--as",
            "Ana Admin",
        ],
        // The code first, then the secret.
        &format!("{}\nbank-token-0001\n", team_code(&ana)),
    );
    assert!(
        credential.status.success(),
        "{}",
        String::from_utf8_lossy(&credential.stderr)
    );
    // On a team desk every command says who acts.
    let anonymous = run(&home, &["agent", "add", "claude"], "");
    assert!(!anonymous.status.success());
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("--as NAME"));
    let key_out = run(
        &home,
        &["agent", "add", "claude", "--as", "Ana Admin"],
        &format!("{}\n", team_code(&ana)),
    );
    let key = String::from_utf8_lossy(&key_out.stdout).trim().to_owned();

    // Nobody signed in: a team desk does not start.
    let unsigned = run(&home, &["review"], "");
    assert!(!unsigned.status.success());
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("sign in"));

    let connector = format!("127.0.0.1:{}", free_port());
    let start = |code: &str| {
        let mut command = Command::new(countersign_binary());
        command
            .args(["review", "--as", "Nora Nurse"])
            .env("COUNTERSIGN_HOME", &home)
            .env("COUNTERSIGN_CONNECTOR_ADDR", &connector);
        let mut review = Session::spawn(command).unwrap();
        watchdog(review.get_process().pid(), Duration::from_secs(600));
        review.set_expect_timeout(Some(Duration::from_secs(30)));
        review
            .expect("Second factor code for Nora Nurse: ")
            .unwrap();
        review.send_line(code).unwrap();
        review
    };
    let mut wrong = start("000000");
    wrong.expect("do not sign anyone in").unwrap();

    let mut review = start(&team_code(&nora));
    review.expect("listening for agents").unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let id = runtime.block_on(async {
        let response = http
            .post(format!("http://{connector}/v1/proposals"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(format!(r#"{{"summary":"Check the balance","purpose":"budget","artifact":{{"kind":"http","credential":"bank","method":"GET","url":"http://127.0.0.1:{bank_port}/v1/balance"}}}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
        response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    });
    let prompt = review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    let code = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
    review.send_line(&code).unwrap();
    review.expect("Release to the agent").unwrap();
    review.send_line("body.balance").unwrap();
    review.expect("The agent receives").unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // The team database goes away: nothing is accepted, approved or run; it comes back, and so
    // does the desk.
    let database_connections = |allow: bool| {
        runtime.block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::raw_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}"))
                .execute(&mut conn)
                .await
                .unwrap();
            if !allow {
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(&name)
                .execute(&mut conn)
                .await
                .unwrap();
            }
        })
    };
    let propose = |url: String| {
        runtime.block_on(async {
            http.post(format!("http://{connector}/v1/proposals"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(format!(r#"{{"summary":"Check the balance","purpose":"budget","artifact":{{"kind":"http","credential":"bank","method":"GET","url":"{url}"}}}}"#))
                .send()
                .await
                .unwrap()
        })
    };
    database_connections(false);
    let refused = propose(format!(
        "http://127.0.0.1:{bank_port}/v1/balance?while=down"
    ));
    assert!(
        !refused.status().is_success(),
        "accepted while the team log was unreachable"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    database_connections(true);
    let accepted = propose(format!("http://127.0.0.1:{bank_port}/v1/balance?after=up"));
    assert_eq!(accepted.status().as_u16(), 201);
    let prompt = review.expect(Regex(r"Type (\w+) to approve")).unwrap();
    let code = String::from_utf8_lossy(prompt.get(1).unwrap()).into_owned();
    review.send_line(&code).unwrap();
    review.expect("Release to the agent").unwrap();
    review.send_line("none").unwrap();
    review.expect("The agent receives").unwrap();
    assert_eq!(requests.load(Ordering::SeqCst), 2);

    review.send(ControlCode::EndOfTransmission).unwrap();
    review.expect("Stopped").unwrap();

    let as_nora = format!("{}\n", team_code(&nora));
    let export = run(
        &home,
        &[
            "audit",
            "export",
            "--format",
            "json",
            "--proposal",
            &id,
            "--as",
            "Nora Nurse",
        ],
        &as_nora,
    );
    let entries: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    let approved = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "decision.approved")
        .unwrap_or_else(|| panic!("no approval in {entries}"));
    assert_eq!(approved["actor"]["name"], "Nora Nurse", "{approved}");
    let verify = run(&home, &["audit", "verify", "--as", "Nora Nurse"], &as_nora);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let all = String::from_utf8_lossy(
        &run(
            &home,
            &["audit", "export", "--format", "json", "--as", "Nora Nurse"],
            &as_nora,
        )
        .stdout,
    )
    .into_owned();
    assert!(all.contains("person.sign_in_failed") && all.contains("person.signed_in"));
    assert!(
        all.contains(r#""name": "Ana Admin""#),
        "the agent was added by Ana, by name"
    );
    assert!(!all.contains(password) && !all.contains(&nora));
}
