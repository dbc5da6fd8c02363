//! Routines (design.md §18): what a template may and may not fill in, bounds, and the property
//! that no parameter value can change a run's credential, method, origin, path pattern or SQL.

use std::collections::BTreeMap;

use countersign_core::json::Json;
use countersign_core::routine::{
    Routine, RoutineProposal, artifact_parts, describe, template_parts, values_at_limits,
};
use countersign_core::{Artifact, RefusalCode};
use proptest::prelude::*;

fn today() -> time::Date {
    time::macros::date!(2026 - 12 - 02)
}

fn routine(json: &str) -> Result<Routine, countersign_core::Refusal> {
    RoutineProposal::parse(&format!(
        r#"{{"summary":"s","purpose":"p","routine":{json}}}"#
    ))
    .map(|p| p.routine)
}

const BILL: &str = r#"{
  "parameters": {
    "amount": {"type": "money", "currency": "USD", "max": "200.00"},
    "invoice": {"type": "string", "max_length": 20, "characters": ["letters", "digits", "-"]}
  },
  "steps": [{"id": "pay", "artifact": {"kind": "http", "credential": "acme-bank", "method": "POST",
    "url": "https://api.acme.example/v1/payees/acme-power/payments?ref={{invoice}}",
    "headers": {"Content-Type": "application/json"},
    "body": {"amount": {"$param": "amount"}, "currency": "USD", "memo": {"$param": "invoice", "as": "string"}}}}],
  "trigger": {"schedule": {"every": "month", "day": 1, "at": "09:00"}, "on_request": true},
  "scheduled_parameters": {"amount": "120.00", "invoice": "MONTHLY"},
  "limits": {"runs_per_day": 1, "total_runs": 12, "total_money": "2400.00"},
  "release": {"fields": ["body.status"]},
  "example": {"invoice": "INV-1001"}
}"#;

const REMINDERS: &str = r#"{
  "parameters": {"day": {"type": "date", "within_days": 1}},
  "steps": [
    {"id": "read", "artifact": {"kind": "sql", "database": "clinic-db-ro",
      "statement": "SELECT email, first_name, at FROM appointments WHERE day = $1",
      "parameters": [{"$param": "day"}]},
     "extract": {"email": {"column": "email"}, "first_name": {"column": "first_name"}, "at": {"column": "at"}}},
    {"id": "remind", "for_each": {"step": "read", "max": 40}, "artifact": {"kind": "email",
      "account": "front-desk", "to": [{"$row": "email"}],
      "subject": "Your appointment tomorrow", "text": "Hello {{row.first_name}}, see you at {{row.at}}."}}
  ],
  "trigger": {"schedule": {"every": "day", "at": "18:00"}},
  "scheduled_parameters": {"day": "+1"},
  "limits": {"runs_per_day": 1},
  "release": "nothing"
}"#;

fn values(pairs: &[(&str, Json)]) -> BTreeMap<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn a_monthly_bill_is_read_bounded_and_described() {
    let bill = routine(BILL).unwrap();
    assert_eq!(bill.sha256().len(), 64);
    let words = describe(&bill, today());
    assert_eq!(
        words.schedule,
        "Runs every month on day 1 at 09:00 (this computer's time), and when its agent asks"
    );
    assert_eq!(words.bounds[0], "amount: an amount in USD, at most $200.00");
    assert_eq!(
        words.limits,
        [
            "At most 1 run a day",
            "At most 12 runs in all",
            "At most $2,400.00 in all"
        ]
    );
    assert_eq!(words.release, "The agent sees only body.status of each run");
    assert!(words.expiry.contains("2 Mar 2027"), "{}", words.expiry);

    let within = bill
        .check(
            &values(&[
                ("amount", Json::Number("150.00".into())),
                ("invoice", Json::String("INV-2001".into())),
            ]),
            today(),
        )
        .unwrap();
    assert!(within.outside.is_empty());
    let Artifact::Http(http) = bill.instantiate(&bill.steps[0], &within, None).unwrap() else {
        panic!("not http")
    };
    assert_eq!(
        http.url,
        "https://api.acme.example/v1/payees/acme-power/payments?ref=INV-2001"
    );
    assert_eq!(
        http.body.canonical(),
        r#"{"amount":150.00,"currency":"USD","memo":"INV-2001"}"#
    );

    let over = bill
        .check(
            &values(&[
                ("amount", Json::Number("200.01".into())),
                ("invoice", Json::String("INV 1".into())),
            ]),
            today(),
        )
        .unwrap();
    assert_eq!(over.outside.len(), 2, "{:?}", over.outside);
    assert!(over.outside[0].contains("over the routine's most, $200.00"));

    let at_limits = values_at_limits(&bill, today()).unwrap();
    assert_eq!(at_limits.text["amount"], "200.00");
}

