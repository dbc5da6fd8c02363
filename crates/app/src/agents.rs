//! The agent registry: who may propose. A key is made once, shown once, and stored only as a
//! salted SHA-256 hash; every request is checked against the registry, so revoking is immediate
//! (also for a connector running in another process).

use std::sync::Arc;

use countersign_audit::{Event, NewEntry};
use countersign_vault::Secret;
use sha2::{Digest as _, Sha256};

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;
use crate::queue::Statement;
use crate::record::AgentInfo;
use crate::store::{Store, now_text};

fn not_allowed(message: impl Into<String>) -> AppError {
    AppError::NotAllowed(message.into())
}

fn key_hash(key: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(
        format!("countersign-agent-key-v1:{key}").as_bytes(),
    ))
}

/// The registered agents of a data home.
#[derive(Clone)]
pub struct Agents {
    store: Arc<Store>,
    audit: Arc<Audit>,
}

impl Agents {
    /// The registry in `store`, recording changes in `audit`.
    pub fn new(store: Arc<Store>, audit: Arc<Audit>) -> Self {
        Agents { store, audit }
    }

    /// Opens the data home's registry on its own (`countersign agent …`).
    ///
    /// # Errors
    /// When the store cannot be opened.
    pub async fn open(home: &DataHome, audit: Arc<Audit>) -> Result<Self, AppError> {
        Ok(Agents::new(Arc::new(Store::open(home).await?), audit))
    }

    /// Registers an agent and returns its key, which is shown once and stored only hashed.
    ///
    /// # Errors
    /// When the name is taken or not usable, or the entry cannot be recorded.
    pub async fn add(&self, name: &str) -> Result<Secret, AppError> {
        let usable = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !usable {
            return Err(not_allowed(format!(
                "“{name}” is not a usable agent name: use 1 to 64 letters, digits, dots, dashes or underscores"
            )));
        }
        let mut random = [0u8; 24];
        crate::error::random_bytes(&mut random)?;
        let key = format!("csa_{}", data_encoding::HEXLOWER.encode(&random));
        let insert = Statement::new(
            "INSERT INTO agents (name, key_hash, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(key_hash(&key))
        .bind(now_text());
        let entry = NewEntry::new(self.audit.actor().clone(), Event::AgentAdded)
            .details(serde_json::json!({ "agent": name }));
        if !self
            .store
            .audited_change(insert, Some((&self.audit, entry)))
            .await?
        {
            return Err(not_allowed(format!(
                "an agent named “{name}” already exists"
            )));
        }
        Ok(Secret::new(key))
    }

    /// Every registered agent (never a key).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn list(&self) -> Result<Vec<AgentInfo>, AppError> {
        self.store.agents().await
    }

    /// Revokes an agent's key at once.
    ///
    /// # Errors
    /// When there is no such agent, or the entry cannot be recorded.
    pub async fn revoke(&self, name: &str) -> Result<(), AppError> {
        let none = || not_allowed(format!("there is no active agent named “{name}”"));
        if !self
            .list()
            .await?
            .iter()
            .any(|a| a.name == name && a.revoked_at.is_none())
        {
            return Err(none());
        }
        let revoke = Statement::new(
            "UPDATE agents SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
        )
        .bind(now_text())
        .bind(name);
        let entry = NewEntry::new(self.audit.actor().clone(), Event::AgentRevoked)
            .details(serde_json::json!({ "agent": name }));
        if !self
            .store
            .audited_change(revoke, Some((&self.audit, entry)))
            .await?
        {
            return Err(none());
        }
        Ok(())
    }

    /// Notes the first time `name` asked what it may use; later calls change nothing. Not an
    /// audited step: it only tells the first-run guide the assistant got through.
    ///
    /// # Errors
    /// When the store cannot be written.
    pub async fn checked_in(&self, name: &str) -> Result<(), AppError> {
        let first = Statement::new(
            "UPDATE agents SET checked_in_at = ? WHERE name = ? AND checked_in_at IS NULL",
        )
        .bind(now_text())
        .bind(name);
        if self.store.write(first).await? > 0 {
            self.store.changed();
        }
        Ok(())
    }

    /// The agent a key belongs to, if it is registered and not revoked.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn authenticate(&self, key: &str) -> Result<Option<String>, AppError> {
        self.store.agent_by_key_hash(&key_hash(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_as_before() {
        // The stored hashes of keys already handed out must not change.
        let old: String = Sha256::digest(b"countersign-agent-key-v1:csa_1")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key_hash("csa_1"), old);
    }
}
