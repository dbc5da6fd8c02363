//! Results in words: descriptor result sections, FHIR by resource, and the generic account.

use countersign_core::Proposal;
use countersign_core::descriptor::Descriptors;
use countersign_core::json::Json;
use countersign_core::result::{ResultWords, describe};

fn words(artifact: &str, result: &str) -> ResultWords {
    let proposal = Proposal::parse(&format!(
        r#"{{"summary":"x","purpose":"x","artifact":{artifact}}}"#
    ))
    .unwrap();
    describe(
        &proposal.artifact,
        &Json::parse(result).unwrap(),
        &Descriptors::shipped().unwrap(),
    )
}

fn fact<'a>(words: &'a ResultWords, label: &str) -> &'a countersign_core::result::Fact {
    words
        .facts
        .iter()
        .find(|f| f.label == label)
        .unwrap_or_else(|| panic!("no fact {label}: {:?}", words.facts))
}

#[test]
fn a_stripe_refund_reads_as_money_back() {
    let w = words(
        r#"{"kind":"http","credential":null,"method":"POST","url":"https://api.stripe.com/v1/refunds","headers":{"Content-Type":"application/x-www-form-urlencoded"},"body":"payment_intent=pi_1&amount=2500"}"#,
        r#"{"status":200,"body":{"id":"re_1","object":"refund","amount":2500,"currency":"usd","status":"succeeded","charge":"ch_1","payment_intent":"pi_1"},"truncated":false}"#,
    );
    assert_eq!(
        w.summary,
        "Refund re_1 succeeded: $25.00 back to the original payment method"
    );
    assert_eq!(fact(&w, "Amount").paths, ["body.amount"]);
}

#[test]
fn lab_results_are_test_value_flag_date_and_patient_with_health_facts_marked() {
    let w = words(
        r#"{"kind":"http","credential":null,"method":"GET","url":"https://fhir.example/r4/Observation?patient=p1&category=laboratory","headers":{},"body":null}"#,
        r#"{"status":200,"body":{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"resource":{"resourceType":"Observation","id":"obs-1","status":"final","code":{"text":"Hemoglobin A1c"},"valueQuantity":{"value":7.2,"unit":"%"},"interpretation":[{"coding":[{"code":"H","display":"High"}]}],"effectiveDateTime":"2026-11-20","subject":{"reference":"Patient/p1","display":"Jane Doe"}}}]},"truncated":false}"#,
    );
    assert_eq!(w.summary, "Found 1 records; 1 shown here");
    assert_eq!(fact(&w, "Test").value, "Hemoglobin A1c");
    assert_eq!(fact(&w, "Value").value, "7.2 %");
    assert_eq!(
        fact(&w, "Value").paths,
        ["body.entry.0.resource.valueQuantity"]
    );
    assert_eq!(fact(&w, "Flag").value, "High");
    assert!(fact(&w, "Test").sensitive.is_some());
    assert!(fact(&w, "Patient").sensitive.is_some());
    assert!(fact(&w, "Records found").sensitive.is_none());
}

#[test]
fn unknown_apis_show_values_by_key_and_money_only_where_the_unit_is_known() {
    let w = words(
        r#"{"kind":"http","credential":null,"method":"POST","url":"https://api.unknown.example/v1/payments","headers":{"Content-Type":"application/json"},"body":{"amount":"10.00","currency":"USD"}}"#,
        r#"{"status":201,"body":{"id":"p_9","status":"done","amount":1000,"amount_cents":1000,"currency":"USD","owner":{"ssn":"123-45-6789"}},"truncated":false}"#,
    );
    assert_eq!(
        w.summary,
        "The server accepted it (201 Created): p_9 is done"
    );
    assert_eq!(fact(&w, "Amount").value, "1000 USD");
    assert_eq!(fact(&w, "Amount cents").value, "$10.00");
    assert!(fact(&w, "Owner ssn").sensitive.is_some());
    assert_eq!(fact(&w, "Owner ssn").paths, ["body.owner.ssn"]);
}

#[test]
fn sql_columns_are_the_facts_and_personal_ones_are_marked() {
    let w = words(
        r#"{"kind":"sql","database":"db","statement":"SELECT name, dob FROM patients"}"#,
        r#"{"columns":["name","dob"],"rows":[["Jane","1980-02-29"]],"truncated":false}"#,
    );
    assert_eq!(w.summary, "Read 1 row");
    assert!(fact(&w, "Column").sensitive.is_none());
    assert!(w.facts[1].sensitive.is_some(), "{:?}", w.facts);
}
