//! SQL statements, read through `sqlparser` in the database's dialect.
//!
//! Exactly one statement is accepted, from a short list of kinds Countersign can explain. The whole
//! syntax tree is walked, so a write hidden in a CTE, `SELECT … INTO`, a locking clause or a
//! function with side effects is seen even inside what looks like a read.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FromTable, LimitClause, ObjectName, Query, SelectItem, SetExpr, Statement,
    visit_relations, visit_statements,
};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::credential::SqlDialect;
use crate::refusal::{Refusal, RefusalCode};

/// What a statement does, as far as the person is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlKind {
    /// Reads rows.
    Read,
    /// Adds rows.
    Insert,
    /// Changes rows.
    Update,
    /// Removes rows.
    Delete,
    /// Creates, changes or removes tables, views or indexes.
    SchemaChange,
}

/// What Countersign learned from a statement's syntax tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlFacts {
    /// The statement's kind (a write anywhere inside makes a read a write; see `hidden_write`).
    pub kind: SqlKind,
    /// The table written to, or the first table read.
    pub target: Option<String>,
    /// Every table the statement touches.
    pub tables: Vec<String>,
    /// Selected, inserted or assigned columns, as written.
    pub columns: Vec<String>,
    /// The `WHERE` condition, as written.
    pub filter: Option<String>,
    /// The `WHERE` condition in words ("status is 'unpaid' and due is less than '2026-01-01'").
    pub filter_words: Option<String>,
    /// The `LIMIT`, as written.
    pub limit: Option<String>,
    /// For updates, each column and the value it is set to, as written.
    pub assignments: Vec<(String, String)>,
    /// For inserts from `VALUES`, how many rows.
    pub row_count: Option<usize>,
    /// A data-changing statement nested inside a read (a CTE with DML, `SELECT … INTO`).
    pub hidden_write: Option<String>,
    /// Functions or clauses with effects beyond reading (locks, sequences, sleeps).
    pub side_effects: Vec<String>,
    /// For schema changes, a short description (`drop table invoices`).
    pub schema_action: Option<String>,
    /// Every function the statement calls, anywhere in it.
    pub functions: Vec<FunctionCall>,
    /// A read's `GROUP BY` expressions, as written.
    pub group_by: Vec<String>,
}

/// Functions that reach outside the database or change server state: never run for an agent,
/// whatever the credential. Compared in lower case (stricter than PostgreSQL's rules for quoted
/// names); [`FORBIDDEN_PREFIXES`] and [`FORBIDDEN_SUFFIXES`] close their families.
const FORBIDDEN_FUNCTIONS: &[&str] = &[
    "pg_stat_file",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "set_config",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "query_to_xml_and_xmlschema",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "load_file",
    "pg_execute_server_program",
];

/// Families of dangerous functions, by the start of their names.
const FORBIDDEN_PREFIXES: &[&str] = &[
    "pg_read_",
    "pg_ls_",
    "pg_file_",
    "lo_",
    "dblink",
    "pg_replication_",
    "pg_create_",
    "pg_drop_",
    "pg_wal_",
    "pg_backup",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_logical_",
    "pg_import_",
    "pg_signal_",
    "pg_log_",
    "sys_",
];

/// Families of dangerous functions, by the end of their names (`query_to_xml`, `table_to_xml`…
/// run a query given as text).
const FORBIDDEN_SUFFIXES: &[&str] = &["_to_xml", "_to_xmlschema"];

/// Functions with effects a person should know about, but that may run (read-write only).
const EFFECT_FUNCTIONS: &[&str] = &[
    "nextval",
    "setval",
    "pg_sleep",
    "pg_sleep_for",
    "pg_sleep_until",
    "sleep",
    "benchmark",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_try_advisory_lock",
    "get_lock",
    "pg_notify",
    "random_bytes",
    "txid_current",
    "pg_current_xact_id",
];

