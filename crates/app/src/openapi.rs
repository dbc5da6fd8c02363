//! Descriptors from an OpenAPI 3 document (`countersign descriptor import FILE`).
//!
//! The provider's own words become the headline: each operation's `summary` (or the first
//! sentence of its `description`), followed by what the request names — path parameters, an
//! amount with its currency, a recipient. Fields come from the schema: path and query
//! parameters, and the request body's properties (JSON bodies as dotted paths, form bodies as
//! the literal `a[b]` keys form encoding uses), with `$ref`s resolved. Amounts are minor units
//! only where the schema says so (an integer described as "cents", "smallest currency unit",
//! "minor units" or "subunits"); otherwise decimal. Dates follow `format: date` and
//! `format: date-time`.
//!
//! The result is TOML for the person to review and keep: written to the data home's
//! `descriptors/` folder, where [`Descriptors::with_user_files`] reads it before the shipped
//! packs. A document with no absolute server URL is refused, because a descriptor without an
//! origin would describe requests to any server.

use std::collections::BTreeMap;

use countersign_core::descriptor::{
    Context, Descriptor, Descriptors, Display, Field, Format, Metadata, PackOut,
};
use countersign_core::text::label;
use countersign_core::{Action, RiskCode};
use serde_json::Value;

/// Why a document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Neither JSON nor YAML.
    #[error("the file is not JSON or YAML: {0}")]
    Unreadable(String),
    /// Not OpenAPI 3.
    #[error("the file is not an OpenAPI 3 document (it has no `openapi: 3…` field)")]
    NotOpenApi,
    /// No server to bind descriptors to.
    #[error(
        "the document names no absolute server URL (`servers: [{{url: https://…}}]`); a descriptor without one would describe requests to any server"
    )]
    NoServer,
    /// Nothing to import.
    #[error("the document has no operations Countersign can describe")]
    NoOperations,
    /// The generated pack does not read back (a bug, reported rather than written).
    #[error("the descriptors made from the document do not read back: {0}")]
    Invalid(String),
}

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The pack, as TOML.
    pub toml: String,
    /// How many descriptors it holds.
    pub count: usize,
    /// Operations left out, with why.
    pub skipped: Vec<String>,
}

/// Imports a document into the data home as `descriptors/<name>.toml`, which is read before
/// the shipped packs from then on. An existing file is kept unless `replace` is set.
///
/// # Errors
/// [`ImportError`] for the document; a file error when the pack cannot be written.
pub fn import_into(
    home: &crate::DataHome,
    text: &str,
    name: &str,
    replace: bool,
) -> Result<(std::path::PathBuf, Imported), crate::AppError> {
    let name = slug(name);
    if name.is_empty() {
        return Err(crate::AppError::InvalidCredential(
            "the descriptor pack needs a name made of letters or digits".to_owned(),
        ));
    }
    let imported = import(text)?;
    let dir = home.descriptors_dir();
    std::fs::create_dir_all(&dir).map_err(|e| crate::AppError::file("creating", &dir, e))?;
    let path = dir.join(format!("{name}.toml"));
    if path.exists() && !replace {
        return Err(crate::AppError::NotAllowed(format!(
            "{} already exists; pass --replace to write over it",
            path.display()
        )));
    }
    crate::write_durably(&path, &imported.toml)?;
    // Every pack in the folder must still read together (ids and syntax).
    Descriptors::with_user_files(&home.descriptor_files()?)?;
    Ok((path, imported))
}

/// Reads an OpenAPI 3 document (JSON or YAML) and writes descriptors for its operations.
///
/// # Errors
/// See [`ImportError`].
pub fn import(text: &str) -> Result<Imported, ImportError> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => {
            serde_yaml_ng::from_str(text).map_err(|e| ImportError::Unreadable(e.to_string()))?
        }
    };
    let is_v3 = doc
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with('3'));
    if !is_v3 {
        return Err(ImportError::NotOpenApi);
    }
    let owner = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    let servers = servers(&doc);
    if servers.is_empty() {
        return Err(ImportError::NoServer);
    }
    let pack = slug(if owner.is_empty() { "api" } else { &owner });
    let mut descriptors = Vec::new();
    let mut skipped = Vec::new();
    let empty = serde_json::Map::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (path, item) in paths {
        let shared = item.get("parameters").cloned().unwrap_or(Value::Null);
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            match describe(
                &doc, &owner, &pack, &servers, path, method, operation, &shared,
            ) {
                Ok(descriptor) => descriptors.push(descriptor),
                Err(why) => skipped.push(format!("{} {path}: {why}", method.to_uppercase())),
            }
        }
    }
    if descriptors.is_empty() {
        return Err(ImportError::NoOperations);
    }
    let header = format!(
        "# Descriptors imported from the OpenAPI document “{owner}”. Review them before you rely on\n# them: the words are the provider's summaries, the fields its schema. Format: docs/descriptors.md.\n\n"
    );
    let body = toml::to_string(&PackOut {
        descriptor: &descriptors,
    })
    .map_err(|e| ImportError::Invalid(e.to_string()))?;
    let toml = format!("{header}{body}");
    // What is written must be what the app reads.
    Descriptors::with_user_files(&[("imported.toml".to_owned(), toml.clone())])
        .map_err(|e| ImportError::Invalid(e.to_string()))?;
    Ok(Imported {
        toml,
        count: descriptors.len(),
        skipped,
    })
}

