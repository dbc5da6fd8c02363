//! FHIR R4 requests explained by resource, on any FHIR server.
//!
//! A request is FHIR when its path ends in a resource type from the R4 list, optionally followed
//! by an id, `_search`, `_history` or an operation (`$everything`), and a body, if any, is a
//! resource of that type or a JSON Patch. The explanation is built from the resource: its
//! `resourceType`, coded elements' display text, who it is about (`subject`, `patient`,
//! `beneficiary`), its status and dates. The patient's name is the reference's `display` when the
//! request gives one; otherwise the reference itself is shown, never a guessed name.
//!
//! Prescriptions carry the EPCS signing block of 21 CFR 1311.120(b)(9): date of issuance, the
//! patient's full name, the drug with its strength and form, quantity, directions, refills, the
//! earliest fill date when given, and the prescriber's name, address and DEA number from the
//! credential's prescriber profile. A Schedule II prescription with refills is a danger
//! (21 CFR 1306.12).

use std::collections::BTreeMap;

use super::fields::{format_date, format_local_datetime};
use super::generic::article;
use super::{Context, Draft};
use crate::artifact::HttpArtifact;
use crate::controlled;
use crate::explanation::{Action, RiskCode};
use crate::json::Json;
use crate::target::Target;

/// R4 resource types a clinic's assistant uses, and how a person names one of them.
const RESOURCES: &[(&str, &str, &str)] = &[
    ("Patient", "patient record", "patient records"),
    ("Appointment", "appointment", "appointments"),
    ("Slot", "open slot", "open slots"),
    ("Schedule", "schedule", "schedules"),
    ("Observation", "observation", "observations"),
    ("MedicationRequest", "prescription", "prescriptions"),
    (
        "MedicationStatement",
        "medication statement",
        "medication statements",
    ),
    ("AllergyIntolerance", "allergy", "allergies"),
    ("Condition", "diagnosis", "diagnoses"),
    ("DiagnosticReport", "test report", "test reports"),
    ("DocumentReference", "document", "documents"),
    (
        "ServiceRequest",
        "referral or order",
        "referrals and orders",
    ),
    ("Communication", "message", "messages"),
    (
        "CommunicationRequest",
        "message request",
        "message requests",
    ),
    ("Coverage", "insurance coverage", "insurance coverages"),
    (
        "CoverageEligibilityRequest",
        "insurance eligibility check",
        "insurance eligibility checks",
    ),
    (
        "CoverageEligibilityResponse",
        "insurance eligibility answer",
        "insurance eligibility answers",
    ),
    ("Immunization", "vaccination", "vaccinations"),
    ("Encounter", "visit", "visits"),
    ("Practitioner", "practitioner", "practitioners"),
    (
        "PractitionerRole",
        "practitioner role",
        "practitioner roles",
    ),
    ("Organization", "organisation", "organisations"),
    ("Location", "location", "locations"),
    ("Procedure", "procedure", "procedures"),
    ("CarePlan", "care plan", "care plans"),
    ("Claim", "insurance claim", "insurance claims"),
    ("Consent", "consent", "consents"),
    ("Task", "task", "tasks"),
    ("Medication", "medication", "medications"),
    (
        "MedicationAdministration",
        "medication given",
        "medications given",
    ),
    (
        "MedicationDispense",
        "dispensed medication",
        "dispensed medications",
    ),
    ("FamilyMemberHistory", "family history", "family histories"),
    ("RelatedPerson", "related person", "related people"),
];

/// Resources whose content is itself sensitive (diagnoses, identity, documents).
const SENSITIVE: &[&str] = &[
    "Patient",
    "Condition",
    "DiagnosticReport",
    "DocumentReference",
    "Observation",
    "MedicationRequest",
    "Coverage",
    "Claim",
    "Consent",
];

/// The parts of a FHIR request path.
#[derive(Debug)]
struct FhirPath {
    resource: &'static str,
    id: Option<String>,
    operation: Option<String>,
}

fn names(resource: &str) -> (&'static str, &'static str) {
    RESOURCES
        .iter()
        .find(|(r, _, _)| *r == resource)
        .map_or(("record", "records"), |&(_, one, many)| (one, many))
}

