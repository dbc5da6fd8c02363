//! How records become what a screen shows: the pure mapping from the lifecycle's records, the
//! audit log's entries and the vault's credentials to the views of [`crate::views`], and back
//! from the screen's forms and choices. No store is read here and no rule is decided: the desk
//! reads, decides, and asks this module for the words.

use countersign_audit::{Actor, ActorKind, Entry, Filter};
use countersign_core::credential::{CredentialKind, CredentialMeta, HttpAuth};
use countersign_core::result::ResultWords;
use countersign_core::{Action, Artifact, Severity};

use crate::error::AppError;
use crate::record::{Line, Record};
use crate::release::Release;
use crate::views::{
    AgentConfig, AlertView, ArtifactKind, AuditLine, AuditQuery, CredentialForm,
    CredentialKindName, CredentialView, DetailView, FactView, ProposalLine, ProposalView,
    ReleaseChoice, ReleaseKind, ReleaseRule, ResultWordsView, RiskView, SigningView,
};

/// Short, distinct words for typed confirmations.
pub const WORDS: &[&str] = &[
    "amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "iris", "juniper",
    "kestrel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron",
    "thistle", "umber", "violet", "willow", "yarrow", "zephyr", "copper", "falcon", "granite",
];

/// The EPCS attestation (21 CFR 1311.140(a)(3)): on screen while the code is entered.
pub const ATTESTATION: &str = "I am the prescriber. I have reviewed the prescription shown above, \
it is correct, and I intend to sign it. Entering my second-factor code is my signature \
(21 CFR 1311.140).";

