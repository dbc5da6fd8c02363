//! The HTTP executor against real servers over TCP.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth, HttpScope};
use countersign_core::{Artifact, Proposal};
use countersign_exec::{Authorized, ExecError, GrantStore, HttpExecutor, Resolve};
use countersign_vault::Secret;

use crate::servers::{Behaviour, Server, TestCa, start};

const SECRET: &str = "tok_live_9f8e7d6c5b4a_NEVER_LEAK";

fn credential(
    name: &str,
    auth: HttpAuth,
    origins: &[String],
    methods: &[&str],
    prefixes: &[&str],
) -> CredentialMeta {
    CredentialMeta {
        name: name.into(),
        description: String::new(),
        kind: CredentialKind::Http {
            auth,
            scope: HttpScope {
                origins: origins.to_vec(),
                methods: methods.iter().map(|m| (*m).to_owned()).collect(),
                path_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            },
        },
        requires_second_factor: false,
        prescriber: None,
    }
}

fn http_artifact(credential: Option<&str>, method: &str, url: &str, body: &str) -> Artifact {
    let credential = credential.map_or("null".to_owned(), |c| format!("\"{c}\""));
    Proposal::parse(&format!(
        r#"{{"summary":"","purpose":"","artifact":{{"kind":"http","credential":{credential},"method":"{method}","url":"{url}","headers":{{"Content-Type":"application/json"}},"body":{body}}}}}"#
    ))
    .unwrap()
    .artifact
}

async fn authorize(artifact: Artifact) -> (tempfile::TempDir, Authorized) {
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let grant = grants
        .issue("prop-1", artifact.sha256(), Duration::from_secs(600))
        .await
        .unwrap();
    let authorized = grants.consume(&grant.id, "prop-1", artifact).await.unwrap();
    (dir, authorized)
}

fn origin(server: &Server) -> String {
    format!("http://127.0.0.1:{}", server.port())
}

fn assert_clean(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let forms = [
        SECRET.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(SECRET),
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{SECRET}")),
    ];
    for form in forms {
        assert!(!text.contains(&form), "a form of the secret leaked: {text}");
    }
}

#[tokio::test]
async fn the_secret_goes_into_its_slot_only() {
    let server = start(Behaviour::Echo, None).await;
    let secret = Secret::new(SECRET.into());
    let cases = [
        (
            HttpAuth::Bearer,
            "authorization",
            format!("Bearer {SECRET}"),
        ),
        (
            HttpAuth::Header("X-Api-Key".into()),
            "x-api-key",
            SECRET.to_owned(),
        ),
        (HttpAuth::Query("api_key".into()), "", String::new()),
    ];
    for (auth, header, expected) in cases {
        let meta = credential(
            "bank",
            auth.clone(),
            &[origin(&server)],
            &["POST"],
            &["/v1"],
        );
        let artifact = http_artifact(
            Some("bank"),
            "POST",
            &format!("{}/v1/payments?x=1", origin(&server)),
            r#"{"amount":9999,"currency":"USD"}"#,
        );
        let (_dir, authorized) = authorize(artifact).await;
        let outcome = HttpExecutor::new()
            .execute(authorized, Some((&meta, &secret)))
            .await
            .unwrap();
        assert_eq!(outcome.status, 200);
        let seen = server.last();
        assert_eq!(
            seen.body, br#"{"amount":9999,"currency":"USD"}"#,
            "the body is the canonical body, byte for byte"
        );
        assert!(
            seen.header("idempotency-key")
                .is_some_and(|k| k.starts_with("cs-"))
        );
        match auth {
            HttpAuth::Query(_) => {
                assert_eq!(seen.target, format!("/v1/payments?x=1&api_key={SECRET}"));
                assert!(seen.header("authorization").is_none());
            }
            _ => {
                assert_eq!(seen.header(header), Some(expected.as_str()));
                assert!(!seen.target.contains(SECRET));
            }
        }
        // Nothing returned carries the secret, even the echo of the request target.
        assert_clean(&outcome.body);
    }
}

