//! A request to an API Countersign has no descriptor for, explained from the artifact alone.
//!
//! The headline is built from facts read out of the request, never from the agent's words and
//! never guessed: the action the path names (`…/orders/5O19…/capture` captures order 5O19…,
//! `POST …/refunds` refunds), money (an amount with the currency of its own object or the nearest
//! enclosing one), who receives it (email addresses, phone numbers, IBANs, fields that name a
//! recipient), a subject, people's names and a start date. What the request does not say is said
//! in words ("currency not stated"); a placeholder, a JSON fragment or a URL path never reaches
//! the headline.
//!
//! Amounts are money only where a key says so (`amount`, `…_amount`, `total`, `price`, or `value`
//! beside a currency). Whether an integer counts cents or whole units is known only for APIs
//! documented to use minor units ([`MINOR_UNIT_HOSTS`]) or keys that say so (`amount_cents`);
//! otherwise the explanation says it is not stated, and the person's limit is checked against the
//! larger reading.

use std::collections::BTreeMap;

use super::fields::{format_date, format_datetime};
use super::{Context, Draft};
use crate::explanation::{Action, RiskCode};
use crate::json::Json;
use crate::money::{Decimal, format_money};
use crate::target::Target;
use crate::text::words;

/// Hosts whose APIs count amounts in minor units (cents), from their API references: Stripe
/// ("a positive integer representing how much to charge in the smallest currency unit"), Square
/// (`Money.amount`, "the smallest denomination"), Adyen (`amount.value`, "minor units"),
/// GoCardless ("in the lowest denomination"), Razorpay ("in currency subunits"), Checkout.com
/// ("the minor currency unit").
pub const MINOR_UNIT_HOSTS: &[&str] = &[
    "api.stripe.com",
    "connect.squareup.com",
    "connect.squareupsandbox.com",
    "adyen.com",
    "adyenpayments.com",
    "api.gocardless.com",
    "api-sandbox.gocardless.com",
    "api.razorpay.com",
    "api.checkout.com",
    "api.sandbox.checkout.com",
];

/// Whether amounts at this host are in minor units (the host or a parent domain is listed).
pub fn counts_minor_units(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    MINOR_UNIT_HOSTS
        .iter()
        .any(|known| host == *known || host.ends_with(&format!(".{known}")))
}

/// What an action word in a path does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Money,
    Message,
    Removes,
    Changes,
    Reads,
}

/// A verb a path segment names: the words shown, and what it does.
#[derive(Clone, Debug)]
struct Verb {
    shown: String,
    effect: Effect,
}

/// Plain verbs that start RPC-style method names (`generateRedirectPaymentUrl`,
/// `cancelSubscription`): the name is then shown as words ("Generate redirect payment url").
const READING_VERBS: &[&str] = &[
    "get", "list", "find", "fetch", "query", "search", "check", "lookup", "read", "retrieve",
    "describe", "count", "download", "export", "view",
];
const CHANGING_VERBS: &[&str] = &[
    "generate", "create", "update", "set", "add", "make", "run", "execute", "issue", "request",
    "start", "stop", "upload", "put", "save", "assign", "enroll", "register", "replace", "apply",
    "mark", "change", "edit", "clear", "reset", "grant", "revoke",
];

