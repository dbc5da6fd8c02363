//! The HTTP executor (reqwest with rustls): the secret in its slot only, the scope re-checked,
//! DNS resolved once and pinned, no redirects, bounded time and size, the secret redacted.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use countersign_core::Artifact;
use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth};
use countersign_vault::Secret;
use sha2::{Digest as _, Sha256};

use crate::ExecError;
use crate::grant::Authorized;
use crate::redact::Redactor;

/// Finds the addresses of a host name. The system resolver is the default; tests of DNS
/// rebinding hand in their own.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host`.
    ///
    /// # Errors
    /// When the name does not resolve.
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// What came back. Everything in it has had the secret redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOutcome {
    /// The status code (a 3xx is a result: redirects are never followed).
    pub status: u16,
    /// The status's reason phrase.
    pub reason: String,
    /// Response headers in order.
    pub headers: Vec<(String, String)>,
    /// The body, up to the size cap.
    pub body: Vec<u8>,
    /// Whether the body was cut at the size cap.
    pub truncated: bool,
}

/// Runs authorized HTTP artifacts.
pub struct HttpExecutor {
    resolver: Arc<dyn Resolve>,
    roots: Vec<Vec<u8>>,
    /// Built once: loading the system's roots costs milliseconds, a client per request does not.
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    plain_loopback_origins: Vec<String>,
    connect_timeout: Duration,
    total_timeout: Duration,
    max_body: usize,
}

impl std::fmt::Debug for HttpExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpExecutor")
            .field("extra_roots", &self.roots.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Default for HttpExecutor {
    fn default() -> Self {
        HttpExecutor {
            resolver: Arc::new(SystemResolver),
            roots: Vec::new(),
            tls: OnceLock::new(),
            plain_loopback_origins: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body: 10 * 1024 * 1024,
        }
    }
}

/// The class of an address or a name: what a name promises and its address must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Loopback,
    Private,
    Public,
}

impl Class {
    fn of_ip(ip: IpAddr) -> Class {
        match countersign_core::target::private_reason(ip) {
            Some("this computer") => Class::Loopback,
            Some(_) => Class::Private,
            None => Class::Public,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Class::Loopback => "an address on this computer",
            Class::Private => "an address in a private network",
            Class::Public => "a public internet address",
        }
    }
}

