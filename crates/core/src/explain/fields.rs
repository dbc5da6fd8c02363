//! Rendering a descriptor's fields from a request: values found, formatted, and missing ones
//! shown as missing.

use std::collections::BTreeMap;

use base64::Engine as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::{Draft, Settings};
use crate::controlled;
use crate::descriptor::{Descriptor, Field, Format};
use crate::explanation::RiskCode;
use crate::json::Json;
use crate::money::{Decimal, format_money};

/// Where field paths look.
pub struct Sources<'a> {
    pub body: &'a Json,
    pub captures: &'a BTreeMap<String, String>,
    pub query: &'a BTreeMap<String, String>,
}

/// Adds the descriptor's details and risks to the draft and returns the headline, or `None`
/// when a required field is missing or cannot be read: the descriptor does not describe this
/// request, and the generic account is used instead (a descriptor never makes a headline worse).
pub fn render(
    descriptor: &Descriptor,
    sources: &Sources<'_>,
    draft: &mut Draft,
    settings: &Settings,
) -> Option<String> {
    let display = &descriptor.display;
    let mut shown: BTreeMap<&str, String> = BTreeMap::new();
    for field in &display.fields {
        let raw = lookup(field, sources);
        let value = match raw {
            Some(value) if !is_empty(&value) => {
                let shown = format_value(field, &value, descriptor, sources, draft, settings);
                let amount = matches!(field.format, Format::AmountMinor | Format::AmountDecimal);
                if shown.is_none() && amount {
                    return None;
                }
                shown
            }
            _ => None,
        };
        match value {
            Some(Shown { detail, short }) => {
                if let Some(code) = field.risk_if_present {
                    draft.flag(code);
                }
                if Some(&field.key) == display.counterparty.as_ref() {
                    draft.counterparties.push(short.clone());
                }
                draft.detail(&field.label, &detail);
                shown.insert(&field.key, short);
            }
            None if field.required => return None,
            None => {}
        }
    }
    for code in &display.risks {
        draft.flag(*code);
    }
    Some(interpolate(&display.intent, &shown))
}

/// One fact of a result: label, shown value, path in the body.
pub(crate) type ResultFact = (String, String, String);

/// A result's facts by a descriptor's `result` section: the summary, and each field found as
/// (label, shown value, path in the body). `None` when the summary's required fields are absent
/// (the answer is not the one the descriptor describes, an error for instance).
pub(crate) fn render_result(
    descriptor: &Descriptor,
    body: &Json,
) -> Option<(String, Vec<ResultFact>)> {
    let result = descriptor.result.as_ref()?;
    let captures = BTreeMap::new();
    let query = BTreeMap::new();
    let sources = Sources {
        body,
        captures: &captures,
        query: &query,
    };
    let settings = Settings::default();
    let mut scratch = Draft::default();
    let mut shown: BTreeMap<&str, String> = BTreeMap::new();
    let mut facts = Vec::new();
    for field in &result.fields {
        let value = lookup(field, &sources).filter(|v| !is_empty(v));
        let formatted = value
            .as_ref()
            .and_then(|v| format_value(field, v, descriptor, &sources, &mut scratch, &settings));
        match formatted {
            Some(Shown { detail, short }) => {
                facts.push((field.label.clone(), detail, field.path.clone()));
                shown.insert(&field.key, short);
            }
            None if field.required => return None,
            None => {}
        }
    }
    Some((interpolate(&result.summary, &shown), facts))
}

fn is_empty(json: &Json) -> bool {
    match json {
        Json::Null => true,
        Json::String(s) => s.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(members) => members.is_empty(),
        _ => false,
    }
}

fn lookup(field: &Field, sources: &Sources<'_>) -> Option<Json> {
    if let Some(name) = field.path.strip_prefix("path:") {
        return sources.captures.get(name).map(|v| Json::String(v.clone()));
    }
    if let Some(name) = field.path.strip_prefix("query:") {
        return sources.query.get(name).map(|v| Json::String(v.clone()));
    }
    // Form bodies (Stripe) are flat: `transfer_data[destination]` is one literal key.
    sources
        .body
        .as_object()
        .and_then(|members| members.get(&field.path))
        .or_else(|| sources.body.at(&field.path))
        .cloned()
}

