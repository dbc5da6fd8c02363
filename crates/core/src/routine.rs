//! Routines (design.md §18): a pinned program an agent writes and a person vets once, which
//! Countersign then runs without standing access for anyone.
//!
//! A routine is steps that are artifact *templates*, typed and bounded *parameters*, a trigger,
//! limits, an expiry and a fixed release rule. A template is an artifact of the three kinds in
//! which some *value positions* hold placeholders:
//!
//! - `{"$param": "NAME"}` (optionally `"as": "string" | "number" | "minor_units"`) anywhere a JSON
//!   value stands in an HTTP body, as an SQL bind parameter (`parameters`), or as an email
//!   recipient;
//! - `{"$row": "FIELD"}` the same, in a step that repeats for each row of an earlier step;
//! - `{{NAME}}`, `{{row.FIELD}}` inside the URL (a whole path segment or a whole query value,
//!   percent-encoded when filled in) and inside an email's subject and text (as text).
//!
//! Nothing else is ever filled in: the kind, credential, method, origin, path pattern, headers,
//! SQL text, database and email account are read as literals, so no parameter value can change
//! them (a property test generates the values); a `$` key anywhere else is refused. Every run is
//! instantiated into a concrete [`Artifact`] read back by the same strict reader as a proposal,
//! and its fixed parts are compared with the template's once more.
//!
//! *API boundary*: [`RoutineProposal::parse`], [`Routine::instantiate`], [`Routine::check`],
//! [`describe`]. Pure: the caller passes today's date.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest as _, Sha256};
use time::Date;

use crate::artifact::{Artifact, Fields};
use crate::json::{Json, Object};
use crate::money::{Decimal, format_money, minor_digits};
use crate::refusal::{Refusal, RefusalCode};

/// How long a routine lasts unless it says otherwise.
pub const DEFAULT_EXPIRY_DAYS: u32 = 90;
/// The longest a routine may last.
pub const MAX_EXPIRY_DAYS: u32 = 366;
/// The most steps a routine may have.
pub const MAX_STEPS: usize = 8;
/// The most rows a repeating step may go through.
pub const MAX_FOR_EACH: u32 = 1000;

fn invalid(message: impl Into<String>, at: impl Into<String>) -> Refusal {
    Refusal::new(RefusalCode::InvalidRoutine, message).at(at)
}

/// A routine as an agent proposes it: `{summary, purpose, routine}`.
#[derive(Clone, Debug, PartialEq)]
pub struct RoutineProposal {
    /// The agent's own words (shown as its claim).
    pub summary: String,
    /// Why.
    pub purpose: String,
    /// The routine.
    pub routine: Routine,
}

/// A typed, bounded parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// An amount in one currency, from `min` (default 0) to `max`.
    Money {
        /// ISO 4217.
        currency: String,
        /// The least.
        min: Decimal,
        /// The most.
        max: Decimal,
    },
    /// A whole number.
    Integer {
        /// The least.
        min: i64,
        /// The most.
        max: i64,
    },
    /// A number.
    Number {
        /// The least.
        min: Decimal,
        /// The most.
        max: Decimal,
    },
    /// A date (`YYYY-MM-DD`) from the day of the run to `within_days` after it.
    Date {
        /// How many days ahead at most.
        within_days: u32,
    },
    /// One of a fixed list.
    Choice {
        /// The values allowed.
        values: Vec<String>,
    },
    /// Text of at most `max_length` characters, only of the allowed characters.
    Text {
        /// The most characters.
        max_length: usize,
        /// `letters`, `digits`, `-`, `_`, `.`, `space`: which characters may appear (none: any
        /// printable character but line breaks).
        characters: Vec<String>,
    },
    /// An email address at one of the allowed domains.
    Email {
        /// Domains allowed (lowercase).
        allowed_domains: Vec<String>,
    },
}

/// When a routine runs on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every day at `hour:minute` (this computer's time).
    Daily {
        /// 0–23.
        hour: u8,
        /// 0–59.
        minute: u8,
    },
    /// Every week on `weekday` (1 = Monday … 7 = Sunday).
    Weekly {
        /// 1–7.
        weekday: u8,
        /// 0–23.
        hour: u8,
        /// 0–59.
        minute: u8,
    },
    /// Every month on `day` (1–28).
    Monthly {
        /// 1–28.
        day: u8,
        /// 0–23.
        hour: u8,
        /// 0–59.
        minute: u8,
    },
}

/// How a run is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// On its own, on a schedule.
    pub schedule: Option<Schedule>,
    /// Whether its agent may ask for a run (the person always may).
    pub on_request: bool,
}

/// How much a routine may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Runs a day at most.
    pub runs_per_day: u32,
    /// Runs in all at most.
    pub total_runs: Option<u32>,
    /// Money in all at most (over every money parameter), in the money parameters' currency.
    pub total_money: Option<Decimal>,
}

/// What the agent may read of each run's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunRelease {
    /// Everything.
    All,
    /// Nothing.
    Nothing,
    /// Only these paths or columns (as a release choice names them).
    Fields(Vec<String>),
}

/// A value taken from a step's result for later steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extraction {
    /// A column of an SQL result: one value per row.
    Column(String),
    /// A JSON path into the result (`body.id`): one value.
    Path(String),
}

/// One step: a template, and how it repeats.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its name, for later steps.
    pub id: String,
    /// `Some((step, max))`: once for each row of that earlier step, at most `max` times.
    pub for_each: Option<(String, u32)>,
    /// The artifact template.
    pub template: Json,
    /// Named values later steps may use.
    pub extract: BTreeMap<String, Extraction>,
}

/// A routine, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Routine {
    /// Parameters by name.
    pub parameters: BTreeMap<String, Parameter>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// How runs start.
    pub trigger: Trigger,
    /// How much it may do.
    pub limits: Limits,
    /// Days from approval until it stops.
    pub expires_in_days: u32,
    /// What the agent reads of each run.
    pub release: RunRelease,
    /// Example values for parameters the bounds do not pin (text, choices, addresses), used only
    /// to explain the steps before approval.
    pub example: BTreeMap<String, Json>,
    /// The values a scheduled run uses; a date may be `"+N"`: N days after the day of the run.
    pub scheduled: BTreeMap<String, Json>,
    canonical: String,
}

/// The most characters in one parameter's text form.
const MAX_VALUE_CHARS: usize = 1000;

