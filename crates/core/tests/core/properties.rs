//! Properties of the canonical form and the artifact hash.

use countersign_core::Proposal;
use countersign_core::json::Json;
use proptest::prelude::*;

use crate::fixture::corpus_dir;

/// Any JSON value of modest size.
fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(|n| Json::Number(n.to_string())),
        "[-]?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,2})?".prop_map(Json::Number),
        any::<String>().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6).prop_map(Json::Object),
        ]
    })
}

/// Writes `json` with keys in an order given by `seed` and whitespace between tokens.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn respell(json: &Json, seed: &mut u64, out: &mut String) {
    let ws = |n: u64| [" ", "", "\n", "\t ", "\r\n  "][(n % 5) as usize];
    match json {
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws(next(seed)));
                respell(item, seed, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            let mut entries: Vec<_> = members.iter().collect();
            // A seeded shuffle, so a failing case reproduces.
            for i in (1..entries.len()).rev() {
                let j = (next(seed) % (i as u64 + 1)) as usize;
                entries.swap(i, j);
            }
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws(next(seed)));
                countersign_core::json::write_string(key, out);
                out.push_str(ws(next(seed)));
                out.push(':');
                respell(value, seed, out);
            }
            out.push_str(ws(next(seed)));
            out.push('}');
        }
        other => out.push_str(&other.canonical()),
    }
}

fn corpus_proposals() -> Vec<String> {
    let mut texts = Vec::new();
    for group in ["payments", "healthcare", "email"] {
        for entry in std::fs::read_dir(corpus_dir().join(group)).unwrap() {
            texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    texts.sort();
    texts
}

proptest! {
    #[test]
    fn canonical_form_ignores_key_order_and_whitespace(value in json(), seed in 1u64..) {
        let mut seed = seed;
        let mut respelled = String::new();
        respell(&value, &mut seed, &mut respelled);
        let reparsed = Json::parse(&respelled).unwrap();
        prop_assert_eq!(reparsed.canonical(), value.canonical());
        prop_assert_eq!(Json::parse(&value.canonical()).unwrap(), value);
    }

    #[test]
    fn artifact_hash_ignores_spelling(index in 0usize..1000, seed in 1u64..) {
        let texts = corpus_proposals();
        let text = &texts[index % texts.len()];
        let original = Proposal::parse(text).unwrap();
        let mut seed = seed;
        let mut respelled = String::new();
        respell(&Json::parse(text).unwrap(), &mut seed, &mut respelled);
        let again = Proposal::parse(&respelled).unwrap();
        prop_assert_eq!(original.artifact.sha256(), again.artifact.sha256());
    }

    #[test]
    fn artifact_hash_changes_with_any_character(index in 0usize..1000, position in 0usize..10_000, replacement in any::<char>()) {
        let texts = corpus_proposals();
        let original = Proposal::parse(&texts[index % texts.len()]).unwrap();
        let canonical = original.artifact.canonical();
        // Change one character inside one string value of the artifact's JSON.
        let mut json = Json::parse(&canonical).unwrap();
        let mut strings = 0usize;
        count_strings(&json, &mut strings);
        prop_assume!(strings > 0);
        let target = position % strings;
        let changed = change_one(&mut json, target, position, replacement, &mut 0);
        prop_assume!(changed);
        let artifact = countersign_core::Artifact::from_json(&json, "artifact");
        prop_assume!(artifact.is_ok());
        prop_assert_ne!(artifact.unwrap().sha256(), original.artifact.sha256());
    }
}

fn count_strings(json: &Json, count: &mut usize) {
    match json {
        Json::String(_) => *count += 1,
        Json::Array(items) => items.iter().for_each(|i| count_strings(i, count)),
        Json::Object(members) => members.values().for_each(|v| count_strings(v, count)),
        _ => {}
    }
}

fn change_one(
    json: &mut Json,
    target: usize,
    position: usize,
    replacement: char,
    seen: &mut usize,
) -> bool {
    match json {
        Json::String(s) => {
            let this = *seen;
            *seen += 1;
            if this != target {
                return false;
            }
            let chars: Vec<char> = s.chars().collect();
            if chars.is_empty() {
                s.push(replacement);
                return true;
            }
            let at = position % chars.len();
            if chars[at] == replacement {
                return false;
            }
            *s = chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i == at { replacement } else { *c })
                .collect();
            true
        }
        Json::Array(items) => items
            .iter_mut()
            .any(|i| change_one(i, target, position, replacement, seen)),
        Json::Object(members) => members
            .values_mut()
            .any(|v| change_one(v, target, position, replacement, seen)),
        _ => false,
    }
}

/// Characters of every UTF-8 width, and marks the recognisers look for next to them.
const WIDE: &[char] = &['é', 'ß', '€', '中', '\u{fffd}', '𝟘', '😀', '\u{301}', 'İ'];

/// Values shaped like what the explainer recognises — IBANs, emails, phone numbers, dates, FHIR
/// comparisons, percent escapes, money — with a wide character standing at `at`.
fn shaped(kind: usize, at: usize, wide: char) -> String {
    let base = [
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "pat@clinic.example",
        "+4915123456789",
        "2026-12-07T10:00:00Z",
        "ge2026-12-07",
        "%82%6B%5F%6C%69",
        "12.50 EUR",
        "acct_1Nv0FGQ9RKHgCVdK",
        "SELECT * FROM invoices WHERE status = 'open'",
    ][kind % 10];
    let mut chars: Vec<char> = base.chars().collect();
    let at = at % (chars.len() + 1);
    chars.insert(at, wide);
    chars.into_iter().collect()
}

fn replace_nth(json: &mut Json, target: usize, value: &str, seen: &mut usize) -> bool {
    match json {
        Json::String(s) => {
            let this = *seen;
            *seen += 1;
            if this == target {
                *s = value.to_owned();
            }
            this == target
        }
        Json::Array(items) => items
            .iter_mut()
            .any(|i| replace_nth(i, target, value, seen)),
        Json::Object(members) => members
            .values_mut()
            .any(|v| replace_nth(v, target, value, seen)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    /// Explaining never panics, whatever string of the proposal carries a wide character next to
    /// a shape the explainer recognises (a byte slice inside a character was a fuzz find: an
    /// IBAN check on `%82…` decoded to U+FFFD).
    #[test]
    fn explaining_text_with_wide_characters_never_panics(
        index in 0usize..1000,
        target in 0usize..10_000,
        kind in 0usize..10,
        at in prop_oneof![0usize..4, 0usize..64],
        wide in prop::sample::select(WIDE),
        in_query in any::<bool>(),
    ) {
        let texts = corpus_proposals();
        let mut json = Json::parse(&texts[index % texts.len()]).unwrap();
        let Json::Object(members) = &mut json else { panic!("a proposal is an object") };
        let artifact = members.get_mut("artifact").unwrap();
        let value = shaped(kind, at, wide);
        let url = match artifact {
            Json::Object(fields) => fields.get_mut("url"),
            _ => None,
        };
        match url {
            // The value as a URL query carries it: percent-encoded byte by byte.
            Some(Json::String(url)) if in_query => {
                let escaped: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
                let joint = if url.contains('?') { '&' } else { '?' };
                url.push_str(&format!("{joint}to={escaped}"));
            }
            _ => {
                let mut strings = 0usize;
                count_strings(artifact, &mut strings);
                prop_assume!(strings > 0);
                prop_assert!(replace_nth(artifact, target % strings, &value, &mut 0));
            }
        }
        let _ = crate::fixture::Fixture::load().explain(&json.canonical());
    }
}