fn read_path(path: &str) -> Option<FhirPath> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // The resource type is the last or second-to-last or third-to-last segment.
    for back in 1..=3.min(segments.len()) {
        let at = segments.len() - back;
        let Some(&(resource, _, _)) = RESOURCES.iter().find(|(r, _, _)| *r == segments[at]) else {
            continue;
        };
        let rest = &segments[at + 1..];
        let operation_like = |s: &str| s.starts_with('$') || s == "_search" || s == "_history";
        let parsed = match rest {
            [] => Some((None, None)),
            [only] if operation_like(only) => Some((None, Some((*only).to_owned()))),
            [id] => Some((Some(crate::descriptor::percent_decode(id)), None)),
            [id, op] if operation_like(op) => Some((
                Some(crate::descriptor::percent_decode(id)),
                Some((*op).to_owned()),
            )),
            [id, "_history", _version] => Some((
                Some(crate::descriptor::percent_decode(id)),
                Some("_history".to_owned()),
            )),
            _ => None,
        };
        if let Some((id, operation)) = parsed {
            return Some(FhirPath {
                resource,
                id,
                operation,
            });
        }
    }
    None
}

pub(crate) fn text(json: &Json) -> Option<String> {
    match json {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Json::Number(n) => Some(n.clone()),
        Json::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        _ => None,
    }
}

fn at(json: &Json, path: &str) -> Option<String> {
    json.at(path).and_then(text)
}

/// A CodeableConcept's words: its text, or its first coding's display, or "code X".
pub(crate) fn concept(json: Option<&Json>) -> Option<String> {
    let json = json?;
    if let Some(t) = at(json, "text") {
        return Some(t);
    }
    if let Some(Json::Array(codings)) = json.at("coding") {
        for coding in codings {
            if let Some(display) = at(coding, "display") {
                return Some(display);
            }
        }
        if let Some(code) = codings.first().and_then(|c| at(c, "code")) {
            return Some(format!("code {code}"));
        }
    }
    None
}

/// The codes of a CodeableConcept, for detail lines and schedule checks.
fn codes(json: Option<&Json>) -> Vec<String> {
    match json.and_then(|j| j.at("coding")) {
        Some(Json::Array(codings)) => codings.iter().filter_map(|c| at(c, "code")).collect(),
        _ => Vec::new(),
    }
}

/// A Reference: its display with the reference beside it, or the reference alone.
fn reference(json: Option<&Json>) -> Option<(String, String)> {
    let json = json?;
    let display = at(json, "display");
    let reference = at(json, "reference");
    match (display, reference) {
        (Some(d), Some(r)) => Some((d.clone(), format!("{d} ({r})"))),
        (Some(d), None) => Some((d.clone(), d)),
        (None, Some(r)) => Some((r.clone(), r)),
        (None, None) => at(json, "identifier.value").map(|v| (v.clone(), v)),
    }
}

pub(crate) fn when(value: Option<String>) -> Option<String> {
    let value = value?;
    Some(if value.len() == 10 {
        format_date(&value)
    } else {
        format_local_datetime(&value, None)
    })
}

/// A Quantity as "7.2 mmol/L".
fn quantity(json: Option<&Json>) -> Option<String> {
    let json = json?;
    let value = at(json, "value")?;
    let unit = at(json, "unit").or_else(|| at(json, "code"));
    let comparator = at(json, "comparator").unwrap_or_default();
    Some(match unit {
        Some(unit) => format!("{comparator}{value} {unit}"),
        None => format!("{comparator}{value}"),
    })
}

/// An Observation's value[x] in words.
fn observation_value(body: &Json) -> Option<String> {
    if let Some(q) = quantity(body.at("valueQuantity")) {
        return Some(q);
    }
    if let Some(c) = concept(body.at("valueCodeableConcept")) {
        return Some(c);
    }
    for key in [
        "valueString",
        "valueBoolean",
        "valueInteger",
        "valueDateTime",
    ] {
        if let Some(v) = at(body, key) {
            return Some(v);
        }
    }
    // Blood pressure and other panels: each component's code and value.
    if let Some(Json::Array(components)) = body.at("component") {
        let parts: Vec<String> = components
            .iter()
            .filter_map(|c| {
                let name = concept(c.at("code"))?;
                let value = quantity(c.at("valueQuantity"))
                    .or_else(|| concept(c.at("valueCodeableConcept")))?;
                Some(format!("{name} {value}"))
            })
            .collect();
        if !parts.is_empty() {
            return Some(parts.join(", "));
        }
    }
    None
}

