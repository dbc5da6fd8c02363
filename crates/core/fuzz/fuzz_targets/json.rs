//! Any text as JSON: the reader never panics, and the canonical form reads back to itself.
#![no_main]

use countersign_core::json::Json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = Json::parse(text) {
        let canonical = value.canonical();
        let again = Json::parse(&canonical).unwrap();
        assert_eq!(again, value);
        assert_eq!(again.canonical(), canonical);
    }
});