#[tokio::test]
async fn basic_auth_is_placed_and_redacted() {
    let server = start(Behaviour::EchoSecret, None).await;
    let secret = Secret::new(format!("alice:{SECRET}"));
    let meta = credential("shop", HttpAuth::Basic, &[origin(&server)], &[], &[]);
    let (_dir, authorized) = authorize(http_artifact(
        Some("shop"),
        "GET",
        &format!("{}/orders", origin(&server)),
        "null",
    ))
    .await;
    let outcome = HttpExecutor::new()
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{SECRET}"))
    );
    assert_eq!(
        server.last().header("authorization"),
        Some(expected.as_str())
    );
    assert!(
        server.last().header("idempotency-key").is_none(),
        "GET carries no Idempotency-Key"
    );
    assert_clean(&outcome.body);
    for (_, value) in &outcome.headers {
        assert_clean(value.as_bytes());
    }
    assert!(String::from_utf8_lossy(&outcome.body).contains("[REDACTED]"));
}

/// A GET with a bearer `secret` to a server that behaves as `behaviour`.
async fn bearer_get(behaviour: Behaviour, secret: &str) -> countersign_exec::HttpOutcome {
    let server = start(behaviour, None).await;
    let secret = Secret::new(secret.into());
    let meta = credential("bank", HttpAuth::Bearer, &[origin(&server)], &[], &[]);
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{}/v1/me", origin(&server)),
        "null",
    ))
    .await;
    HttpExecutor::new()
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_echoed_secret_is_redacted_from_status_headers_and_body() {
    let outcome = bearer_get(Behaviour::EchoSecret, SECRET).await;
    assert_clean(&outcome.body);
    assert_clean(outcome.reason.as_bytes());
    for (name, value) in &outcome.headers {
        assert_clean(name.as_bytes());
        assert_clean(value.as_bytes());
    }
    assert!(
        outcome
            .headers
            .iter()
            .any(|(n, v)| n == "x-echo" && v.contains("[REDACTED]"))
    );
}

/// A secret with the characters servers escape (`/`, `&`, `+`, `=`).
const ESCAPED_SECRET: &str = "tok/live+9f8e&7d6c=NEVER_LEAK";

#[tokio::test]
async fn a_secret_echoed_in_any_encoding_is_redacted() {
    let outcome = bearer_get(Behaviour::EchoEncoded, ESCAPED_SECRET).await;
    let finder = countersign_core::secret::SecretFinder::new([ESCAPED_SECRET]);
    let body = String::from_utf8_lossy(&outcome.body).into_owned();
    assert!(!finder.found_in(body.as_bytes()), "{body}");
    assert_eq!(body.matches("[REDACTED]").count(), 6, "{body}");
    // The rest of the body is kept as the server wrote it, numbers included.
    assert!(
        body.contains("\"id\":123456789012345678901234567890"),
        "{body}"
    );
    for (name, value) in &outcome.headers {
        assert!(!finder.found_in(value.as_bytes()), "{name}: {value}");
    }
}

#[tokio::test]
async fn redirects_are_results_not_followed() {
    let elsewhere = start(Behaviour::Echo, None).await;
    let server = start(
        Behaviour::Redirect(format!("http://127.0.0.1:{}/steal", elsewhere.port())),
        None,
    )
    .await;
    let secret = Secret::new(SECRET.into());
    let meta = credential("bank", HttpAuth::Bearer, &[origin(&server)], &[], &[]);
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{}/v1/x", origin(&server)),
        "null",
    ))
    .await;
    let outcome = HttpExecutor::new()
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap();
    assert_eq!(outcome.status, 302);
    assert_eq!(elsewhere.count(), 0, "the redirect target received nothing");
}

