//! Any bytes as an HTTP body of each readable content type, and as server output searched for a
//! secret: the readers never panic, and redacting leaves nothing the finder would find again.
#![no_main]

use countersign_core::artifact::HttpArtifact;
use countersign_core::json::Json;
use countersign_core::secret::SecretFinder;
use libfuzzer_sys::fuzz_target;

const TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "text/plain; charset=utf-8",
    "application/fhir+json",
    "application/octet-stream",
];

fuzz_target!(|data: &[u8]| {
    let finder = SecretFinder::new(["tok/live+9f8e&7d6c=NEVER"]);
    let redacted = finder.redact(data, b"[REDACTED]");
    assert!(!finder.found_in(&redacted));
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let content_type = TYPES[usize::from(selector) % TYPES.len()];
    let artifact = HttpArtifact {
        credential: None,
        method: "POST".into(),
        url: "https://api.example/".into(),
        headers: [("Content-Type".to_owned(), content_type.to_owned())].into(),
        body: Json::String(text.to_owned()),
    };
    let _ = countersign_core::body::read(&artifact);
});