/// Each absolute server URL as (origin, base path).
fn servers(doc: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for server in doc
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(raw) = server.get("url").and_then(Value::as_str) else {
            continue;
        };
        // `{variables}` take their defaults.
        let mut url = raw.to_owned();
        if let Some(vars) = server.get("variables").and_then(Value::as_object) {
            for (name, var) in vars {
                if let Some(default) = var.get("default").and_then(Value::as_str) {
                    url = url.replace(&format!("{{{name}}}"), default);
                }
            }
        }
        let Ok(parsed) = url::Url::parse(&url) else {
            continue;
        };
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            continue;
        }
        let origin = parsed.origin().ascii_serialization();
        let base = parsed.path().trim_end_matches('/').to_owned();
        if !out.iter().any(|(o, b)| *o == origin && *b == base) {
            out.push((origin, base));
        }
    }
    out
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// Follows `$ref`s within the document (`#/components/…`), at most a few deep.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    let mut current = value;
    for _ in 0..8 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(reference) => match reference.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(target) => current = target,
                None => return current,
            },
            None => return current,
        }
    }
    current
}

/// A schema's properties, with `allOf` merged and the first `oneOf`/`anyOf` taken.
fn properties<'a>(doc: &'a Value, schema: &'a Value) -> (Vec<(&'a str, &'a Value)>, Vec<&'a str>) {
    let schema = resolve(doc, schema);
    let mut props = Vec::new();
    let mut required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(own) = schema.get("properties").and_then(Value::as_object) {
        props.extend(own.iter().map(|(k, v)| (k.as_str(), v)));
    }
    for combined in ["allOf", "oneOf", "anyOf"] {
        let parts = schema.get(combined).and_then(Value::as_array);
        let parts: Vec<&Value> = match (combined, parts) {
            ("allOf", Some(all)) => all.iter().collect(),
            (_, Some(all)) => all.iter().take(1).collect(),
            _ => Vec::new(),
        };
        for part in parts {
            let (more, more_required) = properties(doc, part);
            props.extend(more);
            required.extend(more_required);
        }
    }
    (props, required)
}

/// One body value found in the schema.
struct Leaf {
    path: String,
    name: String,
    schema: Value,
    required: bool,
    /// The path of a currency beside it, for amounts.
    currency: Option<String>,
}

fn is_currency(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "currency"
        || lower.ends_with("currency")
        || lower.contains("currency_code")
        || lower == "currencycode"
}

fn is_amount(name: &str, schema: &Value, has_currency: bool) -> bool {
    let lower = name.to_ascii_lowercase();
    let typed = matches!(
        schema.get("type").and_then(Value::as_str),
        Some("integer" | "number" | "string")
    );
    typed
        && (lower.ends_with("amount")
            || lower.starts_with("amount")
            || lower == "total"
            || lower == "price"
            || (lower == "value" && has_currency))
}