/// The functions a read-only credential may call: pure computations on the values read. Anything
/// else — including a function of the same name in another schema — is refused, so a function
/// nobody thought of (or one spelled with quotes and escapes) cannot read a file or run a query.
const READ_ONLY_FUNCTIONS: &[&str] = &[
    // aggregates and windows
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "total",
    "group_concat",
    "string_agg",
    "array_agg",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "json_group_array",
    "json_group_object",
    "bool_and",
    "bool_or",
    "every",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "median",
    "percentile_cont",
    "percentile_disc",
    "mode",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // conditionals and comparison
    "coalesce",
    "nullif",
    "ifnull",
    "iif",
    "greatest",
    "least",
    "nvl",
    "if",
    // text
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "btrim",
    "replace",
    "concat",
    "concat_ws",
    "left",
    "right",
    "lpad",
    "rpad",
    "position",
    "strpos",
    "instr",
    "initcap",
    "split_part",
    "reverse",
    "repeat",
    "format",
    "printf",
    "quote_ident",
    "quote_literal",
    "regexp_replace",
    "regexp_matches",
    "regexp_match",
    "regexp_like",
    "regexp_substr",
    "regexp_split_to_array",
    "starts_with",
    "translate",
    "to_char",
    "char",
    "unicode",
    "ascii",
    "chr",
    "hex",
    "unhex",
    "md5",
    "soundex",
    "like",
    "glob",
    "string_to_array",
    "array_to_string",
    // numbers
    "abs",
    "round",
    "ceil",
    "ceiling",
    "floor",
    "trunc",
    "mod",
    "power",
    "pow",
    "sqrt",
    "sign",
    "exp",
    "ln",
    "log",
    "log10",
    "div",
    "to_number",
    "width_bucket",
    "random",
    // dates and times
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "date",
    "time",
    "datetime",
    "julianday",
    "strftime",
    "unixepoch",
    "timediff",
    "date_trunc",
    "date_part",
    "date_bin",
    "extract",
    "age",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "to_date",
    "to_timestamp",
    "timezone",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "isfinite",
    // JSON and arrays
    "json",
    "jsonb",
    "json_extract",
    "json_object",
    "json_array",
    "json_array_length",
    "json_type",
    "json_valid",
    "json_quote",
    "json_each",
    "json_tree",
    "jsonb_each",
    "jsonb_each_text",
    "json_each_text",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "jsonb_array_length",
    "json_typeof",
    "jsonb_typeof",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "json_extract_path",
    "json_extract_path_text",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "json_array_elements",
    "json_array_elements_text",
    "jsonb_object_keys",
    "json_object_keys",
    "to_json",
    "to_jsonb",
    "row_to_json",
    "jsonb_pretty",
    "jsonb_strip_nulls",
    "array_length",
    "cardinality",
    "unnest",
    "array_position",
    "array_remove",
    "array_append",
    "generate_series",
    "range",
    // types and casts
    "cast",
    "typeof",
    "pg_typeof",
    "format_type",
    "quote",
    "zeroblob",
    "likely",
    "unlikely",
    // the database's own description (schema look-ups before a data query)
    "format_type",
    "pg_get_expr",
    "pg_get_constraintdef",
    "pg_get_indexdef",
    "pg_get_viewdef",
    "col_description",
    "obj_description",
    "pg_table_is_visible",
    "pragma_table_info",
    "pragma_table_xinfo",
    "pragma_index_list",
    "pragma_foreign_key_list",
    // who and where (no secrets: names only)
    "current_user",
    "session_user",
    "user",
    "current_schema",
    "current_database",
];

/// Whether a read-only credential may call the function of this (resolved) name.
pub fn is_plain_calculation(name: &str) -> bool {
    READ_ONLY_FUNCTIONS.contains(&name)
}

/// A function the statement calls, anywhere in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCall {
    /// The name as the database resolves it (lower case unless quoted in PostgreSQL).
    pub name: String,
    /// The schema it is qualified with, the same way, if any.
    pub schema: Option<String>,
    /// The name as written.
    pub written: String,
}

impl FunctionCall {
    fn forbidden(&self) -> bool {
        let name = self.name.to_lowercase();
        FORBIDDEN_FUNCTIONS.contains(&name.as_str())
            || FORBIDDEN_PREFIXES.iter().any(|p| name.starts_with(p))
            || FORBIDDEN_SUFFIXES.iter().any(|s| name.ends_with(s))
    }

    /// Whether a read-only credential may call it (see `READ_ONLY_FUNCTIONS`).
    pub fn allowed_read_only(&self) -> bool {
        let schema_ok = match self.schema.as_deref() {
            None => true,
            Some(schema) => matches!(schema, "pg_catalog" | "main"),
        };
        schema_ok && is_plain_calculation(&self.name)
    }
}