/// Who the resource is about.
fn patient_of(body: &Json) -> Option<(String, String)> {
    for key in ["subject", "patient", "beneficiary"] {
        if let Some(found) = reference(body.at(key)) {
            return Some(found);
        }
    }
    // Appointment: the participant whose actor is a Patient.
    if let Some(Json::Array(participants)) = body.at("participant") {
        for p in participants {
            let actor = p.at("actor");
            let is_patient = actor
                .and_then(|a| at(a, "reference"))
                .is_some_and(|r| r.starts_with("Patient/") || r.contains("/Patient/"));
            if is_patient {
                return reference(actor);
            }
        }
    }
    None
}

fn other_participants(body: &Json) -> Vec<String> {
    let Some(Json::Array(participants)) = body.at("participant") else {
        return Vec::new();
    };
    participants
        .iter()
        .filter_map(|p| {
            let actor = p.at("actor");
            let r = actor.and_then(|a| at(a, "reference")).unwrap_or_default();
            if r.starts_with("Patient/") || r.contains("/Patient/") {
                return None;
            }
            reference(actor).map(|(short, _)| short)
        })
        .collect()
}

fn human_name(body: &Json) -> Option<String> {
    let name = body.at("name[0]")?;
    if let Some(t) = at(name, "text") {
        return Some(t);
    }
    let given: Vec<String> = match name.at("given") {
        Some(Json::Array(items)) => items.iter().filter_map(text).collect(),
        _ => Vec::new(),
    };
    let family = at(name, "family");
    let mut parts = given;
    parts.extend(family);
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// What a JSON Patch does, op by op: ("replace", "/status", Some("cancelled")).
/// A JSON merge patch (an object of fields to set) reads as one `replace` per field.
fn patch_ops(body: &Json) -> Option<Vec<(String, String, Option<String>)>> {
    if let Json::Object(members) = body {
        return Some(
            members
                .iter()
                .map(|(k, v)| match v {
                    Json::Null => ("remove".to_owned(), format!("/{k}"), None),
                    other => (
                        "replace".to_owned(),
                        format!("/{k}"),
                        Some(text(other).unwrap_or_else(|| other.canonical())),
                    ),
                })
                .collect(),
        );
    }
    let Json::Array(ops) = body else { return None };
    ops.iter()
        .map(|op| {
            let kind = at(op, "op")?;
            let path = at(op, "path")?;
            let value = op
                .at("value")
                .map(|v| text(v).unwrap_or_else(|| v.canonical()));
            Some((kind, path, value))
        })
        .collect()
}

/// Explains a FHIR request, or `None` when the request is not one.
pub(super) fn explain(
    artifact: &HttpArtifact,
    target: &Target,
    body: &Json,
    query: &BTreeMap<String, String>,
    draft: &mut Draft,
    context: &Context<'_>,
) -> Option<()> {
    let path = read_path(target.url.path())?;
    let method = artifact.method.as_str();
    let body_type = body.at("resourceType").and_then(Json::as_str);
    let patch = if method == "PATCH" {
        patch_ops(body)
    } else {
        None
    };
    match (method, body_type) {
        ("POST" | "PUT", Some(t)) if t != path.resource && path.operation.is_none() => return None,
        ("POST", None) if path.operation.is_none() && *body != Json::Null => return None,
        ("PUT", None) => return None,
        ("PATCH", _) if patch.is_none() => return None,
        _ => {}
    }
    let resource = path.resource;
    let (one, many) = names(resource);
    draft.detail("Record type", format!("{one} (FHIR {resource})"));
    if resource != "Slot" && resource != "Schedule" {
        draft.flag(RiskCode::HealthRecord);
    }
    if SENSITIVE.contains(&resource) {
        draft.flag(RiskCode::SensitiveData);
    }
    let id_words = |id: &str| format!("{one} {id}");

    let headline = match (method, &path.id, path.operation.as_deref()) {
        ("GET", Some(id), Some("$everything")) | ("POST", Some(id), Some("$everything")) => {
            draft.action = Some(Action::Read);
            draft.flag(RiskCode::BulkData);
            format!("Read everything in the health record of patient {id}")
        }
        ("GET", None, Some("$everything")) => {
            draft.action = Some(Action::Read);
            draft.flag(RiskCode::BulkData);
            "Read everything in every patient's health record".to_owned()
        }
        ("GET", Some(id), Some("_history")) => {
            draft.action = Some(Action::Read);
            format!("Read the change history of {}", id_words(id))
        }
        ("GET", Some(id), _) => {
            draft.action = Some(Action::Read);
            if resource == "Patient" {
                format!("Open the health record of patient {id}")
            } else {
                format!("Read {}", id_words(id))
            }
        }
        ("GET", None, _) | ("POST", None, Some("_search")) => {
            draft.action = Some(Action::Read);
            search_headline(resource, many, query, body, draft)
        }
        ("DELETE", Some(id), _) => {
            draft.action = Some(Action::Delete);
            format!("Delete {}", id_words(id))
        }
        ("PATCH", Some(id), _) => {
            draft.action = Some(Action::Update);
            patch_headline(resource, one, id, patch.as_deref().unwrap_or(&[]), draft)
        }
        ("POST" | "PUT", _, _) if body_type.is_some() => {
            let (headline, action) =
                resource_headline(resource, one, body, draft, context, artifact);
            draft.action = Some(action);
            match (method, &path.id) {
                ("PUT", Some(id))
                    if headline.starts_with("Cancel") || headline.starts_with("Stop") =>
                {
                    format!("{headline} ({one} {id})")
                }
                ("PUT", Some(id)) => {
                    let facts = headline
                        .strip_prefix("Add a patient record for ")
                        .map_or_else(|| lower_first(&headline), str::to_owned);
                    format!("Update {}: {facts}", id_words(id))
                }
                _ => headline,
            }
        }
        _ => return None,
    };
    // Which server is in the details ("Site", and the credential that names the clinic).
    draft.headline = headline;
    Some(())
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// FHIR search parameters in words.
fn search_headline(
    resource: &str,
    many: &str,
    query: &BTreeMap<String, String>,
    body: &Json,
    draft: &mut Draft,
) -> String {
    // `POST _search` sends the parameters as a form body.
    let mut params: BTreeMap<String, String> = query.clone();
    if let Some(members) = body.as_object() {
        for (k, v) in members {
            if let Some(t) = text(v) {
                params.insert(k.clone(), t);
            }
        }
    }
    let mut whose = None;
    let mut terms = Vec::new();
    for (name, value) in &params {
        let base = name.split(':').next().unwrap_or(name);
        let label = match base {
            "patient" | "subject" => {
                whose = Some(value.clone());
                continue;
            }
            "_id" => "id",
            "name" => "name",
            "family" => "family name",
            "given" => "given name",
            "birthdate" => "date of birth",
            "identifier" => "identifier",
            "code" => "code",
            "category" => "category",
            "status" => "status",
            "date" => "date",
            "start" => "start",
            "actor" | "practitioner" | "performer" => "with",
            "schedule" => "schedule",
            "clinical-status" => "clinical status",
            "gender" => "gender",
            "phone" | "telecom" => "phone",
            "email" => "email",
            "_count" | "_sort" | "_include" | "_revinclude" | "_elements" | "_summary"
            | "_format" | "_total" => continue,
            other => other,
        };
        if matches!(
            base,
            "name" | "family" | "given" | "birthdate" | "identifier" | "phone" | "email"
        ) {
            draft.flag(RiskCode::SensitiveData);
        }
        let said = value
            .split(',')
            .map(|v| comparison(v.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        terms.push(format!("{label} {said}"));
        draft.detail(&format!("Search by {label}"), value);
    }
    let mut headline = format!("Search {many}");
    if let Some(patient) = whose {
        headline.push_str(&format!(" of patient {patient}"));
        draft.detail("Patient", &patient);
    }
    if !terms.is_empty() {
        headline.push_str(&format!(" where {}", terms.join(" and ")));
    }
    let _ = resource;
    headline
}

/// A FHIR search value with its comparison prefix in words: `ge2026-12-07` is "on or after
/// 2026-12-07" (prefixes apply to numbers, dates and quantities).
fn comparison(value: &str) -> String {
    let prefixed =
        value.len() > 2 && value.as_bytes()[2].is_ascii_digit() && value.is_char_boundary(2);
    let rest = value.get(2..).unwrap_or("");
    let date = rest.len() >= 5
        && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && rest.as_bytes()[4] == b'-';
    let words = match (prefixed, value.get(..2), date) {
        (true, Some("eq"), _) => "is",
        (true, Some("ne"), _) => "is not",
        (true, Some("gt"), true) => "is after",
        (true, Some("gt"), false) => "is above",
        (true, Some("lt"), true) => "is before",
        (true, Some("lt"), false) => "is below",
        (true, Some("ge"), true) => "is on or after",
        (true, Some("ge"), false) => "is at least",
        (true, Some("le"), true) => "is on or before",
        (true, Some("le"), false) => "is at most",
        (true, Some("sa"), _) => "starts after",
        (true, Some("eb"), _) => "ends before",
        (true, Some("ap"), _) => "is about",
        _ => return format!("is {value}"),
    };
    format!("{words} {}", &value[2..])
}

fn patch_headline(
    resource: &str,
    one: &str,
    id: &str,
    ops: &[(String, String, Option<String>)],
    draft: &mut Draft,
) -> String {
    let mut changes = Vec::new();
    let mut status = None;
    for (op, path, value) in ops {
        let field = path.trim_start_matches('/').replace('/', " › ");
        let line = match (op.as_str(), value) {
            ("remove", _) => format!("remove {field}"),
            ("add" | "replace", Some(v)) => format!("set {field} to {v}"),
            (other, Some(v)) => format!("{other} {field} {v}"),
            (other, None) => format!("{other} {field}"),
        };
        if path == "/status" {
            status = value.clone();
        }
        draft.detail("Change", &line);
        changes.push(line);
    }
    match (resource, status.as_deref()) {
        ("Appointment", Some("cancelled")) => format!("Cancel appointment {id}"),
        ("MedicationRequest", Some("stopped" | "cancelled" | "entered-in-error")) => {
            format!("Stop prescription {id}")
        }
        _ => format!("Change {one} {id}: {}", changes.join("; ")),
    }
}

/// The words for creating (or replacing with) one resource.
fn resource_headline(
    resource: &str,
    one: &str,
    body: &Json,
    draft: &mut Draft,
    context: &Context<'_>,
    artifact: &HttpArtifact,
) -> (String, Action) {
    let patient = patient_of(body);
    if let Some((_, detail)) = &patient {
        // A prescription names the patient in its signing block instead.
        if resource != "MedicationRequest" {
            draft.detail("Patient", detail);
        }
        draft.counterparties.push(detail.clone());
    }
    let for_patient = patient
        .as_ref()
        .map(|(short, _)| format!(" for {short}"))
        .unwrap_or_default();
    let status = at(body, "status");
    if let Some(s) = &status {
        draft.detail("Status", s);
    }
    match resource {
        "Patient" => {
            let name = human_name(body);
            if let Some(n) = &name {
                draft.detail("Name", n);
            }
            let born = when(at(body, "birthDate"));
            if let Some(b) = &born {
                draft.detail("Date of birth", b);
            }
            if let Some(g) = at(body, "gender") {
                draft.detail("Gender", g);
            }
            let mut h = match name {
                Some(n) => format!("Add a patient record for {n}"),
                None => "Add a patient record with no name".to_owned(),
            };
            if let Some(b) = born {
                h.push_str(&format!(", born {b}"));
            }
            (h, Action::Create)
        }
        "Appointment" => {
            let start = when(at(body, "start"));
            let with: Vec<String> = other_participants(body);
            let what = concept(body.at("serviceType[0]"))
                .or_else(|| concept(body.at("appointmentType")))
                .or_else(|| at(body, "description"));
            if let Some(s) = &start {
                draft.detail("Starts", s);
            }
            if let Some(e) = when(at(body, "end")) {
                draft.detail("Ends", e);
            }
            if !with.is_empty() {
                draft.detail("With", with.join(", "));
            }
            if let Some(w) = &what {
                draft.detail("For", w);
            }
            let verb = match status.as_deref() {
                Some("cancelled") => "Cancel the appointment",
                Some("proposed" | "pending") => "Propose an appointment",
                Some("noshow") => "Mark as a no-show the appointment",
                Some("arrived" | "checked-in") => "Check in the appointment",
                Some("fulfilled") => "Mark as done the appointment",
                _ => "Book an appointment",
            };
            let mut h = format!("{verb}{for_patient}");
            if let Some(s) = start {
                h.push_str(&format!(" on {s}"));
            }
            if let Some(first) = with.first() {
                h.push_str(&format!(" with {first}"));
            }
            if let Some(w) = what {
                h.push_str(&format!(" ({w})"));
            }
            (h, Action::Create)
        }
        "Observation" => {
            let code = concept(body.at("code")).unwrap_or_else(|| "a measurement".to_owned());
            let value = observation_value(body);
            let date = when(at(body, "effectiveDateTime").or_else(|| at(body, "issued")));
            draft.detail("Measurement", with_codes(&code, body.at("code")));
            if let Some(v) = &value {
                draft.detail("Value", v);
            }
            if let Some(flag) = concept(body.at("interpretation[0]")) {
                draft.detail("Flag", flag);
            }
            if let Some(d) = &date {
                draft.detail("Taken", d);
            }
            let mut h = format!("Record {code}{for_patient}");
            if let Some(v) = value {
                h.push_str(&format!(": {v}"));
            }
            if let Some(d) = date {
                h.push_str(&format!(" on {d}"));
            }
            (h, Action::Create)
        }
        "MedicationRequest" => {
            prescription(body, &patient, status.as_deref(), draft, context, artifact)
        }
        "AllergyIntolerance" => {
            let code =
                concept(body.at("code")).unwrap_or_else(|| "an unnamed substance".to_owned());
            draft.detail("Allergy to", with_codes(&code, body.at("code")));
            if let Some(c) = at(body, "criticality") {
                draft.detail("Criticality", c);
            }
            if let Some(r) = concept(body.at("reaction[0].manifestation[0]")) {
                draft.detail("Reaction", r);
            }
            (
                format!("Record an allergy to {code}{for_patient}"),
                Action::Create,
            )
        }
        "Condition" => {
            let code =
                concept(body.at("code")).unwrap_or_else(|| "an unnamed condition".to_owned());
            draft.detail("Diagnosis", with_codes(&code, body.at("code")));
            if let Some(c) = concept(body.at("clinicalStatus")) {
                draft.detail("Clinical status", c);
            }
            if let Some(d) = when(at(body, "onsetDateTime")) {
                draft.detail("Since", d);
            }
            (
                format!("Record the diagnosis {code}{for_patient}"),
                Action::Create,
            )
        }
        "DiagnosticReport" => {
            let code = concept(body.at("code")).unwrap_or_else(|| "a report".to_owned());
            draft.detail("Report", with_codes(&code, body.at("code")));
            if let Some(c) = at(body, "conclusion") {
                draft.detail("Conclusion", c);
            }
            if let Some(d) = when(at(body, "effectiveDateTime").or_else(|| at(body, "issued"))) {
                draft.detail("Date", d);
            }
            (
                format!("Add the test report {code}{for_patient}"),
                Action::Create,
            )
        }
        "DocumentReference" => {
            let kind = concept(body.at("type")).unwrap_or_else(|| "a document".to_owned());
            draft.detail("Document", &kind);
            if let Some(d) = at(body, "description") {
                draft.detail("Description", d);
            }
            if let Some(ct) = at(body, "content[0].attachment.contentType") {
                draft.detail("File type", ct);
            }
            (
                format!("Add the document {kind}{for_patient}"),
                Action::Create,
            )
        }
        "ServiceRequest" => {
            let code = concept(body.at("code")).unwrap_or_else(|| "an unnamed service".to_owned());
            let to = reference(body.at("performer[0]")).map(|(s, _)| s);
            draft.detail("Service", with_codes(&code, body.at("code")));
            if let Some(t) = &to {
                draft.detail("To", t);
            }
            if let Some(r) = concept(body.at("reasonCode[0]")) {
                draft.detail("Reason", r);
            }
            let referral = at(body, "intent").is_some_and(|i| i != "proposal" && i != "plan");
            let verb = if referral { "Refer" } else { "Propose" };
            let who = patient
                .as_ref()
                .map_or_else(|| "a patient".to_owned(), |(s, _)| s.clone());
            let mut h = format!("{verb} {who} for {code}");
            if let Some(t) = to {
                h.push_str(&format!(" to {t}"));
            }
            (h, Action::Create)
        }
        "Communication" | "CommunicationRequest" => {
            let to: Vec<String> = match body.at("recipient") {
                Some(Json::Array(items)) => items
                    .iter()
                    .filter_map(|r| reference(Some(r)).map(|(s, _)| s))
                    .collect(),
                _ => Vec::new(),
            };
            let said = at(body, "payload[0].contentString");
            if !to.is_empty() {
                draft.detail("To", to.join(", "));
                draft.risks.flag(
                    RiskCode::ExternalRecipient,
                    "Someone else receives this message about a patient.",
                );
            }
            if let Some(s) = &said {
                draft.detail("Message", s);
            }
            let mut h = "Send a message".to_owned();
            if let Some(first) = to.first() {
                h.push_str(&format!(" to {first}"));
            }
            if let Some((short, _)) = &patient {
                h.push_str(&format!(" about {short}"));
            }
            if let Some(s) = said {
                let short: String = s.chars().take(80).collect();
                h.push_str(&format!(": “{short}”"));
            }
            (h, Action::Create)
        }
        "Coverage" => {
            let payor = reference(body.at("payor[0]")).map(|(s, _)| s);
            if let Some(p) = &payor {
                draft.detail("Insurer", p);
            }
            if let Some(id) = at(body, "subscriberId") {
                draft.detail("Member number", id);
            }
            let mut h = "Add insurance coverage".to_owned();
            if let Some(p) = payor {
                h.push_str(&format!(" from {p}"));
            }
            h.push_str(&for_patient);
            (h, Action::Create)
        }
        "CoverageEligibilityRequest" => {
            let insurer = reference(body.at("insurer")).map(|(s, _)| s);
            let purposes: Vec<String> = match body.at("purpose") {
                Some(Json::Array(items)) => items.iter().filter_map(text).collect(),
                _ => Vec::new(),
            };
            if let Some(i) = &insurer {
                draft.detail("Insurer", i);
            }
            if !purposes.is_empty() {
                draft.detail("Asks about", purposes.join(", "));
            }
            let who = patient
                .as_ref()
                .map_or_else(|| "the patient".to_owned(), |(s, _)| s.clone());
            let h = match insurer {
                Some(i) => format!("Ask {i} whether {who}'s insurance covers the care"),
                None => format!("Ask the insurer whether {who}'s insurance covers the care"),
            };
            (h, Action::Create)
        }
        "Immunization" => {
            let vaccine = concept(body.at("vaccineCode")).unwrap_or_else(|| "a vaccine".to_owned());
            let date = when(at(body, "occurrenceDateTime"));
            draft.detail("Vaccine", with_codes(&vaccine, body.at("vaccineCode")));
            if let Some(d) = &date {
                draft.detail("Given", d);
            }
            let mut h = format!("Record the vaccination {vaccine}{for_patient}");
            if let Some(d) = date {
                h.push_str(&format!(" on {d}"));
            }
            (h, Action::Create)
        }
        "Encounter" => {
            let class = at(body, "class.code").map(|c| match c.as_str() {
                "AMB" => "an outpatient visit".to_owned(),
                "EMER" => "an emergency visit".to_owned(),
                "IMP" => "a hospital stay".to_owned(),
                "VR" => "a video visit".to_owned(),
                "HH" => "a home visit".to_owned(),
                other => format!("a visit of class {other}"),
            });
            let start = when(at(body, "period.start"));
            if let Some(c) = &class {
                draft.detail("Kind of visit", c);
            }
            if let Some(s) = &start {
                draft.detail("Starts", s);
            }
            if let Some(r) = concept(body.at("reasonCode[0]")) {
                draft.detail("Reason", r);
            }
            let mut h = format!(
                "Open {}{for_patient}",
                class.unwrap_or_else(|| "a visit".to_owned())
            );
            if let Some(s) = start {
                h.push_str(&format!(" on {s}"));
            }
            (h, Action::Create)
        }
        _ => (
            format!("Add {} {one}{for_patient}", article(one)),
            Action::Create,
        ),
    }
}

fn with_codes(words: &str, json: Option<&Json>) -> String {
    let codes = codes(json);
    match codes.first() {
        Some(code) if !words.starts_with("code ") => format!("{words} (code {code})"),
        _ => words.to_owned(),
    }
}

/// A MedicationRequest with its EPCS signing block (21 CFR 1311.120(b)(9)).
fn prescription(
    body: &Json,
    patient: &Option<(String, String)>,
    status: Option<&str>,
    draft: &mut Draft,
    context: &Context<'_>,
    artifact: &HttpArtifact,
) -> (String, Action) {
    let medication = body.at("medicationCodeableConcept");
    let drug = concept(medication)
        .or_else(|| reference(body.at("medicationReference")).map(|(s, _)| s))
        .unwrap_or_else(|| "a medication that is not named".to_owned());
    let code_list = codes(medication);
    let code_refs: Vec<&str> = code_list.iter().map(String::as_str).collect();
    let schedule = controlled::schedule(&drug, &code_refs);
    let mut drug_detail = with_codes(&drug, medication);
    if let Some((ingredient, schedule)) = schedule {
        drug_detail.push_str(&format!(
            " — {ingredient}, a DEA Schedule {schedule} controlled substance"
        ));
    }
    let refills = at(body, "dispenseRequest.numberOfRepeatsAllowed");
    let stopping = matches!(status, Some("stopped" | "cancelled" | "entered-in-error"));

    // The signing block, in the order of 21 CFR 1311.120(b)(9).
    draft.detail(
        "Date of issuance",
        when(at(body, "authoredOn")).unwrap_or_else(|| "today, when you sign".to_owned()),
    );
    draft.detail(
        "Patient's full name",
        patient.as_ref().map_or_else(
            || "not stated in the request".to_owned(),
            |(_, d)| d.clone(),
        ),
    );
    draft.detail("Drug, strength and form", &drug_detail);
    let qty = quantity(body.at("dispenseRequest.quantity"));
    draft.detail(
        "Quantity",
        qty.clone()
            .unwrap_or_else(|| "not stated in the request".to_owned()),
    );
    if let Some(days) = quantity(body.at("dispenseRequest.expectedSupplyDuration")) {
        draft.detail("Days' supply", days);
    }
    draft.detail(
        "Directions",
        at(body, "dosageInstruction[0].text")
            .unwrap_or_else(|| "not stated in the request".to_owned()),
    );
    draft.detail(
        "Refills",
        refills.clone().unwrap_or_else(|| "none stated".to_owned()),
    );
    if let Some(earliest) = when(at(body, "dispenseRequest.validityPeriod.start")) {
        draft.detail("Earliest fill date", earliest);
    }
    let requester = reference(body.at("requester"));
    let profile = artifact
        .credential
        .as_ref()
        .and_then(|name| context.registry.get(name))
        .and_then(|c| c.prescriber.as_ref());
    draft.detail(
        "Prescriber",
        match (profile, &requester) {
            (Some(p), _) => p.name.clone(),
            (None, Some((_, d))) => d.clone(),
            (None, None) => "not stated in the request".to_owned(),
        },
    );
    if let Some(p) = profile {
        draft.detail("Prescriber's address", &p.address);
        draft.detail("Prescriber's DEA number", &p.dea_number);
    } else if schedule.is_some() {
        draft.detail(
            "Prescriber's address and DEA number",
            "not on file: add them to the credential's prescriber profile before signing",
        );
    }
    if let Some(note) = at(body, "note[0].text") {
        draft.detail("Note to pharmacy", note);
    }
    if let Some(pharmacy) = reference(body.at("dispenseRequest.performer")).map(|(_, d)| d) {
        draft.detail("Pharmacy", pharmacy);
    }

    if let Some((ingredient, schedule)) = schedule
        && !stopping
    {
        let refilled = refills
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|r| r > 0);
        let message = if schedule == "II" && refilled {
            format!(
                "This prescribes {ingredient}, a Schedule II controlled substance, with refills; Schedule II prescriptions may not be refilled (21 CFR 1306.12). Signing needs your second factor."
            )
        } else {
            format!(
                "This prescribes {ingredient}, a Schedule {schedule} controlled substance; signing needs your second factor."
            )
        };
        draft.risks.flag(RiskCode::ControlledSubstance, message);
        draft.second_factor = true;
    }
    let who = patient
        .as_ref()
        .map(|(s, _)| format!(" for {s}"))
        .unwrap_or_default();
    if stopping {
        return (
            format!("Stop the prescription of {drug}{who}"),
            Action::Update,
        );
    }
    let mut h = format!("Prescribe {drug}{who}");
    if let Some(q) = qty {
        h.push_str(&format!(", quantity {q}"));
    }
    (h, Action::Prescribe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resources_at_any_base() {
        let p = read_path("/fhir/r4/Patient/123/$everything").unwrap();
        assert_eq!(p.resource, "Patient");
        assert_eq!(p.id.as_deref(), Some("123"));
        assert_eq!(p.operation.as_deref(), Some("$everything"));
        let p = read_path("/baseR4/Observation").unwrap();
        assert_eq!(p.id, None);
        assert!(read_path("/v1/customers/cus_1").is_none());
        let p = read_path("/Appointment/_search").unwrap();
        assert_eq!(p.operation.as_deref(), Some("_search"));
    }
}