fn leaves(
    doc: &Value,
    schema: &Value,
    prefix: &str,
    form: bool,
    parent_required: bool,
    depth: usize,
    out: &mut Vec<Leaf>,
) {
    if depth > 3 || out.len() > 40 {
        return;
    }
    let (props, required) = properties(doc, schema);
    let currency = props
        .iter()
        .find(|(name, _)| is_currency(name))
        .map(|(name, _)| join(prefix, name, form));
    for (name, prop) in props {
        let prop = resolve(doc, prop);
        let path = join(prefix, name, form);
        let is_required = parent_required && required.contains(&name);
        let kind = prop.get("type").and_then(Value::as_str);
        if kind == Some("object") || prop.get("properties").is_some() || prop.get("allOf").is_some()
        {
            leaves(doc, prop, &path, form, is_required, depth + 1, out);
            continue;
        }
        if kind == Some("array") {
            // The first item stands for the list (a descriptor names `items[0]`).
            if let Some(items) = prop.get("items") {
                let items = resolve(doc, items);
                // `items[0].price` in JSON, `items[0][price]` in a form: the index is written alike.
                let first = format!("{path}[0]");
                if items.get("properties").is_some() {
                    leaves(doc, items, &first, form, false, depth + 1, out);
                    continue;
                }
            }
        }
        out.push(Leaf {
            path,
            name: name.to_owned(),
            schema: prop.clone(),
            required: is_required,
            currency: currency.clone(),
        });
    }
}

fn join(prefix: &str, name: &str, form: bool) -> String {
    match (prefix.is_empty(), form) {
        (true, _) => name.to_owned(),
        (false, true) => format!("{prefix}[{name}]"),
        (false, false) => format!("{prefix}.{name}"),
    }
}

fn says_minor(schema: &Value) -> bool {
    let description = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    schema.get("type").and_then(Value::as_str) == Some("integer")
        && [
            "cents",
            "smallest currency unit",
            "minor unit",
            "subunit",
            "lowest denomination",
            "smallest unit",
        ]
        .iter()
        .any(|w| description.contains(w))
}

fn key_of(path: &str) -> String {
    path.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn describe(
    doc: &Value,
    owner: &str,
    pack: &str,
    servers: &[(String, String)],
    path: &str,
    method: &str,
    operation: &Value,
    shared: &Value,
) -> Result<Descriptor, String> {
    let summary = operation
        .get("summary")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            operation
                .get("description")
                .and_then(Value::as_str)
                .and_then(|d| d.split(['.', '\n']).next())
                .map(str::to_owned)
        })
        .map(|s| s.trim().trim_end_matches('.').to_owned())
        .filter(|s| !s.is_empty())
        .ok_or("it has no summary or description to say what it does")?;
    if summary.contains(['{', '}', '[', ']', '|']) {
        return Err("its summary uses characters a headline template reserves".to_owned());
    }
    let operation_id = operation
        .get("operationId")
        .and_then(Value::as_str)
        .map_or_else(|| slug_path(method, path), slug);

    let mut fields: Vec<Field> = Vec::new();
    let mut intent = summary.clone();
    let mut path_keys = Vec::new();
    // Path and query parameters, operation-level ones overriding shared ones by name.
    let mut parameters: BTreeMap<(String, String), Value> = BTreeMap::new();
    for list in [shared, operation.get("parameters").unwrap_or(&Value::Null)] {
        for p in list.as_array().into_iter().flatten() {
            let p = resolve(doc, p);
            let (Some(name), Some(place)) = (
                p.get("name").and_then(Value::as_str),
                p.get("in").and_then(Value::as_str),
            ) else {
                continue;
            };
            parameters.insert((place.to_owned(), name.to_owned()), p.clone());
        }
    }
    for ((place, name), p) in &parameters {
        let key = key_of(name);
        let (source, required) = match place.as_str() {
            "path" => (format!("path:{name}"), true),
            "query" => (
                format!("query:{name}"),
                p.get("required").and_then(Value::as_bool).unwrap_or(false),
            ),
            _ => continue,
        };
        let schema = p
            .get("schema")
            .map(|s| resolve(doc, s))
            .cloned()
            .unwrap_or(Value::Null);
        fields.push(Field {
            key: key.clone(),
            path: source,
            label: label(name),
            format: format_of(&schema),
            currency_path: None,
            currency: None,
            zone_path: None,
            enum_name: None,
            required,
            risk_if_present: None,
        });
        if place == "path" {
            path_keys.push(key);
        }
    }
    for key in &path_keys {
        intent.push_str(&format!(" {{{key}}}"));
    }

    // The request body.
    let mut amount_key = None;
    let mut counterparty = None;
    if let Some(body) = operation.get("requestBody").map(|b| resolve(doc, b)) {
        let content = body.get("content").and_then(Value::as_object);
        let pick = content.and_then(|c| {
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ]
            .iter()
            .find_map(|t| c.get(*t).map(|m| (*t, m)))
            .or_else(|| {
                c.iter()
                    .find(|(t, _)| t.ends_with("+json"))
                    .map(|(t, m)| (t.as_str(), m))
            })
        });
        if let Some((media, media_object)) = pick
            && let Some(schema) = media_object.get("schema")
        {
            let form = media != "application/json" && !media.ends_with("+json");
            let mut found = Vec::new();
            leaves(doc, schema, "", form, true, 0, &mut found);
            for leaf in found.iter().take(16) {
                let has_currency = leaf.currency.is_some();
                let key = key_of(&leaf.path);
                let mut field = Field {
                    key: key.clone(),
                    path: leaf.path.clone(),
                    label: label(&leaf.path),
                    format: format_of(&leaf.schema),
                    currency_path: None,
                    currency: None,
                    zone_path: None,
                    enum_name: None,
                    // The schema's required fields: a request without them is not the one
                    // this operation describes, and gets the generic account instead.
                    required: leaf.required,
                    risk_if_present: None,
                };
                if is_amount(&leaf.name, &leaf.schema, has_currency) && amount_key.is_none() {
                    field.format = if says_minor(&leaf.schema) {
                        Format::AmountMinor
                    } else {
                        Format::AmountDecimal
                    };
                    field.currency_path.clone_from(&leaf.currency);
                    field.label = "Amount".to_owned();
                    amount_key = Some(key.clone());
                } else if is_currency(&leaf.name) {
                    continue;
                } else if counterparty.is_none() && is_recipient(&leaf.name, &leaf.schema) {
                    counterparty = Some(key.clone());
                }
                fields.push(field);
            }
        }
    }
    if let Some(amount) = &amount_key {
        intent.push_str(&format!("[ for {{{amount}}}]"));
    }
    if let Some(to) = &counterparty {
        intent.push_str(&format!("[ to {{{to}}}]"));
    }
    if !owner.is_empty() {
        intent.push_str(&format!(" ({owner})"));
    }

    let action = match method {
        "get" => Action::Read,
        "delete" => Action::Delete,
        _ if amount_key.is_some() && method == "post" => Action::Payment,
        "post" => Action::Create,
        _ => Action::Update,
    };
    let mut risks = Vec::new();
    match action {
        Action::Payment => risks.push(RiskCode::MoneyMovement),
        Action::Delete => risks.push(RiskCode::DeletesData),
        Action::Create | Action::Update => risks.push(RiskCode::WritesData),
        _ => {}
    }
    // One descriptor per server base: `…/v2` + `/payments/{id}`.
    let (origins, base) = (
        servers.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>(),
        servers.first().map(|(_, b)| b.clone()).unwrap_or_default(),
    );
    Ok(Descriptor {
        id: format!("{pack}.{operation_id}"),
        context: Context {
            origins,
            methods: vec![method.to_uppercase()],
            path: format!("{base}{path}"),
            body_equals: BTreeMap::new(),
        },
        metadata: Metadata {
            owner: owner.to_owned(),
            enums: BTreeMap::new(),
        },
        display: Display {
            action,
            intent,
            fields,
            risks,
            amount: amount_key,
            counterparty,
        },
        result: None,
    })
}

