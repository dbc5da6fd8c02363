//! Ready-made starts for the credentials people commonly connect: each fills the scope builder
//! with its provider's documented address, login slot and paths, and says in words what the
//! person still types (their own server's address, their account) and which secret to paste.
//!
//! A template never invents a value it cannot know: an address only the person knows is left
//! empty and named in `to_fill`, so the scope sentence shows "no address yet", never a guess.

use crate::views::{CredentialForm, CredentialTemplate, ReleaseRule};

fn http(name: &str, description: &str, origins: &[&str], prefixes: &[&str]) -> CredentialForm {
    CredentialForm {
        name: name.into(),
        kind: "http".into(),
        description: description.into(),
        auth: "bearer".into(),
        origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        path_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
        dialect: "postgres".into(),
        max_rows: 500,
        port: 587,
        tls: "starttls".into(),
        release_default: ReleaseRule::Ask,
        ..CredentialForm::default()
    }
}

fn template(
    key: &str,
    title: &str,
    words: &str,
    to_fill: Option<&str>,
    secret_words: Option<&str>,
    form: CredentialForm,
) -> CredentialTemplate {
    CredentialTemplate {
        key: key.into(),
        title: title.into(),
        words: words.into(),
        to_fill: to_fill.map(str::to_owned),
        secret_words: secret_words.map(str::to_owned),
        form,
    }
}

/// Every template, in the order the guide shows them.
pub fn credential_templates() -> Vec<CredentialTemplate> {
    let database = |name: &str, dialect: &str, description: &str| CredentialForm {
        kind: "sql".into(),
        dialect: dialect.into(),
        ..http(name, description, &[], &[])
    };
    vec![
        template(
            "shop-or-bank",
            "A shop or bank with an API",
            "Your assistant can propose payments, orders and look-ups; you approve each one.",
            Some(
                "the address of its API, as its documentation gives it (for example https://api.yourbank.example)",
            ),
            Some("the API key or access token from the service's developer or security settings"),
            http("shop", "My shop or bank", &[], &[]),
        ),
        // Stripe: https://api.stripe.com/v1, a secret or restricted key as a bearer token
        // (docs.stripe.com/api/authentication).
        template(
            "stripe",
            "Stripe",
            "Your assistant can propose charges, refunds and customer look-ups in your Stripe account.",
            None,
            Some(
                "a restricted key (Stripe Dashboard → Developers → API keys) that allows only what the assistant needs",
            ),
            http(
                "stripe",
                "Stripe payments",
                &["https://api.stripe.com"],
                &["/v1"],
            ),
        ),
        // FHIR R4: every server has its own base address; SMART backend tokens are bearer tokens.
        template(
            "fhir",
            "Patient records (a FHIR server)",
            "Your assistant can propose reading and updating patient records and drafting prescriptions; controlled substances always need your second factor.",
            Some(
                "your FHIR server's address (its base URL, from your records system's administrator)",
            ),
            Some("the access token your records system issued for Countersign"),
            CredentialForm {
                second_factor: false,
                ..http("records", "Patient records", &[], &[])
            },
        ),
        // Gmail: smtp.gmail.com, port 587 with STARTTLS, the Google account's address as the login
        // and an app password (support.google.com/mail/answer/7126229).
        template(
            "gmail",
            "Gmail",
            "Your assistant can propose emails; you read every recipient and the text before one is sent from your address.",
            Some("your Gmail address, as the login and as the From address"),
            Some(
                "an app password (Google Account → Security → 2-Step Verification → App passwords), not your usual password",
            ),
            CredentialForm {
                kind: "smtp".into(),
                host: "smtp.gmail.com".into(),
                port: 587,
                tls: "starttls".into(),
                ..http("gmail", "My Gmail", &[], &[])
            },
        ),
        // Microsoft 365 through Microsoft Graph (https://graph.microsoft.com/v1.0/me…, bearer
        // tokens): Exchange Online is retiring password logins for SMTP AUTH (MC786329), so the
        // mailbox is reached through Graph.
        template(
            "microsoft-365",
            "Microsoft 365 (Outlook) email and calendar",
            "Your assistant can propose emails and calendar events through Microsoft Graph; you approve each one.",
            None,
            Some(
                "an access token for Microsoft Graph that your Microsoft 365 administrator issued",
            ),
            http(
                "outlook",
                "My Microsoft 365 mailbox",
                &["https://graph.microsoft.com"],
                &["/v1.0/me"],
            ),
        ),
        template(
            "clinic-database",
            "A clinic database (PostgreSQL)",
            "Your assistant can propose reading the practice's tables; changing data is refused unless you allow it.",
            Some(
                "the database's address without the password (for example postgres://reader@db.clinic.example/clinic)",
            ),
            Some("the database user's password"),
            database("clinic-db", "postgres", "The practice database"),
        ),
        template(
            "sqlite-file",
            "A database file on this computer (SQLite)",
            "Your assistant can propose reading the file's tables. A file needs no password.",
            Some("where the file is (for example sqlite:///home/me/shop.db)"),
            None,
            database("local-db", "sqlite", "A database file on this computer"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_with_nothing_left_to_fill_is_a_valid_credential() {
        for template in credential_templates() {
            let meta = crate::present::form_to_meta(&template.form);
            match &template.to_fill {
                None => {
                    let meta = meta.unwrap_or_else(|e| panic!("{}: {e}", template.key));
                    crate::credentials::check(&meta)
                        .unwrap_or_else(|e| panic!("{}: {e}", template.key));
                }
                // What the person has to type is left empty, never guessed: as it stands the
                // form is refused, naming what is missing.
                Some(_) => assert!(
                    meta.and_then(|m| crate::credentials::check(&m)).is_err(),
                    "{} is valid before the person filled it in",
                    template.key
                ),
            }
        }
    }

    #[test]
    fn a_secret_is_asked_for_unless_the_template_is_a_file() {
        for template in credential_templates() {
            let is_file = template.form.kind == "sql" && template.form.dialect == "sqlite";
            assert_eq!(template.secret_words.is_none(), is_file, "{}", template.key);
        }
    }
}