/// Action words, matched against a path segment's words joined without separators
/// (`sendMail`, `send_mail` and `send-mail` are all `sendmail`).
const VERBS: &[(&str, &str, Effect)] = &[
    ("refund", "Refund", Effect::Money),
    ("refunds", "Refund", Effect::Money),
    ("capture", "Capture", Effect::Money),
    ("captures", "Capture", Effect::Money),
    ("authorize", "Authorize a payment for", Effect::Money),
    ("pay", "Pay", Effect::Money),
    ("charge", "Charge", Effect::Money),
    ("fund", "Fund", Effect::Money),
    ("payout", "Pay out", Effect::Money),
    ("transfer", "Transfer", Effect::Money),
    ("send", "Send", Effect::Message),
    ("sendmail", "Send an email", Effect::Message),
    ("sendmessage", "Send a message", Effect::Message),
    ("postmessage", "Post a message", Effect::Message),
    ("reply", "Reply to", Effect::Message),
    ("replyall", "Reply to everyone on", Effect::Message),
    ("forward", "Forward", Effect::Message),
    ("resend", "Send again", Effect::Message),
    ("remind", "Send a reminder about", Effect::Message),
    ("invite", "Invite someone to", Effect::Message),
    ("trash", "Move to the trash", Effect::Removes),
    ("delete", "Delete", Effect::Removes),
    ("remove", "Remove", Effect::Removes),
    ("purge", "Delete for good", Effect::Removes),
    ("cancel", "Cancel", Effect::Changes),
    ("cancellation", "Cancel", Effect::Changes),
    ("void", "Void", Effect::Changes),
    ("archive", "Archive", Effect::Changes),
    ("unarchive", "Restore from the archive", Effect::Changes),
    ("untrash", "Restore from the trash", Effect::Changes),
    ("approve", "Approve", Effect::Changes),
    ("accept", "Accept", Effect::Changes),
    ("tentativelyaccept", "Tentatively accept", Effect::Changes),
    ("decline", "Decline", Effect::Changes),
    ("reject", "Reject", Effect::Changes),
    ("confirm", "Confirm", Effect::Changes),
    ("finalize", "Finalize", Effect::Changes),
    ("submit", "Submit", Effect::Changes),
    ("publish", "Publish", Effect::Changes),
    ("close", "Close", Effect::Changes),
    ("reopen", "Reopen", Effect::Changes),
    ("move", "Move", Effect::Changes),
    ("copy", "Copy", Effect::Changes),
    ("modify", "Change", Effect::Changes),
    ("batchmodify", "Change several", Effect::Changes),
    (
        "markuncollectible",
        "Mark as uncollectible",
        Effect::Changes,
    ),
    ("schedule", "Schedule", Effect::Changes),
    ("reschedule", "Reschedule", Effect::Changes),
    ("book", "Book", Effect::Changes),
    ("activate", "Activate", Effect::Changes),
    ("deactivate", "Deactivate", Effect::Changes),
    ("suspend", "Suspend", Effect::Changes),
    ("resume", "Resume", Effect::Changes),
    ("pause", "Pause", Effect::Changes),
    ("verify", "Verify", Effect::Changes),
    ("search", "Search", Effect::Reads),
    ("export", "Export", Effect::Reads),
];

/// Collections whose creation is itself the action (`POST /v1/refunds` refunds).
const ACTING_COLLECTIONS: &[(&str, &str, Effect)] = &[
    ("refunds", "Refund", Effect::Money),
    ("refund", "Refund", Effect::Money),
    ("transfers", "Transfer", Effect::Money),
    ("transfer", "Transfer", Effect::Money),
    ("payouts", "Pay out", Effect::Money),
    ("payout", "Pay out", Effect::Money),
    ("payments", "Create a payment of", Effect::Money),
    ("payment", "Create a payment of", Effect::Money),
    ("charges", "Charge", Effect::Money),
    ("captures", "Capture", Effect::Money),
    ("messages", "Send a message", Effect::Message),
    ("message", "Send a message", Effect::Message),
    ("mail", "Send an email", Effect::Message),
    ("mails", "Send an email", Effect::Message),
    ("emails", "Send an email", Effect::Message),
    ("email", "Send an email", Effect::Message),
    ("sms", "Send a text message", Effect::Message),
    ("texts", "Send a text message", Effect::Message),
    ("notifications", "Send a notification", Effect::Message),
];

/// Segments that are neither a thing nor an id: versions, API roots, "me".
fn is_filler(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "api"
            | "apis"
            | "rest"
            | "services"
            | "service"
            | "me"
            | "self"
            | "current"
            | "mine"
            | "primary"
            | "default"
            | "json"
            | "xml"
            | ""
    ) {
        return true;
    }
    // v1, v2.0, v3beta1, v1alpha: versions.
    if let Some(rest) = lower.strip_prefix('v')
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        return rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    }
    // 1.0, 2: bare version numbers.
    if lower.starts_with(|c: char| c.is_ascii_digit())
        && lower.len() <= 5
        && lower.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && lower.contains('.')
    {
        return true;
    }
    // 2010-04-01 (Twilio), 2024-01 (Shopify): dated versions.
    lower.len() >= 7
        && lower.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && lower.contains('-')
}

/// Whether a segment names one thing rather than a kind of thing.
fn looks_like_id(segment: &str) -> bool {
    segment.bytes().any(|b| b.is_ascii_digit())
        || segment.contains('@')
        || segment.contains('=')
        // A long run of letters that is not made of words (`scheduled_events` and
        // `generateRedirectPaymentUrl` are words).
        || (segment.len() >= 20 && words(segment).len() == 1)
        || (segment.len() >= 8 && segment.bytes().all(|b| b.is_ascii_uppercase()))
}

