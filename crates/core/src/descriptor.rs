//! Descriptors: declarative files that explain a known API in the person's words.
//!
//! Modelled on ERC-7730 "clear signing": a `context` binds the descriptor to requests (origins,
//! methods, a path pattern, body conditions), `metadata` names the owner and maps codes to words,
//! and `display` lists the fields to show (`{path, label, format}`) and an `intent` sentence built
//! from them. A descriptor only adds words: generic risks are still found, and a field it names
//! that the artifact lacks is shown as missing, never invented. The format is documented in
//! `docs/descriptors.md`; the shipped packs are in `crates/core/descriptors/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::explanation::{Action, RiskCode};
use crate::json::Json;

/// One descriptor file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// A stable identifier, e.g. `stripe.payment_intents.create`.
    pub id: String,
    /// Which requests it explains.
    pub context: Context,
    /// Owner and enumerations.
    #[serde(default)]
    pub metadata: Metadata,
    /// What to show.
    pub display: Display,
    /// How to describe what the server answered, once the request ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ResultDisplay>,
}

/// The words for a result: a summary sentence and the facts a person may release. Field paths
/// are into the response body.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResultDisplay {
    /// One sentence with `{key}` and optional `[ … ]` parts, as in `display.intent`.
    pub summary: String,
    /// The facts, in reading order.
    #[serde(default)]
    pub fields: Vec<Field>,
}

/// Which requests a descriptor explains.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// Exact origins (`https://api.stripe.com`); empty matches any origin (for FHIR servers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Methods; empty matches any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// A path pattern: `/v1/refunds`, `/v1/payment_intents/{id}/confirm`; a leading `**` matches
    /// any number of leading segments (`**/MedicationRequest`).
    pub path: String,
    /// Body fields that must equal these values (`resourceType = "Patient"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub body_equals: BTreeMap<String, String>,
}

/// Owner and enumerations.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Who runs the API, as people know it ("Stripe").
    #[serde(default)]
    pub owner: String,
    /// Code-to-words maps, used by fields with `format = "enum"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enums: BTreeMap<String, BTreeMap<String, String>>,
}

/// What to show.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Display {
    /// The kind of action.
    pub action: Action,
    /// The headline, with `{key}` replaced by fields' shown values.
    pub intent: String,
    /// Fields in reading order.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Risks this action always has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<RiskCode>,
    /// The key of the field holding the amount (for thresholds and summary checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The key of the field naming who receives money or a message (for summary checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty: Option<String>,
}

/// One field to show.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The name used in `intent` (`{amount}`).
    pub key: String,
    /// Where the value is: a body path (`amount`, `transfer_data.destination`, `items[0].name`),
    /// `path:NAME` for a segment captured by the path pattern, or `query:NAME`.
    pub path: String,
    /// The label shown beside the value.
    pub label: String,
    /// How to show the value.
    #[serde(default, skip_serializing_if = "Format::is_text")]
    pub format: Format,
    /// For amounts: the path of the currency code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_path: Option<String>,
    /// For amounts: a fixed currency code, when the API has only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// For date-times written without an offset: the path of the time zone's name
    /// (`start.timeZone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_path: Option<String>,
    /// For `format = "enum"`: the name of the map in `metadata.enums`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enum_name: Option<String>,
    /// Whether the field must be present (shown as missing otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// A risk flagged when the field is present and not empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_if_present: Option<RiskCode>,
}

/// How a value is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// As written.
    #[default]
    Text,
    /// An integer of minor units (cents) with a currency: `$12.00`.
    AmountMinor,
    /// A decimal amount with a currency: `$12.00`.
    AmountDecimal,
    /// An ISO date: `Thu 3 Dec 2026`.
    Date,
    /// An RFC 3339 date-time: `Thu 3 Dec 2026, 10:00 (UTC−05:00)`.
    Datetime,
    /// A FHIR reference (`Patient/123` or `{reference, display}`): `Jane Doe (Patient/123)`.
    Reference,
    /// A code looked up in `metadata.enums`.
    Enum,
    /// A FHIR CodeableConcept: its text or first coding's display, with the code.
    Codeable,
    /// A medication (CodeableConcept): also checks DEA schedules.
    Medication,
    /// Recipients: a list of addresses, or Microsoft Graph `{emailAddress:{address}}` objects.
    Recipients,
    /// A base64url RFC 5322 message (Gmail `raw`): its To, Cc, Bcc and Subject.
    EmailRaw,
    /// A list of strings, joined.
    List,
}