#[tokio::test]
async fn a_stalling_server_times_out() {
    let server = start(Behaviour::Stall(Duration::from_secs(30)), None).await;
    let executor = HttpExecutor::new().with_limits(
        Duration::from_secs(2),
        Duration::from_millis(700),
        1 << 20,
    );
    let (_dir, authorized) = authorize(http_artifact(
        None,
        "GET",
        &format!("https://localhost:{}/", server.port()),
        "null",
    ))
    .await;
    // Plain http to a loopback origin without a credential needs the person's allow-list.
    let executor = executor.with_plain_loopback_origins(vec![origin(&server)]);
    let (_dir2, plain) = authorize(http_artifact(
        None,
        "GET",
        &format!("{}/slow", origin(&server)),
        "null",
    ))
    .await;
    let error = executor.execute(plain, None).await.unwrap_err();
    assert!(matches!(error, ExecError::Transport(_)), "{error}");
    drop(authorized);
}

#[tokio::test]
async fn a_huge_body_is_truncated_and_marked() {
    let server = start(Behaviour::Huge(3 * 1024 * 1024), None).await;
    let executor = HttpExecutor::new()
        .with_limits(Duration::from_secs(5), Duration::from_secs(20), 1024 * 1024)
        .with_plain_loopback_origins(vec![origin(&server)]);
    let (_dir, authorized) = authorize(http_artifact(
        None,
        "GET",
        &format!("{}/big", origin(&server)),
        "null",
    ))
    .await;
    let outcome = executor.execute(authorized, None).await.unwrap();
    assert!(outcome.truncated);
    assert_eq!(outcome.body.len(), 1024 * 1024);
}

#[tokio::test]
async fn tls_with_a_test_ca() {
    let ca = TestCa::new();
    let server = start(Behaviour::Echo, Some(&ca)).await;
    let secret = Secret::new(SECRET.into());
    let tls_origin = format!("https://localhost:{}", server.port());
    let meta = credential(
        "bank",
        HttpAuth::Bearer,
        std::slice::from_ref(&tls_origin),
        &[],
        &[],
    );
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "POST",
        &format!("{tls_origin}/v1/payments"),
        r#"{"a":1}"#,
    ))
    .await;
    // Without the CA the certificate is not trusted, and nothing is accepted.
    let untrusted = HttpExecutor::new()
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap_err();
    assert!(matches!(untrusted, ExecError::Transport(_)), "{untrusted}");
    assert_eq!(server.count(), 0);
    // A failed execution used its authorization up; approve again.
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "POST",
        &format!("{tls_origin}/v1/payments"),
        r#"{"a":1}"#,
    ))
    .await;
    let outcome = HttpExecutor::new()
        .with_root_pem(ca.ca_pem.as_bytes())
        .unwrap()
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap();
    assert_eq!(outcome.status, 200);
    assert_eq!(
        server.last().header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

/// Maps every name to one address, to test what the executor does with what DNS says.
struct FixedResolver(IpAddr);

impl Resolve for FixedResolver {
    fn resolve(&self, _host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok(vec![self.0])
    }
}

#[tokio::test]
async fn every_scope_escape_is_refused_before_a_packet_leaves() {
    let server = start(Behaviour::Echo, None).await;
    let secret = Secret::new(SECRET.into());
    let port = server.port();
    let meta = credential(
        "bank",
        HttpAuth::Bearer,
        &[origin(&server)],
        &["GET", "POST"],
        &["/v1"],
    );
    let escapes = [
        ("GET", format!("http://127.0.0.2:{port}/v1/x")), // other host
        ("GET", format!("http://127.0.0.1:{}/v1/x", port + 1)), // other port
        ("GET", format!("https://127.0.0.1:{port}/v1/x")), // other scheme
        ("DELETE", format!("http://127.0.0.1:{port}/v1/x")), // other method
        ("GET", format!("http://127.0.0.1:{port}/admin")), // other path
        ("GET", format!("http://127.0.0.1:{port}/v1/..%2fadmin")), // encoded traversal
        ("GET", format!("http://127.0.0.1:{port}/v1/../admin")), // dot segments
        ("GET", format!("http://bank@127.0.0.1:{port}/v1/x")), // userinfo
        ("GET", format!("http://2130706433:{port}/v1/x")), // decimal IP spelling
        ("GET", format!("http://0x7f.0.0.1:{port}/v1/x")), // hex IP spelling
        ("GET", format!("http://[::ffff:127.0.0.1]:{port}/v1/x")), // IPv4-mapped IPv6
        ("GET", format!("http://localhost:{port}/v1/x")), // same machine, other name
    ];
    for (method, url) in escapes {
        let artifact = Proposal::parse(&format!(
            r#"{{"summary":"","purpose":"","artifact":{{"kind":"http","credential":"bank","method":"{method}","url":"{url}"}}}}"#
        ))
        .map(|p| p.artifact);
        let Ok(artifact) = artifact else { continue }; // refused even earlier, at reading
        let (_dir, authorized) = authorize(artifact).await;
        let error = HttpExecutor::new()
            .execute(authorized, Some((&meta, &secret)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ExecError::Refused(_)),
            "{method} {url}: {error}"
        );
    }
    assert_eq!(server.count(), 0, "no escape reached the server");

    // A public name that resolves to this computer is refused, though the scope names it.
    let public = "https://api.bank.example".to_owned();
    let meta = credential(
        "bank",
        HttpAuth::Bearer,
        std::slice::from_ref(&public),
        &[],
        &[],
    );
    let executor =
        HttpExecutor::new().with_resolver(Arc::new(FixedResolver("127.0.0.1".parse().unwrap())));
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{public}/v1/x"),
        "null",
    ))
    .await;
    let error = executor
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap_err();
    assert!(matches!(error, ExecError::AddressClass(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains("api.bank.example resolves to 127.0.0.1"),
        "{error}"
    );
    let executor =
        HttpExecutor::new().with_resolver(Arc::new(FixedResolver("10.1.2.3".parse().unwrap())));
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{public}/v1/x"),
        "null",
    ))
    .await;
    assert!(matches!(
        executor
            .execute(authorized, Some((&meta, &secret)))
            .await
            .unwrap_err(),
        ExecError::AddressClass(_)
    ));
}

