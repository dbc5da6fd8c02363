//! A strict JSON reader and the canonical writer.
//!
//! Agents' JSON is read here rather than by `serde_json` because the contract asks for more than a
//! general parser gives: duplicate keys are refused (not silently last-wins), number text is kept
//! exactly as written (what executes must be what was approved, byte for byte), nesting depth is
//! bounded, and strings must be valid Unicode (a lone surrogate escape is refused).
//!
//! The canonical form (design.md §5) is this module's [`Json::canonical`]: object keys sorted by
//! their UTF-8 bytes, no insignificant whitespace, strings written with the minimal escapes
//! (`"`, `\`, and control characters) and never normalised, numbers as written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::refusal::{Refusal, RefusalCode};

/// The deepest nesting accepted; deeper input is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 64;

/// A JSON object: keys are unique and kept in canonical (byte) order.
pub type Object = BTreeMap<String, Json>;

/// A JSON value as the agent wrote it, minus insignificant whitespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as its exact text (validated against RFC 8259's grammar).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object.
    Object(Object),
}

impl Json {
    /// Reads one JSON document; anything after it other than whitespace is refused.
    ///
    /// # Errors
    /// `invalid_json` for malformed input, `duplicate_key` (with the path of the key) for an object
    /// that names a key twice.
    pub fn parse(text: &str) -> Result<Json, Refusal> {
        let mut reader = Reader {
            bytes: text.as_bytes(),
            text,
            pos: 0,
            path: Vec::new(),
        };
        reader.skip_ws();
        let value = reader.value(0)?;
        reader.skip_ws();
        if reader.pos != reader.bytes.len() {
            return Err(reader.error("unexpected text after the JSON value"));
        }
        Ok(value)
    }

    /// The canonical form: sorted keys, no insignificant whitespace, strings never normalised.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        self.write_canonical(&mut out);
        out
    }

    fn write_canonical(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Number(text) => out.push_str(text),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_canonical(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write_canonical(out);
                }
                out.push('}');
            }
        }
    }

    /// The same content as [`Json::canonical`], indented two spaces a level for people to read:
    /// keys in canonical order, strings and number text exactly as in the canonical form.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, 0);
        out
    }

    fn write_pretty(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| {
            out.push('\n');
            for _ in 0..depth {
                out.push_str("  ");
            }
        };
        match self {
            Json::Array(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    item.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Object(members) if !members.is_empty() => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    write_string(key, out);
                    out.push_str(": ");
                    value.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
            other => other.write_canonical(out),
        }
    }

    /// A `serde_json` value for screens. Numbers keep their value where a double holds them
    /// exactly as written; any other number (`12.50`, `1e2`, a 30-digit id) becomes a string of
    /// its exact text, so a screen never shows a rounded or reformatted number.
    pub fn to_display(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) if value.to_string().as_str() == text.as_str() => value,
                _ => Value::String(text.clone()),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_display).collect()),
            Json::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_display()))
                    .collect(),
            ),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The number as a decimal, if this is a number (or a string holding one).
    pub fn as_decimal(&self) -> Option<crate::money::Decimal> {
        match self {
            Json::Number(text) | Json::String(text) => crate::money::Decimal::parse(text),
            _ => None,
        }
    }

    /// Follows a dotted path (`a.b[2].c`) into objects and arrays.
    pub fn at(&self, path: &str) -> Option<&Json> {
        let mut current = self;
        for step in path_steps(path) {
            current = match (step, current) {
                (Step::Key(key), Json::Object(members)) => members.get(key)?,
                (Step::Index(i), Json::Array(items)) => items.get(i)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a true/false value",
            Json::Number(_) => "a number",
            Json::String(_) => "text",
            Json::Array(_) => "a list",
            Json::Object(_) => "an object",
        }
    }

    /// Every string in the value (keys included), depth first; for scans such as secrets.
    pub fn visit_strings<'a>(&'a self, visit: &mut dyn FnMut(&'a str)) {
        match self {
            Json::String(s) => visit(s),
            Json::Number(n) => visit(n),
            Json::Array(items) => items.iter().for_each(|item| item.visit_strings(visit)),
            Json::Object(members) => {
                for (key, value) in members {
                    visit(key);
                    value.visit_strings(visit);
                }
            }
            Json::Null | Json::Bool(_) => {}
        }
    }
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_steps(path: &str) -> impl Iterator<Item = Step<'_>> {
    path.split('.')
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
            let key = (!key.is_empty()).then_some(Step::Key(key));
            let indices = rest
                .split('[')
                .filter_map(|index| index.trim_end_matches(']').parse::<usize>().ok())
                .map(Step::Index);
            key.into_iter().chain(indices.collect::<Vec<_>>())
        })
}