fn plain(json: &Json) -> String {
    match json {
        Json::String(s) | Json::Number(s) => s.clone(),
        Json::Bool(true) => "yes".to_owned(),
        Json::Bool(false) => "no".to_owned(),
        Json::Null => String::new(),
        other => other.canonical(),
    }
}

/// A value as shown in the details, and in short for the headline.
struct Shown {
    detail: String,
    short: String,
}

impl From<String> for Shown {
    fn from(text: String) -> Self {
        Shown {
            short: text.clone(),
            detail: text,
        }
    }
}

fn format_value(
    field: &Field,
    value: &Json,
    descriptor: &Descriptor,
    sources: &Sources<'_>,
    draft: &mut Draft,
    settings: &Settings,
) -> Option<Shown> {
    Some(match field.format {
        Format::Text => plain(value).into(),
        Format::AmountMinor | Format::AmountDecimal => {
            // The request's own currency first; a fixed one only where the API has a default.
            let currency = field
                .currency_path
                .as_ref()
                .and_then(|p| sources.body.at(p))
                .map(plain)
                .filter(|c| !c.is_empty())
                .or_else(|| field.currency.clone())
                .unwrap_or_default();
            let number = value.as_decimal();
            let amount = match (field.format, number) {
                // Minor units cannot be read without knowing the currency's digits.
                (Format::AmountMinor, Some(_)) if currency.is_empty() => None,
                (Format::AmountMinor, Some(n)) => Decimal::from_minor(n, &currency),
                (_, n) => n,
            };
            match amount {
                None if field.format == Format::AmountMinor
                    && currency.is_empty()
                    && number.is_some() =>
                {
                    // Minor units of an unknown currency: 2500 is $25.00 or ¥2,500. Say so,
                    // and check it as an amount in another currency (the second factor when a
                    // limit is set).
                    let n = number?;
                    draft.money(n, "", settings);
                    Shown {
                        detail: format!(
                            "{n} in the smallest unit of a currency the request does not state (cents for dollars, yen for yen)"
                        ),
                        short: format!("{n} minor units (currency not stated)"),
                    }
                }
                Some(amount) if !currency.is_empty() => {
                    draft.money(amount, &currency, settings);
                    let money = format_money(amount, &currency);
                    Shown {
                        detail: format!("{money} ({})", currency.to_ascii_uppercase()),
                        short: money,
                    }
                }
                Some(amount) => {
                    draft.money(amount, "", settings);
                    Shown {
                        detail: format!("{amount}, in a currency the request does not state"),
                        short: format!("{amount} (currency not stated)"),
                    }
                }
                // An amount that is not a number (an object, a typo) is not the field this
                // descriptor expects: the generic account reads amounts at any depth and flags
                // one it cannot read.
                None => return None,
            }
        }
        Format::Date => format_date(&plain(value)).into(),
        Format::Datetime => {
            let zone = field
                .zone_path
                .as_ref()
                .and_then(|p| sources.body.at(p))
                .map(plain)
                .filter(|z| !z.is_empty());
            format_local_datetime(&plain(value), zone.as_deref()).into()
        }
        Format::Reference => match value {
            Json::Object(_) => {
                let reference = value.at("reference").map(plain).unwrap_or_default();
                match value.at("display").map(plain) {
                    Some(display) if !reference.is_empty() => Shown {
                        detail: format!("{display} ({reference})"),
                        short: display,
                    },
                    Some(display) => display.into(),
                    None => reference.into(),
                }
            }
            other => plain(other).into(),
        },
        Format::Enum => {
            let code = plain(value);
            match field
                .enum_name
                .as_ref()
                .and_then(|name| descriptor.metadata.enums.get(name))
                .and_then(|map| map.get(&code))
            {
                Some(words) => Shown {
                    detail: format!("{words} ({code})"),
                    short: words.clone(),
                },
                None => code.into(),
            }
        }
        Format::Codeable | Format::Medication => {
            let coding = value.at("coding[0]");
            let text = value
                .at("text")
                .map(plain)
                .or_else(|| coding.and_then(|c| c.at("display")).map(plain))
                .unwrap_or_default();
            let code = coding.and_then(|c| c.at("code")).map(plain);
            let mut schedule_words = String::new();
            if field.format == Format::Medication {
                let mut codes = Vec::new();
                if let Some(Json::Array(codings)) = value.at("coding") {
                    codes = codings
                        .iter()
                        .filter_map(|c| c.at("code").and_then(Json::as_str))
                        .collect();
                }
                if let Some((ingredient, schedule)) = controlled::schedule(&text, &codes) {
                    draft.risks.flag(
                        RiskCode::ControlledSubstance,
                        format!(
                            "This prescribes {ingredient}, a Schedule {schedule} controlled substance; signing needs your second factor."
                        ),
                    );
                    draft.second_factor = true;
                    schedule_words =
                        format!(" — {ingredient}, a DEA Schedule {schedule} controlled substance");
                }
            }
            let name = if text.is_empty() {
                code.clone()
                    .map(|c| format!("code {c}"))
                    .unwrap_or_default()
            } else {
                text
            };
            let detail = match &code {
                Some(code) if !name.starts_with("code ") => {
                    format!("{name} (code {code}){schedule_words}")
                }
                _ => format!("{name}{schedule_words}"),
            };
            Shown {
                detail,
                short: name,
            }
        }
        Format::Recipients => {
            let Json::Array(items) = value else {
                return Some(plain(value).into());
            };
            let addresses: Vec<String> = items
                .iter()
                .map(|item| {
                    // Graph `{emailAddress:{address}}`, SendGrid and Google `{email, name}`.
                    item.at("emailAddress.address")
                        .or_else(|| item.at("email"))
                        .map_or_else(|| plain(item), plain)
                })
                .collect();
            addresses.join(", ").into()
        }
        Format::List => match value {
            Json::Array(items) => items
                .iter()
                .map(|item| item.at("name").map_or_else(|| plain(item), plain))
                .collect::<Vec<_>>()
                .join(", ")
                .into(),
            other => plain(other).into(),
        },
        Format::EmailRaw => {
            let raw = plain(value);
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(raw.trim_end_matches('='))
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())?;
            let headers = decoded
                .split("\r\n\r\n")
                .next()
                .unwrap_or("")
                .replace("\r\n", "\n");
            let header = |name: &str| {
                headers.lines().find_map(|line| {
                    let (key, value) = line.split_once(':')?;
                    key.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| value.trim().to_owned())
                })
            };
            let to = header("To").unwrap_or_default();
            let subject = header("Subject").unwrap_or_default();
            draft.detail("To", &to);
            if let Some(cc) = header("Cc") {
                draft.detail("Cc", cc);
            }
            if let Some(bcc) = header("Bcc") {
                draft.detail("Bcc (hidden)", bcc);
                draft.flag(RiskCode::HiddenRecipient);
            }
            draft.detail("Subject", &subject);
            format!("“{subject}” to {to}").into()
        }
    })
}