pub(super) fn singular(word: &str) -> String {
    if word.len() > 4
        && let Some(stem) = word.strip_suffix("ies")
    {
        return format!("{stem}y");
    }
    for ending in ["sses", "shes", "ches", "xes"] {
        if word.ends_with(ending) {
            return word[..word.len() - 2].to_owned();
        }
    }
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

/// What the path says: an action word, the kind of thing, and which one.
#[derive(Debug, Default)]
struct PathReading {
    verb: Option<Verb>,
    /// The collection's words as written (plural), e.g. `payment intents`.
    plural: Option<String>,
    /// One of them, e.g. `payment intent`.
    noun: Option<String>,
    id: Option<String>,
}

fn read_path(path: &str) -> PathReading {
    let mut segments: Vec<String> = path
        .split('/')
        .map(crate::descriptor::percent_decode)
        .filter(|s| !s.is_empty())
        .collect();
    let mut reading = PathReading::default();
    // Google's custom methods: `…/events/abc:move`, `…/messages:send`.
    if let Some(last) = segments.last_mut()
        && let Some((base, method)) = last.rsplit_once(':')
        && let Some(verb) = verb_of(method)
    {
        reading.verb = Some(verb);
        *last = base.to_owned();
    }
    // Extensions some APIs put on every path (`Messages.json`).
    if let Some(last) = segments.last_mut() {
        for extension in [".json", ".xml"] {
            if last.len() > extension.len() && last.to_ascii_lowercase().ends_with(extension) {
                last.truncate(last.len() - extension.len());
            }
        }
    }
    // Slack-style `chat.postMessage`: the part after the dot is the method.
    if reading.verb.is_none()
        && let Some(last) = segments.last_mut()
        && let Some((base, method)) = last.rsplit_once('.')
        && let Some(verb) = verb_of(method)
    {
        reading.verb = Some(verb);
        *last = base.to_owned();
    }
    let mut rest: Vec<&str> = segments
        .iter()
        .map(String::as_str)
        .filter(|s| !is_filler(s))
        .collect();
    if reading.verb.is_none()
        && let Some(last) = rest.last()
        && !looks_like_id(last)
        && let Some(verb) = verb_of(last)
    {
        reading.verb = Some(verb);
        rest.pop();
    }
    if let Some(last) = rest.last()
        && looks_like_id(last)
    {
        reading.id = Some(short_id(last));
        rest.pop();
    }
    if let Some(last) = rest.last()
        && !looks_like_id(last)
    {
        // A generic collection takes its qualifier: `checkout/sessions` is a checkout session,
        // `chat/completions` a chat completion.
        let mut all_words = words(last);
        let generic = matches!(
            all_words.as_slice(),
            [one] if matches!(one.as_str(), "sessions" | "completions" | "items" | "entries"
                | "records" | "links" | "requests" | "results" | "runs" | "jobs" | "objects")
        );
        if generic
            && rest.len() >= 2
            && let Some(before) = rest.get(rest.len() - 2)
            && !looks_like_id(before)
        {
            let mut qualified = words(before);
            qualified.extend(all_words);
            all_words = qualified;
        }
        let plural = all_words.join(" ");
        let mut noun_words = all_words;
        if let Some(tail) = noun_words.last_mut() {
            *tail = singular(tail);
        }
        reading.noun = Some(noun_words.join(" "));
        reading.plural = Some(plural);
    }
    reading
}

fn verb_of(segment: &str) -> Option<Verb> {
    let all = words(segment);
    let joined: String = all.concat();
    if let Some(&(_, shown, effect)) = VERBS.iter().find(|(word, _, _)| *word == joined) {
        return Some(Verb {
            shown: shown.to_owned(),
            effect,
        });
    }
    // `cancelSubscription`, `generateRedirectPaymentUrl`: a verb then what it acts on.
    let (first, rest) = all.split_first()?;
    if rest.is_empty() {
        return None;
    }
    let effect = VERBS
        .iter()
        .find(|(word, _, _)| word == first)
        .map(|&(_, _, effect)| effect)
        .or_else(|| {
            READING_VERBS
                .contains(&first.as_str())
                .then_some(Effect::Reads)
        })
        .or_else(|| {
            CHANGING_VERBS
                .contains(&first.as_str())
                .then_some(Effect::Changes)
        })?;
    let mut shown = String::new();
    for (i, word) in all.iter().enumerate() {
        if i == 0 {
            let mut chars = word.chars();
            if let Some(c) = chars.next() {
                shown.extend(c.to_uppercase());
                shown.push_str(chars.as_str());
            }
        } else {
            shown.push(' ');
            shown.push_str(word);
        }
    }
    Some(Verb { shown, effect })
}

/// Ids are shown whole up to 40 characters (a UUID is 36); longer ones by their start (the full address is in
/// the details).
fn short_id(id: &str) -> String {
    if id.chars().count() <= 40 {
        id.to_owned()
    } else {
        let start: String = id.chars().take(16).collect();
        format!("{start}…")
    }
}

/// An amount found in the request.
#[derive(Debug)]
pub(super) struct FoundMoney {
    /// Where it is (`purchase_units[0].amount.value`).
    pub at: String,
    /// As shown in the headline ("$225.00", "25.00 (currency not stated)").
    pub short: String,
    /// As shown in the details.
    pub detail: String,
}

/// With a descriptor in force: every amount it does not read is still shown and checked against
/// the person's limit, so a second amount (a later list item, a nested object) cannot pass
/// unseen behind a descriptor that reads only the first.
pub(super) fn other_amounts(
    body: &Json,
    query: &BTreeMap<String, String>,
    host: &str,
    read: &[&str],
    draft: &mut Draft,
    context: &Context<'_>,
) -> usize {
    let mut scratch = Draft::default();
    let found = money(body, query, host, read, &mut scratch, context);
    for risk in scratch.risks.into_sorted() {
        if matches!(risk.code, RiskCode::LargeAmount | RiskCode::MoneyMovement) {
            draft.risks.flag(risk.code, risk.message);
        }
    }
    draft.second_factor |= scratch.second_factor;
    draft.amounts.extend(scratch.amounts);
    // An amount inside the same list item or object as one the descriptor read is a part of
    // it (a breakdown, an item's price): shown and checked, not counted as another payment.
    let container = |path: &str| -> String {
        match path.find(']') {
            Some(end) => path[..=end].to_owned(),
            None => path.split('.').next().unwrap_or(path).to_owned(),
        }
    };
    let read_containers: Vec<String> = read.iter().map(|p| container(p)).collect();
    let mut separate = 0;
    for other in &found {
        let part = read_containers.contains(&container(&other.at));
        let label = if part {
            "Part of the amount"
        } else {
            "Other amount"
        };
        draft.detail(&format!("{label} ({})", other.at), &other.detail);
        if !part {
            separate += 1;
        }
    }
    separate
}

/// Whether a key names an amount of money.
fn is_amount_key(key: &str) -> bool {
    let w = words(key);
    let Some(last) = w.last() else { return false };
    matches!(
        last.as_str(),
        "amount" | "total" | "price" | "subtotal" | "cents" | "fee" | "micros"
    ) || (w.len() >= 2 && w[w.len() - 2] == "amount")
        || matches!(w.first().map(String::as_str), Some("amount"))
}

fn says_minor(key: &str) -> bool {
    let w = words(key);
    w.iter()
        .any(|x| matches!(x.as_str(), "cents" | "minor" | "pence" | "subunits"))
}

fn is_currency_code(value: &str) -> bool {
    value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic())
}