impl RoutineProposal {
    /// Reads `{summary, purpose, routine}`.
    ///
    /// # Errors
    /// A refusal naming the offending field (`invalid_routine` for a placeholder where none may
    /// stand, or bounds that do not make sense).
    pub fn parse(text: &str) -> Result<RoutineProposal, Refusal> {
        if text.len() > crate::artifact::MAX_PROPOSAL_BYTES {
            return Err(Refusal::new(
                RefusalCode::TooLarge,
                format!(
                    "The routine is {} bytes; the limit is {}.",
                    text.len(),
                    crate::artifact::MAX_PROPOSAL_BYTES
                ),
            ));
        }
        let json = Json::parse(text)?;
        let mut fields = Fields::of(&json, "")?;
        let summary = fields.string("summary")?;
        let purpose = fields.string("purpose")?;
        let routine = Routine::from_json(fields.required("routine")?, "routine")?;
        fields.finish()?;
        Ok(RoutineProposal {
            summary,
            purpose,
            routine,
        })
    }
}

fn integer(json: &Json, at: &str) -> Result<i64, Refusal> {
    match json {
        Json::Number(text) => text
            .parse::<i64>()
            .map_err(|_| invalid("This must be a whole number.", at)),
        other => Err(Refusal::new(
            RefusalCode::InvalidJson,
            format!("This must be a whole number, not {}.", other.type_name()),
        )
        .at(at)),
    }
}

fn decimal(json: &Json, at: &str) -> Result<Decimal, Refusal> {
    let value = match json {
        Json::Number(_) => json.as_decimal(),
        Json::String(text) => Decimal::parse(text),
        _ => None,
    };
    value.ok_or_else(|| invalid("This must be a number (for money, like \"200.00\").", at))
}

fn small(json: &Json, at: &str, most: i64) -> Result<u32, Refusal> {
    let n = integer(json, at)?;
    if !(0..=most).contains(&n) {
        return Err(invalid(format!("This must be from 0 to {most}."), at));
    }
    u32::try_from(n).map_err(|_| invalid("This is out of range.", at))
}

fn strings(json: &Json, at: &str) -> Result<Vec<String>, Refusal> {
    match json {
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => Ok(s.clone()),
                _ => Err(invalid("Each entry must be text.", format!("{at}[{i}]"))),
            })
            .collect(),
        _ => Err(invalid("This must be a list of text.", at)),
    }
}

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

const CHARACTER_CLASSES: &[&str] = &["letters", "digits", "-", "_", ".", "space", "/", ":", "@"];