/// Collects every function called, in any position: expressions anywhere (select list, filters,
/// joins, CTEs, defaults, `VALUES`) and functions used as tables in `FROM`.
struct Calls {
    dialect: SqlDialect,
    calls: Vec<FunctionCall>,
    unclear: Option<String>,
}

impl Calls {
    fn ident(&self, ident: &sqlparser::ast::Ident) -> String {
        // PostgreSQL folds unquoted names to lower case and keeps quoted ones exactly; SQLite and
        // MySQL compare function names ignoring case.
        match (self.dialect, ident.quote_style) {
            (SqlDialect::Postgres, Some(_)) => ident.value.clone(),
            _ => ident.value.to_lowercase(),
        }
    }

    fn push(&mut self, object: &ObjectName) {
        let mut parts = Vec::new();
        for part in &object.0 {
            match part {
                sqlparser::ast::ObjectNamePart::Identifier(ident) => parts.push(self.ident(ident)),
                other => {
                    self.unclear = Some(other.to_string());
                    return;
                }
            }
        }
        let Some(name) = parts.pop() else {
            return;
        };
        let schema = (!parts.is_empty()).then(|| parts.join("."));
        self.calls.push(FunctionCall {
            name,
            schema,
            written: object.to_string(),
        });
    }
}

impl sqlparser::ast::Visitor for Calls {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            self.push(&function.name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &sqlparser::ast::TableFactor) -> ControlFlow<()> {
        match factor {
            sqlparser::ast::TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | sqlparser::ast::TableFactor::Function { name, .. } => self.push(name),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

fn dialect(dialect: SqlDialect) -> Box<dyn Dialect> {
    match dialect {
        SqlDialect::Sqlite => Box::new(SQLiteDialect {}),
        SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
        SqlDialect::Mysql => Box::new(MySqlDialect {}),
    }
}

fn name(object: &ObjectName) -> String {
    object.to_string()
}

/// Parses and classifies one statement.
///
/// # Errors
/// `unexplainable` when it does not parse or is of a kind we do not explain,
/// `multiple_statements`, or `forbidden_statement`.
pub fn classify(statement: &str, sql_dialect: SqlDialect) -> Result<SqlFacts, Refusal> {
    let field = "artifact.statement";
    let parsed = Parser::parse_sql(dialect(sql_dialect).as_ref(), statement).map_err(|error| {
        Refusal::new(
            RefusalCode::Unexplainable,
            format!("The statement is not valid SQL for this database ({error})."),
        )
        .at(field)
    })?;
    let statement = match parsed.as_slice() {
        [one] => one,
        [] => {
            return Err(
                Refusal::new(RefusalCode::Unexplainable, "The statement is empty.").at(field),
            );
        }
        many => {
            return Err(Refusal::new(
                RefusalCode::MultipleStatements,
                format!(
                    "There are {} statements; propose exactly one at a time.",
                    many.len()
                ),
            )
            .at(field));
        }
    };
    let forbidden = |what: &str| {
        Refusal::new(
            RefusalCode::ForbiddenStatement,
            format!("{what} is never run for an agent."),
        )
        .at(field)
    };

    let mut tables = Vec::new();
    let _ = visit_relations(statement, |relation| {
        let relation = name(relation);
        if !tables.contains(&relation) {
            tables.push(relation);
        }
        ControlFlow::<()>::Continue(())
    });

    let mut calls = Calls {
        dialect: sql_dialect,
        calls: Vec::new(),
        unclear: None,
    };
    let _ = sqlparser::ast::Visit::visit(statement, &mut calls);
    if let Some(unclear) = calls.unclear {
        return Err(Refusal::new(
            RefusalCode::Unexplainable,
            format!("The name {unclear} is computed, so Countersign cannot tell what it calls."),
        )
        .at(field));
    }
    if let Some(function) = calls.calls.iter().find(|c| c.forbidden()) {
        return Err(forbidden(&format!(
            "The function {}() reaches outside the database or changes the server, and",
            function.written
        )));
    }
    let mut side_effects = Vec::new();
    for call in &calls.calls {
        let name = call.name.to_lowercase();
        if EFFECT_FUNCTIONS.contains(&name.as_str()) && !side_effects.contains(&name) {
            side_effects.push(name);
        }
    }

    // Nested statements: visit_statements sees the outer one first, then any inside it.
    let mut nested = Vec::new();
    let _ = visit_statements(statement, |inner| {
        if !std::ptr::eq(inner, statement) {
            nested.push(inner.clone());
        }
        ControlFlow::<()>::Continue(())
    });
    let hidden_write = nested.iter().find_map(|inner| match inner {
        Statement::Insert(insert) => Some(format!("adds rows to {}", insert.table)),
        Statement::Update(update) => Some(format!("changes rows of {}", update.table)),
        Statement::Delete(delete) => {
            let from = match &delete.from {
                FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from) => from,
            };
            Some(match from.first() {
                Some(table) => format!("deletes rows of {}", table.relation),
                None => "deletes rows".to_owned(),
            })
        }
        Statement::Query(_) => None,
        other => Some(format!("runs {}", first_words(&other.to_string()))),
    });

    let mut facts = SqlFacts {
        kind: SqlKind::Read,
        target: None,
        tables,
        columns: Vec::new(),
        filter: None,
        filter_words: None,
        limit: None,
        row_count: None,
        assignments: Vec::new(),
        hidden_write,
        side_effects,
        schema_action: None,
        functions: calls.calls,
        group_by: Vec::new(),
    };

    match statement {
        Statement::Query(query) => read_query(query, &mut facts)?,
        Statement::Insert(insert) => {
            facts.kind = SqlKind::Insert;
            facts.target = Some(insert.table.to_string());
            facts.columns = insert.columns.iter().map(ToString::to_string).collect();
            if let Some(source) = &insert.source
                && let SetExpr::Values(values) = source.body.as_ref()
            {
                facts.row_count = Some(values.rows.len());
            }
        }
        Statement::Update(update) => {
            facts.kind = SqlKind::Update;
            facts.target = Some(update.table.relation.to_string());
            facts.columns = update
                .assignments
                .iter()
                .map(|a| a.target.to_string())
                .collect();
            facts.assignments = update
                .assignments
                .iter()
                .map(|a| (a.target.to_string(), a.value.to_string()))
                .collect();
            facts.filter = update.selection.as_ref().map(ToString::to_string);
            facts.filter_words = update.selection.as_ref().map(condition_words);
            facts.limit = update.limit.as_ref().map(ToString::to_string);
        }
        Statement::Delete(delete) => {
            facts.kind = SqlKind::Delete;
            let from = match &delete.from {
                FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from) => from,
            };
            facts.target = delete
                .tables
                .first()
                .map(name)
                .or_else(|| from.first().map(|t| t.relation.to_string()));
            facts.filter = delete.selection.as_ref().map(ToString::to_string);
            facts.filter_words = delete.selection.as_ref().map(condition_words);
            facts.limit = delete.limit.as_ref().map(ToString::to_string);
        }
        Statement::CreateTable(create) => {
            facts.kind = SqlKind::SchemaChange;
            facts.target = Some(name(&create.name));
            facts.schema_action = Some(format!("create the table {}", create.name));
        }
        Statement::CreateView(view) => {
            facts.kind = SqlKind::SchemaChange;
            facts.target = Some(name(&view.name));
            facts.schema_action = Some(format!("create the view {}", view.name));
        }
        Statement::CreateIndex(index) => {
            facts.kind = SqlKind::SchemaChange;
            facts.target = Some(name(&index.table_name));
            facts.schema_action = Some(format!("add an index to {}", index.table_name));
        }
        Statement::AlterTable(alter) => {
            facts.kind = SqlKind::SchemaChange;
            facts.target = Some(name(&alter.name));
            facts.schema_action = Some(format!("change the structure of {}", alter.name));
        }
        Statement::Drop {
            object_type, names, ..
        } => {
            facts.kind = SqlKind::SchemaChange;
            let list = names.iter().map(name).collect::<Vec<_>>().join(", ");
            facts.target = names.first().map(name);
            facts.schema_action = Some(format!(
                "remove the {} {list} and everything in it",
                object_type.to_string().to_lowercase()
            ));
        }
        Statement::Truncate(truncate) => {
            facts.kind = SqlKind::Delete;
            facts.target = truncate.table_names.first().map(|t| t.name.to_string());
        }
        Statement::Copy { .. } => {
            return Err(forbidden(
                "COPY (which can read or write files and run programs)",
            ));
        }
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => {
            return Err(forbidden(
                "Transaction control (Countersign runs each statement in its own transaction)",
            ));
        }
        Statement::Set(_) | Statement::Reset(_) => {
            return Err(forbidden("Changing session settings (SET)"));
        }
        Statement::Grant(_)
        | Statement::Revoke(_)
        | Statement::GrantRole(_)
        | Statement::RevokeRole(_)
        | Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::CreateUser(_)
        | Statement::AlterUser(_) => {
            return Err(forbidden("Changing who may do what (GRANT, REVOKE, roles)"));
        }
        other => {
            return Err(forbidden(&format!(
                "This kind of statement ({})",
                first_words(&other.to_string())
            )));
        }
    }
    Ok(facts)
}

fn read_query(query: &Query, facts: &mut SqlFacts) -> Result<(), Refusal> {
    if !query.locks.is_empty() {
        facts
            .side_effects
            .push("locks the rows it reads (FOR UPDATE/SHARE)".to_owned());
    }
    facts.limit = query.limit_clause.as_ref().and_then(|clause| match clause {
        LimitClause::LimitOffset { limit, .. } => limit.as_ref().map(ToString::to_string),
        LimitClause::OffsetCommaLimit { limit, .. } => Some(limit.to_string()),
    });
    if let Some(fetch) = &query.fetch {
        facts.limit = fetch.quantity.as_ref().map(ToString::to_string);
    }
    let mut body = query.body.as_ref();
    while let SetExpr::Query(inner) = body {
        body = inner.body.as_ref();
    }
    match body {
        SetExpr::Select(select) => {
            facts.columns = select
                .projection
                .iter()
                .map(|item| match item {
                    SelectItem::Wildcard(_) => "every column".to_owned(),
                    SelectItem::QualifiedWildcard(object, _) => format!("every column of {object}"),
                    other => other.to_string(),
                })
                .collect();
            facts.filter = select.selection.as_ref().map(ToString::to_string);
            facts.filter_words = select.selection.as_ref().map(condition_words);
            facts.target = select.from.first().map(|t| t.relation.to_string());
            if let sqlparser::ast::GroupByExpr::Expressions(exprs, _) = &select.group_by {
                facts.group_by = exprs.iter().map(ToString::to_string).collect();
            }
            if let Some(into) = &select.into {
                facts.kind = SqlKind::SchemaChange;
                let table = into
                    .targets
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                facts.hidden_write = Some(format!("creates the table {table} from the result"));
                facts.schema_action = Some(format!("create the table {table}"));
            }
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            facts
                .hidden_write
                .get_or_insert_with(|| "changes data".to_owned());
        }
        _ => {
            facts.target = facts.tables.first().cloned();
        }
    }
    if facts.kind == SqlKind::Read && facts.hidden_write.is_some() {
        // A "read" that writes is explained as the write it is.
        facts.kind = SqlKind::Update;
    }
    Ok(())
}

/// The statement's placeholders for bound values, in order: `?` (SQLite) or `$1`, `$2`, …
/// (PostgreSQL). Other spellings (`?1`, `:name`, `@name`) are refused, so the words can always
/// say which value goes where.
///
/// # Errors
/// `unexplainable` for another spelling, or a statement the tokenizer cannot read.
pub fn placeholders(statement: &str, sql_dialect: SqlDialect) -> Result<Vec<String>, Refusal> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = dialect(sql_dialect);
    let tokens = Tokenizer::new(dialect.as_ref(), statement)
        .tokenize()
        .map_err(|e| {
            Refusal::new(
                RefusalCode::Unexplainable,
                format!("The statement is not valid SQL for this database ({e})."),
            )
            .at("artifact.statement")
        })?;
    let mut found = Vec::new();
    for token in tokens {
        if let Token::Placeholder(p) = token {
            let numbered = p
                .strip_prefix('$')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if p != "?" && !numbered {
                return Err(Refusal::new(
                    RefusalCode::Unexplainable,
                    format!("The placeholder {p} is not one Countersign reads: use ? (SQLite) or $1, $2, … (PostgreSQL)."),
                )
                .at("artifact.statement"));
            }
            found.push(p);
        }
    }
    Ok(found)
}

