//! Finding a secret in text however it was encoded.
//!
//! A server that echoes a token rarely echoes it raw: PHP writes `/` as `\/`, Go writes `&` as
//! `\u0026`, a proxy percent-encodes some characters and not others, in either hex case, and a
//! debug endpoint base64-encodes the whole `Authorization` value (`Bearer <token>`) or hex-dumps
//! it. Matching a list of pre-encoded forms misses every mixture of these, so the finder works the
//! other way round: it *decodes as it matches*. At each position it reads the text one unit at a
//! time — a literal byte, a percent escape (any case, also double-encoded `%25XX`), a JSON, JS or
//! Python escape (`\/`, `\"`, `\u00XX` with surrogate pairs, `\xXX`), an HTML character reference
//! (`&#NN;`, `&#xHH;`, `&amp;`…), or `+` for a space — and follows every way of reading that still
//! spells the secret. Separately, every run of base64 or hex characters (read through the same
//! escapes) is decoded at each of its alignments, with both base64 alphabets, and the decoded bytes
//! are searched the same way, one level deep, so a secret inside base64 of `user:password`, or
//! base64 of a percent-encoded secret, is found too.
//!
//! [`SecretFinder::spans`] returns the byte ranges to redact; [`SecretFinder::redact`] replaces
//! them. The finder keeps the values it looks for, so its `Debug` prints none of them.

use std::ops::Range;

/// Values shorter than this are not searched in decoded forms (they would match by chance); they
/// are still redacted where they appear literally.
pub const MIN_DECODED_SECRET_BYTES: usize = 6;

/// Base64 or hex runs shorter than this cannot hold a searchable secret.
const MIN_RUN: usize = 8;

/// Needles at least this long are found in base64 and hex by fixed patterns (fast); shorter ones
/// by decoding every run (slow, but such secrets are rare).
const PATTERN_NEEDLE: usize = 12;

/// Looks for secret values in any common encoding.
#[derive(Clone, Default)]
pub struct SecretFinder {
    needles: Vec<Vec<u8>>,
    /// Base64 (both alphabets, every alignment) of each long needle and of its percent- and
    /// JSON-escaped spellings: a base64 text that encodes the needle holds one of these. Sorted.
    base64: Vec<Vec<u8>>,
    /// The same spellings in lower-case hex (matched ignoring case). Sorted.
    hex: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SecretFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretFinder({} values, <redacted>)", self.needles.len())
    }
}

impl SecretFinder {
    /// A finder for these values (empty ones are ignored).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles: Vec<Vec<u8>> = values
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(|v| v.as_bytes().to_vec())
            .collect();
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        let mut base64 = Vec::new();
        let mut hex = Vec::new();
        for needle in needles.iter().filter(|n| n.len() >= PATTERN_NEEDLE) {
            for spelling in spellings(needle) {
                base64.extend(base64_patterns(&spelling));
                hex.push(hex_lower(&spelling));
            }
        }
        for list in [&mut base64, &mut hex] {
            list.sort();
            list.dedup();
        }
        SecretFinder {
            needles,
            base64,
            hex,
        }
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Whether `text` holds any of the values in any encoding.
    pub fn found_in(&self, text: &[u8]) -> bool {
        let mut spans = Vec::new();
        self.collect(text, 1, true, &mut spans);
        !spans.is_empty()
    }

    /// The byte ranges of `text` that spell one of the values, merged and in order.
    pub fn spans(&self, text: &[u8]) -> Vec<Range<usize>> {
        let mut spans = Vec::new();
        self.collect(text, 1, false, &mut spans);
        merge(spans)
    }

    fn spans_at_depth(&self, text: &[u8], depth: u8) -> Vec<Range<usize>> {
        let mut spans = Vec::new();
        self.collect(text, depth, false, &mut spans);
        spans
    }

