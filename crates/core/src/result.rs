//! What a result says, in words: a summary sentence and the named facts a person chooses to
//! release (design.md §11).
//!
//! Three sources, most specific first: a descriptor's `result` section for the request's API
//! ("Refund re_1 succeeded: $25.00 back to the original payment method"); FHIR resources and
//! search bundles, read by resource (a lab result as test, value, unit, flag, date and patient);
//! otherwise the body's values with their keys as labels. Each fact names the result paths it
//! shows, so ticking it releases exactly those. Facts that are personal or health details are
//! marked sensitive with the reason; the person's screens leave them unticked. Amounts are shown
//! as money only where the unit is known (a descriptor, an API documented to count cents, a key
//! that says so); otherwise as written.

use crate::artifact::Artifact;
use crate::descriptor::Descriptors;
use crate::explain::{counts_minor_units, is_health_name, is_sensitive_name, sensitive_value};
use crate::json::Json;
use crate::money::{Decimal, format_money};

/// A result in words.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResultWords {
    /// One sentence: what happened.
    pub summary: String,
    /// The facts, in reading order.
    pub facts: Vec<Fact>,
}

/// One named fact of a result.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fact {
    /// What it is ("Test", "Amount").
    pub label: String,
    /// The value as a person reads it.
    pub value: String,
    /// The result paths it shows (`body.entry.0.resource.valueQuantity.value`), for release.
    pub paths: Vec<String>,
    /// Why it is personal or health information, when it is.
    pub sensitive: Option<String>,
}

/// At most this many facts are listed; the whole result stays one click away.
const MAX_FACTS: usize = 40;

/// Describes a result of `artifact`.
pub fn describe(artifact: &Artifact, result: &Json, descriptors: &Descriptors) -> ResultWords {
    match artifact {
        Artifact::Http(http) => describe_http(http, result, descriptors),
        Artifact::Sql(_) => describe_sql(result),
        Artifact::Email(_) => describe_email(result),
    }
}

fn text(json: &Json) -> Option<String> {
    match json {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.clone()),
        Json::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        _ => None,
    }
}

fn status_words(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "",
    };
    let meaning = match status {
        200..=299 => "The server accepted it",
        300..=399 => "The server pointed elsewhere (not followed)",
        401 | 403 => "The server refused the login",
        400..=499 => "The server refused it",
        _ => "The server failed",
    };
    if reason.is_empty() {
        format!("{meaning} ({status})")
    } else {
        format!("{meaning} ({status} {reason})")
    }
}

fn describe_http(
    http: &crate::artifact::HttpArtifact,
    result: &Json,
    descriptors: &Descriptors,
) -> ResultWords {
    let status = result
        .at("status")
        .and_then(text)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(0);
    let body = result.at("body").unwrap_or(&Json::Null);
    let mut words = ResultWords {
        summary: status_words(status),
        facts: Vec::new(),
    };
    if (200..300).contains(&status)
        && let Ok(url) = url::Url::parse(&http.url)
    {
        let origin = url.origin().ascii_serialization();
        let request = crate::body::read(http)
            .map(|b| b.value)
            .unwrap_or(Json::Null);
        let described = descriptors
            .matching(&origin, &http.method, url.path(), &request)
            .into_iter()
            .find_map(|(d, _)| crate::explain::render_result(d, body));
        if let Some((summary, facts)) = described {
            words.summary = summary;
            for (label, value, path) in facts {
                // Release paths are dotted throughout: `a[0].b` is `a.0.b`.
                let dotted = path.replace('[', ".").replace(']', "");
                push(
                    &mut words.facts,
                    label,
                    value,
                    vec![format!("body.{dotted}")],
                );
            }
            return words;
        }
    }
    if let Some(resource) = body.at("resourceType").and_then(Json::as_str) {
        fhir_facts(body, resource, "body", &mut words);
        return words;
    }
    let host = url::Url::parse(&http.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let before = words.facts.len();
    generic_facts(body, "body", counts_minor_units(&host), &mut words.facts);
    if let (Some(id), true) = (body.at("id").and_then(text), words.facts.len() > before) {
        let state = body.at("status").and_then(text);
        words.summary = match state {
            Some(state) => format!("{}: {id} is {state}", words.summary),
            None => format!("{}: {id}", words.summary),
        };
    }
    words
}

fn push(facts: &mut Vec<Fact>, label: String, value: String, paths: Vec<String>) {
    if facts.len() >= MAX_FACTS {
        return;
    }
    let sensitive = paths
        .iter()
        .find(|p| is_sensitive_name(p))
        .map(|p| {
            format!(
                "personal or health detail ({})",
                p.rsplit('.').next().unwrap_or(p)
            )
        })
        .or_else(|| sensitive_value(&value).map(|what| format!("it holds {what}")));
    facts.push(Fact {
        label,
        value,
        paths,
        sensitive,
    });
}

fn label_of(path: &str) -> String {
    // `entry.0.resource.status` → "Status"; `owner.name` → "Owner name".
    let parts: Vec<&str> = path
        .split('.')
        .filter(|p| p.parse::<usize>().is_err() && *p != "body")
        .collect();
    let tail = parts[parts.len().saturating_sub(2)..].join(" ");
    let label = crate::text::label(&tail);
    if label.is_empty() {
        "Value".to_owned()
    } else {
        label
    }
}

fn is_amount_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.contains("amount")
        || lower.contains("balance")
        || lower.contains("total")
        || lower.contains("price")
        || lower.ends_with("cents")
}

