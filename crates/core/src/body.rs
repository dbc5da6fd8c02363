//! Reading an HTTP body the way the receiving server will: by its declared `Content-Type`.
//!
//! The explanation must describe what the server acts on, so the body is read with the same
//! strictness as the proposal itself, in the format the server is told it is in:
//! - JSON (`application/json`, `…+json`): a JSON *value* is sent as its canonical text; JSON
//!   *text* in a string is parsed by the strict reader, so a JSON string body is explained as the
//!   JSON it is (and its duplicate keys are refused, as in the proposal).
//! - Form-encoded (`application/x-www-form-urlencoded`) and `multipart/form-data`: a field named
//!   twice is refused as `duplicate_key` — servers disagree on whether the first or the last
//!   counts — except names ending in `[]`, which every framework reads as a list. For the
//!   duplicate check, `.` and spaces in names count as `_` (PHP renames them so).
//! - Text (`text/*`, XML): shown as text.
//! - Anything else, a text body with no `Content-Type`, a charset other than UTF-8, malformed
//!   escapes or framing: `unexplainable`, never a silent generic account.

use crate::artifact::HttpArtifact;
use crate::json::{Json, Object};
use crate::refusal::{Refusal, RefusalCode};

/// How the server is told to read the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// No body.
    None,
    /// JSON.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
    /// Text or XML, shown as it is.
    Text,
}

/// A body as the server will read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadBody {
    /// The format it is read in.
    pub format: BodyFormat,
    /// Its content: JSON as JSON, form and multipart fields as an object (repeated `[]` names as
    /// lists), text as a string, no body as null.
    pub value: Json,
}

const FIELD: &str = "artifact.body";

fn unexplainable(message: impl Into<String>) -> Refusal {
    Refusal::new(RefusalCode::Unexplainable, message).at(FIELD)
}

/// The declared media type: its essence in lower case and its parameters.
struct MediaType {
    essence: String,
    parameters: Vec<(String, String)>,
}

impl MediaType {
    fn parse(text: &str) -> Result<MediaType, Refusal> {
        let mut parts = text.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let mut parameters = Vec::new();
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(unexplainable(format!(
                    "The Content-Type parameter {part:?} has no value."
                )));
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            parameters.push((name.trim().to_ascii_lowercase(), value.to_owned()));
        }
        Ok(MediaType {
            essence,
            parameters,
        })
    }

    fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_json(&self) -> bool {
        self.essence == "application/json"
            || (self.essence.starts_with("application/") && self.essence.ends_with("+json"))
    }

    fn is_text(&self) -> bool {
        self.essence.starts_with("text/")
            || self.essence == "application/xml"
            || (self.essence.starts_with("application/") && self.essence.ends_with("+xml"))
    }
}

/// Reads the body of `artifact` as its server will.
///
/// # Errors
/// `duplicate_key` for a repeated field, `invalid_json` for JSON text that does not parse, and
/// `unexplainable` for a body whose format cannot be read.
pub fn read(artifact: &HttpArtifact) -> Result<ReadBody, Refusal> {
    let declared = artifact
        .header("Content-Type")
        .map(MediaType::parse)
        .transpose()?;
    if let Some(media) = &declared
        && let Some(charset) = media.parameter("charset")
        && !matches!(
            charset.to_ascii_lowercase().as_str(),
            "utf-8" | "utf8" | "us-ascii"
        )
    {
        return Err(unexplainable(format!(
            "The body is sent as UTF-8 but declared as {charset}, so the server would read other text than what is shown."
        )));
    }
    match (&artifact.body, &declared) {
        (Json::Null, _) => Ok(ReadBody {
            format: BodyFormat::None,
            value: Json::Null,
        }),
        (Json::String(text), Some(media)) => read_text(text, media),
        (Json::String(text), None) if text.is_empty() => Ok(ReadBody {
            format: BodyFormat::Text,
            value: Json::String(String::new()),
        }),
        (Json::String(_), None) => Err(unexplainable(
            "The body is text with no Content-Type header, so the server may read it in more than one way; say what it is (for example application/json).",
        )),
        (value, None) => Ok(ReadBody {
            format: BodyFormat::Json,
            value: value.clone(),
        }),
        (value, Some(media)) if media.is_json() => Ok(ReadBody {
            format: BodyFormat::Json,
            value: value.clone(),
        }),
        (_, Some(media)) => Err(unexplainable(format!(
            "The body is JSON but is declared as {}, so the server would read it differently from what is shown.",
            media.essence
        ))),
    }
}

