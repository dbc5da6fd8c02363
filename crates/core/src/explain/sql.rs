//! SQL artifacts: the database credential, the statement's facts, and words for them.

use super::sensitive::{is_health_name, is_sensitive_name};
use super::{Context, Draft, unknown};
use crate::artifact::SqlArtifact;
use crate::credential::CredentialKind;
use crate::explanation::{Action, RiskCode};
use crate::refusal::{Refusal, RefusalCode};
use crate::sql::{self, SqlKind};

pub fn explain(artifact: &SqlArtifact, context: &Context<'_>) -> Result<Draft, Refusal> {
    let field = "artifact.database";
    let credential = context.registry.get(&artifact.database).ok_or_else(|| {
        unknown(
            RefusalCode::UnknownDatabase,
            "database",
            &artifact.database,
            field,
        )
    })?;
    let CredentialKind::Sql {
        dialect,
        read_only,
        max_rows,
        ..
    } = &credential.kind
    else {
        return Err(unknown(
            RefusalCode::UnknownDatabase,
            "database",
            &artifact.database,
            field,
        ));
    };
    let facts = sql::classify(&artifact.statement, *dialect)?;
    if *read_only && facts.kind != SqlKind::Read {
        return Err(Refusal::new(
            RefusalCode::CredentialScopeViolation,
            format!(
                "The database “{}” is read-only for agents; this statement would change it.",
                artifact.database
            ),
        )
        .at("artifact.statement"));
    }
    if *read_only && let Some(call) = facts.functions.iter().find(|c| !c.allowed_read_only()) {
        return Err(Refusal::new(
            RefusalCode::ForbiddenStatement,
            format!(
                "The database “{}” is read-only for agents, and {}() is not one of the plain calculations a read may use.",
                artifact.database, call.written
            ),
        )
        .at("artifact.statement"));
    }
    if *read_only && facts.hidden_write.is_some() {
        return Err(Refusal::new(
            RefusalCode::CredentialScopeViolation,
            format!(
                "The database “{}” is read-only for agents; this statement hides a change.",
                artifact.database
            ),
        )
        .at("artifact.statement"));
    }

    let mut draft = Draft::default();
    let table = facts
        .target
        .clone()
        .unwrap_or_else(|| "the database".to_owned());
    let filter_words = facts.filter_words.as_ref().map(|f| format!(" where {f}"));
    match facts.kind {
        SqlKind::Read => {
            draft.action = Some(Action::Read);
            let columns = if facts.columns.is_empty() {
                "data".to_owned()
            } else {
                facts
                    .columns
                    .iter()
                    .map(|c| column_words(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let rows = match (&filter_words, &facts.limit) {
                (Some(filter), _) => filter.clone(),
                (None, _) if facts.tables.is_empty() => String::new(),
                (None, _) => " (every row)".to_owned(),
            };
            let limit = match facts.limit.as_deref() {
                Some("1") => ", at most 1 row".to_owned(),
                Some(limit) => format!(", at most {limit} rows"),
                None => String::new(),
            };
            let from = if facts.tables.is_empty() {
                String::new()
            } else {
                format!(" from {table}")
            };
            draft.headline = format!("Read {columns}{from}{rows}{limit}");
            if facts.filter.is_none() && facts.limit.is_none() && !facts.tables.is_empty() {
                draft.risks.flag(
                    RiskCode::BulkData,
                    format!(
                        "This reads every row of {table} (up to {max_rows} rows are returned)."
                    ),
                );
            }
        }
        SqlKind::Insert => {
            draft.action = Some(Action::Create);
            draft.writes = true;
            let count = facts.row_count.map_or("rows".to_owned(), |n| {
                if n == 1 {
                    "1 row".to_owned()
                } else {
                    format!("{n} rows")
                }
            });
            draft.headline = format!("Add {count} to {table}");
            draft.flag(RiskCode::WritesData);
            if facts.row_count.is_none_or(|n| n > 100) {
                draft.risks.flag(
                    RiskCode::BulkData,
                    "This adds rows copied from a query, possibly many.",
                );
            }
        }
        SqlKind::Update => {
            draft.action = Some(Action::Update);
            draft.writes = true;
            draft.flag(RiskCode::WritesData);
            if let Some(hidden) = &facts.hidden_write {
                draft.headline = format!(
                    "{} (hidden inside what looks like a read)",
                    capitalize(hidden)
                );
                draft.risks.flag(
                    RiskCode::WritesData,
                    format!("Inside what looks like a read, this {hidden}."),
                );
                if hidden.contains("delete") {
                    draft.deletes = true;
                    draft.flag(RiskCode::DeletesData);
                    draft.flag(RiskCode::Irreversible);
                }
            } else {
                let change = if (1..=3).contains(&facts.assignments.len()) {
                    let sets: Vec<String> = facts
                        .assignments
                        .iter()
                        .map(|(c, v)| format!("{c} to {v}"))
                        .collect();
                    format!("Set {}", sets.join(", "))
                } else {
                    format!("Change {}", facts.columns.join(", "))
                };
                draft.headline = match &filter_words {
                    Some(filter) => format!("{change} in {table}{filter}"),
                    None => {
                        draft.unfiltered = true;
                        format!("{change} in every row of {table}")
                    }
                };
            }
        }
        SqlKind::Delete => {
            draft.action = Some(Action::Delete);
            draft.writes = true;
            draft.deletes = true;
            draft.flag(RiskCode::DeletesData);
            draft.flag(RiskCode::Irreversible);
            draft.headline = match &filter_words {
                Some(filter) => format!("Delete rows of {table}{filter}"),
                None => {
                    draft.unfiltered = true;
                    format!("Delete every row of {table}")
                }
            };
        }
        SqlKind::SchemaChange => {
            draft.action = Some(Action::SchemaChange);
            draft.writes = true;
            draft.flag(RiskCode::SchemaChange);
            let action = facts
                .schema_action
                .clone()
                .unwrap_or_else(|| "change the database structure".to_owned());
            draft.headline = capitalize(&action);
            if action.starts_with("remove") {
                draft.deletes = true;
                draft.flag(RiskCode::DeletesData);
                draft.flag(RiskCode::Irreversible);
            }
        }
    }
    if draft.unfiltered {
        draft.risks.flag(
            RiskCode::NoFilter,
            format!("There is no WHERE condition: this applies to every row of {table}."),
        );
        draft.risks.flag(
            RiskCode::BulkData,
            format!("Every row of {table} is affected."),
        );
    }
    for effect in &facts.side_effects {
        draft.risks.flag(
            RiskCode::SideEffects,
            format!("This also {}.", effect_words(effect)),
        );
    }
    if let Some(sensitive) = facts.columns.iter().find(|c| is_sensitive_name(c)) {
        draft.risks.flag(
            RiskCode::SensitiveData,
            format!("This involves personal or health details ({sensitive})."),
        );
    } else if facts.columns.iter().any(|c| c == "every column")
        && facts.tables.iter().any(|t| is_health_name(t))
    {
        draft.risks.flag(
            RiskCode::SensitiveData,
            "This reads every column of a health table, including any personal details.",
        );
    }
    if facts.tables.iter().any(|t| is_health_name(t)) {
        draft.flag(RiskCode::HealthRecord);
    }
    draft.counterparties.extend(facts.target.iter().cloned());

    let dialect_name = match dialect {
        crate::credential::SqlDialect::Sqlite => "SQLite",
        crate::credential::SqlDialect::Postgres => "PostgreSQL",
        crate::credential::SqlDialect::Mysql => "MySQL",
    };
    let access = if *read_only {
        "read-only"
    } else {
        "may change data"
    };
    draft.detail(
        "Database",
        format!("{} ({dialect_name}, {access})", artifact.database),
    );
    if !facts.tables.is_empty() {
        draft.detail("Tables", facts.tables.join(", "));
    }
    if !facts.columns.is_empty() {
        draft.detail("Columns", facts.columns.join(", "));
    }
    if matches!(
        facts.kind,
        SqlKind::Read | SqlKind::Update | SqlKind::Delete
    ) && facts.hidden_write.is_none()
    {
        draft.detail(
            "Which rows",
            facts
                .filter
                .clone()
                .unwrap_or_else(|| "all of them (no WHERE condition)".to_owned()),
        );
    }
    if facts.kind == SqlKind::Read {
        draft.detail(
            "Limit",
            facts.limit.as_ref().map_or_else(
                || format!("none in the statement; Countersign returns at most {max_rows} rows"),
                |l| format!("{l} rows (Countersign returns at most {max_rows})"),
            ),
        );
    }
    if let Some(n) = facts.row_count {
        draft.detail("Rows added", n.to_string());
    }
    draft.detail("Statement", &artifact.statement);
    Ok(draft)
}

/// Aggregates in words: `count(*)` is "the number of rows", `sum(total)` "the total of total".
fn column_words(column: &str) -> String {
    let lower = column.to_ascii_lowercase();
    let inner = |prefix: &str| {
        lower
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|s| column[prefix.len()..prefix.len() + s.len()].to_owned())
    };
    if lower == "count(*)" || lower == "count(1)" {
        "the number of rows".to_owned()
    } else if let Some(of) = inner("count(") {
        format!("the number of {of} values")
    } else if let Some(of) = inner("sum(") {
        format!("the total of {of}")
    } else if let Some(of) = inner("avg(") {
        format!("the average of {of}")
    } else if let Some(of) = inner("max(") {
        format!("the largest {of}")
    } else if let Some(of) = inner("min(") {
        format!("the smallest {of}")
    } else {
        column.to_owned()
    }
}

fn effect_words(effect: &str) -> String {
    match effect {
        "nextval" | "setval" => {
            "advances or sets a sequence counter, which cannot be rolled back".to_owned()
        }
        "pg_sleep" | "pg_sleep_for" | "pg_sleep_until" | "sleep" | "benchmark" => {
            "deliberately stalls the database".to_owned()
        }
        e if e.contains("lock") => format!("takes locks that can block others ({e})"),
        other => format!("calls {other}, which has effects beyond reading"),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