/// `Idempotency-Key` for a proposal: stable across retries by the server's clients, derived so
/// it reveals nothing about the proposal id.
pub fn idempotency_key(proposal_id: &str) -> String {
    let digest = Sha256::digest(format!("countersign-idempotency-v1:{proposal_id}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("cs-{hex}")
}

impl HttpExecutor {
    /// The executor with the system's trusted roots and resolver, and default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trusts this PEM root certificate (a clinic's or company's own CA; a test CA).
    ///
    /// # Errors
    /// When the PEM is not a certificate.
    pub fn with_root_pem(mut self, pem: &[u8]) -> Result<Self, ExecError> {
        use rustls_pki_types::pem::PemObject as _;
        let mut found = false;
        for der in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
            let der =
                der.map_err(|e| ExecError::Transport(format!("not a PEM certificate: {e}")))?;
            self.roots.push(der.to_vec());
            found = true;
        }
        if !found {
            return Err(ExecError::Transport("the PEM holds no certificate".into()));
        }
        self.tls = OnceLock::new();
        Ok(self)
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ExecError> {
        let built = self.tls.get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            // Unreadable system certificates are skipped; the person's own roots are added below.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            for der in &self.roots {
                roots
                    .add(rustls_pki_types::CertificateDer::from(der.clone()))
                    .map_err(|e| e.to_string())?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        });
        built.clone().map_err(ExecError::Transport)
    }

    /// Uses another resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolve>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Loopback origins the person allowed over plain `http://` without a credential.
    pub fn with_plain_loopback_origins(mut self, origins: Vec<String>) -> Self {
        self.plain_loopback_origins = origins;
        self
    }

    /// Sets the connect and total timeouts and the response size cap.
    pub fn with_limits(mut self, connect: Duration, total: Duration, max_body: usize) -> Self {
        self.connect_timeout = connect;
        self.total_timeout = total;
        self.max_body = max_body;
        self
    }

    /// Checks that each origin of an HTTP credential answers, without sending its secret: the
    /// credentials screen's "Test the connection". Any HTTP answer counts as reachable.
    ///
    /// # Errors
    /// When an origin cannot be reached or its TLS certificate is not trusted.
    pub async fn test_connection(&self, credential: &CredentialMeta) -> Result<String, ExecError> {
        let CredentialKind::Http { scope, .. } = &credential.kind else {
            return Err(ExecError::WrongCredential);
        };
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls_config()?).clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(Duration::from_secs(15))
            .no_proxy()
            .build()
            .map_err(|e| ExecError::Transport(e.to_string()))?;
        let mut answers = Vec::new();
        for origin in &scope.origins {
            let response =
                client.head(origin).send().await.map_err(|e| {
                    ExecError::Transport(format!("{origin} cannot be reached: {e}"))
                })?;
            answers.push(format!(
                "{origin} answered (HTTP {})",
                response.status().as_u16()
            ));
        }
        Ok(format!("{}. The secret was not sent.", answers.join("; ")))
    }

    /// Sends the authorized request once. `credential` is the artifact's credential and its
    /// secret (read from the keychain for this call), or `None` for an anonymous request.
    ///
    /// # Errors
    /// When anything about the request is refused before sending, or it fails in transit.
    pub async fn execute(
        &self,
        authorized: Authorized,
        credential: Option<(&CredentialMeta, &Secret)>,
    ) -> Result<HttpOutcome, ExecError> {
        let Artifact::Http(http) = authorized.artifact() else {
            return Err(ExecError::WrongKind {
                expected: "http",
                actual: authorized.artifact().kind(),
            });
        };
        if http.credential.as_deref() != credential.map(|(meta, _)| meta.name.as_str()) {
            return Err(ExecError::WrongCredential);
        }

        // Re-check everything against this credential's scope: the same rules as at proposal
        // time, on the artifact as it will be sent.
        crate::recheck(&authorized, credential, &self.plain_loopback_origins)?;
        let target = countersign_core::target::check(&http.url).map_err(ExecError::Refused)?;

        let redactor = match credential {
            Some((meta, secret)) => match &meta.kind {
                CredentialKind::Http {
                    auth: HttpAuth::Basic,
                    ..
                } => {
                    let password = secret.expose().split_once(':').map_or("", |(_, p)| p);
                    Redactor::new(secret.expose(), &[password])
                }
                _ => Redactor::new(secret.expose(), &[]),
            },
            None => Redactor::default(),
        };

        // Resolve once; the address must be of the class the name promises; then pin it.
        let host = target
            .url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let port = target.url.port_or_known_default().unwrap_or(443);
        let named = match target.ip {
            Some(ip) => Class::of_ip(ip),
            None if target.loopback => Class::Loopback,
            None if target.private.is_some() => Class::Private,
            None => Class::Public,
        };
        let pinned = match target.ip {
            Some(ip) => ip,
            None => {
                let resolver = Arc::clone(&self.resolver);
                let lookup = host.clone();
                let addresses =
                    tokio::task::spawn_blocking(move || resolver.resolve(&lookup, port))
                        .await
                        .map_err(|e| ExecError::Transport(e.to_string()))?
                        .map_err(|e| ExecError::Resolve {
                            host: host.clone(),
                            reason: e.to_string(),
                        })?;
                let first = *addresses.first().ok_or_else(|| ExecError::Resolve {
                    host: host.clone(),
                    reason: "no addresses".into(),
                })?;
                match addresses.iter().find(|ip| Class::of_ip(**ip) != named) {
                    Some(odd) => {
                        return Err(ExecError::AddressClass(format!(
                            "{host} resolves to {odd}, {}, but its name promises {}",
                            Class::of_ip(*odd).words(),
                            named.words()
                        )));
                    }
                    None => first,
                }
            }
        };

        let mut url = target.url.clone();
        let builder = reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls_config()?).clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.total_timeout)
            .no_proxy()
            .resolve(&host, SocketAddr::new(pinned, port));
        let client = builder
            .build()
            .map_err(|e| ExecError::Transport(redactor.text(&e.to_string())))?;

        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &http.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| ExecError::Transport(e.to_string()))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| ExecError::Transport(e.to_string()))?;
            headers.append(name, value);
        }
        if let Some((meta, secret)) = credential
            && let CredentialKind::Http { auth, .. } = &meta.kind
        {
            let slot = |name: &str,
                        value: String|
             -> Result<
                (reqwest::header::HeaderName, reqwest::header::HeaderValue),
                ExecError,
            > {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ExecError::WrongCredential)?;
                let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                    ExecError::Transport("the stored secret cannot be sent in a header".into())
                })?;
                value.set_sensitive(true);
                Ok((name, value))
            };
            match auth {
                HttpAuth::Bearer => {
                    let (name, value) =
                        slot("authorization", format!("Bearer {}", secret.expose()))?;
                    headers.insert(name, value);
                }
                HttpAuth::Basic => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(secret.expose());
                    let (name, value) = slot("authorization", format!("Basic {encoded}"))?;
                    headers.insert(name, value);
                }
                HttpAuth::Header(header) => {
                    let (name, value) = slot(header, secret.expose().to_owned())?;
                    headers.insert(name, value);
                }
                HttpAuth::Query(parameter) => {
                    url.query_pairs_mut()
                        .append_pair(parameter, secret.expose());
                }
            }
        }
        if !matches!(http.method.as_str(), "GET" | "HEAD" | "OPTIONS") {
            let key =
                reqwest::header::HeaderValue::from_str(&idempotency_key(authorized.proposal_id()))
                    .map_err(|e| ExecError::Transport(e.to_string()))?;
            headers.insert("idempotency-key", key);
        }
        let method = reqwest::Method::from_bytes(http.method.as_bytes())
            .map_err(|e| ExecError::Transport(e.to_string()))?;
        let mut request = client.request(method, url).headers(headers);
        if let Some(body) = http.body_text() {
            request = request.body(body);
        }

        let transport =
            |e: reqwest::Error| ExecError::Transport(redactor.text(&e.without_url().to_string()));
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let response_headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    redactor.text(&String::from_utf8_lossy(value.as_bytes())),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            let room = self.max_body.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpOutcome {
            status: status.as_u16(),
            reason: redactor.text(status.canonical_reason().unwrap_or("")),
            headers: response_headers,
            body: redactor.bytes(&body),
            truncated,
        })
    }
}