/// Writes a JSON string with only the escapes JSON requires.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    path: Vec<String>,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> Refusal {
        // The position can sit inside a multi-byte character (after a `\`): step back to one.
        let mut end = self.pos.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Refusal::new(
            RefusalCode::InvalidJson,
            format!("The proposal is not valid JSON: {what} (line {line}, column {column})."),
        )
    }

    fn field(&self) -> String {
        let mut field = String::new();
        for part in &self.path {
            if part.starts_with('[') || field.is_empty() {
                field.push_str(part);
            } else {
                field.push('.');
                field.push_str(part);
            }
        }
        field
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect_literal(&mut self, literal: &str, value: Json) -> Result<Json, Refusal> {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            Ok(value)
        } else {
            Err(self.error("unknown word"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, Refusal> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.expect_literal("null", Json::Null),
            Some(b't') => self.expect_literal("true", Json::Bool(true)),
            Some(b'f') => self.expect_literal("false", Json::Bool(false)),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'[') => self.array(depth),
            Some(b'{') => self.object(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, Refusal> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            self.path.push(format!("[{}]", items.len()));
            let item = self.value(depth + 1)?;
            self.path.pop();
            items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected , or ] in a list")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, Refusal> {
        self.pos += 1;
        let mut members = Object::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a quoted key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected : after a key"));
            }
            self.pos += 1;
            self.skip_ws();
            self.path.push(key.clone());
            if members.contains_key(&key) {
                let field = self.field();
                return Err(Refusal::new(
                    RefusalCode::DuplicateKey,
                    format!("The key {key:?} appears twice; each key may appear only once."),
                )
                .at(field));
            }
            let value = self.value(depth + 1)?;
            self.path.pop();
            members.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected , or } in an object")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, Refusal> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("a number needs digits")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("a decimal point needs digits after it"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("an exponent needs digits"));
            }
            self.digits();
        }
        Ok(Json::Number(self.text[start..self.pos].to_owned()))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<String, Refusal> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Input is a &str, and we stop only at ASCII bytes, so this slice is on char bounds.
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                None => return Err(self.error("unterminated text")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(_) => return Err(self.error("a control character must be escaped in text")),
            }
        }
    }

    fn escape(&mut self) -> Result<char, Refusal> {
        let Some(b) = self.peek() else {
            return Err(self.error("unterminated escape"));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{08}',
            b'f' => '\u{0C}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(self.error("a lone surrogate escape is not valid text"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.error("a lone surrogate escape is not valid text"));
                    }
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code).ok_or_else(|| self.error("invalid escape"))?
                } else {
                    char::from_u32(high)
                        .ok_or_else(|| self.error("a lone surrogate escape is not valid text"))?
                }
            }
            _ => return Err(self.error("unknown escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, Refusal> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let value = u32::from_str_radix(digits, 16).map_err(|_| self.error("bad \\u escape"))?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("bad \\u escape"));
        }
        self.pos += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let json = Json::parse(r#" { "b" : [1, 2.50, -0e+3] , "a" : "x\u00e9\n" } "#).unwrap();
        assert_eq!(json.canonical(), r#"{"a":"xé\n","b":[1,2.50,-0e+3]}"#);
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let err = Json::parse(r#"{"a":{"b":[{"c":1,"c":2}]}}"#).unwrap_err();
        assert_eq!(err.code, RefusalCode::DuplicateKey);
        assert_eq!(err.field.as_deref(), Some("a.b[0].c"));
    }

    #[test]
    fn malformed_input_is_invalid_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":01}",
            "\"\\ud800\"",
            "\"a\u{1}\"",
            "nul",
            "1 2",
            "1.",
            "-",
        ] {
            let err = Json::parse(bad).unwrap_err();
            assert_eq!(err.code, RefusalCode::InvalidJson, "{bad:?}");
        }
    }

    #[test]
    fn an_escaped_multibyte_character_is_an_error_not_a_panic() {
        // Found by the json fuzz target.
        assert_eq!(
            Json::parse("\"dd\\ӂ\n").unwrap_err().code,
            RefusalCode::InvalidJson
        );
    }

    #[test]
    fn surrogate_pairs_decode() {
        assert_eq!(
            Json::parse(r#""\ud83d\ude00""#).unwrap(),
            Json::String("😀".into())
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(
            Json::parse(&deep).unwrap_err().code,
            RefusalCode::InvalidJson
        );
    }

    #[test]
    fn paths_reach_into_objects_and_lists() {
        let json = Json::parse(r#"{"a":{"b":[{"c":"x"}]}}"#).unwrap();
        assert_eq!(json.at("a.b[0].c"), Some(&Json::String("x".into())));
        assert_eq!(json.at("a.z"), None);
    }
}