impl Parameter {
    fn from_json(json: &Json, at: &str) -> Result<Parameter, Refusal> {
        let mut fields = Fields::of(json, at)?;
        let kind = fields.string("type")?;
        let parameter = match kind.as_str() {
            "money" => {
                let currency = fields.string("currency")?.to_ascii_uppercase();
                if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
                    return Err(invalid(
                        "The currency must be a three-letter code like USD.",
                        fields.path("currency"),
                    ));
                }
                let max = decimal(fields.required("max")?, &fields.path("max"))?;
                let min = match fields.optional("min") {
                    Some(json) => decimal(json, &fields.path("min"))?,
                    None => Decimal::parse("0").ok_or_else(|| invalid("zero", at))?,
                };
                if min.is_negative() || min.compare(max) == Some(std::cmp::Ordering::Greater) {
                    return Err(invalid(
                        "The least amount must be from 0 up to the most.",
                        fields.path("min"),
                    ));
                }
                Parameter::Money { currency, min, max }
            }
            "integer" => {
                let min = integer(fields.required("min")?, &fields.path("min"))?;
                let max = integer(fields.required("max")?, &fields.path("max"))?;
                if min > max {
                    return Err(invalid(
                        "The least value is above the most.",
                        fields.path("min"),
                    ));
                }
                Parameter::Integer { min, max }
            }
            "number" => {
                let min = decimal(fields.required("min")?, &fields.path("min"))?;
                let max = decimal(fields.required("max")?, &fields.path("max"))?;
                if min.compare(max) == Some(std::cmp::Ordering::Greater) {
                    return Err(invalid(
                        "The least value is above the most.",
                        fields.path("min"),
                    ));
                }
                Parameter::Number { min, max }
            }
            "date" => Parameter::Date {
                within_days: small(
                    fields.required("within_days")?,
                    &fields.path("within_days"),
                    366,
                )?,
            },
            "enum" => {
                let values = strings(fields.required("values")?, &fields.path("values"))?;
                if values.is_empty() || values.iter().any(|v| v.chars().count() > 200) {
                    return Err(invalid(
                        "List from 1 value, each at most 200 characters.",
                        fields.path("values"),
                    ));
                }
                Parameter::Choice { values }
            }
            "string" => {
                let max_length = small(
                    fields.required("max_length")?,
                    &fields.path("max_length"),
                    i64::try_from(MAX_VALUE_CHARS).unwrap_or(1000),
                )?;
                let characters = match fields.optional("characters") {
                    Some(json) => strings(json, &fields.path("characters"))?,
                    None => Vec::new(),
                };
                if let Some(bad) = characters
                    .iter()
                    .find(|c| !CHARACTER_CLASSES.contains(&c.as_str()))
                {
                    return Err(invalid(
                        format!(
                            "“{bad}” is not a kind of character: use {}.",
                            CHARACTER_CLASSES.join(", ")
                        ),
                        fields.path("characters"),
                    ));
                }
                Parameter::Text {
                    max_length: usize::try_from(max_length).unwrap_or(MAX_VALUE_CHARS),
                    characters,
                }
            }
            "email" => {
                let allowed_domains: Vec<String> = strings(
                    fields.required("allowed_domains")?,
                    &fields.path("allowed_domains"),
                )?
                .into_iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect();
                if allowed_domains.is_empty() {
                    return Err(invalid(
                        "Name the domains addresses may be at.",
                        fields.path("allowed_domains"),
                    ));
                }
                Parameter::Email { allowed_domains }
            }
            other => {
                return Err(invalid(
                    format!(
                        "{other:?} is not a parameter type: use money, integer, number, date, enum, string or email."
                    ),
                    fields.path("type"),
                ));
            }
        };
        fields.finish()?;
        Ok(parameter)
    }

    /// The bound in words ("an amount in USD, at most $200.00").
    pub fn words(&self) -> String {
        match self {
            Parameter::Money { currency, min, max } => {
                if min.is_zero() {
                    format!(
                        "an amount in {currency}, at most {}",
                        format_money(*max, currency)
                    )
                } else {
                    format!(
                        "an amount in {currency}, from {} to {}",
                        format_money(*min, currency),
                        format_money(*max, currency)
                    )
                }
            }
            Parameter::Integer { min, max } => format!("a whole number from {min} to {max}"),
            Parameter::Number { min, max } => format!("a number from {min} to {max}"),
            Parameter::Date { within_days: 0 } => "the day of the run".to_owned(),
            Parameter::Date { within_days } => {
                format!("a date from the day of the run to {within_days} days after")
            }
            Parameter::Choice { values } => format!(
                "one of {}",
                values
                    .iter()
                    .map(|v| format!("“{}”", crate::text::reveal(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Parameter::Text {
                max_length,
                characters,
            } => {
                if characters.is_empty() {
                    format!("text of at most {max_length} characters")
                } else {
                    format!(
                        "text of at most {max_length} characters, only {}",
                        characters.join(", ")
                    )
                }
            }
            Parameter::Email { allowed_domains } => {
                format!("an email address at {}", allowed_domains.join(" or "))
            }
        }
    }

    /// Checks a value: `Err` when it is not even of the parameter's type; `Ok(Some(words))`
    /// when it is outside the bounds (the run is then held for the person); `Ok(None)` when it
    /// is within them. Returns the value's text form alongside.
    ///
    /// # Errors
    /// When the value has the wrong type.
    pub fn check(
        &self,
        value: &Json,
        today: Date,
        at: &str,
    ) -> Result<(String, Option<String>), Refusal> {
        let wrong = |wanted: &str| {
            Refusal::new(
                RefusalCode::InvalidJson,
                format!("This must be {wanted}, not {}.", value.type_name()),
            )
            .at(at)
        };
        let outside = |words: String| Some(words);
        match self {
            Parameter::Money { currency, min, max } => {
                let amount = match value {
                    Json::Number(_) | Json::String(_) => decimal(value, at)?,
                    _ => return Err(wrong("an amount")),
                };
                let text = amount.plain();
                let digits = text.split_once('.').map_or(0, |(_, f)| f.len());
                let problem = if amount.compare(*max) == Some(std::cmp::Ordering::Greater) {
                    outside(format!(
                        "{} is over the routine's most, {}",
                        format_money(amount, currency),
                        format_money(*max, currency)
                    ))
                } else if amount.compare(*min) == Some(std::cmp::Ordering::Less) {
                    outside(format!(
                        "{} is under the routine's least, {}",
                        format_money(amount, currency),
                        format_money(*min, currency)
                    ))
                } else if u32::try_from(digits).unwrap_or(u32::MAX) > minor_digits(currency) {
                    outside(format!("{text} has more decimals than {currency} has"))
                } else {
                    None
                };
                Ok((text, problem))
            }
            Parameter::Integer { min, max } => {
                let Json::Number(text) = value else {
                    return Err(wrong("a whole number"));
                };
                let n: i64 = text.parse().map_err(|_| wrong("a whole number"))?;
                let problem = (!(*min..=*max).contains(&n))
                    .then(|| format!("{n} is not from {min} to {max}"));
                Ok((n.to_string(), problem))
            }
            Parameter::Number { min, max } => {
                let Json::Number(text) = value else {
                    return Err(wrong("a number"));
                };
                let n = value.as_decimal().ok_or_else(|| wrong("a number"))?;
                let problem = (n.compare(*min) == Some(std::cmp::Ordering::Less)
                    || n.compare(*max) == Some(std::cmp::Ordering::Greater))
                .then(|| format!("{text} is not from {min} to {max}"));
                Ok((text.clone(), problem))
            }
            Parameter::Date { within_days } => {
                let Json::String(text) = value else {
                    return Err(wrong("a date like 2026-12-31"));
                };
                let format = time::macros::format_description!("[year]-[month]-[day]");
                let date =
                    Date::parse(text, &format).map_err(|_| wrong("a date like 2026-12-31"))?;
                let last = today
                    .checked_add(time::Duration::days(i64::from(*within_days)))
                    .unwrap_or(today);
                let problem = (date < today || date > last).then(|| {
                    format!("{text} is not from the day of the run to {within_days} days after")
                });
                Ok((text.clone(), problem))
            }
            Parameter::Choice { values } => {
                let Json::String(text) = value else {
                    return Err(wrong("text"));
                };
                let problem = (!values.contains(text)).then(|| {
                    format!(
                        "“{}” is not one of the allowed values",
                        crate::text::reveal(text)
                    )
                });
                Ok((text.clone(), problem))
            }
            Parameter::Text {
                max_length,
                characters,
            } => {
                let Json::String(text) = value else {
                    return Err(wrong("text"));
                };
                let allowed = |c: char| {
                    if characters.is_empty() {
                        return !c.is_control();
                    }
                    characters.iter().any(|class| match class.as_str() {
                        "letters" => c.is_alphabetic(),
                        "digits" => c.is_ascii_digit(),
                        "space" => c == ' ',
                        other => other.starts_with(c) && other.len() == c.len_utf8(),
                    })
                };
                let problem = if text.chars().count() > *max_length {
                    Some(format!("the text is longer than {max_length} characters"))
                } else {
                    text.chars().find(|c| !allowed(*c)).map(|c| {
                        format!(
                            "the text holds “{}”, which is not allowed",
                            crate::text::reveal(&c.to_string())
                        )
                    })
                };
                Ok((text.clone(), problem))
            }
            Parameter::Email { allowed_domains } => {
                let Json::String(text) = value else {
                    return Err(wrong("an email address"));
                };
                let domain = text
                    .rsplit_once('@')
                    .map(|(_, d)| d.to_ascii_lowercase())
                    .unwrap_or_default();
                let problem = (!allowed_domains.contains(&domain)).then(|| {
                    format!(
                        "{} is not an address at {}",
                        crate::text::reveal(text),
                        allowed_domains.join(" or ")
                    )
                });
                Ok((text.clone(), problem))
            }
        }
    }

    /// The JSON a `$param` placeholder becomes (`as` picks the form for amounts).
    fn json_value(&self, text: &str, form: Form) -> Json {
        match (self, form) {
            (Parameter::Money { currency, .. }, Form::MinorUnits) => {
                let digits = minor_digits(currency) as usize;
                let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
                let mut minor = format!("{whole}{fraction:0<digits$}");
                minor.truncate(whole.len() + digits);
                let trimmed = minor.trim_start_matches('0');
                Json::Number(if trimmed.is_empty() {
                    "0".into()
                } else {
                    trimmed.into()
                })
            }
            (
                Parameter::Money { .. } | Parameter::Number { .. } | Parameter::Integer { .. },
                Form::Number,
            ) => Json::Number(text.to_owned()),
            _ => Json::String(text.to_owned()),
        }
    }
}

/// How a `$param` is written into JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Number,
    String,
    MinorUnits,
}

fn schedule(json: &Json, at: &str) -> Result<Schedule, Refusal> {
    let mut fields = Fields::of(json, at)?;
    let every = fields.string("every")?;
    let clock = fields.string("at")?;
    let (hour, minute) = clock
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60 && clock.len() == 5)
        .ok_or_else(|| invalid("The time must be like 09:00.", fields.path("at")))?;
    let schedule = match every.as_str() {
        "day" => Schedule::Daily { hour, minute },
        "week" => {
            let weekday = small(fields.required("weekday")?, &fields.path("weekday"), 7)?;
            if weekday == 0 {
                return Err(invalid(
                    "Weekdays are 1 (Monday) to 7 (Sunday).",
                    fields.path("weekday"),
                ));
            }
            Schedule::Weekly {
                weekday: u8::try_from(weekday).unwrap_or(1),
                hour,
                minute,
            }
        }
        "month" => {
            let day = small(fields.required("day")?, &fields.path("day"), 28)?;
            if day == 0 {
                return Err(invalid(
                    "Days of the month are 1 to 28 (every month has them).",
                    fields.path("day"),
                ));
            }
            Schedule::Monthly {
                day: u8::try_from(day).unwrap_or(1),
                hour,
                minute,
            }
        }
        other => {
            return Err(invalid(
                format!("{other:?} is not a schedule: use day, week or month."),
                fields.path("every"),
            ));
        }
    };
    fields.finish()?;
    Ok(schedule)
}

/// Where placeholders may stand in a template of each kind.
fn check_template(template: &Json, at: &str, names: &Names<'_>) -> Result<(), Refusal> {
    let Json::Object(members) = template else {
        return Err(invalid("A step's artifact must be an object.", at));
    };
    let kind = match members.get("kind") {
        Some(Json::String(kind)) => kind.as_str(),
        _ => {
            return Err(invalid(
                "A step's artifact needs its kind, as text.",
                format!("{at}.kind"),
            ));
        }
    };
    for (key, value) in members {
        let here = format!("{at}.{key}");
        match (kind, key.as_str()) {
            ("http", "body") => placeholders_in_values(value, &here, names)?,
            ("http", "url") => {
                let Json::String(url) = value else {
                    return Err(invalid("The URL must be text.", here));
                };
                url_template(url, &here, names)?;
            }
            ("sql", "parameters") => {
                let Json::Array(items) = value else {
                    return Err(invalid("parameters must be a list.", here));
                };
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{here}[{i}]");
                    match item {
                        Json::Object(_) => placeholder(item, &at, names)?,
                        Json::Array(_) => {
                            return Err(invalid("An SQL value must be one value.", at));
                        }
                        _ => {}
                    }
                }
            }
            ("email", "to" | "cc" | "bcc") => {
                let Json::Array(items) = value else {
                    return Err(invalid("Recipients must be a list.", here));
                };
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{here}[{i}]");
                    match item {
                        Json::String(_) => {}
                        Json::Object(_) => placeholder(item, &at, names)?,
                        _ => return Err(invalid("A recipient must be an address.", at)),
                    }
                }
            }
            ("email", "subject" | "text") => {
                let Json::String(text) = value else {
                    return Err(invalid("This must be text.", here));
                };
                for name in braces(text, &here)? {
                    names.text_name(&name, &here)?;
                }
            }
            _ => no_placeholders(value, &here)?,
        }
    }
    Ok(())
}

