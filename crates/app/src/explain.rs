//! Explaining a proposal with everything the data home knows: the person's descriptors, the
//! credentials' metadata, and their secrets (read for this one check, then dropped).

use countersign_core::descriptor::Descriptors;
use countersign_core::{Context, Explained, Proposal, Refusal, SecretProbe, Settings};

use crate::credentials::Credentials;
use crate::error::AppError;
use crate::home::DataHome;

/// Reads and explains `text` as a proposal. The outer error is the app failing; the inner one is
/// the proposal being refused.
///
/// # Errors
/// When the descriptors, credentials or keychain cannot be read.
pub async fn explain(home: &DataHome, text: &str) -> Result<Result<Explained, Refusal>, AppError> {
    let descriptors = Descriptors::with_user_files(&home.descriptor_files()?)?;
    let (registry, secrets) = if home.root().join("vault.db").exists() {
        let credentials = Credentials::open(home).await?;
        (
            credentials.store().registry().await?,
            credentials.secrets().await?,
        )
    } else {
        (Default::default(), Vec::new())
    };
    let probes: Vec<SecretProbe<'_>> = secrets
        .iter()
        .map(|(name, secret)| SecretProbe {
            credential: name,
            value: secret.expose(),
        })
        .collect();
    let settings = Settings::default();
    let context = Context {
        registry: &registry,
        secrets: &probes,
        descriptors: &descriptors,
        settings: &settings,
    };
    Ok(Proposal::parse(text).and_then(|proposal| countersign_core::explain(&proposal, &context)))
}