fn currency_of(members: &crate::json::Object) -> Option<String> {
    members.iter().find_map(|(key, value)| {
        let code = value.as_str()?;
        (words(key).iter().any(|w| w == "currency") && is_currency_code(code))
            .then(|| code.to_ascii_uppercase())
    })
}

/// Finds amounts with their currencies and checks each against the person's limit.
pub(super) fn money(
    body: &Json,
    query: &BTreeMap<String, String>,
    host: &str,
    skip: &[&str],
    draft: &mut Draft,
    context: &Context<'_>,
) -> Vec<FoundMoney> {
    let query_json = Json::Object(
        query
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    );
    let minor_host = counts_minor_units(host);
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    for source in [body, &query_json] {
        walk_money(source, "", None, minor_host, &mut found, &mut unreadable);
    }
    found.retain(|(at, ..)| !skip.contains(&at.as_str()));
    unreadable.retain(|(at, _)| !skip.contains(&at.as_str()));
    let mut shown = Vec::new();
    for (at, amount, currency, units) in found.into_iter().take(20) {
        let (short, detail, checked) = match (&currency, units) {
            (Some(code), Units::Minor) => match Decimal::from_minor(amount, code) {
                Some(major) => {
                    let money = format_money(major, code);
                    (money.clone(), format!("{money} ({code})"), major)
                }
                None => (
                    format!("{amount} {code}"),
                    format!("{amount} {code}"),
                    amount,
                ),
            },
            (Some(code), Units::Micros) => match amount.divided_by_million() {
                Some(major) => {
                    let money = format_money(major, code);
                    (money.clone(), format!("{money} ({code})"), major)
                }
                None => (
                    format!("{amount} millionths of {code}"),
                    format!("{amount} millionths of {code}"),
                    amount,
                ),
            },
            (Some(code), Units::Major) => {
                let money = format_money(amount, code);
                (money.clone(), format!("{money} ({code})"), amount)
            }
            (Some(code), Units::Unknown) => (
                format!("{amount} {code} (cents or whole units not stated)"),
                format!(
                    "{amount} {code}: the request does not say whether this counts cents or whole units"
                ),
                amount,
            ),
            (None, _) => (
                format!("{amount} (currency not stated)"),
                format!("{amount}, in a currency the request does not state"),
                amount,
            ),
        };
        draft.money(checked, currency.as_deref().unwrap_or(""), context.settings);
        shown.push(FoundMoney { at, short, detail });
    }
    for (at, text) in unreadable.into_iter().take(5) {
        // An amount that cannot be read cannot be checked against the person's limit: say so,
        // and ask for the second factor when a limit is set.
        draft.risks.flag(
            RiskCode::MoneyMovement,
            format!(
                "The amount {text} ({at}) cannot be read as a number, so Countersign cannot check it against your limit."
            ),
        );
        if context.settings.threshold.is_some() {
            draft.second_factor = true;
        }
    }
    shown
}