/// The names a template may use.
struct Names<'a> {
    parameters: &'a BTreeMap<String, Parameter>,
    /// The extractions of the step this one repeats over, when it repeats.
    row: Option<&'a BTreeMap<String, Extraction>>,
}

impl Names<'_> {
    fn parameter(&self, name: &str, at: &str) -> Result<&Parameter, Refusal> {
        self.parameters
            .get(name)
            .ok_or_else(|| invalid(format!("There is no parameter named “{name}”."), at))
    }

    fn row_field(&self, field: &str, at: &str) -> Result<(), Refusal> {
        match self.row {
            Some(extract) if extract.contains_key(field) => Ok(()),
            Some(_) => Err(invalid(
                format!("The step this one repeats over extracts no “{field}”."),
                at,
            )),
            None => Err(invalid(
                "Only a step that repeats for each row (for_each) can use a row's values.",
                at,
            )),
        }
    }

    fn text_name(&self, name: &str, at: &str) -> Result<(), Refusal> {
        match name.strip_prefix("row.") {
            Some(field) => self.row_field(field, at),
            None => self.parameter(name, at).map(|_| ()),
        }
    }
}

fn placeholder(json: &Json, at: &str, names: &Names<'_>) -> Result<(), Refusal> {
    let mut fields = Fields::of(json, at)?;
    if let Some(name) = fields.optional("$param") {
        let Json::String(name) = name else {
            return Err(invalid("$param names a parameter, as text.", at));
        };
        let parameter = names.parameter(name, at)?;
        if let Some(form) = fields.optional("as") {
            let form = form.as_str().unwrap_or_default();
            let numeric = matches!(
                parameter,
                Parameter::Money { .. } | Parameter::Number { .. } | Parameter::Integer { .. }
            );
            let ok = match form {
                "string" => true,
                "number" => numeric,
                "minor_units" => matches!(parameter, Parameter::Money { .. }),
                _ => false,
            };
            if !ok {
                return Err(invalid(
                    "as is string, number (for numbers and money) or minor_units (for money).",
                    format!("{at}.as"),
                ));
            }
        }
    } else if let Some(field) = fields.optional("$row") {
        let Json::String(field) = field else {
            return Err(invalid("$row names a field of the row, as text.", at));
        };
        names.row_field(field, at)?;
    } else {
        // Not a placeholder: an ordinary object, whose keys may not look like one.
        return no_dollar_keys(json, at);
    }
    fields
        .finish()
        .map_err(|r| invalid(r.message, r.field.unwrap_or_default()))
}

