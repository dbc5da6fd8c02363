//! The email executor against a real SMTP server process (Debian's python3-aiosmtpd, started by
//! the test command, requiring a login) whose received messages are read back from disk.

use std::path::PathBuf;
use std::time::Duration;

use countersign_core::Proposal;
use countersign_core::credential::{CredentialKind, CredentialMeta, SmtpTls};
use countersign_exec::{Authorized, EmailExecutor, ExecError, GrantStore};
use countersign_vault::Secret;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run through scripts/test.sh, which starts the SMTP server")
    })
}

fn account(allowed: &[&str]) -> CredentialMeta {
    let server = env("COUNTERSIGN_TEST_SMTP");
    let (host, port) = server.rsplit_once(':').unwrap();
    CredentialMeta {
        name: "front-desk".into(),
        description: String::new(),
        kind: CredentialKind::Smtp {
            host: host.into(),
            port: port.parse().unwrap(),
            tls: SmtpTls::PlainLoopback,
            username: env("COUNTERSIGN_TEST_SMTP_USER"),
            from: "frontdesk@clinic.example".into(),
            allowed_domains: allowed.iter().map(|d| (*d).to_owned()).collect(),
        },
        requires_second_factor: false,
        prescriber: None,
    }
}

async fn authorize(artifact: serde_json::Value) -> (tempfile::TempDir, Authorized) {
    let text = serde_json::json!({"summary": "", "purpose": "", "artifact": artifact}).to_string();
    let artifact = Proposal::parse(&text).unwrap().artifact;
    let dir = tempfile::tempdir().unwrap();
    let grants = GrantStore::open(dir.path()).await.unwrap();
    let grant = grants
        .issue("prop-mail", artifact.sha256(), Duration::from_secs(600))
        .await
        .unwrap();
    let authorized = grants
        .consume(&grant.id, "prop-mail", artifact)
        .await
        .unwrap();
    (dir, authorized)
}

/// The message whose subject contains `marker`, and its envelope.
fn received(marker: &str) -> (String, serde_json::Value) {
    let mailbox = PathBuf::from(env("COUNTERSIGN_TEST_MAILBOX"));
    for _ in 0..50 {
        for entry in std::fs::read_dir(&mailbox).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let message = std::fs::read_to_string(&path).unwrap();
                if message.contains(marker) {
                    let envelope = std::fs::read_to_string(path.with_extension("json")).unwrap();
                    return (message, serde_json::from_str(&envelope).unwrap());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the SMTP server never received the message marked {marker}");
}

#[tokio::test]
async fn the_envelope_is_exactly_the_shown_recipients_and_bcc_stays_hidden() {
    let marker = format!("visit-summary-{}", std::process::id());
    let pdf = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"%PDF-1.4\n%%EOF\n",
    );
    let (_g, authorized) = authorize(serde_json::json!({
        "kind": "email", "account": "front-desk",
        "to": ["jane.doe@mail.example"], "cc": ["dr.khan@clinic.example"], "bcc": ["records@clinic.example"],
        "subject": format!("Your {marker}"), "text": "Dear Jane,\nyour summary is attached.\n— Riverside Clinic",
        "attachments": [{"filename": "summary.pdf", "content_type": "application/pdf", "content_base64": pdf}]
    }))
    .await;
    let secret = Secret::new(env("COUNTERSIGN_TEST_SMTP_PASSWORD"));
    let outcome = EmailExecutor::new()
        .execute(authorized, &account(&[]), &secret)
        .await
        .unwrap();
    assert_eq!(
        outcome.recipients,
        [
            "jane.doe@mail.example",
            "dr.khan@clinic.example",
            "records@clinic.example"
        ]
    );
    let (message, envelope) = received(&marker);
    assert_eq!(envelope["mail_from"], "frontdesk@clinic.example");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!([
            "jane.doe@mail.example",
            "dr.khan@clinic.example",
            "records@clinic.example"
        ])
    );
    assert_eq!(envelope["login"], env("COUNTERSIGN_TEST_SMTP_USER"));
    assert!(
        message.contains("From: frontdesk@clinic.example"),
        "{message}"
    );
    assert!(message.contains("To: jane.doe@mail.example"), "{message}");
    assert!(message.contains("Cc: dr.khan@clinic.example"), "{message}");
    assert!(
        !message.to_ascii_lowercase().contains("bcc:")
            && !message.contains("records@clinic.example"),
        "Bcc leaked into the headers:\n{message}"
    );
    assert!(
        message.contains("filename=\"summary.pdf\"") || message.contains("filename=summary.pdf"),
        "{message}"
    );
    assert!(!message.contains(&secret.expose().to_owned()));
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_the_server_and_never_shown() {
    let (_g, authorized) = authorize(serde_json::json!({
        "kind": "email", "account": "front-desk", "to": ["maria@clinic.example"], "subject": "Hi", "text": "x"
    }))
    .await;
    let wrong = "wrong-smtp-pw-NEVER-SHOWN";
    let error = EmailExecutor::new()
        .execute(authorized, &account(&[]), &Secret::new(wrong.into()))
        .await
        .unwrap_err();
    assert!(matches!(error, ExecError::Transport(_)), "{error}");
    assert!(!error.to_string().contains(wrong));
}

#[tokio::test]
async fn allowed_domains_and_injection_are_rechecked_before_sending() {
    let (_g, outside) = authorize(serde_json::json!({
        "kind": "email", "account": "front-desk", "to": ["someone@outside.example"], "subject": "Results", "text": "x"
    }))
    .await;
    let secret = Secret::new(env("COUNTERSIGN_TEST_SMTP_PASSWORD"));
    let error = EmailExecutor::new()
        .execute(outside, &account(&["clinic.example"]), &secret)
        .await
        .unwrap_err();
    assert!(matches!(error, ExecError::Refused(_)), "{error}");
}