fn action(action: Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".into())
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A proposal's inbox line, from its full record.
pub fn line(record: &Record) -> ProposalLine {
    let with = |s: Severity| {
        count(
            record
                .explanation
                .risks
                .iter()
                .filter(|r| r.severity == s)
                .count(),
        )
    };
    ProposalLine {
        id: record.id.clone(),
        agent: record.agent.clone(),
        received_at: record.received_at.clone(),
        status: record.status,
        routine_id: record.routine_id.clone(),
        headline: record.explanation.headline.clone(),
        action: action(record.explanation.action),
        danger: with(Severity::Danger),
        caution: with(Severity::Caution),
    }
}

/// A proposal's inbox line, from the few columns the store read for it.
pub fn inbox_line(line: Line) -> ProposalLine {
    ProposalLine {
        id: line.id,
        agent: line.agent,
        received_at: line.received_at,
        status: line.status,
        routine_id: line.routine_id,
        headline: line.headline,
        action: line.action,
        danger: u32::try_from(line.danger).unwrap_or(u32::MAX),
        caution: u32::try_from(line.caution).unwrap_or(u32::MAX),
    }
}

/// Whether any risk is a `danger`.
pub fn has_danger(record: &Record) -> bool {
    record
        .explanation
        .risks
        .iter()
        .any(|r| r.severity == Severity::Danger)
}

/// The review screen's view of a record. `artifact` is the record's typed artifact when its
/// stored text still matches its hash (the view then says where it goes and what kind it is);
/// `release_default` is its credential's rule; `words` the result in words.
pub fn proposal_view(
    record: &Record,
    artifact: Option<&Artifact>,
    release_default: ReleaseRule,
    words: Option<ResultWords>,
) -> ProposalView {
    let e = &record.explanation;
    // The exact text that was hashed, indented: numbers and strings exactly as approved.
    let pretty = countersign_core::json::Json::parse(&record.artifact)
        .map(|json| json.pretty())
        .unwrap_or_else(|_| record.artifact.clone());
    ProposalView {
        line: line(record),
        kind: artifact.map(ArtifactKind::from),
        details: e
            .details
            .iter()
            .map(|d| DetailView {
                label: d.label.clone(),
                value: d.value.clone(),
            })
            .collect(),
        risks: e
            .risks
            .iter()
            .map(|r| RiskView {
                code: r.code.as_str().to_owned(),
                severity: r.severity.into(),
                message: r.message.clone(),
            })
            .collect(),
        agent_summary: e.agent_summary.clone(),
        purpose: countersign_core::text::reveal(&record.purpose),
        mismatch: e
            .risks
            .iter()
            .any(|r| r.code == countersign_core::RiskCode::SummaryMismatch),
        credential: artifact.and_then(|a| a.credential_name().map(str::to_owned)),
        destination: destination(artifact),
        artifact_text: countersign_core::text::reveal(&pretty),
        artifact_sha256: record.artifact_sha256.clone(),
        requires_second_factor: e.requires_second_factor,
        signing: (e.action == Action::Prescribe && e.requires_second_factor).then(|| SigningView {
            attestation: ATTESTATION.to_owned(),
        }),
        confirmation_word: has_danger(record).then(|| confirmation_word(&record.artifact_sha256)),
        decided_at: record.decided_at.clone(),
        decided_by: record.decided_by.clone(),
        first_approved_by: record.first_approved_by.clone(),
        reason: record.reason.clone(),
        result: record
            .result
            .as_ref()
            .map(countersign_core::json::Json::to_display),
        released: record
            .released
            .as_ref()
            .map(countersign_core::json::Json::to_display),
        release_default,
        result_words: words.map(|w| ResultWordsView {
            summary: w.summary,
            facts: w
                .facts
                .into_iter()
                .map(|f| FactView {
                    label: f.label,
                    value: f.value,
                    paths: f.paths,
                    sensitive: f.sensitive,
                })
                .collect(),
        }),
    }
}

/// A credential on the credentials screen.
pub fn credential_view(meta: &CredentialMeta, release_default: ReleaseRule) -> CredentialView {
    CredentialView {
        name: meta.name.clone(),
        kind: match meta.kind {
            CredentialKind::Http { .. } => CredentialKindName::Http,
            CredentialKind::Sql { .. } => CredentialKindName::Sql,
            CredentialKind::Smtp { .. } => CredentialKindName::Smtp,
        },
        description: meta.description.clone(),
        scope: scope_words(meta),
        release_default,
    }
}

/// An alert from a `credential.scope_violation` entry.
pub fn alert(entry: &Entry) -> AlertView {
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap_or_default();
    AlertView {
        at: entry.at.clone(),
        agent: entry.actor.name.clone(),
        credential: entry.credential.clone().unwrap_or_default(),
        message: details["message"].as_str().unwrap_or_default().to_owned(),
    }
}

/// An audit entry as the audit screen lists it.
pub fn audit_line(entry: &Entry) -> AuditLine {
    AuditLine {
        seq: u32::try_from(entry.seq).unwrap_or(u32::MAX),
        at: entry.at.clone(),
        actor: actor_words(&entry.actor),
        event: entry.event.clone(),
        proposal_id: entry.proposal_id.clone(),
        credential: entry.credential.clone(),
        outcome: entry.outcome.clone(),
        details: entry.details.clone(),
    }
}

/// The word to type before approving a proposal with a `danger` risk: fixed per artifact, so
/// the screen and the desk agree without the screen deciding.
pub fn confirmation_word(artifact_sha256: &str) -> String {
    let index = usize::from_str_radix(artifact_sha256.get(..4).unwrap_or("0"), 16).unwrap_or(0);
    WORDS[index % WORDS.len()].to_owned()
}

pub(crate) fn destination(artifact: Option<&countersign_core::Artifact>) -> String {
    use countersign_core::Artifact;
    match artifact {
        Some(Artifact::Http(http)) => url::Url::parse(&http.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| countersign_core::text::reveal(&http.url)),
        Some(Artifact::Sql(sql)) => format!("the database {}", sql.database),
        Some(Artifact::Email(email)) => email
            .recipients()
            .map(|(_, address)| countersign_core::text::reveal(address))
            .collect::<Vec<_>>()
            .join(", "),
        None => String::new(),
    }
}

/// A credential's scope, in sentences a person reads.
pub fn scope_words(meta: &CredentialMeta) -> Vec<String> {
    let any = |list: &[String], all: &str| {
        if list.is_empty() {
            all.to_owned()
        } else {
            list.join(", ")
        }
    };
    let mut words = match &meta.kind {
        CredentialKind::Http { auth, scope } => vec![
            format!("Sent only to {}", any(&scope.origins, "no address")),
            format!("Requests allowed: {}", any(&scope.methods, "any kind")),
            format!("Paths allowed: {}", any(&scope.path_prefixes, "any path")),
            match auth {
                HttpAuth::Bearer => "Placed as a bearer token".to_owned(),
                HttpAuth::Basic => "Placed as a user name and password".to_owned(),
                HttpAuth::Header(name) => format!("Placed in the {name} header"),
                HttpAuth::Query(name) => format!("Placed in the {name} query parameter"),
            },
        ],
        CredentialKind::Sql {
            dialect,
            url,
            read_only,
            max_rows,
        } => vec![
            format!("{dialect:?} database at {url}"),
            if *read_only {
                "Read only: statements that change data are refused".to_owned()
            } else {
                "May change data".to_owned()
            },
            format!("At most {max_rows} rows per read"),
        ],
        CredentialKind::Smtp {
            host,
            port,
            from,
            allowed_domains,
            ..
        } => vec![
            format!("Sends through {host}:{port} as {from}"),
            format!(
                "Recipients allowed: {}",
                if allowed_domains.is_empty() {
                    "anyone".to_owned()
                } else {
                    format!("addresses at {}", allowed_domains.join(", "))
                }
            ),
        ],
    };
    if meta.requires_second_factor {
        words.push("Every use needs your second factor".to_owned());
    }
    words
}

/// The credential a filled-in form describes, or what is missing in words.
///
/// # Errors
/// When the form is not complete.
pub fn form_to_meta(form: &CredentialForm) -> Result<CredentialMeta, AppError> {
    let list = |items: &[String]| -> Vec<String> {
        items
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut json = serde_json::json!({
        "name": form.name.trim(),
        "description": form.description.trim(),
        "kind": form.kind,
        "requires_second_factor": form.second_factor,
    });
    match form.kind.as_str() {
        "http" => {
            json["auth"] = match form.auth.as_str() {
                "bearer" | "basic" => serde_json::json!({ "type": form.auth }),
                "header" | "query" if !form.auth_name.trim().is_empty() => {
                    serde_json::json!({ "type": form.auth, "name": form.auth_name.trim() })
                }
                "header" | "query" => {
                    return Err(AppError::InvalidCredential(format!(
                        "name the {} the secret goes in",
                        if form.auth == "header" {
                            "header"
                        } else {
                            "query parameter"
                        }
                    )));
                }
                _ => {
                    return Err(AppError::InvalidCredential(
                        "choose where the secret goes".into(),
                    ));
                }
            };
            json["scope"] = serde_json::json!({
                "origins": list(&form.origins),
                "methods": list(&form.methods).iter().map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>(),
                "path_prefixes": list(&form.path_prefixes),
            });
        }
        "sql" => {
            json["dialect"] = serde_json::json!(form.dialect);
            json["url"] = serde_json::json!(form.url.trim());
            json["read_only"] = serde_json::json!(!form.read_write);
            json["max_rows"] = serde_json::json!(if form.max_rows == 0 {
                500
            } else {
                form.max_rows
            });
        }
        "smtp" => {
            json["host"] = serde_json::json!(form.host.trim());
            json["port"] = serde_json::json!(form.port);
            json["tls"] = serde_json::json!(form.tls);
            json["username"] = serde_json::json!(form.username.trim());
            json["from"] = serde_json::json!(form.from.trim());
            json["allowed_domains"] = serde_json::json!(list(&form.allowed_domains));
        }
        _ => {
            return Err(AppError::InvalidCredential(
                "choose what kind of credential this is".into(),
            ));
        }
    }
    serde_json::from_value(json)
        .map_err(|e| AppError::InvalidCredential(format!("the form is not complete: {e}")))
}

/// The release a screen's choice means.
pub fn release_of(choice: &ReleaseChoice) -> Release {
    match choice.kind {
        ReleaseKind::All => Release::All,
        ReleaseKind::Nothing => Release::Nothing,
        ReleaseKind::Fields => Release::Fields(choice.fields.clone()),
    }
}

/// Who did something, in words.
pub fn actor_words(actor: &Actor) -> String {
    match actor.kind {
        ActorKind::Person => format!("person {}", actor.name),
        ActorKind::Agent => format!("agent {}", actor.name),
        ActorKind::App => "Countersign".to_owned(),
    }
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The audit log filter a screen's query means (blank fields do not filter).
pub fn filter(query: &AuditQuery) -> Filter {
    Filter {
        from: optional(&query.from),
        to: optional(&query.to),
        actor: optional(&query.actor),
        event: optional(&query.event),
        proposal: optional(&query.proposal),
    }
}

/// Configuration for MCP clients: Claude Desktop through the stdio bridge, Claude Code and
/// Cursor over streamable HTTP.
pub fn agent_configs(address: &str, key: &str) -> Vec<AgentConfig> {
    let program = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("countersign")))
        .filter(|path| path.exists())
        .map_or_else(
            || "countersign".to_owned(),
            |path| path.display().to_string(),
        );
    let url = format!("http://{address}/mcp");
    let mut env = serde_json::json!({ "COUNTERSIGN_AGENT_KEY": key });
    if address != "127.0.0.1:7717" {
        env["COUNTERSIGN_CONNECTOR_ADDR"] = serde_json::json!(address);
    }
    let desktop = serde_json::json!({
        "mcpServers": { "countersign": { "command": program, "args": ["mcp"], "env": env } }
    });
    let cursor = serde_json::json!({
        "mcpServers": { "countersign": { "url": url, "headers": { "Authorization": format!("Bearer {key}") } } }
    });
    vec![
        AgentConfig {
            client: "Claude Desktop".into(),
            place: "Settings → Developer → Edit Config (claude_desktop_config.json), then restart Claude Desktop".into(),
            text: serde_json::to_string_pretty(&desktop).unwrap_or_default(),
        },
        AgentConfig {
            client: "Claude Code".into(),
            place: "Run this in a terminal".into(),
            text: format!(
                "claude mcp add --transport http countersign {url} --header \"Authorization: Bearer {key}\""
            ),
        },
        AgentConfig {
            client: "Cursor".into(),
            place: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)".into(),
            text: serde_json::to_string_pretty(&cursor).unwrap_or_default(),
        },
        AgentConfig {
            client: "Any other MCP client".into(),
            place: "Add an MCP server of type “streamable HTTP” with this address and header".into(),
            text: format!("Address: {url}\nHeader: Authorization: Bearer {key}"),
        },
    ]
}