fn no_dollar_keys(json: &Json, at: &str) -> Result<(), Refusal> {
    match json {
        Json::Object(members) => {
            for (key, value) in members {
                if key.starts_with('$') {
                    return Err(invalid(
                        format!(
                            "“{key}” is a placeholder key, and placeholders are $param and $row."
                        ),
                        format!("{at}.{key}"),
                    ));
                }
                no_dollar_keys(value, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| no_dollar_keys(item, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

fn placeholders_in_values(json: &Json, at: &str, names: &Names<'_>) -> Result<(), Refusal> {
    match json {
        Json::Object(members) if members.keys().any(|k| k.starts_with('$')) => {
            placeholder(json, at, names)
        }
        Json::Object(members) => members
            .iter()
            .try_for_each(|(k, v)| placeholders_in_values(v, &format!("{at}.{k}"), names)),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| placeholders_in_values(v, &format!("{at}[{i}]"), names)),
        _ => Ok(()),
    }
}

fn no_placeholders(json: &Json, at: &str) -> Result<(), Refusal> {
    no_dollar_keys(json, at).map_err(|_| {
        invalid(
            "A placeholder cannot stand here: in a routine this is fixed.",
            at,
        )
    })
}

/// The `{{name}}`s of a text, refusing a `{{` that is not closed.
fn braces(text: &str, at: &str) -> Result<Vec<String>, Refusal> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(invalid("A {{ is not closed with }}.", at));
        };
        names.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// A URL template: the origin literal, `{{name}}` only as a whole path segment or a whole query
/// value, no fragment.
fn url_template(url: &str, at: &str, names: &Names<'_>) -> Result<(), Refusal> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid("The URL must start with https:// or http://.", at));
    };
    if scheme.contains("{{") || url.contains('#') {
        return Err(invalid(
            "The URL's scheme is fixed and it may not have a fragment.",
            at,
        ));
    }
    let (authority, path_and_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains("{{") || authority.contains('@') {
        return Err(invalid("The URL's origin is fixed in a routine.", at));
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    for segment in path.split('/') {
        if segment.contains("{{") {
            let name = whole_placeholder(segment)
                .ok_or_else(|| invalid("A placeholder in the path must be a whole segment.", at))?;
            names.text_name(&name, at)?;
        }
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.contains("{{") {
            return Err(invalid("Query names are fixed in a routine.", at));
        }
        if value.contains("{{") {
            let name = whole_placeholder(value)
                .ok_or_else(|| invalid("A placeholder in the query must be a whole value.", at))?;
            names.text_name(&name, at)?;
        }
    }
    Ok(())
}

fn whole_placeholder(text: &str) -> Option<String> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim().to_owned())
}

impl Routine {
    /// Reads a routine object; `at` is its path, for refusals.
    ///
    /// # Errors
    /// A refusal naming the offending field.
    pub fn from_json(json: &Json, at: &str) -> Result<Routine, Refusal> {
        let mut fields = Fields::of(json, at)?;
        let mut parameters = BTreeMap::new();
        if let Some(json) = fields.optional("parameters") {
            let Json::Object(members) = json else {
                return Err(invalid(
                    "parameters must be an object of named parameters.",
                    fields.path("parameters"),
                ));
            };
            for (name, value) in members {
                let here = format!("{}.{name}", fields.path("parameters"));
                if !name_ok(name) {
                    return Err(invalid(
                        "A parameter's name is a letter, then letters, digits or _ (at most 40).",
                        here,
                    ));
                }
                parameters.insert(name.clone(), Parameter::from_json(value, &here)?);
            }
        }
        let steps_json = fields.required("steps")?;
        let Json::Array(items) = steps_json else {
            return Err(invalid("steps must be a list.", fields.path("steps")));
        };
        if items.is_empty() || items.len() > MAX_STEPS {
            return Err(invalid(
                format!("A routine has 1 to {MAX_STEPS} steps."),
                fields.path("steps"),
            ));
        }
        let mut steps: Vec<Step> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let here = format!("{}[{i}]", fields.path("steps"));
            let mut step = Fields::of(item, &here)?;
            let id = step.string("id")?;
            if !name_ok(&id) || steps.iter().any(|s| s.id == id) {
                return Err(invalid(
                    "Each step has its own name: a letter, then letters, digits or _.",
                    step.path("id"),
                ));
            }
            let for_each = match step.optional("for_each") {
                None => None,
                Some(json) => {
                    let mut each = Fields::of(json, &step.path("for_each"))?;
                    let over = each.string("step")?;
                    let max = small(
                        each.required("max")?,
                        &each.path("max"),
                        i64::from(MAX_FOR_EACH),
                    )?;
                    each.finish()?;
                    if max == 0 || !steps.iter().any(|s| s.id == over) {
                        return Err(invalid(
                            "for_each names an earlier step and a most of at least 1.",
                            step.path("for_each"),
                        ));
                    }
                    Some((over, max))
                }
            };
            let mut extract = BTreeMap::new();
            if let Some(json) = step.optional("extract") {
                let Json::Object(members) = json else {
                    return Err(invalid(
                        "extract names values: {\"name\": {\"column\": …}}.",
                        step.path("extract"),
                    ));
                };
                for (name, value) in members {
                    let at = format!("{}.{name}", step.path("extract"));
                    if !name_ok(name) {
                        return Err(invalid(
                            "An extraction's name is a letter, then letters, digits or _.",
                            at,
                        ));
                    }
                    let mut how = Fields::of(value, &at)?;
                    let extraction = match (how.optional("column"), how.optional("path")) {
                        (Some(Json::String(c)), None) => Extraction::Column(c.clone()),
                        (None, Some(Json::String(p))) => Extraction::Path(p.clone()),
                        _ => {
                            return Err(invalid(
                                "An extraction is {\"column\": NAME} or {\"path\": PATH}.",
                                at,
                            ));
                        }
                    };
                    how.finish()?;
                    extract.insert(name.clone(), extraction);
                }
            }
            let template = step.required("artifact")?.clone();
            let row = for_each
                .as_ref()
                .and_then(|(over, _)| steps.iter().find(|s| &s.id == over))
                .map(|s| &s.extract);
            check_template(
                &template,
                &step.path("artifact"),
                &Names {
                    parameters: &parameters,
                    row,
                },
            )?;
            step.finish()?;
            steps.push(Step {
                id,
                for_each,
                template,
                extract,
            });
        }
        let trigger = match fields.optional("trigger") {
            None => Trigger {
                schedule: None,
                on_request: true,
            },
            Some(json) => {
                let mut t = Fields::of(json, &fields.path("trigger"))?;
                let schedule = t
                    .optional("schedule")
                    .map(|s| schedule(s, &t.path("schedule")))
                    .transpose()?;
                let on_request = match t.optional("on_request") {
                    None => schedule.is_none(),
                    Some(Json::Bool(b)) => *b,
                    Some(_) => {
                        return Err(invalid(
                            "on_request is true or false.",
                            t.path("on_request"),
                        ));
                    }
                };
                t.finish()?;
                Trigger {
                    schedule,
                    on_request,
                }
            }
        };
        let limits = {
            let json = fields.required("limits")?;
            let mut l = Fields::of(json, &fields.path("limits"))?;
            let runs_per_day = small(l.required("runs_per_day")?, &l.path("runs_per_day"), 1440)?;
            if runs_per_day == 0 {
                return Err(invalid(
                    "At least one run a day, or there is no routine.",
                    l.path("runs_per_day"),
                ));
            }
            let total_runs = l
                .optional("total_runs")
                .map(|j| small(j, &l.path("total_runs"), 100_000))
                .transpose()?;
            let total_money = l
                .optional("total_money")
                .map(|j| decimal(j, &l.path("total_money")))
                .transpose()?;
            l.finish()?;
            Limits {
                runs_per_day,
                total_runs,
                total_money,
            }
        };
        let currencies: BTreeSet<&str> = parameters
            .values()
            .filter_map(|p| match p {
                Parameter::Money { currency, .. } => Some(currency.as_str()),
                _ => None,
            })
            .collect();
        if limits.total_money.is_some() && currencies.len() != 1 {
            return Err(invalid(
                "A money limit needs the routine's amounts to be in one currency.",
                fields.path("limits"),
            ));
        }
        let expires_in_days = match fields.optional("expires_in_days") {
            None => DEFAULT_EXPIRY_DAYS,
            Some(json) => {
                let days = small(
                    json,
                    &fields.path("expires_in_days"),
                    i64::from(MAX_EXPIRY_DAYS),
                )?;
                if days == 0 {
                    return Err(invalid(
                        "A routine lasts at least a day.",
                        fields.path("expires_in_days"),
                    ));
                }
                days
            }
        };
        let release = match fields.required("release")? {
            Json::String(s) if s == "all" => RunRelease::All,
            Json::String(s) if s == "nothing" => RunRelease::Nothing,
            json @ Json::Object(_) => {
                let mut r = Fields::of(json, &fields.path("release"))?;
                let list = strings(r.required("fields")?, &r.path("fields"))?;
                r.finish()?;
                RunRelease::Fields(list)
            }
            _ => {
                return Err(invalid(
                    "release is \"all\", \"nothing\" or {\"fields\": [...]}.",
                    fields.path("release"),
                ));
            }
        };
        let mut example = BTreeMap::new();
        if let Some(json) = fields.optional("example") {
            let Json::Object(members) = json else {
                return Err(invalid(
                    "example gives a value per parameter.",
                    fields.path("example"),
                ));
            };
            for (name, value) in members {
                if !parameters.contains_key(name) {
                    return Err(invalid(
                        format!("There is no parameter named “{name}”."),
                        format!("{}.{name}", fields.path("example")),
                    ));
                }
                example.insert(name.clone(), value.clone());
            }
        }
        let mut scheduled = BTreeMap::new();
        if let Some(json) = fields.optional("scheduled_parameters") {
            let Json::Object(members) = json else {
                return Err(invalid(
                    "scheduled_parameters gives a value per parameter.",
                    fields.path("scheduled_parameters"),
                ));
            };
            for (name, value) in members {
                let at = format!("{}.{name}", fields.path("scheduled_parameters"));
                match parameters.get(name) {
                    None => {
                        return Err(invalid(
                            format!("There is no parameter named “{name}”."),
                            at,
                        ));
                    }
                    Some(Parameter::Date { .. }) => {
                        if !value
                            .as_str()
                            .is_some_and(|v| relative_days(v).is_some() || v.len() == 10)
                        {
                            return Err(invalid(
                                "A scheduled date is \"+N\" (N days after the run) or a date.",
                                at,
                            ));
                        }
                    }
                    Some(_) => {}
                }
                scheduled.insert(name.clone(), value.clone());
            }
        }
        if trigger.schedule.is_some()
            && let Some(missing) = parameters.keys().find(|p| !scheduled.contains_key(*p))
        {
            return Err(invalid(
                format!(
                    "A routine that runs on a schedule needs a scheduled value for “{missing}”."
                ),
                fields.path("scheduled_parameters"),
            ));
        }
        fields.finish()?;
        Ok(Routine {
            parameters,
            steps,
            trigger,
            limits,
            expires_in_days,
            release,
            example,
            scheduled,
            canonical: json.canonical(),
        })
    }

    /// The values of a scheduled run on `today` (relative dates resolved).
    pub fn scheduled_values(&self, today: Date) -> BTreeMap<String, Json> {
        self.scheduled
            .iter()
            .map(|(name, value)| {
                let resolved = match value.as_str().and_then(relative_days) {
                    Some(days) => Json::String(
                        today
                            .checked_add(time::Duration::days(days))
                            .unwrap_or(today)
                            .to_string(),
                    ),
                    None => value.clone(),
                };
                (name.clone(), resolved)
            })
            .collect()
    }

    /// The canonical text of the routine object: what is signed.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// `routine_sha256`: lowercase hex SHA-256 of the canonical text.
    pub fn sha256(&self) -> String {
        data_hex(&Sha256::digest(self.canonical.as_bytes()))
    }

    /// Checks a run's parameters: every declared one given (an unknown one is refused), each of
    /// its type. Returns the values as text and the reasons any fall outside their bounds.
    ///
    /// # Errors
    /// An unknown or missing parameter, or a value of the wrong type.
    pub fn check(&self, values: &BTreeMap<String, Json>, today: Date) -> Result<Checked, Refusal> {
        if let Some(unknown) = values.keys().find(|k| !self.parameters.contains_key(*k)) {
            return Err(Refusal::new(
                RefusalCode::UnknownField,
                format!("This routine has no parameter named “{unknown}”."),
            )
            .at(format!("parameters.{unknown}")));
        }
        let mut text = BTreeMap::new();
        let mut outside = Vec::new();
        let mut money = None::<Decimal>;
        for (name, parameter) in &self.parameters {
            let at = format!("parameters.{name}");
            let value = values.get(name).ok_or_else(|| {
                Refusal::new(
                    RefusalCode::InvalidJson,
                    format!("The parameter “{name}” is missing."),
                )
                .at(at.clone())
            })?;
            let (as_text, problem) = parameter.check(value, today, &at)?;
            if let Some(problem) = problem {
                outside.push(format!("{name}: {problem}"));
            }
            if matches!(parameter, Parameter::Money { .. })
                && let Some(amount) = Decimal::parse(&as_text)
            {
                money = Some(match money {
                    None => amount,
                    Some(sum) => sum.plus(amount).unwrap_or(sum),
                });
            }
            text.insert(name.clone(), as_text);
        }
        Ok(Checked {
            text,
            outside,
            money,
        })
    }

    /// The concrete artifact of one step for checked values (and, for a repeating step, one
    /// row of the step it repeats over), read back by the strict artifact reader.
    ///
    /// # Errors
    /// When a value cannot stand where it goes (a path segment that is empty, `.` or `..`), or
    /// the filled-in artifact is refused as a proposal's would be.
    pub fn instantiate(
        &self,
        step: &Step,
        values: &Checked,
        row: Option<&BTreeMap<String, Json>>,
    ) -> Result<Artifact, Refusal> {
        let fill = Filler {
            routine: self,
            values,
            row,
        };
        let Json::Object(members) = &step.template else {
            return Err(invalid("A step's artifact must be an object.", "artifact"));
        };
        let kind = members
            .get("kind")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let mut out = Object::new();
        for (key, value) in members {
            let filled = match (kind, key.as_str()) {
                ("http", "body") => fill.values(value)?,
                ("http", "url") => Json::String(fill.url(value.as_str().unwrap_or_default())?),
                ("sql", "parameters") | ("email", "to" | "cc" | "bcc") => fill.values(value)?,
                ("email", "subject" | "text") => {
                    Json::String(fill.text(value.as_str().unwrap_or_default()))
                }
                _ => value.clone(),
            };
            out.insert(key.clone(), filled);
        }
        let artifact = Artifact::from_json(&Json::Object(out), "artifact")?;
        fixed_parts_hold(&step.template, &artifact)?;
        Ok(artifact)
    }
}

/// `"+N"` as N days.
fn relative_days(text: &str) -> Option<i64> {
    let n = text.strip_prefix('+')?;
    (!n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

fn data_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A run's parameters, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Each value's text form.
    pub text: BTreeMap<String, String>,
    /// Why values fall outside their bounds, in words (empty: all within).
    pub outside: Vec<String>,
    /// The sum of the money parameters, if there are any.
    pub money: Option<Decimal>,
}

struct Filler<'a> {
    routine: &'a Routine,
    values: &'a Checked,
    row: Option<&'a BTreeMap<String, Json>>,
}

fn row_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.canonical(),
    }
}

