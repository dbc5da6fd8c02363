//! Removing a secret from anything returned, stored or shown: the raw value, its base64 forms
//! (standard and URL-safe, with and without padding, also as part of `user:password`), and its
//! URL-encoded forms.

use base64::Engine as _;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Redacts one secret's forms.
#[derive(Default)]
pub struct Redactor {
    forms: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms, <redacted>)", self.forms.len())
    }
}

impl Redactor {
    /// Redacts `secret` and, for basic authentication, the `user:password` pair it is part of.
    pub fn new(secret: &str, also: &[&str]) -> Self {
        let mut forms = Vec::new();
        for value in std::iter::once(secret).chain(also.iter().copied()) {
            if value.is_empty() {
                continue;
            }
            let bytes = value.as_bytes();
            forms.push(bytes.to_vec());
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                forms.push(engine.encode(bytes).into_bytes());
            }
            forms.push(
                url::form_urlencoded::byte_serialize(bytes)
                    .collect::<String>()
                    .into_bytes(),
            );
            forms.push(
                bytes
                    .iter()
                    .map(|b| format!("%{b:02X}"))
                    .collect::<String>()
                    .into_bytes(),
            );
            forms.push(
                bytes
                    .iter()
                    .map(|b| format!("%{b:02x}"))
                    .collect::<String>()
                    .into_bytes(),
            );
        }
        // Longest first, so a longer form is not cut by a shorter one inside it.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        Redactor { forms }
    }

    /// `bytes` with every form of the secret replaced by `[REDACTED]`.
    pub fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for form in &self.forms {
            if form.is_empty() || out.len() < form.len() {
                continue;
            }
            let mut result = Vec::with_capacity(out.len());
            let mut i = 0;
            while i < out.len() {
                if out[i..].starts_with(form) {
                    result.extend_from_slice(REDACTED.as_bytes());
                    i += form.len();
                } else {
                    result.push(out[i]);
                    i += 1;
                }
            }
            out = result;
        }
        out
    }

    /// `text` with every form of the secret replaced.
    pub fn text(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.bytes(text.as_bytes())).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let redactor = Redactor::new("pw123456", &["alice:pw123456"]);
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pw123456")
        );
        assert_eq!(redactor.text(&header), "Basic [REDACTED]");
    }
}
