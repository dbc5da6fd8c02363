//! Explaining a proposal with everything the data home knows: the person's descriptors, the
//! credentials' metadata, and their secrets (read for this one check, then dropped).

use countersign_core::credential::Registry;
use countersign_core::descriptor::Descriptors;
use countersign_core::{Context, Explained, Proposal, Refusal, SecretProbe};
use countersign_vault::Secret;

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
    let loaded = Session::default().current(home).await?;
    let settings = crate::settings::Settings::load(home)?.for_explanations();
    Ok(explain_loaded(&loaded, descriptors, &settings, text))
}

/// Explains with credentials already loaded.
pub(crate) fn explain_loaded(
    loaded: &Loaded,
    descriptors: &Descriptors,
    settings: &countersign_core::Settings,
    text: &str,
) -> Result<Explained, Refusal> {
    Proposal::parse(text)
        .and_then(|proposal| explain_proposal(loaded, descriptors, settings, &proposal))
}

/// Explains a proposal already read (submission reads the text once).
pub(crate) fn explain_proposal(
    loaded: &Loaded,
    descriptors: &Descriptors,
    settings: &countersign_core::Settings,
    proposal: &Proposal,
) -> Result<Explained, Refusal> {
    let probes: Vec<SecretProbe<'_>> = loaded
        .secrets
        .iter()
        .map(|(name, secret)| SecretProbe {
            credential: name,
            value: secret.expose(),
        })
        .collect();
    let context = Context {
        registry: &loaded.registry,
        secrets: &probes,
        descriptors,
        settings,
    };
    countersign_core::explain(proposal, &context)
}

/// Credential metadata and secrets as one session holds them.
#[derive(Default)]
pub(crate) struct Loaded {
    pub(crate) registry: Registry,
    /// Each credential's secret; `Secret` zeroizes itself when the session drops it.
    pub(crate) secrets: Vec<(String, Secret)>,
}

/// The credentials of a data home, kept for a session: loaded once (metadata from `vault.db`,
/// every secret from the keychain), and loaded again only when `vault.db`'s generation says a
/// credential changed — also when another process changed it. Submitting no longer reads the
/// keychain over D-Bus for every proposal.
#[derive(Default)]
pub(crate) struct Session {
    state: tokio::sync::Mutex<Option<Held>>,
}

struct Held {
    credentials: Credentials,
    generation: i64,
    loaded: std::sync::Arc<Loaded>,
}

impl Session {
    /// What the data home holds now.
    ///
    /// # Errors
    /// When `vault.db` or the keychain cannot be read.
    pub(crate) async fn current(
        &self,
        home: &DataHome,
    ) -> Result<std::sync::Arc<Loaded>, AppError> {
        let mut state = self.state.lock().await;
        if state.is_none() {
            // No vault yet means no credential; it is not created just to be read.
            if !home.root().join("vault.db").exists() {
                return Ok(std::sync::Arc::new(Loaded::default()));
            }
            let credentials = Credentials::open(home).await?;
            *state = Some(Held {
                credentials,
                generation: i64::MIN,
                loaded: std::sync::Arc::new(Loaded::default()),
            });
        }
        let Some(held) = state.as_mut() else {
            return Ok(std::sync::Arc::new(Loaded::default()));
        };
        let generation = held.credentials.store().generation().await?;
        if generation != held.generation {
            held.loaded = std::sync::Arc::new(Loaded {
                registry: held.credentials.store().registry().await?,
                secrets: held.credentials.secrets().await?,
            });
            held.generation = generation;
        }
        Ok(std::sync::Arc::clone(&held.loaded))
    }
}