pub(super) fn format_date(value: &str) -> String {
    let format = format_description!("[year]-[month]-[day]");
    match time::Date::parse(value, format) {
        Ok(date) => {
            let shown = format_description!(
                "[weekday repr:short] [day padding:none] [month repr:short] [year]"
            );
            date.format(shown).unwrap_or_else(|_| value.to_owned())
        }
        Err(_) => value.to_owned(),
    }
}

pub(super) fn format_datetime(value: &str) -> String {
    match OffsetDateTime::parse(value, &Rfc3339) {
        Ok(at) => {
            let shown = format_description!(
                "[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute]"
            );
            let offset = at.offset();
            let zone = if offset.is_utc() {
                "UTC".to_owned()
            } else {
                let (h, m, _) = offset.as_hms();
                format!(
                    "UTC{}{:02}:{:02}",
                    if offset.is_negative() { '−' } else { '+' },
                    h.abs(),
                    m.abs()
                )
            };
            match at.format(shown) {
                Ok(text) => format!("{text} ({zone})"),
                Err(_) => value.to_owned(),
            }
        }
        Err(_) => format!("{value} (not a valid date and time)"),
    }
}

/// Fills `{key}` with shown values. A part in square brackets is optional: it is left out
/// when a key inside it has no value (`"Refund [{amount} of ]payment {id}"`), or replaced by the
/// text after a `|` (`"Refund [{amount}|in full]"`). A key outside
/// brackets always has a value, because a descriptor whose required fields are missing is not
/// used; one that is neither required nor bracketed is left out with its braces.
/// A date-time with its offset (RFC 3339), or a wall-clock time with the time zone named beside
/// it (Microsoft Graph and Google Calendar write `{dateTime, timeZone}`).
pub(super) fn format_local_datetime(value: &str, zone: Option<&str>) -> String {
    if OffsetDateTime::parse(value, &Rfc3339).is_ok() {
        return format_datetime(value);
    }
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let trimmed = value.split('.').next().unwrap_or(value);
    match time::PrimitiveDateTime::parse(trimmed, format) {
        Ok(at) => {
            let shown = format_description!(
                "[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute]"
            );
            let text = at.format(shown).unwrap_or_else(|_| value.to_owned());
            match zone {
                Some(zone) => format!("{text} ({zone})"),
                None => format!("{text} (time zone not stated)"),
            }
        }
        Err(_) => format_datetime(value),
    }
}