impl Filler<'_> {
    fn named_text(&self, name: &str) -> String {
        match name.strip_prefix("row.") {
            Some(field) => self
                .row
                .and_then(|r| r.get(field))
                .map(row_text)
                .unwrap_or_default(),
            None => self.values.text.get(name).cloned().unwrap_or_default(),
        }
    }

    fn values(&self, json: &Json) -> Result<Json, Refusal> {
        Ok(match json {
            Json::Object(members) if members.contains_key("$param") => {
                let name = members
                    .get("$param")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                let form = match members.get("as").and_then(Json::as_str) {
                    Some("string") => Form::String,
                    Some("minor_units") => Form::MinorUnits,
                    Some(_) => Form::Number,
                    None => Form::Number,
                };
                let text = self.values.text.get(name).cloned().unwrap_or_default();
                match self.routine.parameters.get(name) {
                    Some(parameter) => parameter.json_value(&text, form),
                    None => Json::Null,
                }
            }
            Json::Object(members) if members.contains_key("$row") => {
                let field = members
                    .get("$row")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                self.row
                    .and_then(|r| r.get(field))
                    .cloned()
                    .unwrap_or(Json::Null)
            }
            Json::Object(members) => Json::Object(
                members
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.values(v)?)))
                    .collect::<Result<_, Refusal>>()?,
            ),
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.values(v))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    fn text(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return out;
            };
            out.push_str(&self.named_text(after[..end].trim()));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn url(&self, template: &str) -> Result<String, Refusal> {
        let (before, query) = template.split_once('?').unwrap_or((template, ""));
        let (scheme, rest) = before.split_once("://").unwrap_or(("", before));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut out = format!("{scheme}://{authority}");
        let segments: Vec<String> = path
            .split('/')
            .map(|segment| match whole_placeholder(segment) {
                Some(name) => {
                    let value = self.named_text(&name);
                    if value.is_empty() || value == "." || value == ".." {
                        Err(Refusal::new(
                            RefusalCode::InvalidUrl,
                            format!("“{value}” cannot be a part of the URL's path."),
                        )
                        .at("artifact.url"))
                    } else {
                        Ok(encode(&value))
                    }
                }
                None => Ok(segment.to_owned()),
            })
            .collect::<Result<_, _>>()?;
        out.push_str(&segments.join("/"));
        if !query.is_empty() {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, value)) => match whole_placeholder(value) {
                        Some(name) => format!("{key}={}", encode(&self.named_text(&name))),
                        None => pair.to_owned(),
                    },
                    None => pair.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        Ok(out)
    }
}

