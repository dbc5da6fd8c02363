//! Where an HTTP artifact goes: the URL as the network will see it.
//!
//! The URL is parsed the way HTTP clients parse it (WHATWG), so the host that counts is the host
//! that will be contacted, whatever spelling the agent used (`0x7f.1`, `2130706433`, `[::ffff:…]`,
//! full-width letters, punycode). What would make the shown address differ from the one contacted
//! is refused: user names in the URL, encoded slashes, `..` steps, fragments.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::refusal::{Refusal, RefusalCode};
use crate::text;

/// A checked HTTP target.
#[derive(Clone, Debug)]
pub struct Target {
    /// The parsed URL (what an HTTP client will use).
    pub url: Url,
    /// `scheme://host[:port]`, with the host in ASCII (punycode) form.
    pub origin: String,
    /// The host as a person should read it (Unicode, with punycode in brackets when they differ).
    pub host_display: String,
    /// The IP address, when the host is one.
    pub ip: Option<IpAddr>,
    /// Whether the host is this machine.
    pub loopback: bool,
    /// Why the host is in a private network, if it is.
    pub private: Option<&'static str>,
    /// Why the host could be mistaken for another, if it could.
    pub lookalike: Option<String>,
}

/// Parses and checks a URL from an artifact.
///
/// # Errors
/// `invalid_url` or `userinfo_in_url`, naming `artifact.url`.
pub fn check(raw: &str) -> Result<Target, Refusal> {
    let field = "artifact.url";
    let invalid = |why: &str| Refusal::new(RefusalCode::InvalidUrl, why.to_owned()).at(field);
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "The address contains spaces or control characters.",
        ));
    }
    if raw.contains('\\') {
        return Err(invalid(
            "The address contains a backslash, which browsers and servers read differently.",
        ));
    }
    let url =
        Url::parse(raw).map_err(|e| invalid(&format!("The address cannot be read ({e}).")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("Only http and https addresses can be called."));
    }
    if !url.username().is_empty() || url.password().is_some() || raw_authority(raw).contains('@') {
        return Err(Refusal::new(
            RefusalCode::UserinfoInUrl,
            "The address contains a user name or password before the host; credentials are added by Countersign, never written into addresses.",
        )
        .at(field));
    }
    if url.fragment().is_some() {
        return Err(invalid(
            "The address has a #fragment, which is never sent to a server; remove it.",
        ));
    }
    let raw_path = raw_path(raw);
    let lower_path = raw_path.to_ascii_lowercase();
    if lower_path.contains("%2f") || lower_path.contains("%5c") {
        return Err(invalid(
            "The address contains an encoded slash (%2F or %5C), which can escape the allowed path.",
        ));
    }
    let resolves_dots = raw_path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    if resolves_dots {
        return Err(invalid(
            "The address contains “.” or “..” steps; propose the final address instead.",
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| invalid("The address has no host."))?;
    let (ip, ascii_host) = match &host {
        Host::Domain(domain) => (None, domain.to_string()),
        Host::Ipv4(v4) => (Some(IpAddr::V4(*v4)), v4.to_string()),
        Host::Ipv6(v6) => (Some(IpAddr::V6(*v6)), format!("[{v6}]")),
    };
    if ascii_host.is_empty() {
        return Err(invalid("The address has no host."));
    }
    let (unicode_host, is_idn) = text::domain_to_unicode(&ascii_host);
    let host_display = if is_idn {
        format!("{unicode_host} ({ascii_host})")
    } else {
        ascii_host.clone()
    };

    let written_host = raw_host(raw).to_ascii_lowercase();
    let serialized_host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if ip.is_some() && written_host != serialized_host {
        // 2130706433, 0x7f.1, 0177.0.0.1 and [::ffff:127.0.0.1] all mean an address written
        // another way; no honest request needs that, and a scope must not be matched through it.
        return Err(invalid(&format!(
            "The address {written_host} is an unusual way of writing {serialized_host}; write the address plainly."
        )));
    }
    let mut lookalike = if ip.is_none() {
        text::lookalike_reason(&unicode_host)
    } else {
        None
    };
    if lookalike.is_none()
        && written_host != ascii_host
        && written_host != unicode_host.to_lowercase()
    {
        lookalike = Some(format!(
            "the address is written as “{written_host}”, which really means {ascii_host}"
        ));
    }
    let loopback = match ip {
        Some(ip) => unmapped(ip).is_loopback(),
        None => ascii_host == "localhost" || ascii_host.ends_with(".localhost"),
    };
    let private = match ip {
        Some(ip) => private_reason(unmapped(ip)),
        None if loopback => Some("this computer"),
        None if !ascii_host.contains('.') => Some("a name only a local network knows"),
        None if [".local", ".internal", ".lan", ".home.arpa", ".corp"]
            .iter()
            .any(|suffix| ascii_host.ends_with(suffix)) =>
        {
            Some("a local network")
        }
        None => None,
    };
    let origin = url.origin().ascii_serialization();
    Ok(Target {
        url,
        origin,
        host_display,
        ip,
        loopback,
        private,
        lookalike,
    })
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address is not on the public internet, if it is not.
pub fn private_reason(ip: IpAddr) -> Option<&'static str> {
    match unmapped(ip) {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => private_v6(v6),
    }
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("this computer")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some("a private network")
    } else if ip.is_link_local() {
        Some("a link-local network (often cloud metadata services)")
    } else if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || a == 0 {
        Some("a special-purpose address")
    } else {
        None
    }
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("this computer")
    } else if (first & 0xfe00) == 0xfc00 {
        Some("a private network")
    } else if (first & 0xffc0) == 0xfe80 {
        Some("a link-local network")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("a special-purpose address")
    } else {
        None
    }
}

