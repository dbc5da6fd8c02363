//! Snapshot tests over the corpus in `tests/corpus/<use>/*.json`.
//!
//! Each proposal's explanation (or refusal) is written as plain text and compared with
//! `tests/snapshots/<use>/<name>.txt`, so a reviewer reads headlines as a person would. Set
//! `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate change, then review the diff.
//! `tests/corpus/expect.json` states, for every case, the refusal code or the risks it must have;
//! that is checked independently of the snapshot text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use countersign_core::{Explained, Refusal, RefusalCode, RiskCode, Severity};
use serde::Deserialize;

use crate::fixture::{Fixture, corpus_dir};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    refused: Option<String>,
    risks: Option<Vec<String>>,
}

fn cases() -> Vec<(String, PathBuf)> {
    let mut cases = Vec::new();
    for group in std::fs::read_dir(corpus_dir()).unwrap() {
        let group = group.unwrap().path();
        if !group.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&group).unwrap() {
            let file = file.unwrap().path();
            let name = format!(
                "{}/{}",
                group.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            );
            cases.push((name, file));
        }
    }
    cases.sort();
    cases
}

fn render(outcome: &Result<Explained, Refusal>) -> String {
    let mut out = String::new();
    match outcome {
        Ok(explained) => {
            let e = &explained.explanation;
            writeln!(out, "headline: {}", e.headline).unwrap();
            writeln!(
                out,
                "action: {}",
                serde_json::to_value(e.action).unwrap().as_str().unwrap()
            )
            .unwrap();
            writeln!(
                out,
                "second factor: {}",
                if e.requires_second_factor {
                    "required"
                } else {
                    "no"
                }
            )
            .unwrap();
            writeln!(out, "agent says: {}", e.agent_summary).unwrap();
            writeln!(out, "details:").unwrap();
            for d in &e.details {
                writeln!(out, "  {}: {}", d.label, d.value.replace('\n', "\n    ")).unwrap();
            }
            writeln!(out, "risks:").unwrap();
            for r in &e.risks {
                let severity = serde_json::to_value(r.severity).unwrap();
                let code = serde_json::to_value(r.code).unwrap();
                writeln!(
                    out,
                    "  [{}] {}: {}",
                    severity.as_str().unwrap(),
                    code.as_str().unwrap(),
                    r.message
                )
                .unwrap();
            }
            writeln!(out, "artifact_sha256: {}", explained.artifact_sha256).unwrap();
        }
        Err(refusal) => {
            writeln!(out, "refused: {}", refusal.code).unwrap();
            writeln!(out, "field: {}", refusal.field.as_deref().unwrap_or("-")).unwrap();
            writeln!(out, "message: {}", refusal.message).unwrap();
        }
    }
    out
}

fn snapshot_path(name: &str) -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/snapshots")
    .join(format!("{name}.txt"))
}

