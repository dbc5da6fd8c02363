//! The hash chain: domain-separated SHA-256 as in RFC 6962.
//!
//! `leaf = SHA-256(0x00 ‖ fields)` where each field is length-prefixed (u32, big-endian) and an
//! absent optional field is a single `0x00` byte (present ones start with `0x01`), so no two
//! different entries encode alike. `entry_hash = SHA-256(0x01 ‖ prev_hash ‖ leaf)`, with 32 zero
//! bytes before the first entry.

use sha2::{Digest, Sha256};

use crate::entry::Entry;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const LEAF: u8 = 0x00;
const NODE: u8 = 0x01;

fn field(encoding: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    encoding.extend_from_slice(&len.to_be_bytes());
    encoding.extend_from_slice(bytes);
}

fn optional(encoding: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => encoding.push(0u8),
        Some(text) => {
            encoding.push(1u8);
            field(encoding, text);
        }
    }
}

/// Decimal digits of `n` without allocating (the leaf encodes `seq` as its decimal text).
fn itoa(n: i64, buffer: &mut [u8; 20]) -> &[u8] {
    let negative = n < 0;
    let mut value = n.unsigned_abs();
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        if value == 0 {
            break;
        }
    }
    if negative && at > 0 {
        at -= 1;
        buffer[at] = b'-';
    }
    &buffer[at..]
}

/// An entry's contents as stored, borrowed as bytes: what verification hashes without copying
/// or re-validating a field (the hash covers every byte, so text that was altered to something
/// that is not UTF-8 no longer matches).
pub struct Fields<'a> {
    /// `seq`.
    pub seq: i64,
    /// `at`.
    pub at: &'a [u8],
    /// The actor's kind as stored.
    pub actor_kind: &'a [u8],
    /// The actor's id.
    pub actor_id: &'a [u8],
    /// The actor's name.
    pub actor_name: &'a [u8],
    /// The event.
    pub event: &'a [u8],
    /// The proposal, if any.
    pub proposal_id: Option<&'a [u8]>,
    /// The artifact hash, if any.
    pub artifact_sha256: Option<&'a [u8]>,
    /// The credential, if any.
    pub credential: Option<&'a [u8]>,
    /// The outcome, if any.
    pub outcome: Option<&'a [u8]>,
    /// The details (canonical JSON text).
    pub details: &'a [u8],
}

/// The leaf hash of an entry's contents (everything but the two hashes).
pub fn leaf_hash(entry: &Entry) -> [u8; 32] {
    leaf_hash_of(&fields_of(entry))
}

fn fields_of(entry: &Entry) -> Fields<'_> {
    Fields {
        seq: entry.seq,
        at: entry.at.as_bytes(),
        actor_kind: entry.actor.kind.as_str().as_bytes(),
        actor_id: entry.actor.id.as_bytes(),
        actor_name: entry.actor.name.as_bytes(),
        event: entry.event.as_bytes(),
        proposal_id: entry.proposal_id.as_deref().map(str::as_bytes),
        artifact_sha256: entry.artifact_sha256.as_deref().map(str::as_bytes),
        credential: entry.credential.as_deref().map(str::as_bytes),
        outcome: entry.outcome.as_deref().map(str::as_bytes),
        details: entry.details.as_bytes(),
    }
}

/// The bytes an entry's leaf hash is taken over (`0x00` and its length-prefixed fields): what a
/// benchmark hashes as its baseline.
pub fn leaf_encoding(entry: &Entry) -> Vec<u8> {
    let mut encoding = Vec::new();
    leaf_hash_with(&fields_of(entry), &mut encoding);
    encoding
}

/// The leaf hash of borrowed contents; [`leaf_hash`] is this over an owned entry.
pub fn leaf_hash_of(fields: &Fields<'_>) -> [u8; 32] {
    leaf_hash_with(fields, &mut Vec::new())
}

/// [`leaf_hash_of`], encoding into `encoding` (cleared first). The fields are encoded into one
/// buffer and hashed in one call: verification hashes every entry of the log, and thirty small
/// updates cost more than the hashing itself.
pub fn leaf_hash_with(fields: &Fields<'_>, encoding: &mut Vec<u8>) -> [u8; 32] {
    encoding.clear();
    encoding.push(LEAF);
    field(encoding, itoa(fields.seq, &mut [0u8; 20]));
    field(encoding, fields.at);
    field(encoding, fields.actor_kind);
    field(encoding, fields.actor_id);
    field(encoding, fields.actor_name);
    field(encoding, fields.event);
    optional(encoding, fields.proposal_id);
    optional(encoding, fields.artifact_sha256);
    optional(encoding, fields.credential);
    optional(encoding, fields.outcome);
    field(encoding, fields.details);
    Sha256::digest(encoding.as_slice()).into()
}

/// `SHA-256(0x01 ‖ prev ‖ leaf)`.
pub fn chained(prev: &[u8; 32], leaf: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([NODE]);
    hasher.update(prev);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// The chained hash of an entry, as lowercase hex, given its previous hash (hex).
pub fn entry_hash(prev_hash_hex: &str, entry: &Entry) -> String {
    let prev = decode_hex(prev_hash_hex).unwrap_or([0xff; 32]);
    hex(&chained(&prev, &leaf_hash(entry)))
}

/// Lowercase hex of a hash into a stack buffer (verification compares without allocating).
pub fn hex_into(bytes: &[u8; 32], out: &mut [u8; 64]) {
    data_encoding::HEXLOWER.encode_mut(bytes, out);
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// 32 bytes from 64 hex digits (either case).
pub fn decode_hex(text: impl AsRef<[u8]>) -> Option<[u8; 32]> {
    let bytes = text.as_ref();
    let mut out = [0u8; 32];
    if bytes.len() != 64 {
        return None;
    }
    data_encoding::HEXLOWER_PERMISSIVE
        .decode_mut(bytes, &mut out)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7).unwrap_or(0));
        assert_eq!(decode_hex(hex(&bytes)), Some(bytes));
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
        assert_eq!(decode_hex("zz"), None);
    }
}
