//! Real HTTP servers on 127.0.0.1 that record what they receive.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with a JSON echo of what was received.
    Echo,
    /// 302 to this location.
    Redirect(String),
    /// 200 whose body and headers repeat every credential the request carried.
    EchoSecret,
    /// 200 whose JSON body and headers repeat the `Authorization` value in the encodings real
    /// servers write: PHP's escaped slashes, Go's `\u0026`, base64 of the whole value in both
    /// alphabets, partial percent-encoding in mixed case, hex.
    EchoEncoded,
    /// Waits this long before answering.
    Stall(Duration),
    /// 200 with a body of this many bytes.
    Huge(usize),
}

pub struct Server {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> Recorded {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the server received nothing")
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// A test certificate authority and a certificate it issued for localhost and 127.0.0.1.
pub struct TestCa {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        TestCa {
            ca_pem: ca.pem(),
            server_config: Arc::new(config),
        }
    }
}

pub async fn start(behaviour: Behaviour, tls: Option<&TestCa>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let acceptor = tls.map(|ca| tokio_rustls::TlsAcceptor::from(Arc::clone(&ca.server_config)));
    let recorded = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let behaviour = behaviour.clone();
            let recorded = Arc::clone(&recorded);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    handle(request, behaviour.clone(), Arc::clone(&recorded))
                });
                let builder = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                        }
                    }
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
            });
        }
    });
    Server { addr, requests }
}

async fn handle(
    request: Request<Incoming>,
    behaviour: Behaviour,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().to_string();
    let target = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let entry = Recorded {
        method,
        target,
        headers,
        body,
    };
    recorded.lock().unwrap().push(entry.clone());
    let response = match behaviour {
        Behaviour::Echo => Response::new(Full::new(Bytes::from(
            serde_json::json!({
                "method": entry.method,
                "target": entry.target,
                "body": String::from_utf8_lossy(&entry.body),
            })
            .to_string(),
        ))),
        Behaviour::Redirect(location) => Response::builder()
            .status(302)
            .header("location", location)
            .body(Full::new(Bytes::from_static(b"moved")))
            .unwrap(),
        Behaviour::EchoSecret => {
            let carried = [entry.header("authorization"), entry.header("x-api-key")]
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .chain(std::iter::once(entry.target.clone()))
                .collect::<Vec<_>>()
                .join(" | ");
            Response::builder()
                .header("x-echo", carried.replace(['\r', '\n'], " "))
                .body(Full::new(Bytes::from(format!("you sent: {carried}"))))
                .unwrap()
        }
        Behaviour::EchoEncoded => {
            use base64::Engine as _;
            let slot = entry.header("authorization").unwrap_or_default().to_owned();
            let token = slot
                .split_once(' ')
                .map_or(slot.as_str(), |(_, t)| t)
                .to_owned();
            let php = token.replace('/', "\\/");
            let go = token.replace('&', "\\u0026").replace('+', "\\u002b");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&slot);
            let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&slot);
            let partial: String = token
                .chars()
                .enumerate()
                .map(|(i, c)| match i % 3 {
                    0 => format!("%{:02x}", u32::from(c)),
                    1 => format!("%{:02X}", u32::from(c)),
                    _ => c.to_string(),
                })
                .collect();
            let hex: String = token.bytes().map(|b| format!("{b:02X}")).collect();
            let body = format!(
                "{{\"php\":\"{php}\",\"go\":\"{go}\",\"debug\":\"{}\",\"url\":\"{b64url}\",\"q\":\"{partial}\",\"hex\":\"{hex}\",\"id\":123456789012345678901234567890}}",
                b64.replace('/', "\\/")
            );
            Response::builder()
                .header("x-debug-auth", b64)
                .header("x-echo", partial)
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        }
        Behaviour::Stall(delay) => {
            tokio::time::sleep(delay).await;
            Response::new(Full::new(Bytes::from_static(b"late")))
        }
        Behaviour::Huge(size) => Response::new(Full::new(Bytes::from(vec![b'x'; size]))),
    };
    Ok(response)
}