/// Every value of a body, with amounts shown as money where the unit is known.
fn generic_facts(json: &Json, path: &str, minor_host: bool, facts: &mut Vec<Fact>) {
    match json {
        Json::Object(members) => {
            let currency = members.iter().find_map(|(k, v)| {
                let code = v.as_str()?;
                (k.to_ascii_lowercase().contains("currency")
                    && code.len() == 3
                    && code.bytes().all(|b| b.is_ascii_alphabetic()))
                .then(|| code.to_ascii_uppercase())
            });
            for (key, value) in members {
                let here = format!("{path}.{key}");
                match value {
                    Json::Object(_) | Json::Array(_) => {
                        generic_facts(value, &here, minor_host, facts)
                    }
                    Json::Null => {}
                    leaf => {
                        let Some(raw) = text(leaf) else { continue };
                        let shown = match (&currency, is_amount_key(key), leaf.as_decimal()) {
                            (Some(code), true, Some(amount)) => {
                                let cents = key.to_ascii_lowercase().ends_with("cents")
                                    || (minor_host && !raw.contains('.'));
                                let whole = !raw.contains('.') && !cents;
                                match (cents, whole) {
                                    (true, _) => Decimal::from_minor(amount, code)
                                        .map_or_else(|| raw.clone(), |m| format_money(m, code)),
                                    // An integer on an API whose units are not known: as written.
                                    (false, true) => format!("{raw} {code}"),
                                    (false, false) => format_money(amount, code),
                                }
                            }
                            _ => raw,
                        };
                        push(facts, label_of(&here), shown, vec![here]);
                    }
                }
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate().take(20) {
                generic_facts(item, &format!("{path}.{i}"), minor_host, facts);
            }
        }
        Json::Null => {}
        leaf => {
            if let Some(raw) = text(leaf) {
                let shown: String = raw.chars().take(400).collect();
                push(facts, "Answer".to_owned(), shown, vec![path.to_owned()]);
            }
        }
    }
}

/// A CodeableConcept's words, as the explanation reads them.
fn concept(json: Option<&Json>) -> Option<String> {
    crate::explain::fhir_concept(json)
}

fn reference(json: Option<&Json>) -> Option<String> {
    let json = json?;
    json.at("display")
        .and_then(text)
        .or_else(|| json.at("reference").and_then(text))
}

/// A FHIR resource or search bundle, fact by fact.
fn fhir_facts(body: &Json, resource: &str, path: &str, words: &mut ResultWords) {
    if resource == "Bundle" {
        let entries = match body.at("entry") {
            Some(Json::Array(entries)) => entries.as_slice(),
            _ => &[],
        };
        let total = body.at("total").and_then(text);
        words.summary = match &total {
            Some(total) => format!("Found {total} records; {} shown here", entries.len()),
            None => format!("{} records", entries.len()),
        };
        if let Some(total) = total {
            push(
                &mut words.facts,
                "Records found".to_owned(),
                total,
                vec![format!("{path}.total")],
            );
        }
        for (i, entry) in entries.iter().enumerate().take(20) {
            if let Some(inner) = entry.at("resource")
                && let Some(kind) = inner.at("resourceType").and_then(Json::as_str)
            {
                resource_facts(
                    inner,
                    kind,
                    &format!("{path}.entry.{i}.resource"),
                    &mut words.facts,
                );
            }
        }
        return;
    }
    if resource == "OperationOutcome" {
        let issue = body
            .at("issue[0].diagnostics")
            .and_then(text)
            .or_else(|| concept(body.at("issue[0].details")));
        words.summary = format!(
            "The records server answered: {}",
            issue.unwrap_or_else(|| "an outcome with no message".to_owned())
        );
        return;
    }
    let id = body.at("id").and_then(text);
    let status = body.at("status").and_then(text);
    words.summary = match (id, status) {
        (Some(id), Some(status)) => format!("{resource} {id} is {status}"),
        (Some(id), None) => format!("{resource} {id}"),
        _ => format!("The server returned a {resource}"),
    };
    resource_facts(body, resource, path, &mut words.facts);
}

/// A FHIR date or date-time as a person reads it ("Fri 20 Nov 2026, 08:15 (UTC−05:00)").
fn when(json: Option<&Json>) -> Option<String> {
    crate::explain::fhir_when(json.and_then(crate::explain::fhir_text))
}

fn resource_facts(resource: &Json, kind: &str, path: &str, facts: &mut Vec<Fact>) {
    let at = |p: &str| format!("{path}.{p}");
    let prefix = format!("{path}.");
    let add = |facts: &mut Vec<Fact>,
               label: &str,
               value: Option<String>,
               mut paths: Vec<String>,
               health: bool| {
        // Only paths the resource has: ticking the fact releases exactly those.
        paths.retain(|p| resource.at(p.strip_prefix(&prefix).unwrap_or(p)).is_some());
        if let Some(value) = value
            && !paths.is_empty()
        {
            let before = facts.len();
            push(facts, label.to_owned(), value, paths);
            if health
                && let Some(fact) = facts.get_mut(before)
                && fact.sensitive.is_none()
            {
                fact.sensitive = Some("health information".to_owned());
            }
        }
    };
    if let Some(id) = resource.at("id").and_then(text) {
        add(
            facts,
            &format!("{kind} id"),
            Some(id),
            vec![at("id")],
            false,
        );
    }
    add(
        facts,
        "Status",
        resource.at("status").and_then(text),
        vec![at("status")],
        false,
    );
    match kind {
        "Observation" => {
            add(
                facts,
                "Test",
                concept(resource.at("code")),
                vec![at("code")],
                true,
            );
            let value = resource.at("valueQuantity").and_then(|q| {
                let v = q.at("value").and_then(text)?;
                Some(match q.at("unit").and_then(text) {
                    Some(u) => format!("{v} {u}"),
                    None => v,
                })
            });
            add(facts, "Value", value, vec![at("valueQuantity")], true);
            add(
                facts,
                "Value",
                resource
                    .at("valueString")
                    .and_then(text)
                    .or_else(|| concept(resource.at("valueCodeableConcept"))),
                vec![at("valueString"), at("valueCodeableConcept")],
                true,
            );
            add(
                facts,
                "Flag",
                concept(resource.at("interpretation[0]")),
                vec![at("interpretation")],
                true,
            );
            add(
                facts,
                "Date",
                when(resource.at("effectiveDateTime")),
                vec![at("effectiveDateTime")],
                false,
            );
            add(
                facts,
                "Patient",
                reference(resource.at("subject")),
                vec![at("subject")],
                false,
            );
        }
        "Patient" => {
            let name = resource.at("name[0]").and_then(|n| {
                n.at("text").and_then(text).or_else(|| {
                    let given = match n.at("given") {
                        Some(Json::Array(g)) => {
                            g.iter().filter_map(text).collect::<Vec<_>>().join(" ")
                        }
                        _ => String::new(),
                    };
                    let family = n.at("family").and_then(text).unwrap_or_default();
                    let full = format!("{given} {family}").trim().to_owned();
                    (!full.is_empty()).then_some(full)
                })
            });
            add(facts, "Name", name, vec![at("name")], false);
            add(
                facts,
                "Date of birth",
                resource.at("birthDate").and_then(text),
                vec![at("birthDate")],
                false,
            );
            add(
                facts,
                "Identifier",
                resource.at("identifier[0].value").and_then(text),
                vec![at("identifier")],
                false,
            );
            if let Some(fact) = facts
                .iter_mut()
                .rev()
                .find(|f| f.label == "Date of birth" || f.label == "Identifier")
            {
                fact.sensitive
                    .get_or_insert_with(|| "identifies the patient".to_owned());
            }
        }
        "Appointment" => {
            add(
                facts,
                "Starts",
                resource.at("start").and_then(text),
                vec![at("start")],
                false,
            );
            add(
                facts,
                "Ends",
                resource.at("end").and_then(text),
                vec![at("end")],
                false,
            );
            add(
                facts,
                "Description",
                resource.at("description").and_then(text),
                vec![at("description")],
                false,
            );
        }
        "MedicationRequest" => {
            add(
                facts,
                "Medication",
                concept(resource.at("medicationCodeableConcept")),
                vec![at("medicationCodeableConcept")],
                true,
            );
            add(
                facts,
                "Patient",
                reference(resource.at("subject")),
                vec![at("subject")],
                false,
            );
            add(
                facts,
                "Directions",
                resource.at("dosageInstruction[0].text").and_then(text),
                vec![at("dosageInstruction")],
                true,
            );
        }
        "Condition" | "AllergyIntolerance" | "DiagnosticReport" | "Procedure" | "Immunization" => {
            let code = concept(resource.at("code")).or_else(|| concept(resource.at("vaccineCode")));
            add(
                facts,
                "What",
                code,
                vec![at("code"), at("vaccineCode")],
                true,
            );
            add(
                facts,
                "Patient",
                reference(resource.at("subject").or_else(|| resource.at("patient"))),
                vec![at("subject"), at("patient")],
                false,
            );
        }
        _ => {}
    }
    if is_health_name(kind) {
        for fact in facts.iter_mut() {
            if fact.label == "Patient" {
                fact.sensitive
                    .get_or_insert_with(|| "names a patient".to_owned());
            }
        }
    }
}

fn describe_sql(result: &Json) -> ResultWords {
    if let Some(changed) = result.at("rows_affected").and_then(text) {
        return ResultWords {
            summary: format!("Changed {changed} rows"),
            facts: vec![Fact {
                label: "Rows changed".to_owned(),
                value: changed,
                paths: vec!["rows_affected".to_owned()],
                sensitive: None,
            }],
        };
    }
    let rows = match result.at("rows") {
        Some(Json::Array(rows)) => rows.len(),
        _ => 0,
    };
    let truncated = matches!(result.at("truncated"), Some(Json::Bool(true)));
    let columns: Vec<String> = match result.at("columns") {
        Some(Json::Array(c)) => c.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let mut words = ResultWords {
        summary: format!(
            "Read {rows} row{}{}",
            if rows == 1 { "" } else { "s" },
            if truncated {
                " (more were left out at the row limit)"
            } else {
                ""
            }
        ),
        facts: Vec::new(),
    };
    // Columns are what a table releases by name.
    for column in columns {
        let sensitive =
            is_sensitive_name(&column).then(|| format!("personal or health detail ({column})"));
        words.facts.push(Fact {
            label: "Column".to_owned(),
            value: column.clone(),
            paths: vec![column],
            sensitive,
        });
    }
    words
}

fn describe_email(result: &Json) -> ResultWords {
    let recipients: Vec<String> = match result.at("recipients") {
        Some(Json::Array(r)) => r.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let reply = result.at("reply").and_then(text).unwrap_or_default();
    ResultWords {
        summary: format!(
            "Sent to {}; the mail server answered “{reply}”",
            recipients.join(", ")
        ),
        facts: vec![
            Fact {
                label: "Sent to".to_owned(),
                value: recipients.join(", "),
                paths: vec!["recipients".to_owned()],
                sensitive: None,
            },
            Fact {
                label: "Mail server's answer".to_owned(),
                value: reply,
                paths: vec!["reply".to_owned()],
                sensitive: None,
            },
        ],
    }
}
