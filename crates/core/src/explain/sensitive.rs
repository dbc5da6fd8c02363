//! PHI and PII spotting: field and column names, and values shaped like SSNs or card numbers.

/// Names of fields and columns that hold PHI or PII, compared without `_`, `-` and case.
const SENSITIVE_NAMES: &[&str] = &[
    "ssn",
    "socialsecurity",
    "socialsecuritynumber",
    "mrn",
    "medicalrecordnumber",
    "dob",
    "dateofbirth",
    "birthdate",
    "birthday",
    "cardnumber",
    "cardno",
    "creditcard",
    "pan",
    "cvv",
    "cvc",
    "diagnosis",
    "diagnoses",
    "icd10",
    "icd10code",
    "condition",
    "passport",
    "passportnumber",
    "driverslicense",
    "taxid",
    "insuranceid",
    "memberid",
    "medications",
    "labresult",
    "labresults",
    "hivstatus",
];

/// Names of tables and resources that are health records.
const HEALTH_NAMES: &[&str] = &[
    "patient",
    "patients",
    "encounter",
    "encounters",
    "observation",
    "observations",
    "prescription",
    "prescriptions",
    "medication",
    "medications",
    "medicationrequest",
    "diagnosis",
    "diagnoses",
    "labresult",
    "labresults",
    "lab_results",
    "condition",
    "conditions",
    "allergies",
    "immunizations",
    "appointments",
    "appointment",
    "visits",
    "chart",
    "charts",
];

fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a field or column name suggests PHI or PII.
pub fn is_sensitive_name(name: &str) -> bool {
    let last = name.rsplit(['.', '[']).next().unwrap_or(name);
    SENSITIVE_NAMES.contains(&squash(last).as_str())
}

/// Whether a table or resource name is a health record.
pub fn is_health_name(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
    let squashed = squash(last);
    HEALTH_NAMES.iter().any(|h| squash(h) == squashed)
}

/// What sensitive value `text` contains, if any ("a Social Security number", "a card number").
pub fn sensitive_value(text: &str) -> Option<&'static str> {
    if contains_ssn(text) {
        return Some("a Social Security number");
    }
    if contains_card_number(text) {
        return Some("a payment card number");
    }
    None
}

fn contains_ssn(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(11).enumerate().any(|(i, w)| {
        let shape = w.iter().enumerate().all(|(j, b)| {
            if j == 3 || j == 6 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
        let bounded = (i == 0 || !bytes[i - 1].is_ascii_digit())
            && bytes.get(i + 11).is_none_or(|b| !b.is_ascii_digit());
        shape && bounded && &w[..3] != b"000" && &w[..3] != b"666" && w[0] != b'9'
    })
}

fn contains_card_number(text: &str) -> bool {
    // Runs of digits, allowing single spaces or dashes between groups.
    let mut digits = Vec::new();
    let mut previous_separator = false;
    let check = |digits: &[u8]| (13..=19).contains(&digits.len()) && luhn(digits);
    for b in text.bytes() {
        if b.is_ascii_digit() {
            digits.push(b - b'0');
            previous_separator = false;
        } else if (b == b' ' || b == b'-') && !digits.is_empty() && !previous_separator {
            previous_separator = true;
        } else {
            if check(&digits) {
                return true;
            }
            digits.clear();
            previous_separator = false;
        }
    }
    check(&digits)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spots_names_and_values() {
        assert!(is_sensitive_name("date_of_birth"));
        assert!(is_sensitive_name("patient.SSN"));
        assert!(!is_sensitive_name("amount"));
        assert!(is_health_name("public.patients"));
        assert_eq!(
            sensitive_value("ssn 123-45-6789 ok"),
            Some("a Social Security number")
        );
        assert_eq!(
            sensitive_value("card 4242 4242 4242 4242"),
            Some("a payment card number")
        );
        assert_eq!(sensitive_value("order 12345678901234"), None);
        assert_eq!(sensitive_value("call 555-123-4567"), None);
    }
}