#[tokio::test]
async fn the_wrong_credential_or_kind_is_refused() {
    let server = start(Behaviour::Echo, None).await;
    let secret = Secret::new(SECRET.into());
    let meta = credential("bank", HttpAuth::Bearer, &[origin(&server)], &[], &[]);
    let other = credential("other", HttpAuth::Bearer, &[origin(&server)], &[], &[]);
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{}/v1/x", origin(&server)),
        "null",
    ))
    .await;
    assert!(matches!(
        HttpExecutor::new()
            .execute(authorized, Some((&other, &secret)))
            .await,
        Err(ExecError::WrongCredential)
    ));
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{}/v1/x", origin(&server)),
        "null",
    ))
    .await;
    assert!(matches!(
        HttpExecutor::new().execute(authorized, None).await,
        Err(ExecError::WrongCredential)
    ));
    let sql = Proposal::parse(r#"{"summary":"","purpose":"","artifact":{"kind":"sql","database":"d","statement":"SELECT 1"}}"#).unwrap().artifact;
    let (_dir2, authorized) = authorize(sql).await;
    assert!(matches!(
        HttpExecutor::new()
            .execute(authorized, Some((&meta, &secret)))
            .await,
        Err(ExecError::WrongKind { .. })
    ));
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn the_secret_never_reaches_the_logs() {
    let server = start(Behaviour::EchoSecret, None).await;
    let buffer = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buffer = Arc::clone(&buffer);
        move || Capture(Arc::clone(&buffer))
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(writer)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let secret = Secret::new(SECRET.into());
    let meta = credential(
        "bank",
        HttpAuth::Query("key".into()),
        &[origin(&server)],
        &[],
        &[],
    );
    let (_dir, authorized) = authorize(http_artifact(
        Some("bank"),
        "GET",
        &format!("{}/v1/x", origin(&server)),
        "null",
    ))
    .await;
    let outcome = HttpExecutor::new()
        .execute(authorized, Some((&meta, &secret)))
        .await
        .unwrap();
    tracing::info!(?outcome, ?secret, "executed");
    let captured = buffer.lock().unwrap().clone();
    assert!(!captured.is_empty(), "the subscriber captured nothing");
    assert_clean(&captured);
}

struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
