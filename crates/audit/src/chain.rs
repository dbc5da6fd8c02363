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

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

fn optional(hasher: &mut Sha256, value: Option<&str>) {
    match value {
        None => hasher.update([0u8]),
        Some(text) => {
            hasher.update([1u8]);
            field(hasher, text.as_bytes());
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

/// An entry's contents as stored, borrowed: what verification hashes without copying a field.
pub struct Fields<'a> {
    /// `seq`.
    pub seq: i64,
    /// `at`.
    pub at: &'a str,
    /// The actor's kind as stored.
    pub actor_kind: &'a str,
    /// The actor's id.
    pub actor_id: &'a str,
    /// The actor's name.
    pub actor_name: &'a str,
    /// The event.
    pub event: &'a str,
    /// The proposal, if any.
    pub proposal_id: Option<&'a str>,
    /// The artifact hash, if any.
    pub artifact_sha256: Option<&'a str>,
    /// The credential, if any.
    pub credential: Option<&'a str>,
    /// The outcome, if any.
    pub outcome: Option<&'a str>,
    /// The details (canonical JSON text).
    pub details: &'a str,
}

/// The leaf hash of an entry's contents (everything but the two hashes).
pub fn leaf_hash(entry: &Entry) -> [u8; 32] {
    leaf_hash_of(&Fields {
        seq: entry.seq,
        at: &entry.at,
        actor_kind: entry.actor.kind.as_str(),
        actor_id: &entry.actor.id,
        actor_name: &entry.actor.name,
        event: &entry.event,
        proposal_id: entry.proposal_id.as_deref(),
        artifact_sha256: entry.artifact_sha256.as_deref(),
        credential: entry.credential.as_deref(),
        outcome: entry.outcome.as_deref(),
        details: &entry.details,
    })
}

/// The leaf hash of borrowed contents; [`leaf_hash`] is this over an owned entry.
pub fn leaf_hash_of(fields: &Fields<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([LEAF]);
    field(&mut hasher, itoa(fields.seq, &mut [0u8; 20]));
    field(&mut hasher, fields.at.as_bytes());
    field(&mut hasher, fields.actor_kind.as_bytes());
    field(&mut hasher, fields.actor_id.as_bytes());
    field(&mut hasher, fields.actor_name.as_bytes());
    field(&mut hasher, fields.event.as_bytes());
    optional(&mut hasher, fields.proposal_id);
    optional(&mut hasher, fields.artifact_sha256);
    optional(&mut hasher, fields.credential);
    optional(&mut hasher, fields.outcome);
    field(&mut hasher, fields.details.as_bytes());
    hasher.finalize().into()
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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// 32 bytes from 64 hex digits (either case).
pub fn decode_hex(text: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7).unwrap_or(0));
        assert_eq!(decode_hex(&hex(&bytes)), Some(bytes));
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
        assert_eq!(decode_hex("zz"), None);
    }
}