/// A condition in words, for the common shapes; anything else stays as written.
pub fn condition_words(expr: &Expr) -> String {
    use sqlparser::ast::BinaryOperator as Op;
    match expr {
        Expr::BinaryOp { left, op, right } => {
            let verb = match op {
                Op::Eq => "is",
                Op::NotEq => "is not",
                Op::Lt => "is less than",
                Op::Gt => "is more than",
                Op::LtEq => "is at most",
                Op::GtEq => "is at least",
                Op::And => "and",
                Op::Or => "or",
                _ => return expr.to_string(),
            };
            format!(
                "{} {verb} {}",
                condition_words(left),
                condition_words(right)
            )
        }
        Expr::IsNull(inner) => format!("{} is empty", condition_words(inner)),
        Expr::IsNotNull(inner) => format!("{} is not empty", condition_words(inner)),
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => format!(
            "{} is {}between {} and {}",
            condition_words(expr),
            if *negated { "not " } else { "" },
            condition_words(low),
            condition_words(high)
        ),
        Expr::Like {
            negated,
            expr,
            pattern,
            ..
        } => format!(
            "{} {} the pattern {}",
            condition_words(expr),
            if *negated {
                "does not match"
            } else {
                "matches"
            },
            condition_words(pattern)
        ),
        Expr::Nested(inner) => format!("({})", condition_words(inner)),
        other => value_words(&other.to_string()),
    }
}