    /// Pushes the spans of `text` that spell a value; with `first`, stops at the first one.
    fn collect(&self, text: &[u8], depth: u8, first: bool, spans: &mut Vec<Range<usize>>) {
        if self.needles.is_empty() || text.is_empty() {
            return;
        }
        let mut work = Vec::new();
        for start in 0..text.len() {
            let lead = text[start];
            for needle in &self.needles {
                let decoded = needle.len() >= MIN_DECODED_SECRET_BYTES;
                if !decoded {
                    if text[start..].starts_with(needle) {
                        spans.push(start..start + needle.len());
                    }
                    continue;
                }
                if !could_start(lead, needle[0]) {
                    continue;
                }
                if let Some(end) = match_at(text, start, needle, &mut work) {
                    spans.push(start..end);
                    if first {
                        return;
                    }
                    break;
                }
            }
        }
        // Runs read through escapes (`\/` in base64), and runs of the literal characters (where
        // an escape-looking prefix such as `%61` belongs to the hex itself).
        let has_escapes = text.iter().any(|b| matches!(b, b'%' | b'\\' | b'&'));
        for escaped in [false, true] {
            if escaped && !has_escapes {
                continue;
            }
            for run in runs(text, escaped) {
                if run.decoded.len() < MIN_RUN {
                    continue;
                }
                if self.run_holds_secret(&run.decoded, depth) {
                    spans.push(run.span.clone());
                    if first {
                        return;
                    }
                }
            }
        }
        // Two layers (an HTML reference inside a JSON escape, a percent escape of a JSON escape):
        // decode one outer layer everywhere, match on that view, map the spans back.
        if depth > 0 {
            for layer in [Layer::Backslash, Layer::Percent, Layer::Html] {
                if let Some((view, origin)) = peel(text, layer) {
                    for span in self.spans_at_depth(&view, depth - 1) {
                        if let (Some(from), Some(to)) = (
                            origin.get(span.start),
                            origin.get(span.end.saturating_sub(1)),
                        ) {
                            spans.push(from.start..to.end);
                            if first {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    fn run_holds_secret(&self, chars: &[u8], depth: u8) -> bool {
        if self.holds_pattern(chars) {
            return true;
        }
        if self
            .needles
            .iter()
            .all(|n| n.len() >= PATTERN_NEEDLE || n.len() < MIN_DECODED_SECRET_BYTES)
        {
            return false;
        }
        let look = |bytes: &[u8]| {
            if depth == 0 {
                self.needles.iter().any(|n| {
                    n.len() >= MIN_DECODED_SECRET_BYTES
                        && bytes.windows(n.len()).any(|w| w == n.as_slice())
                })
            } else {
                !self.spans_at_depth(bytes, depth - 1).is_empty()
            }
        };
        // Padding ends an encoding; what follows it starts a new one at its own alignment.
        for segment in chars.split(|c| *c == b'=').filter(|s| s.len() >= 4) {
            for offset in 0..4 {
                if let Some(bytes) = decode_base64(segment.get(offset..).unwrap_or_default())
                    && look(&bytes)
                {
                    return true;
                }
            }
        }
        // Hex is a subset of the base64 alphabet: try every maximal hex stretch of the run.
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_hexdigit() {
                i += 1;
                continue;
            }
            let begin = i;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
            let stretch = &chars[begin..i];
            if stretch.len() >= MIN_RUN {
                for offset in 0..2 {
                    let bytes = decode_hex(&stretch[offset..]);
                    if look(&bytes) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Whether a run holds one of the fixed base64 patterns (case-sensitive) or hex patterns
    /// (either case). Patterns are sorted, so those that start with a given byte are one range:
    /// one pass over the run, no allocation.
    fn holds_pattern(&self, chars: &[u8]) -> bool {
        fn starting(patterns: &[Vec<u8>], byte: u8) -> &[Vec<u8>] {
            let from = patterns.partition_point(|p| p[0] < byte);
            let to = patterns.partition_point(|p| p[0] <= byte);
            &patterns[from..to]
        }
        (0..chars.len()).any(|i| {
            let rest = &chars[i..];
            starting(&self.base64, chars[i])
                .iter()
                .any(|p| rest.starts_with(p))
                || chars[i].is_ascii_hexdigit()
                    && starting(&self.hex, chars[i].to_ascii_lowercase())
                        .iter()
                        .any(|p| {
                            rest.get(..p.len())
                                .is_some_and(|r| r.eq_ignore_ascii_case(p))
                        })
        })
    }

    /// `text` with every span replaced by `with`.
    pub fn redact(&self, text: &[u8], with: &[u8]) -> Vec<u8> {
        let spans = self.spans(text);
        if spans.is_empty() {
            return text.to_vec();
        }
        let mut out = Vec::with_capacity(text.len());
        let mut at = 0;
        for span in spans {
            out.extend_from_slice(&text[at..span.start]);
            out.extend_from_slice(with);
            at = span.end;
        }
        out.extend_from_slice(&text[at..]);
        out
    }

    /// `text` with every span replaced by `with`, as text.
    pub fn redact_text(&self, text: &str, with: &str) -> String {
        String::from_utf8_lossy(&self.redact(text.as_bytes(), with.as_bytes())).into_owned()
    }
}

/// One kind of escape, decoded on its own for a layered view.
#[derive(Clone, Copy)]
enum Layer {
    Backslash,
    Percent,
    Html,
}

/// `text` with every escape of one kind decoded, and for each byte of the view the range of
/// `text` it was read from; `None` when there is no such escape.
fn peel(text: &[u8], layer: Layer) -> Option<(Vec<u8>, Vec<Range<usize>>)> {
    let lead = match layer {
        Layer::Backslash => b'\\',
        Layer::Percent => b'%',
        Layer::Html => b'&',
    };
    let mut found = Vec::new();
    // Most texts have the lead character only where it escapes nothing (`&` between query
    // parameters): then there is no other layer to look through.
    let decodes = text.iter().enumerate().any(|(at, b)| {
        *b == lead && {
            units(text, at, &mut found);
            found.len() > 1
        }
    });
    if !decodes {
        return None;
    }
    let mut view = Vec::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    let mut at = 0;
    let mut changed = false;
    while at < text.len() {
        let step = if text[at] == lead {
            units(text, at, &mut found);
            found.iter().skip(1).max_by_key(|(_, len)| *len).copied()
        } else {
            None
        };
        match step {
            Some((unit, len)) => {
                for byte in unit.bytes() {
                    view.push(*byte);
                    origin.push(at..at + len);
                }
                at += len;
                changed = true;
            }
            None => {
                view.push(text[at]);
                origin.push(at..at + 1);
                at += 1;
            }
        }
    }
    changed.then_some((view, origin))
}

fn could_start(lead: u8, want: u8) -> bool {
    lead == want || matches!(lead, b'%' | b'\\' | b'&' | b'+')
}

/// Every way of reading one unit at `at`: the bytes it stands for and its length in `text`.
fn units(text: &[u8], at: usize, out: &mut Vec<(Unit, usize)>) {
    out.clear();
    let Some(&lead) = text.get(at) else {
        return;
    };
    out.push((Unit::byte(lead), 1));
    let rest = &text[at..];
    match lead {
        b'%' => {
            if let Some(byte) = hex_byte(rest.get(1..3)) {
                out.push((Unit::byte(byte), 3));
                if byte == b'%'
                    && let Some(inner) = hex_byte(rest.get(3..5))
                {
                    out.push((Unit::byte(inner), 5));
                }
            }
            // IIS-style %uXXXX.
            if matches!(rest.get(1), Some(b'u' | b'U'))
                && let Some(c) = hex_u16(rest.get(2..6))
                && let Some(c) = char::from_u32(u32::from(c))
            {
                out.push((Unit::char(c), 6));
            }
        }
        b'+' => out.push((Unit::byte(b' '), 1)),
        b'\\' => match rest.get(1) {
            Some(&c @ (b'/' | b'\\' | b'"' | b'\'')) => out.push((Unit::byte(c), 2)),
            Some(b'n') => out.push((Unit::byte(b'\n'), 2)),
            Some(b't') => out.push((Unit::byte(b'\t'), 2)),
            Some(b'r') => out.push((Unit::byte(b'\r'), 2)),
            Some(b'b') => out.push((Unit::byte(0x08), 2)),
            Some(b'f') => out.push((Unit::byte(0x0c), 2)),
            Some(b'x') => {
                if let Some(byte) = hex_byte(rest.get(2..4)) {
                    out.push((Unit::byte(byte), 4));
                }
            }
            Some(b'u') => {
                if let Some(high) = hex_u16(rest.get(2..6)) {
                    if (0xD800..0xDC00).contains(&high)
                        && rest.get(6..8) == Some(b"\\u")
                        && let Some(low) = hex_u16(rest.get(8..12))
                        && (0xDC00..0xE000).contains(&low)
                    {
                        let code = 0x10000
                            + ((u32::from(high) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        if let Some(c) = char::from_u32(code) {
                            out.push((Unit::char(c), 12));
                        }
                    } else if let Some(c) = char::from_u32(u32::from(high)) {
                        out.push((Unit::char(c), 6));
                    }
                }
            }
            _ => {}
        },
        b'&' => {
            if let Some(end) = rest.iter().take(12).position(|b| *b == b';') {
                let name = &rest[1..end];
                let decoded = match name {
                    b"amp" => Some('&'),
                    b"lt" => Some('<'),
                    b"gt" => Some('>'),
                    b"quot" => Some('"'),
                    b"apos" => Some('\''),
                    b"sol" => Some('/'),
                    b"equals" => Some('='),
                    b"plus" => Some('+'),
                    _ => match name {
                        [b'#', b'x' | b'X', digits @ ..] => std::str::from_utf8(digits)
                            .ok()
                            .and_then(|d| u32::from_str_radix(d, 16).ok())
                            .and_then(char::from_u32),
                        [b'#', digits @ ..] => std::str::from_utf8(digits)
                            .ok()
                            .and_then(|d| d.parse::<u32>().ok())
                            .and_then(char::from_u32),
                        _ => None,
                    },
                };
                if let Some(c) = decoded {
                    out.push((Unit::char(c), end + 1));
                }
            }
        }
        _ => {}
    }
}

/// The end of a reading of `needle` that starts at `start`, if there is one.
fn match_at(
    text: &[u8],
    start: usize,
    needle: &[u8],
    work: &mut Vec<(usize, usize)>,
) -> Option<usize> {
    // Fast path: a plain literal match, or a first byte that only matches literally and a second
    // that cannot continue, settle most positions without a search.
    if text[start..].starts_with(needle) {
        return Some(start + needle.len());
    }
    if !matches!(text[start], b'%' | b'\\' | b'&' | b'+')
        && let Some(&next) = text.get(start + 1)
        && !could_start(next, needle[1])
    {
        return None;
    }
    // States are (position in text, bytes of the needle matched), depth first. Each state's
    // readings consume text, so the search ends; a budget bounds pathological inputs, and running
    // out of it counts as found (redact or refuse rather than miss).
    work.clear();
    work.push((start, 0usize));
    let mut found: Vec<(Unit, usize)> = Vec::with_capacity(4);
    let mut budget = 4 * needle.len() + 64;
    while let Some((at, matched)) = work.pop() {
        if matched == needle.len() {
            return Some(at);
        }
        budget -= 1;
        if budget == 0 {
            return Some(at.max(start + 1));
        }
        units(text, at, &mut found);
        for (unit, len) in &found {
            if needle[matched..].starts_with(unit.bytes()) {
                work.push((at + len, matched + unit.bytes().len()));
            }
        }
    }
    None
}

/// The bytes one unit stands for (a character is at most four UTF-8 bytes).
#[derive(Clone, Copy, Debug)]
struct Unit {
    bytes: [u8; 4],
    len: u8,
}

impl Unit {
    fn byte(b: u8) -> Unit {
        Unit {
            bytes: [b, 0, 0, 0],
            len: 1,
        }
    }

    fn char(c: char) -> Unit {
        let mut bytes = [0u8; 4];
        let len = c.encode_utf8(&mut bytes).len();
        Unit {
            bytes,
            len: u8::try_from(len).unwrap_or(4),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The spellings of a needle that may then be base64- or hex-encoded as a whole.
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn spellings(needle: &[u8]) -> Vec<Vec<u8>> {
    let percent = |upper: bool| -> Vec<u8> {
        let digits = if upper { HEX_UPPER } else { HEX_LOWER };
        let mut out = Vec::with_capacity(needle.len() * 3);
        for b in needle {
            out.extend_from_slice(&[
                b'%',
                digits[usize::from(b >> 4)],
                digits[usize::from(b & 15)],
            ]);
        }
        out
    };
    let escaped = |from: u8, to: &str| -> Vec<u8> {
        needle
            .iter()
            .flat_map(|b| {
                if *b == from {
                    to.as_bytes().to_vec()
                } else {
                    vec![*b]
                }
            })
            .collect()
    };
    vec![
        needle.to_vec(),
        percent(false),
        percent(true),
        escaped(b'/', "\\/"),
        escaped(b'&', "\\u0026"),
        escaped(b'+', "%2B"),
    ]
}

/// Fixed substrings of every base64 encoding (both alphabets, each of the three alignments) of
/// a text that holds `spelling`.
fn base64_patterns(spelling: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for alignment in 0..3 {
        let skip = (3 - alignment) % 3;
        let Some(body) = spelling.get(skip..) else {
            continue;
        };
        let core = &body[..body.len() / 3 * 3];
        if core.len() < 6 {
            continue;
        }
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            out.push(engine.encode(core).into_bytes());
        }
    }
    out
}

fn hex_lower(bytes: &[u8]) -> Vec<u8> {
    let mut hex = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.extend_from_slice(&[
            HEX_LOWER[usize::from(b >> 4)],
            HEX_LOWER[usize::from(b & 15)],
        ]);
    }
    hex
}

/// A run of base64/hex characters, read through escapes.
struct Run {
    decoded: Vec<u8>,
    span: Range<usize>,
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

fn runs(text: &[u8], escaped: bool) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut current: Option<Run> = None;
    let mut at = 0;
    let mut found = Vec::new();
    while at < text.len() {
        let lead = text[at];
        if escaped && matches!(lead, b'%' | b'\\' | b'&') {
            units(text, at, &mut found);
        } else {
            found.clear();
            found.push((Unit::byte(lead), 1));
        }
        // Prefer an escaped reading that yields a base64 character (`\/`, `%2B`, `\u002F`).
        let step = found
            .iter()
            .rev()
            .find(|(unit, _)| unit.len == 1 && is_base64_char(unit.bytes[0]))
            .map(|(unit, len)| (unit.bytes[0], *len));
        match step {
            // A literal `+` reads as a space in form encoding, but in base64 it is itself.
            Some((byte, len)) => {
                let run = current.get_or_insert_with(|| Run {
                    decoded: Vec::new(),
                    span: at..at,
                });
                run.decoded.push(byte);
                at += len;
                run.span.end = at;
            }
            None => {
                runs.extend(current.take());
                at += 1;
            }
        }
    }
    runs.extend(current);
    runs
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Lenient base64 (both alphabets, padding and a trailing partial group ignored).
fn decode_base64(chars: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(chars.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in chars {
        if c == b'=' {
            // Padding ends a group; a new group may start after it (concatenated encodings).
            acc = 0;
            bits = 0;
            continue;
        }
        let value = base64_value(c)?;
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    Some(out)
}

fn decode_hex(chars: &[u8]) -> Vec<u8> {
    chars
        .chunks_exact(2)
        .filter_map(|pair| hex_byte(Some(pair)))
        .collect()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_byte(pair: Option<&[u8]>) -> Option<u8> {
    let pair = pair?;
    Some(hex_digit(*pair.first()?)? << 4 | hex_digit(*pair.get(1)?)?)
}

fn hex_u16(quad: Option<&[u8]>) -> Option<u16> {
    let quad = quad?;
    if quad.len() != 4 {
        return None;
    }
    quad.iter()
        .try_fold(0u16, |acc, b| Some(acc << 4 | u16::from(hex_digit(*b)?)))
}

fn merge(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const SECRET: &str = "sk_live_4eC39/HqLy+jWZ&8=x";

    fn finder() -> SecretFinder {
        SecretFinder::new([SECRET])
    }

    #[test]
    fn finds_raw_and_escaped_forms() {
        let f = finder();
        for text in [
            format!("x{SECRET}y"),
            SECRET.replace('/', "\\/"),
            SECRET.replace('&', "\\u0026"),
            SECRET.replace('+', "%2b").replace('/', "%2F"),
            SECRET.replace('_', "%5F").replace('&', "&amp;"),
            SECRET.replace('s', "\\x73"),
            SECRET.replace('s', "%2573"),
            SECRET.replace('4', "&#52;").replace('e', "&#x65;"),
        ] {
            assert!(f.found_in(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn finds_base64_of_the_slot_value_at_every_alignment() {
        let f = finder();
        for prefix in ["", "B", "Be", "Bearer "] {
            let slot = format!("{prefix}{SECRET}");
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                let encoded = engine.encode(&slot);
                let text = format!("{{\"echo\":\"{}\"}}", encoded.replace('/', "\\/"));
                assert!(f.found_in(text.as_bytes()), "{text}");
                let redacted = f.redact_text(&text, "[R]");
                assert!(!redacted.contains(&encoded[..8]), "{redacted}");
            }
        }
    }

    #[test]
    fn finds_hex_in_either_case() {
        let f = finder();
        let hex: String = SECRET.bytes().map(|b| format!("{b:02X}")).collect();
        assert!(f.found_in(format!("dump: {hex}.").as_bytes()));
        assert!(f.found_in(format!("dump: {}.", hex.to_lowercase()).as_bytes()));
    }

    #[test]
    fn leaves_other_text_alone() {
        let f = finder();
        let text = "{\"id\":\"ch_123\",\"amount\":1000,\"token\":\"sk_live_other\"}";
        assert_eq!(f.redact_text(text, "[R]"), text);
    }
}