/// A routine's list line.
pub fn routine_line(
    record: &crate::routines::RoutineRecord,
    now: i64,
) -> crate::views::RoutineLine {
    let expires = record.expires_at.and_then(|at| {
        time::OffsetDateTime::from_unix_timestamp(at)
            .ok()
            .map(|t| countersign_core::routine::date_words(t.date()))
    });
    crate::views::RoutineLine {
        id: record.id.clone(),
        agent: record.agent.clone(),
        received_at: record.received_at.clone(),
        status: record.status,
        headline: record.explanation.headline.clone(),
        expires,
        expires_soon: record.status == crate::routines::RoutineStatus::Active
            && record
                .expires_at
                .is_some_and(|at| at - now <= 7 * 24 * 60 * 60),
    }
}

/// A run as a screen lists it.
pub fn run_view(run: &crate::routines::RunRecord) -> crate::views::RunView {
    let requested_by = match run.requested_by.split_once(':') {
        Some(("agent", name)) => format!("its agent {name}"),
        Some(("person", name)) => name.to_owned(),
        _ => "its schedule".to_owned(),
    };
    crate::views::RunView {
        id: run.id.clone(),
        requested_by,
        started_at: run.started_at.clone(),
        status: run.status,
        proposal_id: run.proposal_id.clone(),
        reason: run.reason.clone(),
    }
}