#[test]
fn a_repeating_step_fills_each_row_and_sql_values_are_bound_not_spliced() {
    let reminders = routine(REMINDERS).unwrap();
    let checked = reminders
        .check(
            &values(&[("day", Json::String("2026-12-03".into()))]),
            today(),
        )
        .unwrap();
    assert!(checked.outside.is_empty());
    let Artifact::Sql(sql) = reminders
        .instantiate(&reminders.steps[0], &checked, None)
        .unwrap()
    else {
        panic!("not sql")
    };
    assert_eq!(
        sql.statement,
        "SELECT email, first_name, at FROM appointments WHERE day = $1"
    );
    assert_eq!(sql.parameters, [Json::String("2026-12-03".into())]);
    let row = values(&[
        ("email", Json::String("ana@example.org".into())),
        ("first_name", Json::String("Ana".into())),
        ("at", Json::String("09:30".into())),
    ]);
    let Artifact::Email(email) = reminders
        .instantiate(&reminders.steps[1], &checked, Some(&row))
        .unwrap()
    else {
        panic!("not email")
    };
    assert_eq!(email.to, ["ana@example.org"]);
    assert_eq!(email.text, "Hello Ana, see you at 09:30.");
    assert_eq!(
        reminders.scheduled_values(today())["day"],
        Json::String("2026-12-03".into())
    );
    let late = reminders
        .check(
            &values(&[("day", Json::String("2026-12-05".into()))]),
            today(),
        )
        .unwrap();
    assert_eq!(late.outside.len(), 1);
}

#[test]
fn placeholders_where_a_routine_is_fixed_are_refused() {
    let fixed_places = [
        r#""credential": {"$param": "x"}"#,
        r#""method": {"$param": "x"}"#,
        r#""headers": {"X-Thing": {"$param": "x"}}"#,
    ];
    for place in fixed_places {
        let json = format!(
            r#"{{"parameters": {{"x": {{"type": "string", "max_length": 5}}}},
              "steps": [{{"id": "a", "artifact": {{"kind": "http", "url": "https://a.example/x", {place}, "body": null}}}}],
              "limits": {{"runs_per_day": 1}}, "release": "all"}}"#
        );
        let refusal = routine(&json).unwrap_err();
        assert_eq!(
            refusal.code,
            RefusalCode::InvalidRoutine,
            "{place}: {}",
            refusal.message
        );
    }
    for url in [
        "https://{{x}}.example/a",
        "https://a.example/v1/pay{{x}}",
        "https://a.example/a?{{x}}=1",
        "https://a.example/a#{{x}}",
        "{{x}}://a.example/",
    ] {
        let json = format!(
            r#"{{"parameters": {{"x": {{"type": "string", "max_length": 5}}}},
              "steps": [{{"id": "a", "artifact": {{"kind": "http", "credential": null, "method": "GET", "url": "{url}"}}}}],
              "limits": {{"runs_per_day": 1}}, "release": "all"}}"#
        );
        assert_eq!(
            routine(&json).unwrap_err().code,
            RefusalCode::InvalidRoutine,
            "{url}"
        );
    }
    // SQL text and database are fixed: a placeholder there is refused, and a {{ }} in the text
    // stays literal text (the statement is never filled in).
    let sql = r#"{"parameters": {"x": {"type": "string", "max_length": 5}},
      "steps": [{"id": "a", "artifact": {"kind": "sql", "database": {"$param": "x"}, "statement": "SELECT 1"}}],
      "limits": {"runs_per_day": 1}, "release": "all"}"#;
    assert_eq!(routine(sql).unwrap_err().code, RefusalCode::InvalidRoutine);
    let unknown = r#"{"steps": [{"id": "a", "artifact": {"kind": "sql", "database": "d", "statement": "SELECT 1", "parameters": [{"$param": "nope"}]}}],
      "limits": {"runs_per_day": 1}, "release": "all"}"#;
    assert_eq!(
        routine(unknown).unwrap_err().code,
        RefusalCode::InvalidRoutine
    );
    let smuggled = r#"{"steps": [{"id": "a", "artifact": {"kind": "http", "credential": null, "method": "POST", "url": "https://a.example/", "body": {"a": {"$eval": "x"}}}}],
      "limits": {"runs_per_day": 1}, "release": "all"}"#;
    assert_eq!(
        routine(smuggled).unwrap_err().code,
        RefusalCode::InvalidRoutine
    );
    let row_outside = r#"{"steps": [{"id": "a", "artifact": {"kind": "email", "account": "a", "to": [{"$row": "email"}], "subject": "s", "text": "t"}}],
      "limits": {"runs_per_day": 1}, "release": "all"}"#;
    assert_eq!(
        routine(row_outside).unwrap_err().code,
        RefusalCode::InvalidRoutine
    );
}

