//! Removing a secret from anything returned, stored or shown, in any encoding: the raw value,
//! JSON and other escapes, any percent-encoding (either case, some characters or all), HTML
//! references, base64 in both alphabets at every alignment (also of the whole slot value such as
//! `Bearer <token>` or `user:password`), and hex. The matching is `countersign_core::secret`'s,
//! the same that refuses an artifact carrying a secret.

use countersign_core::secret::SecretFinder;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Redacts one credential's secret (and the parts of it that are secret on their own).
#[derive(Default)]
pub struct Redactor {
    finder: SecretFinder,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({:?})", self.finder)
    }
}

impl Redactor {
    /// Redacts `secret` and the values in `also` (for basic authentication, the password alone).
    pub fn new(secret: &str, also: &[&str]) -> Self {
        Redactor {
            finder: SecretFinder::new(std::iter::once(secret).chain(also.iter().copied())),
        }
    }

    /// `bytes` with every form of the secret replaced by `[REDACTED]`.
    pub fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        if self.finder.is_empty() {
            return bytes.to_vec();
        }
        self.finder.redact(bytes, REDACTED.as_bytes())
    }

    /// `text` with every form of the secret replaced.
    pub fn text(&self, text: &str) -> String {
        if self.finder.is_empty() {
            return text.to_owned();
        }
        self.finder.redact_text(text, REDACTED)
    }

    /// Every string inside a JSON value redacted (keys too), numbers and structure kept.
    pub fn json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        if self.finder.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (self.text(&k), self.json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn every_form_is_redacted() {
        let secret = "s3cr3t/token+value=";
        let redactor = Redactor::new(secret, &[]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let text = format!("a {secret} b {b64} c {url_safe} d {encoded} e");
        let out = redactor.text(&text);
        assert!(
            !out.contains(secret)
                && !out.contains(&b64)
                && !out.contains(&url_safe)
                && !out.contains(&encoded),
            "{out}"
        );
        assert_eq!(out.matches(REDACTED).count(), 4, "{out}");
    }

    #[test]
    fn basic_pairs_are_redacted_as_a_whole() {
        let redactor = Redactor::new("alice:pw123456", &["pw123456"]);
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pw123456")
        );
        assert_eq!(redactor.text(&header), "Basic [REDACTED]");
    }

    #[test]
    fn json_rows_are_redacted() {
        let redactor = Redactor::new("hunter2-password", &[]);
        let row = serde_json::json!(["ok", "conn=postgres://u:hunter2-password@db", 42]);
        assert_eq!(
            redactor.json(row),
            serde_json::json!(["ok", "conn=postgres://u:[REDACTED]@db", 42])
        );
    }
}
