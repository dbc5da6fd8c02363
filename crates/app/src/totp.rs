//! The second factor: TOTP (RFC 6238, HMAC-SHA1, 30-second steps, 6 digits), the secret kept in
//! the keychain. A code is accepted for the current step and one step either side (clock drift).

use totp_rs::{Algorithm, TOTP};

/// The keychain entry holding the enrolled TOTP secret (base32).
pub const KEYCHAIN_ENTRY: &str = "totp-secret";

const STEP: u64 = 30;

/// RFC 6238 with SHA-1, 6 digits, 30-second steps, one step of drift either way (totp-rs).
/// `new_unchecked` because the RFC's own test secret is shorter than totp-rs's 128-bit minimum;
/// the secrets Countersign makes are 160 bits.
fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP, secret.to_vec())
}

/// The 6-digit code for `secret` at unix time `at`.
pub fn code(secret: &[u8], at: u64) -> String {
    totp(secret).generate(at)
}

/// Whether `given` is the code now, or one step before or after.
pub fn verify(secret: &[u8], given: &str, now: u64) -> bool {
    let given = given.trim();
    given.len() == 6 && given.bytes().all(|b| b.is_ascii_digit()) && totp(secret).check(given, now)
}

/// A new random secret, base32 (as authenticator apps take it).
///
/// # Errors
/// When the system's random source fails.
pub fn new_secret() -> Result<String, crate::AppError> {
    let mut bytes = [0u8; 20];
    crate::error::random_bytes(&mut bytes)?;
    Ok(data_encoding::BASE32_NOPAD.encode(&bytes))
}

/// Decodes a base32 secret.
pub fn decode(secret: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD
        .decode(
            secret
                .trim()
                .trim_end_matches('=')
                .to_ascii_uppercase()
                .as_bytes(),
        )
        .ok()
}

/// The `otpauth://` URI an authenticator app scans.
pub fn uri(secret: &str, account: &str) -> String {
    let account: String = url::form_urlencoded::byte_serialize(account.as_bytes()).collect();
    format!(
        "otpauth://totp/Countersign:{account}?secret={secret}&issuer=Countersign&algorithm=SHA1&digits=6&period=30"
    )
}

/// The person's enrolled second factor, read from the keychain once and kept for the session
/// (read again after enrolling): the one place a code is checked, for approvals and unlocking.
pub struct SecondFactor {
    source: Source,
    /// `None`: not read yet; `Some(None)`: none enrolled.
    enrolled: std::sync::Mutex<Option<Option<countersign_vault::Secret>>>,
}

/// Whose second factor a desk checks.
enum Source {
    /// The person at this computer's, enrolled on this desk (kept in its keychain).
    Keychain(countersign_vault::Keychain),
    /// On a team desk, the signed-in person's (enrolled when they were added to the team).
    Person(countersign_vault::Secret),
}

impl SecondFactor {
    /// The second factor kept in `keychain`.
    pub fn new(keychain: countersign_vault::Keychain) -> Self {
        SecondFactor {
            source: Source::Keychain(keychain),
            enrolled: std::sync::Mutex::new(None),
        }
    }

    /// The second factor of a person signed in to a team desk: their codes, not the desk's.
    pub fn of_person(person: &crate::team::SignedIn) -> Self {
        SecondFactor {
            source: Source::Person(countersign_vault::Secret::new(
                person.seed().expose().to_owned(),
            )),
            enrolled: std::sync::Mutex::new(None),
        }
    }

    /// The enrolled secret's bytes, if one is enrolled.
    ///
    /// # Errors
    /// When the keychain cannot be read.
    pub fn enrolled(&self) -> Result<Option<Vec<u8>>, crate::AppError> {
        let mut cached = self
            .enrolled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.is_none() {
            *cached = Some(match &self.source {
                Source::Keychain(keychain) => keychain.read(KEYCHAIN_ENTRY)?,
                Source::Person(seed) => {
                    Some(countersign_vault::Secret::new(seed.expose().to_owned()))
                }
            });
        }
        Ok(cached
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|s| decode(s.expose())))
    }

    /// Whether `code` is the enrolled factor's code now; `None` when none is enrolled. The
    /// keychain is read again first: a decision always checks against what is enrolled now
    /// (also when another process enrolled), while status screens use the kept copy.
    ///
    /// # Errors
    /// When the keychain cannot be read.
    pub fn check(&self, code: Option<&str>) -> Result<Option<bool>, crate::AppError> {
        *self
            .enrolled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(self
            .enrolled()?
            .map(|secret| code.is_some_and(|c| verify(&secret, c, now))))
    }

    /// Stores a newly enrolled secret (base32) and forgets the one read before.
    ///
    /// # Errors
    /// When the keychain cannot be written.
    pub fn enroll(&self, seed: &str) -> Result<(), crate::AppError> {
        let Source::Keychain(keychain) = &self.source else {
            return Err(crate::AppError::NotAllowed(
                "on a team desk, each person's second factor is set up when they are added to the team (countersign person add)".into(),
            ));
        };
        keychain.store(
            KEYCHAIN_ENTRY,
            &countersign_vault::Secret::new(seed.to_owned()),
        )?;
        *self
            .enrolled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(code(secret, 59), "287082");
        assert_eq!(code(secret, 1_111_111_109), "081804");
        assert_eq!(code(secret, 1_234_567_890), "005924");
        assert_eq!(code(secret, 2_000_000_000), "279037");
    }

    #[test]
    fn codes_are_accepted_within_one_step() {
        let secret = decode(&new_secret().unwrap()).unwrap();
        let now = 1_800_000_000;
        assert!(verify(&secret, &code(&secret, now), now));
        assert!(verify(&secret, &code(&secret, now - 30), now));
        assert!(!verify(&secret, &code(&secret, now - 90), now));
        assert!(!verify(&secret, "12345", now));
    }
}