fn interpolate(intent: &str, shown: &BTreeMap<&str, String>) -> String {
    fn fill(part: &str, shown: &BTreeMap<&str, String>) -> Option<String> {
        let mut out = String::new();
        let mut rest = part;
        let mut complete = true;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            match shown.get(&after[..end]) {
                Some(value) => out.push_str(value),
                None => complete = false,
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        complete.then_some(out)
    }
    let mut out = String::new();
    let mut rest = intent;
    while let Some(open) = rest.find('[') {
        let (before, after) = rest.split_at(open);
        out.push_str(&fill(before, shown).unwrap_or_else(|| lenient(before, shown)));
        match after[1..].find(']') {
            Some(close) => {
                let inner = &after[1..=close];
                let (primary, fallback) = inner.split_once('|').unwrap_or((inner, ""));
                match fill(primary, shown) {
                    Some(optional) => out.push_str(&optional),
                    None => out.push_str(&lenient(fallback, shown)),
                }
                rest = &after[close + 2..];
            }
            None => {
                rest = &after[1..];
            }
        }
    }
    out.push_str(&fill(rest, shown).unwrap_or_else(|| lenient(rest, shown)));
    // Collapse the double spaces an absent optional part leaves behind.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fills what it can and drops keys without a value.
fn lenient(part: &str, shown: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = part;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        if let Some(value) = shown.get(&after[..end]) {
            out.push_str(value);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_a_calendar() {
        assert_eq!(
            format_datetime("2026-12-03T10:00:00-05:00"),
            "Thu 3 Dec 2026, 10:00 (UTC−05:00)"
        );
        assert_eq!(
            format_datetime("2026-12-03T10:00:00Z"),
            "Thu 3 Dec 2026, 10:00 (UTC)"
        );
        assert_eq!(format_date("1980-02-29"), "Fri 29 Feb 1980");
    }

    #[test]
    fn optional_parts_are_left_out_whole() {
        let mut shown = BTreeMap::new();
        shown.insert("id", "pi_1".to_owned());
        assert_eq!(
            interpolate("Refund [{amount} of ]payment {id}", &shown),
            "Refund payment pi_1"
        );
        shown.insert("amount", "$5.00".to_owned());
        assert_eq!(
            interpolate(
                "Refund [{amount} of ]payment {id}[ because {reason}]",
                &shown
            ),
            "Refund $5.00 of payment pi_1"
        );
        assert_eq!(
            interpolate("Refund payment {id} [for {missing}|in full]", &shown),
            "Refund payment pi_1 in full"
        );
    }
}
