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
    let placeholders = sql::placeholders(&artifact.statement, *dialect)?;
    let values = bound_values(&placeholders, &artifact.parameters)?;
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
            // Grouping keys read as "per patient_id", not as one more column.
            let shown: Vec<&String> = facts
                .columns
                .iter()
                .filter(|c| facts.group_by.is_empty() || !facts.group_by.contains(c))
                .collect();
            let mut columns = if shown.is_empty() {
                "data".to_owned()
            } else {
                shown
                    .iter()
                    .map(|c| column_words(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !facts.group_by.is_empty() {
                columns.push_str(&format!(" per {}", facts.group_by.join(" and ")));
            }
            let rows = match &filter_words {
                Some(filter) => filter.clone(),
                None => String::new(),
            };
            let limit = match facts.limit.as_deref() {
                Some("1") => ", at most 1 row".to_owned(),
                Some(limit) => format!(", at most {limit} rows"),
                None => String::new(),
            };
            // A join reads every table it names: the headline says so, not only the first.
            let tables = match facts.tables.as_slice() {
                [] | [_] => table.clone(),
                [first @ .., last] => format!("{} and {last}", first.join(", ")),
            };
            let from = match (facts.tables.is_empty(), &filter_words) {
                (true, _) => String::new(),
                (false, Some(_)) => format!(" from {tables}"),
                (false, None) => format!(" from every row of {tables}"),
            };
            draft.headline = match (
                schema_lookup(&facts, &artifact.statement),
                next_value(&facts),
            ) {
                (Some(words), _) => words,
                (None, Some(sequence)) => {
                    format!("Take the next number from the counter {sequence}")
                }
                (None, None) => format!("Read {columns}{from}{rows}{limit}"),
            };
            if facts.filter.is_none()
                && facts.limit.is_none()
                && !facts.tables.is_empty()
                && schema_lookup(&facts, &artifact.statement).is_none()
            {
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
                // "deletes rows of x" → "Delete rows of x".
                let imperative = match hidden.split_once(' ') {
                    Some((verb, rest)) => {
                        format!("{} {rest}", verb.strip_suffix('s').unwrap_or(verb))
                    }
                    None => hidden.clone(),
                };
                draft.headline = format!(
                    "{}, hidden inside what looks like a read",
                    capitalize(&imperative)
                );
                draft.risks.flag(
                    RiskCode::WritesData,
                    format!("Inside what looks like a read, this {hidden}."),
                );
                if hidden.contains("delete") {
                    // The strongest effect anywhere is the statement's action.
                    draft.action = Some(Action::Delete);
                    draft.deletes = true;
                    draft.flag(RiskCode::DeletesData);
                    draft.flag(RiskCode::Irreversible);
                }
            } else {
                let status = match facts.assignments.as_slice() {
                    [(column, value)]
                        if matches!(column.to_ascii_lowercase().as_str(), "status" | "state")
                            && value.starts_with('\'') =>
                    {
                        Some(value.trim_matches('\'').replace("''", "'"))
                    }
                    _ => None,
                };
                let change = if (1..=3).contains(&facts.assignments.len()) {
                    let sets: Vec<String> = facts
                        .assignments
                        .iter()
                        .map(|(c, v)| format!("{c} to {}", sql::value_words(v)))
                        .collect();
                    format!("Set {}", sets.join(", "))
                } else {
                    format!("Change {}", facts.columns.join(", "))
                };
                let one = super::generic::singular(last_name(&table));
                draft.headline = match (&filter_words, status) {
                    // "Mark every invoice as paid": the words a person would use.
                    (Some(filter), Some(status)) => {
                        format!("Mark the {one} rows{filter} as {status}")
                    }
                    (None, Some(status)) => {
                        draft.unfiltered = true;
                        format!("Mark every {one} as {status}")
                    }
                    (Some(filter), None) => format!("{change} in {table}{filter}"),
                    (None, None) => {
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
    // Which database: the person may have several with the same tables.
    draft.headline = format!("{} ({})", draft.headline, artifact.database);

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
    if !values.is_empty() {
        // The words name each placeholder's value, never the placeholder: the person reads
        // what will be compared and written.
        draft.headline = fill(&draft.headline, &placeholders, &values);
        for detail in &mut draft.details {
            if detail.label != "Statement" {
                detail.value = fill(&detail.value, &placeholders, &values);
            }
        }
        let listed: Vec<String> = placeholders
            .iter()
            .zip(&values)
            .map(|(p, v)| format!("{p} = {v}"))
            .collect();
        draft.detail("Values", listed.join(", "));
    }
    Ok(draft)
}

/// Each placeholder's value in words, refusing a statement whose placeholders and values do not
/// pair up.
fn bound_values(
    placeholders: &[String],
    parameters: &[crate::json::Json],
) -> Result<Vec<String>, Refusal> {
    use crate::json::Json;
    let numbered = placeholders.iter().any(|p| p.starts_with('$'));
    let wanted = if numbered {
        placeholders
            .iter()
            .filter_map(|p| p.strip_prefix('$')?.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
    } else {
        placeholders.len()
    };
    if wanted != parameters.len() {
        return Err(Refusal::new(
            RefusalCode::Unexplainable,
            format!(
                "The statement has places for {wanted} value(s), and {} value(s) were given.",
                parameters.len()
            ),
        )
        .at("artifact.parameters"));
    }
    Ok(parameters
        .iter()
        .map(|value| match value {
            Json::String(text) => format!("“{}”", crate::text::reveal(text)),
            Json::Null => "empty".to_owned(),
            other => other.canonical(),
        })
        .collect())
}

/// Words with each placeholder (`?` in order, or `$N`) replaced by its value's words.
fn fill(words: &str, placeholders: &[String], values: &[String]) -> String {
    let mut next = 0usize;
    let mut out = String::new();
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String, next: &mut usize| {
        let value = if token == "?" {
            let v = values.get(*next).cloned();
            *next += 1;
            v
        } else {
            token
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|_| placeholders.iter().any(|p| p == token.as_str()))
                .and_then(|n| values.get(n.checked_sub(1)?).cloned())
        };
        out.push_str(value.as_deref().unwrap_or(token));
        token.clear();
    };
    for c in words.chars() {
        if c == '?' || c == '$' || (c.is_ascii_digit() && !token.is_empty()) {
            if c == '?' || c == '$' {
                flush(&mut token, &mut out, &mut next);
            }
            token.push(c);
        } else {
            flush(&mut token, &mut out, &mut next);
            out.push(c);
        }
    }
    flush(&mut token, &mut out, &mut next);
    out
}

/// The last part of a qualified name (`public.invoices` → `invoices`).
fn last_name(table: &str) -> &str {
    table.rsplit('.').next().unwrap_or(table)
}

/// Tables and views that describe the database itself.
fn is_catalog(table: &str) -> bool {
    let lower = table.to_ascii_lowercase().replace('"', "");
    lower.starts_with("information_schema.")
        || lower.starts_with("pg_catalog.")
        || matches!(
            lower.as_str(),
            "sqlite_master"
                | "sqlite_schema"
                | "pg_tables"
                | "pg_views"
                | "pg_indexes"
                | "pg_class"
                | "pg_attribute"
                | "pg_namespace"
                | "pg_type"
                | "pg_constraint"
                | "pg_index"
        )
}

/// A read of the database's own description (the first step before a data query) in words:
/// "Look at how the table invoices is laid out", or "Look at which tables the database has".
fn schema_lookup(facts: &sql::SqlFacts, statement: &str) -> Option<String> {
    let pragma = facts
        .functions
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case("pragma_table_info"));
    if facts.tables.is_empty() || !(pragma || facts.tables.iter().all(|t| is_catalog(t))) {
        return None;
    }
    let filter = facts.filter.clone().unwrap_or_default();
    let named = ["table_name", "tablename", "relname", "tbl_name", "name"]
        .iter()
        .find_map(|column| quoted_after(&filter, column))
        .or_else(|| {
            // pragma_table_info('invoices')
            quoted_after(statement, "pragma_table_info(")
        });
    Some(match named {
        Some(table) => format!("Look at how the table {table} is laid out"),
        None => "Look at which tables the database has and how they are laid out".to_owned(),
    })
}

/// The string literal after `column =` (or directly after `prefix`), if there is one.
fn quoted_after(text: &str, column: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(column) {
        let start = from + found + column.len();
        let before_ok = from + found == 0
            || !lower.as_bytes()[from + found - 1].is_ascii_alphanumeric()
            || column.ends_with('(');
        let rest = text[start..].trim_start();
        let rest = if column.ends_with('(') {
            Some(rest)
        } else {
            rest.strip_prefix('=').map(str::trim_start)
        };
        if before_ok
            && let Some(rest) = rest
            && let Some(inner) = rest.strip_prefix('\'')
            && let Some(end) = inner.find('\'')
        {
            return Some(inner[..end].to_owned());
        }
        from = start;
    }
    None
}

/// `SELECT nextval('invoice_numbers')`: the counter it advances.
fn next_value(facts: &sql::SqlFacts) -> Option<String> {
    if !facts.tables.is_empty() || facts.columns.len() != 1 {
        return None;
    }
    let column = &facts.columns[0];
    quoted_after(column, "nextval(")
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