/// The text between `//` and the first `/`, `?` or `#`.
fn raw_authority(raw: &str) -> &str {
    let after = raw.split_once("//").map_or("", |(_, rest)| rest);
    after.split(['/', '?', '#']).next().unwrap_or("")
}

/// The host as the agent wrote it.
fn raw_host(raw: &str) -> &str {
    let authority = raw_authority(raw);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// The path as the agent wrote it (before the query).
fn raw_path(raw: &str) -> &str {
    let after = raw.split_once("//").map_or(raw, |(_, rest)| rest);
    let path = after.find('/').map_or("", |i| &after[i..]);
    path.split(['?', '#']).next().unwrap_or("")
}

/// Whether `path` is under `prefix`, on whole segments (`/v1/pay` is not under `/v1/pa`).
pub fn path_within(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> RefusalCode {
        check(raw).unwrap_err().code
    }

    #[test]
    fn unusual_ip_spellings_are_refused() {
        for raw in [
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let refusal = check(raw).unwrap_err();
            assert_eq!(refusal.code, RefusalCode::InvalidUrl, "{raw}");
        }
        let plain = check("http://127.0.0.1:8080/").unwrap();
        assert!(plain.loopback && plain.lookalike.is_none());
        assert_eq!(plain.private, Some("this computer"));
        assert!(check("http://[::1]/").unwrap().loopback);
        assert_eq!(
            check("http://169.254.169.254/")
                .unwrap()
                .private
                .map(|p| &p[..10]),
            Some("a link-loc")
        );
    }

    #[test]
    fn what_would_mislead_is_refused() {
        assert_eq!(
            code("https://bank.example@evil.example/"),
            RefusalCode::UserinfoInUrl
        );
        assert_eq!(
            code("https://user:pw@evil.example/"),
            RefusalCode::UserinfoInUrl
        );
        assert_eq!(
            code("https://a.example/v1/..%2fadmin"),
            RefusalCode::InvalidUrl
        );
        assert_eq!(
            code("https://a.example/v1/../admin"),
            RefusalCode::InvalidUrl
        );
        assert_eq!(
            code("https://a.example/v1/%2e%2e/admin"),
            RefusalCode::InvalidUrl
        );
        assert_eq!(
            code("https://a.example\\@b.example/"),
            RefusalCode::InvalidUrl
        );
        assert_eq!(code("ftp://a.example/"), RefusalCode::InvalidUrl);
        assert_eq!(code("https://a.example/#x"), RefusalCode::InvalidUrl);
        assert_eq!(code("not a url"), RefusalCode::InvalidUrl);
    }

    #[test]
    fn idn_hosts_show_punycode() {
        let target = check("https://p\u{0430}ypal.example/login").unwrap();
        assert!(target.host_display.contains("xn--"));
        assert!(target.lookalike.is_some());
        assert!(
            check("https://api.stripe.com/v1/x")
                .unwrap()
                .lookalike
                .is_none()
        );
    }

    #[test]
    fn path_prefixes_match_whole_segments() {
        assert!(path_within("/v1/payments/12", "/v1/payments"));
        assert!(path_within("/v1/payments", "/v1/payments/"));
        assert!(!path_within("/v1/paymentsX", "/v1/payments"));
        assert!(path_within("/anything", ""));
    }
}
