//! The credentials, secrets and settings the corpus is explained against.

use std::path::PathBuf;

use countersign_core::credential::{CredentialMeta, Registry};
use countersign_core::descriptor::Descriptors;
use countersign_core::money::Decimal;
use countersign_core::{Context, Explained, Proposal, Refusal, SecretProbe, Settings, Threshold};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    credentials: Vec<CredentialMeta>,
    plain_loopback_origins: Vec<String>,
    secrets: std::collections::BTreeMap<String, String>,
    threshold: ThresholdFile,
    known_recipients: Vec<String>,
}

#[derive(Deserialize)]
struct ThresholdFile {
    amount: String,
    currency: String,
}

pub struct Fixture {
    registry: Registry,
    secrets: Vec<(String, String)>,
    descriptors: Descriptors,
    settings: Settings,
}

pub fn corpus_dir() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/corpus")
}

impl Fixture {
    /// The corpus's registry, secrets, descriptors and settings, read once for all tests.
    pub fn load() -> &'static Fixture {
        static FIXTURE: std::sync::LazyLock<Fixture> = std::sync::LazyLock::new(Fixture::read);
        &FIXTURE
    }

    fn read() -> Fixture {
        let text = std::fs::read_to_string(corpus_dir().join("registry.json")).unwrap();
        let file: File = serde_json::from_str(&text).unwrap();
        Fixture {
            registry: Registry {
                credentials: file.credentials,
                plain_loopback_origins: file.plain_loopback_origins,
            },
            secrets: file.secrets.into_iter().collect(),
            descriptors: Descriptors::shipped().unwrap(),
            settings: Settings {
                threshold: Some(Threshold {
                    amount: Decimal::parse(&file.threshold.amount).unwrap(),
                    currency: file.threshold.currency,
                }),
                known_recipients: file.known_recipients,
            },
        }
    }

    pub fn explain(&self, text: &str) -> Result<Explained, Refusal> {
        let probes: Vec<SecretProbe<'_>> = self
            .secrets
            .iter()
            .map(|(credential, value)| SecretProbe { credential, value })
            .collect();
        let context = Context {
            registry: &self.registry,
            secrets: &probes,
            descriptors: &self.descriptors,
            settings: &self.settings,
        };
        Proposal::parse(text).and_then(|proposal| countersign_core::explain(&proposal, &context))
    }

    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(|(_, v)| v.as_str())
    }
}
