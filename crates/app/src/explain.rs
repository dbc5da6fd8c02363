//! Explaining a proposal with everything the data home knows: the person's descriptors, the
//! credentials' metadata, and their secrets (read for this one check, then dropped).

use countersign_core::descriptor::Descriptors;
use countersign_core::{Context, Explained, Proposal, Refusal, SecretProbe};

use crate::credentials::Credentials;
use crate::error::AppError;
use crate::home::DataHome;

/// Reads and explains `text` as a proposal. The outer error is the app failing; the inner one is
/// the proposal being refused.
///
/// # Errors
/// When the descriptors, credentials or keychain cannot be read.
pub async fn explain(home: &DataHome, text: &str) -> Result<Result<Explained, Refusal>, AppError> {
    let descriptors = load_descriptors(home)?;
    explain_with(home, &descriptors, text).await
}

/// The data home's descriptors: the person's own files, then the shipped packs.
///
/// # Errors
/// When a file cannot be read or is not a valid descriptor pack.
pub fn load_descriptors(home: &DataHome) -> Result<Descriptors, AppError> {
    Ok(Descriptors::with_user_files(&home.descriptor_files()?)?)
}

/// Like [`explain`], with descriptors already loaded (a long-running app loads them once).
///
/// # Errors
/// When the credentials or keychain cannot be read.
pub async fn explain_with(
    home: &DataHome,
    descriptors: &Descriptors,
    text: &str,
) -> Result<Result<Explained, Refusal>, AppError> {
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
    let settings = crate::settings::Settings::load(home)?.for_explanations();
    let context = Context {
        registry: &registry,
        secrets: &probes,
        descriptors,
        settings: &settings,
    };
    Ok(Proposal::parse(text).and_then(|proposal| countersign_core::explain(&proposal, &context)))
}