/// A value as a person reads it: a string literal in curly quotes (`'paid'` is “paid”), anything
/// else as written.
pub fn value_words(sql: &str) -> String {
    match sql.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(inner) if !inner.is_empty() || sql.len() == 2 => {
            format!("“{}”", inner.replace("''", "'"))
        }
        _ => sql.to_owned(),
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> Result<SqlFacts, Refusal> {
        classify(sql, SqlDialect::Postgres)
    }

    #[test]
    fn reads_are_described() {
        let facts = pg("SELECT name, dob FROM patients WHERE id = 42 LIMIT 10").unwrap();
        assert_eq!(facts.kind, SqlKind::Read);
        assert_eq!(facts.columns, ["name", "dob"]);
        assert_eq!(facts.filter.as_deref(), Some("id = 42"));
        assert_eq!(facts.filter_words.as_deref(), Some("id is 42"));
        let words = pg("DELETE FROM t WHERE (a >= 1 OR b IS NULL) AND c BETWEEN 1 AND 5").unwrap();
        assert_eq!(
            words.filter_words.as_deref(),
            Some("(a is at least 1 or b is empty) and c is between 1 and 5")
        );
        assert_eq!(facts.limit.as_deref(), Some("10"));
        assert_eq!(facts.tables, ["patients"]);
    }

    #[test]
    fn a_cte_that_deletes_is_a_write() {
        let facts = pg("WITH gone AS (DELETE FROM invoices RETURNING *) SELECT count(*) FROM gone")
            .unwrap();
        assert_eq!(facts.kind, SqlKind::Update);
        assert!(facts.hidden_write.is_some());
    }

    #[test]
    fn select_into_creates_a_table() {
        let facts = pg("SELECT * INTO copy_of_patients FROM patients").unwrap();
        assert_eq!(facts.kind, SqlKind::SchemaChange);
    }

    #[test]
    fn refusals() {
        let code = |sql| pg(sql).unwrap_err().code;
        assert_eq!(code("SELECT 1; SELECT 2"), RefusalCode::MultipleStatements);
        assert_eq!(code("SELEC 1"), RefusalCode::Unexplainable);
        assert_eq!(
            code("COPY t TO PROGRAM 'curl evil'"),
            RefusalCode::ForbiddenStatement
        );
        assert_eq!(code("BEGIN"), RefusalCode::ForbiddenStatement);
        assert_eq!(
            code("SET statement_timeout = 0"),
            RefusalCode::ForbiddenStatement
        );
        assert_eq!(
            code("GRANT ALL ON patients TO public"),
            RefusalCode::ForbiddenStatement
        );
        assert_eq!(
            code("SELECT pg_read_file('/etc/passwd')"),
            RefusalCode::ForbiddenStatement
        );
        assert_eq!(
            classify("ATTACH DATABASE '/tmp/x.db' AS x", SqlDialect::Sqlite)
                .unwrap_err()
                .code,
            RefusalCode::ForbiddenStatement
        );
    }

    #[test]
    fn locks_and_sequences_are_side_effects() {
        assert!(
            !pg("SELECT * FROM t FOR UPDATE")
                .unwrap()
                .side_effects
                .is_empty()
        );
        assert!(!pg("SELECT nextval('s')").unwrap().side_effects.is_empty());
    }
}