/// Percent-encodes everything but letters, digits and `-_.~` (RFC 3986's unreserved).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The fixed parts of an artifact: what no value may change.
#[derive(Debug, PartialEq, Eq)]
pub struct FixedParts {
    /// `http`, `sql` or `email`.
    pub kind: String,
    /// The credential, database or account.
    pub credential: Option<String>,
    /// The method (HTTP).
    pub method: String,
    /// The origin (HTTP).
    pub origin: String,
    /// The path with each filled-in segment as `*` (HTTP).
    pub path_pattern: Vec<String>,
    /// The query's names (HTTP).
    pub query_names: Vec<String>,
    /// The headers (HTTP).
    pub headers: Vec<(String, String)>,
    /// The SQL text.
    pub statement: String,
}

/// The fixed parts of a template (placeholders as `*` segments).
pub fn template_parts(template: &Json) -> FixedParts {
    let get = |key: &str| {
        template
            .at(key)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let kind = get("kind");
    let url = get("url");
    let (before, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let (scheme, rest) = before.split_once("://").unwrap_or(("", before));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let credential = match kind.as_str() {
        "http" => template
            .at("credential")
            .and_then(Json::as_str)
            .map(str::to_owned),
        "sql" => Some(get("database")),
        _ => Some(get("account")),
    };
    FixedParts {
        method: get("method"),
        origin: if kind == "http" {
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase()
            )
        } else {
            String::new()
        },
        path_pattern: if kind == "http" {
            path.split('/')
                .map(|s| {
                    if whole_placeholder(s).is_some() {
                        "*".to_owned()
                    } else {
                        s.to_owned()
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
        query_names: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').map_or(p, |(k, _)| k).to_owned())
            .collect(),
        headers: template
            .at("headers")
            .and_then(Json::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        statement: get("statement"),
        credential,
        kind,
    }
}

/// The fixed parts of a concrete artifact, with the template's filled-in segments as `*`.
pub fn artifact_parts(artifact: &Artifact, template: &FixedParts) -> FixedParts {
    let json = artifact.to_json();
    let mut parts = template_parts(&json);
    if let Artifact::Http(http) = artifact
        && let Ok(url) = url::Url::parse(&http.url)
    {
        parts.origin = url.origin().ascii_serialization();
        let mut segments = vec![String::new()];
        segments.extend(url.path().split('/').skip(1).map(str::to_owned));
        if url.path() == "/" && template.path_pattern.len() <= 1 {
            segments = template.path_pattern.clone();
        }
        for (i, segment) in segments.iter_mut().enumerate() {
            if template.path_pattern.get(i).is_some_and(|t| t == "*") {
                *segment = "*".to_owned();
            }
        }
        parts.path_pattern = segments;
        parts.query_names = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    }
    parts
}

fn fixed_parts_hold(template: &Json, artifact: &Artifact) -> Result<(), Refusal> {
    let expected = template_parts(template);
    let mut expected_cmp = expected_normalized(&expected);
    let actual = artifact_parts(artifact, &expected);
    expected_cmp.path_pattern = normalize_path(&expected_cmp.path_pattern);
    let mut actual_cmp = actual;
    actual_cmp.path_pattern = normalize_path(&actual_cmp.path_pattern);
    if expected_cmp == actual_cmp {
        Ok(())
    } else {
        Err(invalid(
            "A filled-in value would change a part of the routine that is fixed; nothing was run.",
            "artifact",
        ))
    }
}

fn expected_normalized(parts: &FixedParts) -> FixedParts {
    FixedParts {
        kind: parts.kind.clone(),
        credential: parts.credential.clone(),
        method: parts.method.clone(),
        origin: url::Url::parse(&format!("{}/", parts.origin))
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| parts.origin.clone()),
        path_pattern: parts.path_pattern.clone(),
        query_names: parts.query_names.clone(),
        headers: parts.headers.clone(),
        statement: parts.statement.clone(),
    }
}

fn normalize_path(path: &[String]) -> Vec<String> {
    let mut path: Vec<String> = path.to_vec();
    while path.len() > 1 && path.last().is_some_and(String::is_empty) {
        path.pop();
    }
    if path.is_empty() {
        path.push(String::new());
    }
    path
}

/// A routine in words, for the person who vets it (design.md §18).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutineWords {
    /// When it runs.
    pub schedule: String,
    /// Each parameter and its bound.
    pub bounds: Vec<String>,
    /// Each step, by its fixed parts.
    pub steps: Vec<String>,
    /// Its limits.
    pub limits: Vec<String>,
    /// When it stops.
    pub expiry: String,
    /// What the agent sees of each run.
    pub release: String,
}

fn clock(hour: u8, minute: u8) -> String {
    format!("{hour:02}:{minute:02}")
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The schedule in words.
pub fn schedule_words(trigger: &Trigger) -> String {
    let on_its_own = match trigger.schedule {
        None => None,
        Some(Schedule::Daily { hour, minute }) => {
            Some(format!("every day at {}", clock(hour, minute)))
        }
        Some(Schedule::Weekly {
            weekday,
            hour,
            minute,
        }) => Some(format!(
            "every {} at {}",
            WEEKDAYS[usize::from(weekday.clamp(1, 7) - 1)],
            clock(hour, minute)
        )),
        Some(Schedule::Monthly { day, hour, minute }) => Some(format!(
            "every month on day {day} at {}",
            clock(hour, minute)
        )),
    };
    match (on_its_own, trigger.on_request) {
        (Some(when), true) => {
            format!("Runs {when} (this computer's time), and when its agent asks")
        }
        (Some(when), false) => format!("Runs {when} (this computer's time)"),
        (None, true) => "Runs when its agent asks".to_owned(),
        (None, false) => "Runs only when you start it".to_owned(),
    }
}

fn step_words(step: &Step) -> String {
    let parts = template_parts(&step.template);
    let repeat = step
        .for_each
        .as_ref()
        .map(|(over, max)| format!("For each row of step “{over}” (at most {max}): "))
        .unwrap_or_default();
    let fixed = match parts.kind.as_str() {
        "http" => format!(
            "send a {} request to {}{} {}",
            parts.method.to_ascii_uppercase(),
            parts.origin,
            parts
                .path_pattern
                .iter()
                .map(|s| if s == "*" { "‹value›" } else { s.as_str() })
                .collect::<Vec<_>>()
                .join("/"),
            parts
                .credential
                .as_deref()
                .map_or("without a credential".to_owned(), |c| format!(
                    "using “{c}”"
                ))
        ),
        "sql" => format!(
            "run on the database “{}”: {}",
            parts.credential.unwrap_or_default(),
            crate::text::reveal(&parts.statement)
        ),
        _ => format!(
            "send an email from “{}”",
            parts.credential.unwrap_or_default()
        ),
    };
    let mut words = format!("{repeat}{fixed}");
    if let Some(first) = words.get(..1) {
        words = first.to_uppercase() + &words[1..];
    }
    words
}

/// Describes a routine: its schedule, bounds, steps, limits, expiry (`today` + its days, until
/// approved: "about") and release.
pub fn describe(routine: &Routine, today: Date) -> RoutineWords {
    let currency = routine.parameters.values().find_map(|p| match p {
        Parameter::Money { currency, .. } => Some(currency.clone()),
        _ => None,
    });
    let mut limits = vec![if routine.limits.runs_per_day == 1 {
        "At most 1 run a day".to_owned()
    } else {
        format!("At most {} runs a day", routine.limits.runs_per_day)
    }];
    if let Some(total) = routine.limits.total_runs {
        limits.push(format!("At most {total} runs in all"));
    }
    if let (Some(total), Some(currency)) = (routine.limits.total_money, &currency) {
        limits.push(format!("At most {} in all", format_money(total, currency)));
    }
    let until = today
        .checked_add(time::Duration::days(i64::from(routine.expires_in_days)))
        .unwrap_or(today);
    RoutineWords {
        schedule: schedule_words(&routine.trigger),
        bounds: routine
            .parameters
            .iter()
            .map(|(name, p)| format!("{name}: {}", p.words()))
            .collect(),
        steps: routine.steps.iter().map(step_words).collect(),
        limits,
        expiry: format!(
            "Stops {} days after you approve it (if approved today: {})",
            routine.expires_in_days,
            date_words(until)
        ),
        release: match &routine.release {
            RunRelease::All => "The agent sees everything each run returns".to_owned(),
            RunRelease::Nothing => "The agent sees nothing of what a run returns".to_owned(),
            RunRelease::Fields(fields) => format!(
                "The agent sees only {} of each run",
                fields
                    .iter()
                    .map(|f| crate::text::reveal(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

/// A date as a person reads it ("31 Mar 2027").
pub fn date_words(date: Date) -> String {
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::from(u8::from(date.month()) - 1)];
    format!("{} {month} {}", date.day(), date.year())
}

/// The values a step is explained with before approval: every bounded number and date at its
/// upper bound, other parameters from the routine's example. `None` when a value is missing.
pub fn values_at_limits(routine: &Routine, today: Date) -> Option<Checked> {
    let mut values = BTreeMap::new();
    for (name, parameter) in &routine.parameters {
        let value = match parameter {
            Parameter::Money { max, .. } | Parameter::Number { max, .. } => {
                Json::Number(max.plain())
            }
            Parameter::Integer { max, .. } => Json::Number(max.to_string()),
            Parameter::Date { within_days } => Json::String(
                today
                    .checked_add(time::Duration::days(i64::from(*within_days)))
                    .unwrap_or(today)
                    .to_string(),
            ),
            _ => routine.example.get(name)?.clone(),
        };
        values.insert(name.clone(), value);
    }
    let checked = routine.check(&values, today).ok()?;
    checked.outside.is_empty().then_some(checked)
}
