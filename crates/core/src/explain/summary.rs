//! The agent's claim against what the artifact does. The claim is never used to explain; it is
//! only checked, and a contradiction is flagged as `summary_mismatch` (danger).

use super::Draft;
use crate::explanation::RiskCode;
use crate::money::Decimal;

const READ_WORDS: &[&str] = &[
    "read",
    "reads",
    "reading",
    "look",
    "looks",
    "lookup",
    "view",
    "views",
    "check",
    "checks",
    "fetch",
    "fetches",
    "list",
    "lists",
    "show",
    "shows",
    "get",
    "gets",
    "retrieve",
    "retrieves",
    "count",
    "counts",
    "report",
    "read-only",
    "readonly",
    "query",
    "queries",
    "search",
    "see",
];
const WRITE_WORDS: &[&str] = &[
    "update",
    "updates",
    "change",
    "changes",
    "set",
    "sets",
    "delete",
    "deletes",
    "remove",
    "removes",
    "erase",
    "drop",
    "insert",
    "inserts",
    "add",
    "adds",
    "create",
    "creates",
    "book",
    "books",
    "send",
    "sends",
    "pay",
    "pays",
    "transfer",
    "transfers",
    "refund",
    "refunds",
    "write",
    "writes",
    "modify",
    "modifies",
    "cancel",
    "cancels",
    "prescribe",
    "prescribes",
    "record",
    "records",
    "purchase",
    "buy",
    "buys",
    "order",
    "orders",
    "charge",
    "charges",
    "archive",
    "archives",
    "clear",
    "clears",
    "purge",
    "email",
    "emails",
    "reply",
    "move",
    "truncate",
    "reset",
    "fix",
    "fixes",
    "mark",
    "marks",
    "schedule",
    "schedules",
    "post",
    "open",
    "opens",
    "collect",
    "collects",
    "take",
    "takes",
    "close",
    "closes",
    "text",
    "texts",
    "tip",
    "setup",
];
const DELETE_WORDS: &[&str] = &[
    "delete", "deletes", "deleting", "remove", "removes", "removing", "erase", "erases", "drop",
    "drops", "purge", "purges", "clear", "clears", "truncate", "wipe", "wipes", "destroy",
    // DELETE is how many APIs cancel (Mollie payments, Google Calendar events).
    "cancel", "cancels",
];
const ONE_WORDS: &[&str] = &["one", "single", "1", "a", "an", "only", "just"];
const ROW_WORDS: &[&str] = &[
    "row", "record", "entry", "patient", "invoice", "item", "line", "customer", "order",
];

fn words(summary: &str) -> Vec<String> {
    summary
        .split(|c: char| {
            !(c.is_alphanumeric()
                || c == '-'
                || c == '.'
                || c == '$'
                || c == '€'
                || c == '£'
                || c == '@'
                || c == '_'
                || c == '+')
        })
        .map(|w| w.trim_matches('.').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A crude stem, so "checking", "checks" and "checked" all meet "check".
fn stem(word: &str) -> &str {
    let mut stemmed = word;
    for suffix in ["ing", "ed", "s"] {
        if stemmed.len() > suffix.len() + 2 && stemmed.ends_with(suffix) {
            stemmed = &stemmed[..stemmed.len() - suffix.len()];
            break;
        }
    }
    if stemmed.len() > 3 {
        stemmed.strip_suffix('e').unwrap_or(stemmed)
    } else {
        stemmed
    }
}

/// Flags `summary_mismatch` when the claim contradicts the draft.
pub fn compare(summary: &str, draft: &mut Draft) {
    if summary.trim().is_empty() {
        return;
    }
    let words = words(summary);
    let stems: Vec<&str> = words.iter().map(|w| stem(w)).collect();
    let has = |list: &[&str]| stems.iter().any(|w| list.iter().any(|l| stem(l) == *w));
    let mut flag = |why: String| {
        draft.risks.flag(
            RiskCode::SummaryMismatch,
            format!(
                "The agent says “{}”, but {why}",
                crate::text::reveal(summary.trim())
            ),
        );
    };

    if draft.writes && has(READ_WORDS) && !has(WRITE_WORDS) {
        flag("this would change data, not just read it.".to_owned());
    } else if draft.deletes && !has(DELETE_WORDS) {
        flag("this deletes data, and the agent does not say so.".to_owned());
    }

    if !draft.amounts.is_empty() {
        let claimed = claimed_amounts(&words);
        let matches = claimed.iter().any(|c| {
            draft
                .amounts
                .iter()
                .any(|(a, _)| a.compare(*c) == Some(std::cmp::Ordering::Equal))
        });
        if !claimed.is_empty() && !matches {
            let real = draft
                .amounts
                .iter()
                .map(|(a, c)| crate::money::format_money(*a, c))
                .collect::<Vec<_>>()
                .join(", ");
            flag(format!("the amount is really {real}."));
        }
    }

    let claimed_addresses: Vec<&String> = words
        .iter()
        .filter(|w| w.contains('@') && w.contains('.'))
        .collect();
    if let Some(stranger) = claimed_addresses.iter().find(|a| {
        !draft
            .counterparties
            .iter()
            .any(|c| c.eq_ignore_ascii_case(a))
    }) && !draft.counterparties.is_empty()
    {
        flag(format!(
            "{stranger} is not a recipient; the recipients are {}.",
            draft.counterparties.join(", ")
        ));
    }

    if draft.unfiltered {
        let claims_one = words.windows(2).any(|pair| {
            ONE_WORDS.contains(&pair[0].as_str())
                && ROW_WORDS.contains(&pair[1].trim_end_matches('s'))
        });
        if claims_one {
            flag("there is no condition: every row is affected.".to_owned());
        }
    }
}

/// Money amounts written in the claim: `$12.50`, `12.50 USD`, `€5`, `1,250.00`.
fn claimed_amounts(words: &[String]) -> Vec<Decimal> {
    let mut amounts = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let stripped = word.trim_start_matches(['$', '€', '£']).replace(',', "");
        let has_symbol = stripped.len() < word.replace(',', "").len();
        let next_is_currency = words.get(i + 1).is_some_and(|n| {
            n.len() == 3
                && n.chars().all(|c| c.is_ascii_alphabetic())
                && [
                    "usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "dollars", "euros",
                ]
                .contains(&n.as_str())
        }) || words
            .get(i + 1)
            .is_some_and(|n| n == "dollars" || n == "euros" || n == "pounds");
        if (has_symbol || next_is_currency)
            && let Some(amount) = Decimal::parse(&stripped)
        {
            amounts.push(amount);
        }
    }
    amounts
}