/// A routine on its review screen.
pub fn routine_view(
    record: &crate::routines::RoutineRecord,
    runs: &[crate::routines::RunRecord],
    now: i64,
) -> crate::views::RoutineView {
    let e = &record.explanation;
    let pretty = countersign_core::json::Json::parse(&record.routine_text)
        .map(|json| json.pretty())
        .unwrap_or_else(|_| record.routine_text.clone());
    crate::views::RoutineView {
        line: routine_line(record, now),
        schedule: e.schedule.clone(),
        bounds: e
            .bounds
            .iter()
            .map(|b| countersign_core::text::reveal(b))
            .collect(),
        steps: e.steps.clone(),
        at_limits: e
            .explained
            .iter()
            .map(|x| x.as_ref().map(|x| x.headline.clone()))
            .collect(),
        risks: e
            .risks
            .iter()
            .map(|r| RiskView {
                code: r.code.as_str().to_owned(),
                severity: r.severity.into(),
                message: r.message.clone(),
            })
            .collect(),
        limits: e.limits.clone(),
        expiry: e.expiry.clone(),
        release: e.release.clone(),
        agent_summary: e.agent_summary.clone(),
        purpose: countersign_core::text::reveal(&record.purpose),
        routine_text: countersign_core::text::reveal(&pretty),
        routine_sha256: record.routine_sha256.clone(),
        confirmation_word: confirmation_word(&record.routine_sha256),
        runs: runs.iter().map(run_view).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_words_are_fixed_per_artifact() {
        let hash = "00ff".to_owned() + &"0".repeat(60);
        assert_eq!(confirmation_word(&hash), confirmation_word(&hash));
        assert!(WORDS.contains(&confirmation_word(&hash).as_str()));
    }

    #[test]
    fn forms_become_credentials() {
        let form = CredentialForm {
            name: "shop".into(),
            kind: "http".into(),
            auth: "header".into(),
            auth_name: "X-Key".into(),
            origins: vec!["https://api.shop.example".into(), " ".into()],
            methods: vec!["post".into()],
            ..CredentialForm::default()
        };
        let meta = form_to_meta(&form).unwrap();
        assert_eq!(
            scope_words(&meta)[0],
            "Sent only to https://api.shop.example"
        );
        assert_eq!(scope_words(&meta)[1], "Requests allowed: POST");
        let missing = CredentialForm {
            auth_name: String::new(),
            ..form
        };
        assert!(
            form_to_meta(&missing)
                .unwrap_err()
                .to_string()
                .contains("header")
        );
    }

    #[test]
    fn agent_configs_carry_the_key_and_address() {
        let configs = agent_configs("127.0.0.1:7799", "csk_test");
        assert_eq!(configs.len(), 4);
        assert!(configs.iter().all(|c| c.text.contains("csk_test")));
        assert!(configs[0].text.contains("127.0.0.1:7799"));
        let desktop: serde_json::Value = serde_json::from_str(&configs[0].text).unwrap();
        assert_eq!(desktop["mcpServers"]["countersign"]["args"][0], "mcp");
    }
}
