//! Characters a person cannot see, and names that look like other names.
//!
//! Hidden characters (bidi controls as in Trojan Source, zero-width characters, Unicode tags) are
//! never dropped: they are replaced by visible markers such as `⟨U+202E⟩` in anything shown, and
//! flagged. Hosts and email domains are checked for mixed scripts and for confusables (a Cyrillic
//! `а` in place of a Latin `a`), and shown with their punycode.

use std::fmt::Write as _;

use unicode_security::{MixedScript, skeleton};

/// Whether `c` is invisible or reorders text when displayed.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        // bidi embeddings, overrides and isolates; LRM, RLM, ALM
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        // zero-width and invisible formatting characters
        | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{180E}'
        | '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        // Unicode tags and the supplementary variation selectors (used to smuggle text)
        | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}'
        // control characters other than tab and line breaks
        | '\u{0000}'..='\u{0008}' | '\u{000B}' | '\u{000C}' | '\u{000E}'..='\u{001F}'
        | '\u{007F}'..='\u{009F}')
}

/// Whether `s` contains any hidden character.
pub fn has_hidden(s: &str) -> bool {
    s.chars().any(is_hidden)
}

/// `s` with every hidden character replaced by a visible marker such as `⟨U+202E⟩`.
pub fn reveal(s: &str) -> String {
    if !has_hidden(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_hidden(c) {
            let _ = write!(out, "⟨U+{:04X}⟩", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Why a domain name (in its Unicode form) could be mistaken for another, if it could.
pub fn lookalike_reason(unicode_domain: &str) -> Option<String> {
    for label in unicode_domain.split('.') {
        if label.is_ascii() {
            continue;
        }
        if !label.is_single_script() {
            return Some(format!("“{label}” mixes letters from different alphabets"));
        }
        let skeleton: String = skeleton(label).collect();
        if skeleton.is_ascii() && skeleton != label {
            return Some(format!(
                "“{label}” is written in another alphabet to look like “{skeleton}”"
            ));
        }
    }
    None
}

/// The Unicode form of an ASCII (punycode) domain, and whether it differs from it.
pub fn domain_to_unicode(ascii_domain: &str) -> (String, bool) {
    let (unicode, result) = idna::domain_to_unicode(ascii_domain);
    let differs = result.is_ok() && unicode != ascii_domain;
    (
        if result.is_ok() {
            unicode
        } else {
            ascii_domain.to_owned()
        },
        differs,
    )
}

/// A name split into lower-case words: `sendMail` → `send mail`, `payment_intents` →
/// `payment intents`. Brackets stay part of a word, so a form key like `items[0][price]` is not
/// read as the key `price` (Stripe's price ids are not amounts).
pub fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if matches!(c, '_' | '-' | ' ' | '.') {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A key as a label a person reads: `payment_method` → "Payment method", `dueDate` → "Due date",
/// `transfer_data[destination]` → "Transfer data destination".
pub fn label(name: &str) -> String {
    let joined = words(&name.replace(['[', ']'], " ")).join(" ");
    let mut chars = joined.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trojan_source_is_revealed() {
        let s = "access\u{202E}\u{2066}level";
        assert!(has_hidden(s));
        assert_eq!(reveal(s), "access⟨U+202E⟩⟨U+2066⟩level");
        assert_eq!(reveal("plain"), "plain");
        assert_eq!(reveal("tag\u{E0041}"), "tag⟨U+E0041⟩");
    }

    #[test]
    fn lookalike_domains_are_named() {
        // Cyrillic а in "pаypal"
        assert!(lookalike_reason("p\u{0430}ypal.example").is_some());
        // whole-script Cyrillic "аррӏе"
        assert!(lookalike_reason("\u{0430}\u{0440}\u{0440}\u{04CF}\u{0435}.example").is_some());
        assert_eq!(lookalike_reason("example.com"), None);
        assert_eq!(lookalike_reason("münchen.example"), None);
    }
}
