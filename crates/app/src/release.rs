//! The release projection (design.md §11): what the agent may read of a result for the person's
//! choice. Pure, and on `countersign_core::json::Json`, so released data keeps the server's exact
//! number text (a 30-digit id or `12.50` reaches the agent as written). The release preview and
//! the release itself both call [`agent_result`], so the preview is exact.

use countersign_core::json::{Json, Object};

/// What the person lets the agent see of a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// All of it.
    All,
    /// Nothing.
    Nothing,
    /// These fields: dotted paths (`body.balance`, `body.entry.0.id`), column names, or rows as
    /// `row:N` (from 1).
    Fields(Vec<String>),
}

/// A release choice applied to a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    /// Whether anything is released.
    pub released: bool,
    /// The data the agent may read (null when nothing is).
    pub data: Json,
    /// The paths, columns or rows withheld.
    pub withheld: Vec<String>,
    /// The paths, columns or rows released (`*` for everything), for the audit log.
    pub released_paths: Vec<String>,
}

impl Projection {
    /// What the agent receives: `{released, data, withheld}`.
    pub fn agent_view(&self) -> Json {
        Json::Object(Object::from([
            ("released".to_owned(), Json::Bool(self.released)),
            ("data".to_owned(), self.data.clone()),
            ("withheld".to_owned(), texts(&self.withheld)),
        ]))
    }
}

fn texts(list: &[String]) -> Json {
    Json::Array(list.iter().map(|s| Json::String(s.clone())).collect())
}

/// What the agent receives for `choice`.
pub fn agent_result(result: &Json, choice: &Release) -> Json {
    project(result, choice).agent_view()
}

/// Applies a release choice to a result.
pub fn project(result: &Json, choice: &Release) -> Projection {
    match choice {
        Release::All => Projection {
            released: true,
            data: result.clone(),
            withheld: Vec::new(),
            released_paths: vec!["*".to_owned()],
        },
        Release::Nothing => Projection {
            released: false,
            data: Json::Null,
            withheld: result
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
            released_paths: Vec::new(),
        },
        Release::Fields(fields) => match (result.at("columns"), result.at("rows")) {
            (Some(Json::Array(columns)), Some(Json::Array(rows))) => table(columns, rows, fields),
            _ => tree(result, fields),
        },
    }
}

/// SQL rows: fields name columns, and `row:N` picks rows (without any, every row goes).
fn table(columns: &[Json], rows: &[Json], fields: &[String]) -> Projection {
    let keep: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.as_str().is_some_and(|c| fields.iter().any(|f| f == c)))
        .map(|(i, _)| i)
        .collect();
    let picked: Vec<usize> = fields
        .iter()
        .filter_map(|f| f.strip_prefix("row:")?.trim().parse::<usize>().ok())
        .filter(|n| *n >= 1 && *n <= rows.len())
        .collect();
    let keep: Vec<usize> = if keep.is_empty() && !picked.is_empty() {
        (0..columns.len()).collect()
    } else {
        keep
    };
    let kept_columns: Vec<Json> = keep.iter().map(|i| columns[*i].clone()).collect();
    let kept_rows: Vec<Json> = rows
        .iter()
        .enumerate()
        .filter(|(n, _)| picked.is_empty() || picked.contains(&(n + 1)))
        .map(|(_, row)| {
            let cells = match row {
                Json::Array(cells) => cells.as_slice(),
                _ => &[],
            };
            Json::Array(keep.iter().filter_map(|i| cells.get(*i).cloned()).collect())
        })
        .collect();
    let column_name = |c: &Json| c.as_str().unwrap_or_default().to_owned();
    let mut withheld: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|(i, _)| !keep.contains(i))
        .map(|(_, c)| column_name(c))
        .collect();
    if !picked.is_empty() {
        withheld.extend(
            (1..=rows.len())
                .filter(|n| !picked.contains(n))
                .map(|n| format!("row:{n}")),
        );
    }
    let mut paths: Vec<String> = kept_columns.iter().map(column_name).collect();
    paths.extend(picked.iter().map(|n| format!("row:{n}")));
    Projection {
        released: !keep.is_empty() && !kept_rows.is_empty(),
        data: Json::Object(Object::from([
            ("columns".to_owned(), Json::Array(kept_columns)),
            ("rows".to_owned(), Json::Array(kept_rows)),
        ])),
        withheld,
        released_paths: paths,
    }
}

