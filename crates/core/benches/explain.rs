//! Explanations per second on one core, for the mix of the corpus's three uses, against only
//! JSON-parsing the same inputs in the same run (design.md §17: target ≥ 20,000/s).
//!
//! `cargo bench -p countersign-core --bench explain` (add `-- --quick` for a short run). The
//! numbers are printed, never asserted: a benchmark measures, tests decide.

use std::hint::black_box;
use std::time::{Duration, Instant};

use countersign_core::credential::Registry;
use countersign_core::descriptor::Descriptors;
use countersign_core::{Context, Proposal, SecretProbe, Settings};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = if quick {
        Duration::from_millis(700)
    } else {
        Duration::from_secs(4)
    };
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/corpus");
    let registry_json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("registry.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    let registry = Registry {
        credentials: serde_json::from_value(registry_json["credentials"].clone())
            .unwrap_or_default(),
        plain_loopback_origins: Vec::new(),
    };
    let mut inputs = Vec::new();
    for group in ["payments", "healthcare", "email"] {
        let Ok(entries) = std::fs::read_dir(dir.join(group)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                inputs.push(text);
            }
        }
    }
    inputs.sort();
    if inputs.is_empty() {
        eprintln!("no corpus found under {}", dir.display());
        std::process::exit(1);
    }
    let descriptors = match Descriptors::shipped() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let settings = Settings::default();
    let secrets = [SecretProbe {
        credential: "acme-bank",
        value: "sk_live_acme_7Qx9Lm2Vt8",
    }];
    let context = Context {
        registry: &registry,
        secrets: &secrets,
        descriptors: &descriptors,
        settings: &settings,
    };

    let baseline = rate(&inputs, budget, |text| {
        black_box(serde_json::from_str::<serde_json::Value>(text).is_ok());
    });
    let explain = rate(&inputs, budget, |text| {
        let outcome = Proposal::parse(text).and_then(|p| countersign_core::explain(&p, &context));
        black_box(outcome.is_ok());
    });
    println!(
        "explain benchmark: {} proposals (payments, healthcare, email), one thread",
        inputs.len()
    );
    println!("  baseline (serde_json parse only): {baseline:>12.0} proposals/s");
    println!("  parse + validate + explain:        {explain:>12.0} proposals/s");
    println!(
        "  ratio explain/baseline:            {:>12.3}",
        explain / baseline
    );
    println!(
        "  target ≥ 20,000/s:                 {}",
        if explain >= 20_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// Runs `work` over the inputs round-robin for about `budget`, after a warm-up; returns items/s.
fn rate(inputs: &[String], budget: Duration, mut work: impl FnMut(&str)) -> f64 {
    for text in inputs {
        work(text);
    }
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < budget {
        for text in inputs {
            work(text);
        }
        done += inputs.len() as u64;
    }
    done as f64 / start.elapsed().as_secs_f64()
}