impl Format {
    /// Whether this is the default format (left out when a descriptor is written).
    pub fn is_text(&self) -> bool {
        *self == Format::Text
    }
}

/// A pack file as written: what `countersign descriptor import` produces.
#[derive(Debug, Serialize)]
pub struct PackOut<'a> {
    /// The descriptors, each a `[[descriptor]]` table.
    pub descriptor: &'a [Descriptor],
}

/// The descriptors in force: the person's own first, then the shipped packs.
#[derive(Clone, Debug, Default)]
pub struct Descriptors(Vec<Descriptor>);

/// A descriptor file that could not be read.
#[derive(Clone, Debug, thiserror::Error)]
#[error("descriptor {name}: {reason}")]
pub struct DescriptorError {
    /// The file or pack name.
    pub name: String,
    /// What is wrong, from the TOML reader.
    pub reason: String,
}

/// The packs shipped with Countersign, by file name.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "payments.toml",
        include_str!("../descriptors/payments.toml"),
    ),
    ("email.toml", include_str!("../descriptors/email.toml")),
    ("stripe.toml", include_str!("../descriptors/stripe.toml")),
    ("paypal.toml", include_str!("../descriptors/paypal.toml")),
    ("square.toml", include_str!("../descriptors/square.toml")),
    ("wise.toml", include_str!("../descriptors/wise.toml")),
    ("plaid.toml", include_str!("../descriptors/plaid.toml")),
    ("shopify.toml", include_str!("../descriptors/shopify.toml")),
    (
        "quickbooks.toml",
        include_str!("../descriptors/quickbooks.toml"),
    ),
    ("google.toml", include_str!("../descriptors/google.toml")),
    (
        "microsoft.toml",
        include_str!("../descriptors/microsoft.toml"),
    ),
    (
        "messaging.toml",
        include_str!("../descriptors/messaging.toml"),
    ),
];

/// Every descriptor of the packs, in order.
fn parse<'a>(
    packs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Descriptor>, DescriptorError> {
    let mut all = Vec::new();
    for (name, text) in packs {
        let pack: Pack = toml::from_str(text).map_err(|e| DescriptorError {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        all.extend(pack.descriptor);
    }
    Ok(all)
}

/// A pack file: a list of descriptors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pack {
    descriptor: Vec<Descriptor>,
}

impl Descriptors {
    /// The shipped packs only.
    ///
    /// # Errors
    /// Only if a shipped pack is malformed, which the tests rule out.
    pub fn shipped() -> Result<Self, DescriptorError> {
        Self::with_user_files(&[])
    }

    /// The person's own files (name, TOML text), which take precedence, then the shipped packs.
    ///
    /// # Errors
    /// Names the first file that is not a valid pack.
    pub fn with_user_files(files: &[(String, String)]) -> Result<Self, DescriptorError> {
        // The shipped packs are the same text every time: read once per process.
        static SHIPPED_PARSED: std::sync::LazyLock<Result<Vec<Descriptor>, DescriptorError>> =
            std::sync::LazyLock::new(|| parse(SHIPPED.iter().copied()));
        let user = files.iter().map(|(n, t)| (n.as_str(), t.as_str()));
        let mut all = parse(user)?;
        all.extend(
            SHIPPED_PARSED
                .as_ref()
                .map_err(Clone::clone)?
                .iter()
                .cloned(),
        );
        Ok(Self(all))
    }

    /// The first descriptor matching the request, and the path segments its pattern captured.
    pub fn find(
        &self,
        origin: &str,
        method: &str,
        path: &str,
        body: &Json,
    ) -> Option<(&Descriptor, BTreeMap<String, String>)> {
        self.matching(origin, method, path, body).into_iter().next()
    }

    /// Every descriptor matching the request, most specific first: those bound to the request's
    /// origin before those for any server (so Square's `/v2/payments` is not read by a generic
    /// `**/payments`), otherwise in precedence order (the person's files, then the packs).
    pub fn matching(
        &self,
        origin: &str,
        method: &str,
        path: &str,
        body: &Json,
    ) -> Vec<(&Descriptor, BTreeMap<String, String>)> {
        let mut found: Vec<_> = self
            .0
            .iter()
            .filter_map(|d| {
                let c = &d.context;
                if !c.origins.is_empty() && !c.origins.iter().any(|o| origin_matches(o, origin)) {
                    return None;
                }
                if !c.methods.is_empty()
                    && !c.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
                {
                    return None;
                }
                let captures = match_path(&c.path, path)?;
                let conditions_hold = c.body_equals.iter().all(|(field, want)| {
                    body.at(field).and_then(Json::as_str) == Some(want.as_str())
                });
                conditions_hold.then_some((d, captures))
            })
            .collect();
        found.sort_by_key(|(d, _)| d.context.origins.is_empty());
        found
    }
}

/// An exact origin, or `https://*.example.com` for any one-or-more-label subdomain (Shopify's
/// `{shop}.myshopify.com`).
fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.split_once("://*.") {
        Some((scheme, domain)) => origin.split_once("://").is_some_and(|(s, host)| {
            s.eq_ignore_ascii_case(scheme)
                && host.len() > domain.len() + 1
                && host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
        }),
        // `http://127.0.0.1:*`: any port of one host (a sandbox on this computer).
        None => match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with(':') => {
                origin
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                    && origin[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
                    && origin.len() > prefix.len()
            }
            _ => pattern.eq_ignore_ascii_case(origin),
        },
    }
}