fn read_text(text: &str, media: &MediaType) -> Result<ReadBody, Refusal> {
    if media.is_json() {
        let value = Json::parse(text).map_err(|refusal| {
            let inner = refusal.field.clone();
            let mut moved = Refusal::new(
                refusal.code,
                format!("The body is declared as JSON: {}", refusal.message),
            );
            moved.field = Some(match inner {
                Some(path) if !path.is_empty() => format!("{FIELD}.{path}"),
                _ => FIELD.to_owned(),
            });
            moved
        })?;
        return Ok(ReadBody {
            format: BodyFormat::Json,
            value,
        });
    }
    match media.essence.as_str() {
        "application/x-www-form-urlencoded" => Ok(ReadBody {
            format: BodyFormat::Form,
            value: Json::Object(form(text)?),
        }),
        "multipart/form-data" => {
            let Some(boundary) = media.parameter("boundary").filter(|b| valid_boundary(b)) else {
                return Err(unexplainable(
                    "The multipart body has no usable boundary in its Content-Type.",
                ));
            };
            Ok(ReadBody {
                format: BodyFormat::Multipart,
                value: Json::Object(multipart(text, boundary)?),
            })
        }
        _ if media.is_text() => Ok(ReadBody {
            format: BodyFormat::Text,
            value: Json::String(text.to_owned()),
        }),
        other => Err(unexplainable(format!(
            "Countersign cannot read a body of type {other}, so it cannot tell you what it does."
        ))),
    }
}

/// Collects fields, refusing a repeated name unless it ends in `[]`.
struct FieldSet {
    members: Object,
    seen: std::collections::HashSet<String>,
}

impl FieldSet {
    fn new() -> Self {
        FieldSet {
            members: Object::new(),
            seen: std::collections::HashSet::new(),
        }
    }

    fn add(&mut self, name: String, value: Json) -> Result<(), Refusal> {
        if name.chars().any(char::is_control) {
            return Err(unexplainable(format!(
                "The field name {name:?} holds control characters, which servers read differently."
            )));
        }
        if name.ends_with("[]") {
            match self.members.entry(name) {
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    if let Json::Array(items) = slot.get_mut() {
                        items.push(value);
                    }
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(Json::Array(vec![value]));
                }
            }
            return Ok(());
        }
        let key: String = name
            .chars()
            .map(|c| if c == '.' || c == ' ' { '_' } else { c })
            .collect();
        if !self.seen.insert(key) {
            return Err(Refusal::new(
                RefusalCode::DuplicateKey,
                format!(
                    "The field {name:?} is given more than once; servers disagree on which one counts, so send it once."
                ),
            )
            .at(format!("{FIELD}.{name}")));
        }
        self.members.insert(name, value);
        Ok(())
    }
}

/// Reads `application/x-www-form-urlencoded` strictly.
///
/// # Errors
/// `duplicate_key` for a repeated name; `unexplainable` for a `;` (some servers split on it),
/// a malformed percent escape, or bytes that are not UTF-8.
pub fn form(text: &str) -> Result<Object, Refusal> {
    if text.contains(';') {
        return Err(unexplainable(
            "The form body holds a raw ';', which some servers read as a separator between fields; encode it as %3B.",
        ));
    }
    let mut fields = FieldSet::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.add(form_decode(name)?, Json::String(form_decode(value)?))?;
    }
    Ok(fields.members)
}

fn form_decode(text: &str) -> Result<String, Refusal> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = bytes.get(i + 1..i + 3);
                let decoded = pair.and_then(|p| {
                    std::str::from_utf8(p)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .filter(|_| p.iter().all(u8::is_ascii_hexdigit))
                });
                let Some(byte) = decoded else {
                    return Err(unexplainable(
                        "The form body has a % that does not start an escape (%XX); servers read it differently.",
                    ));
                };
                out.push(byte);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| unexplainable("The form body encodes bytes that are not UTF-8 text."))
}

fn valid_boundary(boundary: &str) -> bool {
    (1..=70).contains(&boundary.len())
        && boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b))
        && !boundary.ends_with(' ')
}