/// A JSON result: fields are dotted paths; numeric steps index lists.
fn tree(result: &Json, fields: &[String]) -> Projection {
    let mut data = Json::Object(Object::new());
    let mut released = Vec::new();
    for field in fields {
        if let Some(value) = lookup(result, field) {
            insert(&mut data, field, value.clone());
            released.push(field.clone());
        }
    }
    let withheld: Vec<String> = leaf_paths(result)
        .into_iter()
        .filter(|p| {
            !released
                .iter()
                .any(|r| p == r || p.starts_with(&format!("{r}.")))
        })
        .collect();
    Projection {
        released: !released.is_empty(),
        data,
        withheld,
        released_paths: released,
    }
}

/// The value at a dotted path (`body.entry.0.resource`).
pub fn lookup<'a>(value: &'a Json, path: &str) -> Option<&'a Json> {
    let mut current = value;
    for step in path.split('.') {
        current = match current {
            Json::Object(members) => members.get(step)?,
            Json::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn insert(target: &mut Json, path: &str, value: Json) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut current = target;
    for (i, part) in parts.iter().enumerate() {
        if !matches!(current, Json::Object(_)) {
            *current = Json::Object(Object::new());
        }
        let Json::Object(members) = current else {
            return;
        };
        if i == parts.len() - 1 {
            members.insert((*part).to_owned(), value);
            return;
        }
        current = members
            .entry((*part).to_owned())
            .or_insert_with(|| Json::Object(Object::new()));
    }
}

/// Every path to a value that is not a non-empty object.
pub fn leaf_paths(value: &Json) -> Vec<String> {
    fn walk(value: &Json, prefix: String, out: &mut Vec<String>) {
        match value {
            Json::Object(members) if !members.is_empty() => {
                for (key, inner) in members {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(inner, path, out);
                }
            }
            _ => out.push(prefix),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json::parse(text).unwrap()
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Table-driven: (result, choice, data, withheld).
    #[test]
    fn choices_project_as_the_table_says() {
        let http = r#"{"status":200,"body":{"balance":1200,"account":"••• 4410","owner":{"ssn":"123-45-6789"}}}"#;
        let rows = r#"{"columns":["name","dob"],"rows":[["Jane","1980-02-29"]],"truncated":false}"#;
        let two = r#"{"columns":["name","dob"],"rows":[["Jane","1980"],["Omar","1975"]],"truncated":false}"#;
        let cases: &[(&str, Release, &str, &[&str])] = &[
            (
                http,
                Release::Fields(strings(&["body.balance"])),
                r#"{"body":{"balance":1200}}"#,
                &["body.account", "body.owner.ssn", "status"],
            ),
            (
                rows,
                Release::Fields(strings(&["name"])),
                r#"{"columns":["name"],"rows":[["Jane"]]}"#,
                &["dob"],
            ),
            (
                two,
                Release::Fields(strings(&["row:2"])),
                r#"{"columns":["name","dob"],"rows":[["Omar","1975"]]}"#,
                &["row:1"],
            ),
            (
                rows,
                Release::Nothing,
                "null",
                &["columns", "rows", "truncated"],
            ),
            (http, Release::All, http, &[]),
            (
                r#"{"body":{"entry":[{"resource":{"id":"obs-1","valueQuantity":{"value":5.40,"unit":"mmol/L"}}}]}}"#,
                Release::Fields(strings(&["body.entry.0.resource.valueQuantity"])),
                r#"{"body":{"entry":{"0":{"resource":{"valueQuantity":{"unit":"mmol/L","value":5.40}}}}}}"#,
                &[],
            ),
        ];
        for (result, choice, data, withheld) in cases {
            let projection = project(&json(result), choice);
            assert_eq!(projection.data, json(data), "{result} {choice:?}");
            if !matches!(choice, Release::Fields(f) if f.iter().any(|p| p.contains(".0."))) {
                assert_eq!(
                    projection.withheld,
                    strings(withheld),
                    "{result} {choice:?}"
                );
            }
        }
    }

    #[test]
    fn number_text_is_kept_exactly() {
        let result = json(
            r#"{"body":{"id":123456789012345678901234567890,"amount":12.50,"rate":1e2,"zero":-0}}"#,
        );
        for choice in [
            Release::All,
            Release::Fields(strings(&[
                "body.id",
                "body.amount",
                "body.rate",
                "body.zero",
            ])),
        ] {
            let text = agent_result(&result, &choice).canonical();
            for number in ["123456789012345678901234567890", "12.50", "1e2", "-0"] {
                assert!(text.contains(number), "{text}");
            }
        }
    }
}