/// Matches `/a/{x}/b` or `**/b` against a path, returning the captured segments.
fn match_path(pattern: &str, path: &str) -> Option<BTreeMap<String, String>> {
    // Called for every descriptor on every explanation: no allocation until a pattern matches.
    let pattern = pattern.trim_matches('/');
    let (any_prefix, pattern) = match pattern.strip_prefix("**") {
        Some(rest) => (true, rest.trim_start_matches('/')),
        None => (false, pattern),
    };
    let wanted = || pattern.rsplit('/').filter(|_| !pattern.is_empty());
    let path = path.trim_matches('/');
    let wanted_len = wanted().count();
    let path_len = path.split('/').count();
    if path_len < wanted_len || (!any_prefix && path_len != wanted_len) {
        return None;
    }
    // `{id}` captures a segment; `{id}.json` one that ends in `.json` (Shopify).
    let capture = |want: &str, got: &str| -> Option<Option<(String, String)>> {
        match want.strip_prefix('{').and_then(|w| w.split_once('}')) {
            Some((name, suffix)) => {
                let value = got.strip_suffix(suffix)?;
                (!value.is_empty()).then(|| Some((name.to_owned(), value.to_owned())))
            }
            None => (want == got).then_some(None),
        }
    };
    for (want, got) in wanted().zip(path.rsplit('/')) {
        let literal = !want.starts_with('{');
        if literal && want != got {
            return None;
        }
    }
    let mut captures = BTreeMap::new();
    for (want, got) in wanted().zip(path.rsplit('/')) {
        if let Some((name, value)) = capture(want, got)? {
            captures.insert(name, percent_decode(&value));
        }
    }
    Some(captures)
}

/// Percent-decodes a URL component for display. When the decoded bytes are not UTF-8 the
/// component is shown as written, escapes and all: a replacement character would show a value
/// the server never receives.
pub fn percent_decode(s: &str) -> String {
    percent_decode_utf8(s).unwrap_or_else(|| s.to_owned())
}

/// Percent-decodes `s`, or `None` when the decoded bytes are not UTF-8. Malformed escapes
/// (`%zz`) stay as written.
pub fn percent_decode_utf8(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_packs_load() {
        assert!(Descriptors::shipped().unwrap().0.len() >= 10);
    }

    #[test]
    fn patterns_capture_segments() {
        let captures = match_path(
            "/v1/payment_intents/{id}/confirm",
            "/v1/payment_intents/pi_1/confirm",
        )
        .unwrap();
        assert_eq!(captures["id"], "pi_1");
        assert!(match_path("/v1/refunds", "/v1/refunds/x").is_none());
        assert!(match_path("**/Patient", "/fhir/r4/Patient").is_some());
        assert!(match_path("**/Patient/{id}", "/Patient/42").is_some());
        let shopify = match_path(
            "/admin/api/{v}/variants/{id}.json",
            "/admin/api/2024-01/variants/808.json",
        )
        .unwrap();
        assert_eq!(shopify["id"], "808");
        assert!(match_path("/a/{id}.json", "/a/808").is_none());
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
        // Not UTF-8 once decoded: shown exactly as written, never with U+FFFD.
        assert_eq!(percent_decode("%82k_live"), "%82k_live");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert!(origin_matches(
            "https://*.myshopify.com",
            "https://shop-1.myshopify.com"
        ));
        assert!(!origin_matches(
            "https://*.myshopify.com",
            "https://myshopify.com"
        ));
        assert!(!origin_matches(
            "https://*.myshopify.com",
            "https://evilmyshopify.com"
        ));
        assert!(!origin_matches(
            "https://*.myshopify.com",
            "http://a.myshopify.com"
        ));
    }
}