fn is_recipient(name: &str, schema: &Value) -> bool {
    let lower = name.to_ascii_lowercase();
    schema.get("format").and_then(Value::as_str) == Some("email")
        || [
            "to",
            "recipient",
            "payee",
            "destination",
            "beneficiary",
            "receiver",
        ]
        .iter()
        .any(|w| {
            lower == *w || lower.ends_with(&format!("_{w}")) || lower.starts_with(&format!("{w}_"))
        })
}

fn format_of(schema: &Value) -> Format {
    match schema.get("format").and_then(Value::as_str) {
        Some("date") => Format::Date,
        Some("date-time") => Format::Datetime,
        _ => Format::Text,
    }
}

fn slug_path(method: &str, path: &str) -> String {
    slug(&format!("{method} {}", path.replace(['{', '}'], "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_words() {
        assert_eq!(label("payment_method"), "Payment method");
        assert_eq!(
            label("transfer_data[destination]"),
            "Transfer data destination"
        );
        assert_eq!(label("dueDate"), "Due date");
        assert_eq!(slug("Acme Payments API v2"), "acme_payments_api_v2");
    }

    #[test]
    fn a_document_without_a_server_is_refused() {
        let doc = r#"{"openapi":"3.0.3","info":{"title":"X","version":"1"},"paths":{}}"#;
        assert!(matches!(import(doc), Err(ImportError::NoServer)));
        assert!(matches!(
            import("swagger: '2.0'"),
            Err(ImportError::NotOpenApi)
        ));
    }
}