#[test]
fn bad_bounds_and_limits_are_refused() {
    for bad in [
        r#""parameters": {"a": {"type": "money", "currency": "USD", "max": "10", "min": "20"}}"#,
        r#""parameters": {"a": {"type": "integer", "min": 5, "max": 1}}"#,
        r#""parameters": {"a": {"type": "email", "allowed_domains": []}}"#,
        r#""parameters": {"a": {"type": "string", "max_length": 5, "characters": ["emoji"]}}"#,
        r#""parameters": {"a": {"type": "blob"}}"#,
        r#""parameters": {"1a": {"type": "integer", "min": 1, "max": 2}}"#,
    ] {
        let json = format!(
            r#"{{{bad}, "steps": [{{"id": "a", "artifact": {{"kind": "sql", "database": "d", "statement": "SELECT 1"}}}}],
              "limits": {{"runs_per_day": 1}}, "release": "all"}}"#
        );
        assert_eq!(
            routine(&json).unwrap_err().code,
            RefusalCode::InvalidRoutine,
            "{bad}"
        );
    }
    let too_long = r#"{"steps": [{"id": "a", "artifact": {"kind": "sql", "database": "d", "statement": "SELECT 1"}}],
      "limits": {"runs_per_day": 1}, "expires_in_days": 400, "release": "all"}"#;
    assert_eq!(
        routine(too_long).unwrap_err().code,
        RefusalCode::InvalidRoutine
    );
    let unknown_field = r#"{"steps": [{"id": "a", "artifact": {"kind": "sql", "database": "d", "statement": "SELECT 1"}}],
      "limits": {"runs_per_day": 1}, "release": "all", "standing_access": true}"#;
    assert_eq!(
        routine(unknown_field).unwrap_err().code,
        RefusalCode::UnknownField
    );
}

#[test]
fn run_values_of_the_wrong_type_or_name_are_refused() {
    let bill = routine(BILL).unwrap();
    let wrong = bill
        .check(
            &values(&[
                ("amount", Json::Bool(true)),
                ("invoice", Json::String("x".into())),
            ]),
            today(),
        )
        .unwrap_err();
    assert_eq!(wrong.code, RefusalCode::InvalidJson);
    let extra = bill
        .check(
            &values(&[
                ("amount", Json::Number("1".into())),
                ("invoice", Json::String("x".into())),
                ("credential", Json::String("stripe".into())),
            ]),
            today(),
        )
        .unwrap_err();
    assert_eq!(extra.code, RefusalCode::UnknownField);
}

const OPEN: &str = r#"{
  "parameters": {"v": {"type": "string", "max_length": 1000}, "n": {"type": "number", "min": -1000000, "max": 1000000}},
  "steps": [
    {"id": "h", "artifact": {"kind": "http", "credential": "acme-bank", "method": "PUT",
      "url": "https://api.acme.example/v1/items/{{v}}/notes?q={{v}}&page=2",
      "headers": {"Content-Type": "application/json"},
      "body": {"v": {"$param": "v"}, "n": {"$param": "n"}, "list": [{"$param": "v"}]}}},
    {"id": "s", "artifact": {"kind": "sql", "database": "clinic-db",
      "statement": "UPDATE notes SET body = $1 WHERE id = $2", "parameters": [{"$param": "v"}, {"$param": "n"}]}},
    {"id": "e", "artifact": {"kind": "email", "account": "front-desk", "to": ["a@clinic.example"],
      "subject": "Note {{v}}", "text": "{{v}} and {{n}}"}}
  ],
  "limits": {"runs_per_day": 1000}, "release": "all"
}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Whatever text and numbers a run is given — slashes, dots, `?`, `#`, `@`, quotes, SQL,
    /// JSON, line breaks, other scripts — a run that is made at all keeps every fixed part of
    /// the template: the credential, method, origin, path pattern, query names, headers and SQL.
    #[test]
    fn no_parameter_value_changes_a_fixed_part(
        v in prop_oneof![
            "\\PC{0,40}",
            "[/\\\\.?#@%&=:;'\"{}$ ]{0,12}",
            Just("..".to_owned()),
            Just("../../admin".to_owned()),
            Just("x/../../y".to_owned()),
            Just("https://evil.example/".to_owned()),
            Just("'; DROP TABLE notes; --".to_owned()),
            Just("{{v}}".to_owned()),
            Just("a\r\nBcc: x@evil.example".to_owned()),
        ],
        n in -1_000_000i64..1_000_000,
    ) {
        let open = routine(OPEN).unwrap();
        let given = values(&[("v", Json::String(v.clone())), ("n", Json::Number(n.to_string()))]);
        let Ok(checked) = open.check(&given, today()) else { return Ok(()) };
        for step in &open.steps {
            let expected = template_parts(&step.template);
            // Refused (a path segment of "." or "..", a subject with a line break): no run.
            if let Ok(artifact) = open.instantiate(step, &checked, None) {
                    let mut actual = artifact_parts(&artifact, &expected);
                    let mut expected = template_parts(&step.template);
                    if let Artifact::Http(_) = artifact {
                        expected.origin = "https://api.acme.example".into();
                        actual.path_pattern.retain(|s| !s.is_empty());
                        expected.path_pattern.retain(|s| !s.is_empty());
                    }
                    prop_assert_eq!(actual, expected, "value {:?}", v);
                    if let Artifact::Sql(sql) = &artifact {
                        prop_assert_eq!(&sql.statement, "UPDATE notes SET body = $1 WHERE id = $2");
                        prop_assert_eq!(&sql.parameters[0], &Json::String(v.clone()));
                    }
            }
        }
    }
}