#[test]
fn corpus_matches_snapshots_and_expectations() {
    let fixture = Fixture::load();
    let expectations: BTreeMap<String, Expectation> =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("expect.json")).unwrap())
            .unwrap();
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(
        cases.len() >= 60,
        "the corpus must keep at least 60 proposals, has {}",
        cases.len()
    );
    for (name, path) in &cases {
        let text = std::fs::read_to_string(path).unwrap();
        let outcome = fixture.explain(&text);
        let rendered = render(&outcome);

        // No secret ever appears in what is shown or returned, whatever the outcome.
        for secret in fixture.secret_values() {
            assert!(
                !rendered.contains(secret),
                "{name}: a secret appears in the output"
            );
        }

        let snapshot = snapshot_path(name);
        if update {
            std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
            std::fs::write(&snapshot, &rendered).unwrap();
        } else {
            match std::fs::read_to_string(&snapshot) {
                Ok(expected) if expected == rendered => {}
                Ok(expected) => failures.push(format!(
                    "{name}: snapshot differs\n--- expected\n{expected}\n--- actual\n{rendered}"
                )),
                Err(_) => failures.push(format!(
                    "{name}: no snapshot (run with UPDATE_SNAPSHOTS=1)\n{rendered}"
                )),
            }
        }

        let Some(expectation) = expectations.get(name) else {
            failures.push(format!("{name}: not listed in expect.json"));
            continue;
        };
        match (&outcome, &expectation.refused, &expectation.risks) {
            (Err(refusal), Some(code), _) if refusal.code.as_str() == code => {}
            (Ok(explained), None, Some(risks)) => {
                let found: BTreeSet<&str> = explained
                    .explanation
                    .risks
                    .iter()
                    .map(|r| r.code.as_str())
                    .collect();
                for risk in risks {
                    if !found.contains(risk.as_str()) {
                        failures.push(format!("{name}: expected risk {risk}, found {found:?}"));
                    }
                }
            }
            _ => failures.push(format!(
                "{name}: expected {:?}/{:?}, got\n{rendered}",
                expectation.refused, expectation.risks
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every refusal code is produced by some case, except `rate_limited`, which only the connector
/// can decide (it counts an agent's proposals over time) and is tested there.
#[test]
fn every_refusal_code_is_exercised() {
    let expectations: BTreeMap<String, Expectation> =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("expect.json")).unwrap())
            .unwrap();
    let covered: BTreeSet<String> = expectations
        .values()
        .filter_map(|e| e.refused.clone())
        .collect();
    for code in RefusalCode::ALL {
        // Rate limits are the connector's; routines have their own tests (routines.rs).
        if code == RefusalCode::RateLimited || code == RefusalCode::InvalidRoutine {
            continue;
        }
        assert!(
            covered.contains(code.as_str()),
            "no corpus case is refused with {code}"
        );
    }
}

#[test]
fn every_risk_code_is_exercised() {
    let expectations: BTreeMap<String, Expectation> =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("expect.json")).unwrap())
            .unwrap();
    let covered: BTreeSet<String> = expectations
        .values()
        .filter_map(|e| e.risks.clone())
        .flatten()
        .collect();
    for code in RiskCode::ALL {
        // Only a held routine run carries it (the app's routine tests check it).
        if code == RiskCode::RoutineRunHeld {
            continue;
        }
        assert!(
            covered.contains(code.as_str()),
            "no corpus case expects the risk {}",
            code.as_str()
        );
    }
}

/// Danger-level codes of design.md §7.
#[test]
fn danger_codes_are_danger() {
    for code in [
        RiskCode::NoFilter,
        RiskCode::Lookalike,
        RiskCode::HiddenCharacters,
        RiskCode::SummaryMismatch,
        RiskCode::ControlledSubstance,
    ] {
        assert_eq!(code.severity(), Severity::Danger, "{code:?}");
    }
}

/// Whether a headline names money with its currency, or says in words what is unknown.
fn names_money(headline: &str) -> bool {
    let symbol = headline.contains(['$', '€', '£', '¥', '₹']);
    let code = headline.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
        w.len() == 3
            && w.bytes().all(|b| b.is_ascii_uppercase())
            && countersign_core::money::minor_digits(w) < 4
            && !["THE", "AND", "FOR"].contains(&w)
    });
    symbol
        || code
        || headline.contains("currency not stated")
        || headline.contains("states no amount")
        || headline.contains("amount already set")
        || headline.contains("in full")
}

/// Over the whole corpus: a headline never shows a placeholder, a JSON fragment or the URL path
/// of the request, and a payment headline names its amount with the currency (or says what the
/// request leaves out).
#[test]
fn headlines_are_words_not_placeholders_fragments_or_paths() {
    let fixture = Fixture::load();
    let mut failures = Vec::new();
    for (name, path) in cases() {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(explained) = fixture.explain(&text) else {
            continue;
        };
        let headline = &explained.explanation.headline;
        for bad in [
            "(not stated)",
            "(not given)",
            "{",
            "}",
            "missing from the request",
        ] {
            if headline.contains(bad) {
                failures.push(format!("{name}: “{headline}” holds {bad}"));
            }
        }
        let proposal: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(url) = proposal["artifact"]["url"].as_str() {
            let path = url::Url::parse(url).unwrap().path().to_owned();
            if path.len() > 1 && headline.contains(path.trim_end_matches('/')) {
                failures.push(format!("{name}: “{headline}” shows the path {path}"));
            }
        }
        if explained.explanation.action == countersign_core::Action::Payment
            && !names_money(headline)
        {
            failures.push(format!(
                "{name}: the payment headline “{headline}” names no amount with its currency"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
