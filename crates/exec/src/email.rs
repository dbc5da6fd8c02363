//! The email executor (lettre over SMTP): From is the account's, the envelope is exactly the
//! shown To, Cc and Bcc, the body and attachments are encoded by the builder (never a raw send),
//! and the connection is STARTTLS or TLS, plain only to a server on this computer.

use std::time::Duration;

use base64::Engine as _;
use countersign_core::Artifact;
use countersign_core::credential::{CredentialKind, CredentialMeta, SmtpTls};
use countersign_vault::Secret;
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::ExecError;
use crate::grant::Authorized;
use crate::redact::Redactor;

/// What the server said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailOutcome {
    /// The envelope recipients, in order To, Cc, Bcc.
    pub recipients: Vec<String>,
    /// The server's final reply (redacted).
    pub reply: String,
}

/// Sends authorized email artifacts.
#[derive(Clone, Debug, Default)]
pub struct EmailExecutor {
    roots: Vec<Vec<u8>>,
    timeout: Option<Duration>,
}

impl EmailExecutor {
    /// The executor with the system's trusted roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trusts this PEM root certificate.
    pub fn with_root_pem(mut self, pem: &[u8]) -> Self {
        self.roots.push(pem.to_vec());
        self
    }

    /// Sets the connection timeout (default: lettre's 60 seconds).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the authorized email once through the account `credential`, logging in with
    /// `secret`.
    ///
    /// # Errors
    /// When it is refused on re-checking, or the server refuses or fails.
    pub async fn execute(
        &self,
        authorized: Authorized,
        credential: &CredentialMeta,
        secret: &Secret,
    ) -> Result<EmailOutcome, ExecError> {
        let Artifact::Email(email) = authorized.artifact() else {
            return Err(ExecError::WrongKind {
                expected: "email",
                actual: authorized.artifact().kind(),
            });
        };
        if email.account != credential.name {
            return Err(ExecError::WrongCredential);
        }
        let CredentialKind::Smtp {
            host,
            port,
            tls,
            username,
            from,
            ..
        } = &credential.kind
        else {
            return Err(ExecError::WrongCredential);
        };
        crate::recheck(&authorized, Some((credential, secret)), &[])?;
        let redactor = Redactor::new(secret.expose(), &[]);
        let fail = |e: &dyn std::fmt::Display| ExecError::Transport(redactor.text(&e.to_string()));

        let parse = |raw: &str, field: &str| -> Result<Mailbox, ExecError> {
            let address =
                countersign_core::address::parse(raw, field).map_err(ExecError::Refused)?;
            address.ascii().parse::<Mailbox>().map_err(|e| fail(&e))
        };
        let from_box = parse(from, "from")?;
        let mut builder = Message::builder()
            .from(from_box.clone())
            .subject(email.subject.clone());
        let mut recipients = Vec::new();
        for (list, raw) in email.recipients() {
            let mailbox = parse(raw, list)?;
            recipients.push(mailbox.email.clone());
            builder = match list {
                "to" => builder.to(mailbox),
                "cc" => builder.cc(mailbox),
                _ => builder.bcc(mailbox),
            };
        }
        // The envelope is set explicitly: exactly the shown recipients, from the account.
        let envelope = Envelope::new(Some(from_box.email.clone()), recipients.clone())
            .map_err(|e| fail(&e))?;
        builder = builder.envelope(envelope);
        let text = SinglePart::plain(email.text.clone());
        let message = if email.attachments.is_empty() {
            builder.singlepart(text)
        } else {
            let mut parts = MultiPart::mixed().singlepart(text);
            for attachment in &email.attachments {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(attachment.content_base64.as_bytes())
                    .map_err(|e| fail(&e))?;
                let content_type =
                    ContentType::parse(&attachment.content_type).map_err(|e| fail(&e))?;
                parts = parts.singlepart(
                    Attachment::new(attachment.filename.clone()).body(bytes, content_type),
                );
            }
            builder.multipart(parts)
        }
        .map_err(|e| fail(&e))?;

        let transport = self.transport(host, *port, *tls, username, secret, &fail)?;
        let response = transport.send(message).await.map_err(|e| fail(&e))?;
        Ok(EmailOutcome {
            recipients: recipients.iter().map(ToString::to_string).collect(),
            reply: redactor.text(&response.message().collect::<Vec<_>>().join(" ")),
        })
    }

    fn transport(
        &self,
        host: &str,
        port: u16,
        tls: SmtpTls,
        username: &str,
        secret: &Secret,
        fail: &dyn Fn(&dyn std::fmt::Display) -> ExecError,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, ExecError> {
        let tls = match tls {
            SmtpTls::PlainLoopback => {
                let loopback = host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if !loopback {
                    return Err(ExecError::Transport(format!(
                        "plain SMTP is allowed only to this computer, not {host}"
                    )));
                }
                Tls::None
            }
            SmtpTls::Starttls | SmtpTls::Tls => {
                let mut parameters = TlsParameters::builder(host.to_owned());
                for pem in &self.roots {
                    parameters = parameters
                        .add_root_certificate(Certificate::from_pem(pem).map_err(|e| fail(&e))?);
                }
                let parameters = parameters.build_rustls().map_err(|e| fail(&e))?;
                if tls == SmtpTls::Tls {
                    Tls::Wrapper(parameters)
                } else {
                    Tls::Required(parameters)
                }
            }
        };
        Ok(
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .port(port)
                .tls(tls)
                .credentials(Credentials::new(
                    username.to_owned(),
                    secret.expose().to_owned(),
                ))
                .timeout(self.timeout.or(Some(Duration::from_secs(60))))
                .build(),
        )
    }

    /// Connects and logs in with the account's secret, sending nothing: the credentials
    /// screen's "Test the connection".
    ///
    /// # Errors
    /// When the server cannot be reached or refuses the login; the message never holds the
    /// secret.
    pub async fn test_connection(
        &self,
        credential: &CredentialMeta,
        secret: &Secret,
    ) -> Result<String, ExecError> {
        let CredentialKind::Smtp {
            host,
            port,
            tls,
            username,
            ..
        } = &credential.kind
        else {
            return Err(ExecError::WrongCredential);
        };
        let redactor = Redactor::new(secret.expose(), &[]);
        let fail = |e: &dyn std::fmt::Display| ExecError::Transport(redactor.text(&e.to_string()));
        let transport = self.transport(host, *port, *tls, username, secret, &fail)?;
        match transport.test_connection().await {
            Ok(true) => Ok(format!(
                "Connected to {host}:{port} and logged in as {username}."
            )),
            Ok(false) => Err(ExecError::Transport(format!(
                "{host}:{port} did not answer like a mail server"
            ))),
            Err(error) => Err(fail(&error)),
        }
    }
}