#[derive(Clone, Copy, Debug)]
enum Units {
    Minor,
    /// Millionths (Google's `amountMicros`).
    Micros,
    Major,
    Unknown,
}

type Found = Vec<(String, Decimal, Option<String>, Units)>;

fn walk_money(
    json: &Json,
    path: &str,
    inherited: Option<&str>,
    minor_host: bool,
    found: &mut Found,
    unreadable: &mut Vec<(String, String)>,
) {
    match json {
        Json::Object(members) => {
            let own = currency_of(members);
            let currency = own.as_deref().or(inherited);
            for (key, value) in members {
                let at = join(path, key);
                let amount_key = is_amount_key(key)
                    || (own.is_some()
                        && matches!(words(key).last().map(String::as_str), Some("value")));
                if amount_key {
                    match value {
                        Json::Number(text) | Json::String(text) => {
                            match Decimal::parse(text.trim()) {
                                Some(amount) => {
                                    let units = if words(key).iter().any(|w| w == "micros") {
                                        Units::Micros
                                    } else if says_minor(key) {
                                        Units::Minor
                                    } else if text.contains(['.', 'e', 'E']) {
                                        Units::Major
                                    } else if minor_host {
                                        Units::Minor
                                    } else {
                                        Units::Unknown
                                    };
                                    found.push((
                                        at.clone(),
                                        amount,
                                        currency.map(str::to_owned),
                                        units,
                                    ));
                                }
                                None if !text.trim().is_empty() => {
                                    unreadable.push((at.clone(), text.clone()));
                                }
                                None => {}
                            }
                        }
                        Json::Object(_) | Json::Array(_) => {}
                        Json::Bool(_) | Json::Null => {}
                    }
                }
                walk_money(value, &at, currency, minor_host, found, unreadable);
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_money(
                    item,
                    &format!("{path}[{i}]"),
                    inherited,
                    minor_host,
                    found,
                    unreadable,
                );
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Keys whose value is who sends, not who receives.
fn is_sender_key(path: &str) -> bool {
    path.split(['.', '[']).any(|part| {
        let w = words(part);
        w.iter().any(|x| {
            matches!(
                x.as_str(),
                "from" | "sender" | "reply" | "organizer" | "owner" | "author" | "source"
            )
        })
    })
}

/// Keys that name who receives money or a message.
fn is_recipient_key(key: &str) -> bool {
    let w = words(key);
    w.iter().any(|x| {
        matches!(
            x.as_str(),
            "to" | "recipient"
                | "recipients"
                | "counterparty"
                | "payee"
                | "destination"
                | "beneficiary"
                | "receiver"
                | "channel"
                | "attendees"
                | "invitees"
                | "guests"
                | "cc"
                | "bcc"
        )
    }) || key.eq_ignore_ascii_case("targetAccount")
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.contains('@')
        && !value.contains(char::is_whitespace)
        && value.len() <= 254
}

fn is_phone(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An IBAN with a valid ISO 13616 check (mod 97), spaces allowed.
fn is_iban(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    // All-ASCII is checked first: it is what makes the byte slices below fall on characters.
    if !(15..=34).contains(&compact.len())
        || !compact.bytes().all(|b| b.is_ascii_alphanumeric())
        || !compact[..2].bytes().all(|b| b.is_ascii_uppercase())
        || !compact[2..4].bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged.chars() {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        let step = if value >= 10 { 100 } else { 10 };
        remainder = (remainder * step + value) % 97;
    }
    remainder == 1
}

/// Who receives: addresses, numbers and accounts the request names, in order, without repeats.
pub(super) fn recipients(body: &Json, query: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut first: Vec<String> = Vec::new();
    let mut push = |value: String| {
        if !out.contains(&value) {
            out.push(value);
        }
    };
    let mut leaves = Vec::new();
    leaves_of(body, String::new(), &mut leaves);
    for (k, v) in query {
        leaves.push((k.clone(), v.clone()));
    }
    for (path, value) in &leaves {
        if is_sender_key(path) {
            continue;
        }
        let value = value.trim();
        if is_email(value) || is_phone(value) || is_iban(value) {
            push(value.to_owned());
            continue;
        }
        // A field that names a recipient: its value, or an `id`/`name`/`email` inside it.
        let parts: Vec<&str> = path.split(['.', '[']).collect();
        let named = parts.iter().rev().take(3).any(|p| is_recipient_key(p));
        let leaf = parts.last().copied().unwrap_or("");
        let leaf_is_handle = is_recipient_key(leaf)
            || matches!(
                words(leaf).last().map(String::as_str),
                Some("id" | "name" | "email" | "account" | "number" | "href" | "address")
            );
        if named && leaf_is_handle && !value.is_empty() {
            let shown = if value.starts_with("http") {
                url::Url::parse(value)
                    .ok()
                    .map(|u| {
                        let r = read_path(u.path());
                        match (r.noun, r.id) {
                            (Some(noun), Some(id)) => format!("{noun} {id}"),
                            (_, Some(id)) => id,
                            _ => value.to_owned(),
                        }
                    })
                    .unwrap_or_else(|| value.to_owned())
            } else {
                value.to_owned()
            };
            if shown.chars().count() <= 80 {
                if is_recipient_key(leaf) {
                    first.push(shown);
                } else {
                    push(shown);
                }
            }
        }
    }
    // Values under a key that itself names the recipient (`counterparty_id`) come first.
    for value in first.into_iter().rev() {
        out.retain(|v| *v != value);
        out.insert(0, value);
    }
    out.truncate(20);
    out
}

fn leaves_of(json: &Json, path: String, out: &mut Vec<(String, String)>) {
    match json {
        Json::Object(members) => {
            for (key, value) in members {
                leaves_of(value, join(&path, key), out);
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves_of(item, format!("{path}[{i}]"), out);
            }
        }
        Json::String(s) => out.push((path, s.clone())),
        Json::Number(n) => out.push((path, n.clone())),
        _ => {}
    }
}

/// A subject or title at the top level, or in the first message object.
fn subject(body: &Json) -> Option<String> {
    let members = body.as_object()?;
    for key in ["subject", "Subject", "title", "topic", "summary", "name"] {
        if let Some(Json::String(s)) = members.get(key)
            && !s.trim().is_empty()
            && s.chars().count() <= 120
        {
            return Some(s.trim().to_owned());
        }
    }
    for container in ["message", "email", "event", "data"] {
        if let Some(inner) = members.get(container)
            && let Some(found) = subject(inner)
        {
            return Some(found);
        }
    }
    None
}

/// The first start date or time the request names, formatted.
fn start(body: &Json) -> Option<(String, String)> {
    let mut leaves = Vec::new();
    leaves_of(body, String::new(), &mut leaves);
    leaves.into_iter().find_map(|(path, value)| {
        let w = words(&path.replace(['.', '['], "_"));
        let timed = w.iter().any(|x| {
            matches!(
                x.as_str(),
                "start" | "starts" | "scheduled" | "send" | "due" | "date" | "datetime" | "at"
            )
        });
        if !timed
            || w.iter()
                .any(|x| matches!(x.as_str(), "created" | "updated" | "end"))
        {
            return None;
        }
        let looks_dated = value.len() >= 10
            && value.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && value.as_bytes()[4] == b'-';
        if !looks_dated {
            return None;
        }
        let shown = if value.len() == 10 {
            format_date(&value)
        } else {
            format_datetime(&value)
        };
        (!shown.contains("not a valid")).then_some((path, shown))
    })
}

/// Search parameters worth naming (paging and formatting ones are not what is searched for).
fn search_terms(query: &BTreeMap<String, String>) -> Vec<String> {
    const PAGING: &[&str] = &[
        "limit",
        "page",
        "per_page",
        "pagesize",
        "page_size",
        "offset",
        "cursor",
        "maxresults",
        "pagetoken",
        "starting_after",
        "ending_before",
        "fields",
        "expand",
        "expand[]",
        "sort",
        "order",
        "orderby",
        "_count",
        "_sort",
        "_include",
        "_revinclude",
        "_elements",
        "format",
        "alt",
        "prettyprint",
        "top",
        "$top",
        "$skip",
        "$select",
        "$orderby",
        "$count",
        "include",
    ];
    query
        .iter()
        .filter(|(k, _)| !PAGING.contains(&k.to_ascii_lowercase().as_str()))
        .take(3)
        .map(|(k, v)| {
            let name = words(k).join(" ");
            let value: String = v.chars().take(60).collect();
            format!("{name} “{value}”")
        })
        .collect()
}

/// A small change in words: `{"state":"closed"}` is ": state to “closed”". Up to three plain
/// fields; anything larger is in the details.
fn changes(body: &Json) -> String {
    let Some(members) = body.as_object() else {
        return String::new();
    };
    if members.is_empty() || members.len() > 3 {
        return String::new();
    }
    let mut parts = Vec::new();
    for (key, value) in members {
        let shown = match value {
            Json::String(s) if s.chars().count() <= 60 => format!("“{s}”"),
            Json::Number(n) => n.clone(),
            Json::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Json::Null => "empty".to_owned(),
            _ => return String::new(),
        };
        parts.push(format!("{} to {shown}", words(key).join(" ")));
    }
    format!(": {}", parts.join(", "))
}

pub(super) fn article(noun: &str) -> &'static str {
    match noun.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// The generic account: headline, action and the facts behind them.
pub(super) fn explain(
    method: &str,
    target: &Target,
    body: &Json,
    query: &BTreeMap<String, String>,
    draft: &mut Draft,
    context: &Context<'_>,
) {
    let path = read_path(target.url.path());
    let host = target.url.host_str().unwrap_or("");
    let amounts = money(body, query, host, &[], draft, context);
    let to = recipients(body, query);
    let about = subject(body);
    let when = start(body);

    let acting = match (&path.verb, &path.plural, &path.id) {
        (None, Some(plural), None) if method == "POST" => ACTING_COLLECTIONS
            .iter()
            .find(|(word, _, _)| {
                *word == plural.replace(' ', "_").as_str() || *word == plural.as_str()
            })
            .map(|&(_, shown, effect)| Verb {
                shown: shown.to_owned(),
                effect,
            }),
        _ => None,
    };
    let acts = acting.is_some();
    let verb = path.verb.clone().or(acting);
    let object = match (&path.noun, &path.id) {
        (Some(noun), Some(id)) => Some(format!("{noun} {id}")),
        (None, Some(id)) => Some(id.clone()),
        (Some(noun), None) if !acts => Some(noun.clone()),
        _ => None,
    };
    let effect = verb.as_ref().map(|v| v.effect);

    let mut headline = match (&verb, method) {
        (Some(verb), _) => {
            let mut h = verb.shown.clone();
            if let Some(object) = &object
                && !acts
            {
                // "Send a draft", "Capture order 5O19…".
                if path.id.is_none() && !verb.shown.ends_with(" of") {
                    h.push_str(&format!(" {} {object}", article(object)));
                } else {
                    h.push_str(&format!(" {object}"));
                }
            }
            h
        }
        (None, "GET" | "HEAD" | "OPTIONS") => match (&path.noun, &path.id, &path.plural) {
            (_, Some(_), _) => format!("Read {}", object.clone().unwrap_or_default()),
            (noun, None, Some(plural)) => {
                let terms = search_terms(query);
                let several = noun.as_deref() != Some(plural.as_str());
                match (terms.is_empty(), several) {
                    (true, true) => format!("List {plural}"),
                    (true, false) => format!("Read the {plural}"),
                    (false, true) => format!("Search {plural} by {}", terms.join(", ")),
                    (false, false) => format!("Read the {plural} for {}", terms.join(", ")),
                }
            }
            _ => "Read the main page".to_owned(),
        },
        // POST to one thing changes it (Stripe, many RPC-style APIs); to a collection, adds one.
        (None, "POST") => match (&path.noun, &path.id, &object) {
            (_, Some(_), Some(object)) => format!("Change {object}{}", changes(body)),
            (Some(noun), _, _) => format!("Create {} {noun}", article(noun)),
            _ => "Send data".to_owned(),
        },
        (None, "PUT") => match &object {
            Some(object) => format!("Replace {object}"),
            None => "Replace data".to_owned(),
        },
        (None, "PATCH") => match &object {
            Some(object) => format!("Change {object}{}", changes(body)),
            None => format!("Change data{}", changes(body)),
        },
        (None, _) => match &object {
            Some(object) => format!("Delete {object}"),
            None => "Delete data".to_owned(),
        },
    };
    // Clean up "Make a payment of" with no amount.
    if let Some(stripped) = headline.strip_suffix(" of")
        && amounts.is_empty()
    {
        headline = stripped.to_owned();
    }
    if let Some(first) = amounts.first() {
        let more = if amounts.len() > 1 {
            format!(" and {} more amounts", amounts.len() - 1)
        } else {
            String::new()
        };
        if effect == Some(Effect::Money) || headline.ends_with(" of") {
            headline.push_str(&format!(" {}{more}", first.short));
        } else {
            headline.push_str(&format!(" for {}{more}", first.short));
        }
    } else if effect == Some(Effect::Money) && method != "GET" {
        headline.push_str(" (the request states no amount)");
    }
    if (matches!(effect, Some(Effect::Message)) || (verb.is_none() && method == "POST"))
        && let Some(subject) = &about
    {
        headline.push_str(&format!(" “{subject}”"));
    }
    if let Some(first) = to.first()
        && (matches!(effect, Some(Effect::Money | Effect::Message)) || method == "POST")
        && !headline.starts_with("Change ")
    {
        let others = if to.len() > 1 {
            format!(" and {} more", to.len() - 1)
        } else {
            String::new()
        };
        // Money and messages go to someone; a record created is only about them.
        let word = if matches!(effect, Some(Effect::Money | Effect::Message)) {
            "to"
        } else {
            "for"
        };
        headline.push_str(&format!(" {word} {first}{others}"));
    }
    let dated = method != "GET" && when.is_some();
    if let Some((_, shown)) = &when
        && dated
    {
        headline.push_str(&format!(" on {shown}"));
    }
    // "… on Tue 15 Dec 2026 at api.gocardless.com", not "on … on …".
    let place = if dated { "at" } else { "on" };
    headline.push_str(&format!(" {place} {}", target.host_display));
    draft.headline = headline;

    draft.action = Some(match (effect, method) {
        (Some(Effect::Money), _) => Action::Payment,
        (Some(Effect::Message), _) if to.iter().any(|r| is_email(r)) => Action::SendEmail,
        (Some(Effect::Removes), _) => Action::Delete,
        (Some(Effect::Reads), _) => Action::Read,
        (_, "GET" | "HEAD" | "OPTIONS") => Action::Read,
        (_, "POST") => Action::Create,
        (_, "PUT" | "PATCH") => Action::Update,
        _ => Action::Delete,
    });

    for found in &amounts {
        let label = if found.at.contains(['.', '[']) {
            format!("Amount ({})", found.at)
        } else {
            "Amount".to_owned()
        };
        draft.detail(&label, &found.detail);
    }
    if !to.is_empty() {
        draft.detail("To", to.join(", "));
        draft.counterparties.extend(to.iter().cloned());
    }
    if let Some(subject) = &about {
        draft.detail("Subject or title", subject);
    }
    if let Some((at, shown)) = &when {
        draft.detail(&format!("When ({at})"), shown);
    }
    match effect {
        Some(Effect::Money) => {
            draft.flag(RiskCode::MoneyMovement);
        }
        Some(Effect::Message) if method != "GET" => {
            draft.risks.flag(
                RiskCode::ExternalRecipient,
                "Someone else receives this message as soon as it runs; it cannot be taken back.",
            );
            draft.flag(RiskCode::Irreversible);
        }
        Some(Effect::Removes) => {
            draft.deletes = true;
            draft.flag(RiskCode::DeletesData);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_actions() {
        let r = read_path("/v2/checkout/orders/5O190127TN364715T/capture");
        assert_eq!(r.verb.map(|v| v.shown).as_deref(), Some("Capture"));
        assert_eq!(r.noun.as_deref(), Some("order"));
        assert_eq!(r.id.as_deref(), Some("5O190127TN364715T"));
        let r = read_path("/v1.0/me/sendMail");
        assert_eq!(r.verb.map(|v| v.shown).as_deref(), Some("Send an email"));
        let r = read_path("/2010-04-01/Accounts/AC123/Messages.json");
        assert_eq!(r.plural.as_deref(), Some("messages"));
        assert_eq!(r.id, None);
        let r = read_path("/api/chat.postMessage");
        assert_eq!(r.verb.map(|v| v.shown).as_deref(), Some("Post a message"));
        let r = read_path("/v1/generateRedirectPaymentUrl");
        assert_eq!(
            r.verb.map(|v| v.shown).as_deref(),
            Some("Generate redirect payment url")
        );
        let r = read_path("/scheduled_events/AAAAAAAAAAAAAAAA/cancellation");
        assert_eq!(r.noun.as_deref(), Some("scheduled event"));
        let r = read_path("/v1/payment_intents/pi_1");
        assert_eq!(r.noun.as_deref(), Some("payment intent"));
        assert_eq!(r.id.as_deref(), Some("pi_1"));
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("policies"), "policy");
    }

    #[test]
    fn ibans_are_checked() {
        assert!(is_iban("DE89 3704 0044 0532 0130 00"));
        assert!(is_iban("GB33BUKB20201555555555"));
        assert!(!is_iban("GB34BUKB20201555555555"));
        assert!(is_phone("+14155552671"));
        assert!(!is_phone("14155552671"));
    }
}
