//! Signed checkpoints: an Ed25519 signature over a log's identity, a sequence number and the hash
//! of that entry. The signing key lives in the keychain; its public half is kept beside the log.

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::chain::{decode_hex, hex};
use crate::error::AuditError;

/// Binds signatures to this purpose, so they cannot be reused for anything else.
const DOMAIN: &[u8] = b"countersign-audit-checkpoint-v1\n";

/// A signed statement: "log `log_id` had entry `seq` with hash `entry_hash` at `at`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The log's random identity.
    pub log_id: String,
    /// The last entry covered.
    pub seq: i64,
    /// That entry's hash.
    pub entry_hash: String,
    /// When the checkpoint was signed (UTC).
    pub at: String,
    /// The signer's public key (hex). Verification uses the key the verifier trusts, not this.
    pub public_key: String,
    /// The Ed25519 signature (hex).
    pub signature: String,
}

impl Checkpoint {
    fn message(log_id: &str, seq: i64, entry_hash: &str, at: &str) -> Vec<u8> {
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(format!("{log_id}\n{seq}\n{entry_hash}\n{at}\n").as_bytes());
        message
    }

    /// Whether the signature is valid under `key`.
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        let Some(bytes) = decode_signature(&self.signature) else {
            return false;
        };
        let signature = Signature::from_bytes(&bytes);
        key.verify(
            &Self::message(&self.log_id, self.seq, &self.entry_hash, &self.at),
            &signature,
        )
        .is_ok()
    }

    /// Reads a checkpoint file's JSON.
    ///
    /// # Errors
    /// [`AuditError::BadCheckpoint`] when it is not a checkpoint.
    pub fn from_json(text: &str) -> Result<Self, AuditError> {
        serde_json::from_str(text).map_err(|e| AuditError::BadCheckpoint(e.to_string()))
    }

    /// The checkpoint as pretty JSON, for a file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

fn decode_signature(text: &str) -> Option<[u8; 64]> {
    if text.len() != 128 {
        return None;
    }
    let (a, b) = text.split_at(64);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&decode_hex(a)?);
    out[32..].copy_from_slice(&decode_hex(b)?);
    Some(out)
}

/// The latest checkpoint the keychain remembers: kept apart from the log file, so an attacker who
/// can rewrite the file cannot also roll this back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    /// The sequence number signed.
    pub seq: i64,
    /// The hash signed.
    pub entry_hash: String,
}

impl TrustedCheckpoint {
    /// `seq:hash`, as stored in the keychain.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.seq, self.entry_hash)
    }

    /// Reads `seq:hash`.
    pub fn decode(text: &str) -> Option<Self> {
        let (seq, hash) = text.split_once(':')?;
        decode_hex(hash)?;
        Some(TrustedCheckpoint {
            seq: seq.parse().ok()?,
            entry_hash: hash.to_owned(),
        })
    }
}

/// The Ed25519 key that signs checkpoints.
pub struct CheckpointKey(SigningKey);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointKey(public {})", self.public_hex())
    }
}

impl CheckpointKey {
    /// A new random key.
    ///
    /// # Errors
    /// When the OS has no random source.
    pub fn generate() -> Result<Self, AuditError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| AuditError::BadCheckpoint(format!("no random source: {e}")))?;
        Ok(CheckpointKey(SigningKey::from_bytes(&seed)))
    }

    /// The key from its 64-hex-digit secret (as kept in the keychain).
    pub fn from_secret_hex(text: &str) -> Option<Self> {
        decode_hex(text).map(|seed| CheckpointKey(SigningKey::from_bytes(&seed)))
    }

    /// The secret as hex, for the keychain only.
    pub fn secret_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// The public key as hex, for the file beside the log.
    pub fn public_hex(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    /// Signs a checkpoint.
    pub fn sign(&self, log_id: &str, seq: i64, entry_hash: &str, at: &str) -> Checkpoint {
        let signature = self
            .0
            .sign(&Checkpoint::message(log_id, seq, entry_hash, at));
        Checkpoint {
            log_id: log_id.to_owned(),
            seq,
            entry_hash: entry_hash.to_owned(),
            at: at.to_owned(),
            public_key: self.public_hex(),
            signature: hex(&signature.to_bytes()),
        }
    }
}

/// A public key from 64 hex digits.
pub fn verifying_key_from_hex(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&decode_hex(text.trim())?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_under_their_key() {
        let key = CheckpointKey::generate().unwrap();
        let other = CheckpointKey::generate().unwrap();
        let checkpoint = key.sign("log", 7, &"ab".repeat(32), "2026-11-26T00:00:00.000000Z");
        assert!(checkpoint.signature_valid(&key.verifying_key()));
        assert!(!checkpoint.signature_valid(&other.verifying_key()));
        let mut tampered = checkpoint.clone();
        tampered.seq = 6;
        assert!(!tampered.signature_valid(&key.verifying_key()));
        let read = Checkpoint::from_json(&checkpoint.to_json()).unwrap();
        assert_eq!(read, checkpoint);
        let again = CheckpointKey::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.public_hex(), key.public_hex());
        assert_eq!(
            verifying_key_from_hex(&key.public_hex()),
            Some(key.verifying_key())
        );
    }
}
