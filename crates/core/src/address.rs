//! Email addresses: a plain `local@domain` (RFC 5322 dot-atom), with IDN domains in punycode.
//! Display names, comments, quoted local parts and anything with a line break are refused: the
//! person must see exactly which mailbox receives the message.

use crate::refusal::{Refusal, RefusalCode};
use crate::text;

/// A checked address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The local part, as written.
    pub local: String,
    /// The domain in ASCII (punycode) form, lower-cased.
    pub domain: String,
    /// The domain as a person reads it, with punycode in brackets when they differ.
    pub domain_display: String,
    /// Why the domain could be mistaken for another, if it could.
    pub lookalike: Option<String>,
}

impl Address {
    /// `local@domain` in ASCII form: what goes into the SMTP envelope.
    pub fn ascii(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// `local@domain` as a person reads it.
    pub fn display(&self) -> String {
        format!("{}@{}", self.local, self.domain_display)
    }
}

const ATEXT_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// Parses one address; `field` names it in a refusal.
///
/// # Errors
/// `header_injection` for line breaks, `invalid_address` for anything else not a plain address.
pub fn parse(raw: &str, field: &str) -> Result<Address, Refusal> {
    if raw.contains(['\r', '\n']) {
        return Err(Refusal::new(
            RefusalCode::HeaderInjection,
            "An address contains a line break, which could add hidden recipients or headers.",
        )
        .at(field));
    }
    let invalid = |why: &str| {
        Refusal::new(
            RefusalCode::InvalidAddress,
            format!("{raw:?} is not a plain email address: {why}."),
        )
        .at(field)
    };
    let (local, domain) = raw.rsplit_once('@').ok_or_else(|| invalid("it has no @"))?;
    if local.is_empty() || local.len() > 64 {
        return Err(invalid("the part before @ must be 1 to 64 characters"));
    }
    let atom_ok = local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c))
    });
    if !atom_ok {
        return Err(invalid(
            "the part before @ may use only letters, digits, dots and !#$%&'*+-/=?^_`{|}~",
        ));
    }
    if text::has_hidden(domain) {
        return Err(invalid("the domain contains invisible characters"));
    }
    let ascii =
        idna::domain_to_ascii(domain).map_err(|_| invalid("the domain is not a valid name"))?;
    let labels_ok = ascii.len() <= 253
        && ascii.contains('.')
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !labels_ok {
        return Err(invalid("the domain is not a valid internet name"));
    }
    let (unicode, is_idn) = text::domain_to_unicode(&ascii);
    let lookalike = text::lookalike_reason(&unicode);
    let domain_display = if is_idn {
        format!("{unicode} ({ascii})")
    } else {
        ascii.clone()
    };
    Ok(Address {
        local: local.to_owned(),
        domain: ascii,
        domain_display,
        lookalike,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_parse() {
        let a = parse("Jane.Doe+tag@Example.COM", "f").unwrap();
        assert_eq!(a.ascii(), "Jane.Doe+tag@example.com");
        let idn = parse("info@bücher.example", "f").unwrap();
        assert_eq!(idn.domain, "xn--bcher-kva.example");
        assert!(idn.lookalike.is_none());
    }

    #[test]
    fn anything_else_is_refused() {
        let code = |raw| parse(raw, "f").unwrap_err().code;
        assert_eq!(
            code("a@b.example\r\nBcc: evil@x.example"),
            RefusalCode::HeaderInjection
        );
        for bad in [
            "Jane <jane@x.example>",
            "no-at-sign",
            "\"q\"@x.example",
            "a@localhost",
            "a..b@x.example",
            "a@-x.example",
        ] {
            assert_eq!(code(bad), RefusalCode::InvalidAddress, "{bad}");
        }
    }

    #[test]
    fn lookalike_domains_are_flagged() {
        assert!(
            parse("ceo@p\u{0430}ypal.example", "f")
                .unwrap()
                .lookalike
                .is_some()
        );
    }
}