/// Reads `multipart/form-data` (RFC 7578) strictly: CRLF line ends, one closing delimiter,
/// every part named once.
///
/// # Errors
/// `duplicate_key` for a repeated name; `unexplainable` for anything malformed.
pub fn multipart(text: &str, boundary: &str) -> Result<Object, Refusal> {
    let delimiter = format!("--{boundary}");
    let malformed = |why: &str| unexplainable(format!("The multipart body is malformed: {why}."));
    let Some(rest) = text.strip_prefix(&delimiter) else {
        return Err(malformed("it must start with its boundary"));
    };
    let separator = format!("\r\n{delimiter}");
    let mut fields = FieldSet::new();
    let mut rest = rest;
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            if !(after.is_empty() || after == "\r\n") {
                return Err(malformed("there is text after the closing boundary"));
            }
            break;
        }
        let Some(after) = rest.strip_prefix("\r\n") else {
            return Err(malformed(
                "a boundary must be followed by a line break (CRLF)",
            ));
        };
        let Some(end) = after.find(&separator) else {
            return Err(malformed("a part is not closed by the boundary"));
        };
        let part = &after[..end];
        rest = &after[end + separator.len()..];
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            return Err(malformed("a part has no blank line after its headers"));
        };
        let mut name = None;
        let mut filename = None;
        for line in head.split("\r\n") {
            let Some((header, value)) = line.split_once(':') else {
                return Err(malformed("a part header has no colon"));
            };
            match header.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    let media = MediaType::parse(value)?;
                    if media.essence != "form-data" {
                        return Err(malformed("a part is not form-data"));
                    }
                    if media.parameters.iter().any(|(n, _)| n.ends_with('*')) {
                        return Err(malformed("a part uses an encoded (RFC 2231) name"));
                    }
                    name = media.parameter("name").map(str::to_owned);
                    filename = media.parameter("filename").map(str::to_owned);
                }
                "content-transfer-encoding" => {
                    if !matches!(
                        value.trim().to_ascii_lowercase().as_str(),
                        "7bit" | "8bit" | "binary"
                    ) {
                        return Err(malformed("a part is encoded (Content-Transfer-Encoding)"));
                    }
                }
                "content-type" => {}
                _ => {
                    return Err(malformed(
                        "a part has a header other than Content-Disposition or Content-Type",
                    ));
                }
            }
        }
        let Some(name) = name else {
            return Err(malformed("a part has no name"));
        };
        let value = match filename {
            Some(file) => Json::String(format!("a file named {file} ({} bytes)", content.len())),
            None => Json::String(content.to_owned()),
        };
        fields.add(name, value)?;
    }
    Ok(fields.members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(content_type: Option<&str>, body: Json) -> HttpArtifact {
        HttpArtifact {
            credential: None,
            method: "POST".into(),
            url: "https://api.example/".into(),
            headers: content_type
                .map(|t| ("Content-Type".to_owned(), t.to_owned()))
                .into_iter()
                .collect(),
            body,
        }
    }

    #[test]
    fn json_text_is_read_as_json() {
        let read = read(&http(
            Some("application/json"),
            Json::String(r#"{"amount":500000,"currency":"usd"}"#.into()),
        ))
        .unwrap();
        assert_eq!(read.format, BodyFormat::Json);
        assert_eq!(
            read.value.at("amount"),
            Some(&Json::Number("500000".into()))
        );
        let dup = super::read(&http(
            Some("application/json; charset=utf-8"),
            Json::String(r#"{"amount":1,"amount":2}"#.into()),
        ))
        .unwrap_err();
        assert_eq!(dup.code, RefusalCode::DuplicateKey);
    }

    #[test]
    fn repeated_form_fields_are_refused() {
        for body in [
            "amount=500000&currency=usd&amount=100",
            "amount=1&%61mount=2",
            "total.amount=1&total_amount=2",
        ] {
            let err = form(body).unwrap_err();
            assert_eq!(err.code, RefusalCode::DuplicateKey, "{body}");
        }
        let lists = form("expand[]=a&expand[]=b&amount=1").unwrap();
        assert_eq!(
            lists.get("expand[]"),
            Some(&Json::Array(vec![
                Json::String("a".into()),
                Json::String("b".into())
            ]))
        );
        assert_eq!(
            form("a=1;a=2").unwrap_err().code,
            RefusalCode::Unexplainable
        );
        assert_eq!(form("a=%zz").unwrap_err().code, RefusalCode::Unexplainable);
    }

    #[test]
    fn multipart_is_read_strictly() {
        let body = "--xyz\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n100\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--xyz--\r\n";
        let fields = multipart(body, "xyz").unwrap();
        assert_eq!(fields.get("amount"), Some(&Json::String("100".into())));
        let twice = body.replace("name=\"file\"; filename=\"a.pdf\"", "name=\"amount\"");
        assert_eq!(
            multipart(&twice, "xyz").unwrap_err().code,
            RefusalCode::DuplicateKey
        );
        assert_eq!(
            multipart(&body.replace("\r\n", "\n"), "xyz")
                .unwrap_err()
                .code,
            RefusalCode::Unexplainable
        );
    }

    #[test]
    fn unreadable_bodies_are_unexplainable() {
        for (kind, body) in [
            (None, Json::String("amount=1".into())),
            (Some("application/octet-stream"), Json::String("x".into())),
            (
                Some("application/json; charset=utf-16"),
                Json::String("{}".into()),
            ),
            (
                Some("application/x-www-form-urlencoded"),
                Json::Object(Object::new()),
            ),
        ] {
            assert_eq!(
                read(&http(kind, body.clone())).unwrap_err().code,
                RefusalCode::Unexplainable,
                "{kind:?} {body:?}"
            );
        }
    }
}
