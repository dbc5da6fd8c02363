//! HTTP artifacts: target, headers, credential scope, then descriptor words or a careful generic
//! account.

use std::collections::BTreeMap;

use super::fields::{self, Sources};
use super::sensitive::{is_sensitive_name, sensitive_value};
use super::{Context, Draft, unknown};
use super::{fhir, generic};
use crate::artifact::HttpArtifact;
use crate::credential::{CredentialKind, HttpAuth};
use crate::descriptor::Format;
use crate::explanation::{Action, RiskCode};
use crate::json::Json;
use crate::refusal::{Refusal, RefusalCode};
use crate::target::{self, Target};

const METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];

/// Headers only the app sets: credentials, cookies, method overrides, message framing and
/// routing. Names are compared after [`header_key`], so `X_HTTP_Method_Override` is
/// `x-http-method-override` (CGI, WSGI and Rack servers read `_` as `-`).
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "cookie",
    "cookie2",
    "set-cookie",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-rewrite-url",
    "x-override-url",
    "host",
    "x-host",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "expect",
    "via",
    "max-forwards",
    "idempotency-key",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "true-client-ip",
    "client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-originating-ip",
    "x-remote-ip",
    "x-remote-addr",
    "forwarded",
];

/// Prefixes of header families that are never the agent's: proxies, forwarding, fetch metadata.
const FORBIDDEN_PREFIXES: &[&str] = &[
    "proxy-",
    "sec-",
    "x-forwarded-",
    "x-envoy-",
    "x-amz-security-",
];

/// A header name as servers compare it: ASCII lower case, `_` read as `-`.
pub fn header_key(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'_' => '-',
            other => char::from(other.to_ascii_lowercase()),
        })
        .collect()
}

/// Whether agents may never set a header of this name.
pub fn is_forbidden_header(name: &str) -> bool {
    let key = header_key(name);
    FORBIDDEN_HEADERS.contains(&key.as_str())
        || FORBIDDEN_PREFIXES.iter().any(|p| key.starts_with(p))
}

pub fn explain(artifact: &HttpArtifact, context: &Context<'_>) -> Result<Draft, Refusal> {
    if !METHODS.contains(&artifact.method.as_str()) {
        return Err(Refusal::new(
            RefusalCode::Unexplainable,
            format!(
                "The method {:?} is not one of {}.",
                artifact.method,
                METHODS.join(", ")
            ),
        )
        .at("artifact.method"));
    }
    let target = target::check(&artifact.url)?;
    check_headers(artifact)?;
    let credential = check_credential(artifact, &target, context)?;
    check_transport(artifact, &target, context, credential.is_some())?;

    let mut draft = Draft::default();
    let body = crate::body::read(artifact)?.value;
    let query = query_fields(&target.url);
    refuse_method_override(&body, &query)?;
    let path = target.url.path().to_owned();
    let generic_action = match artifact.method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => Action::Read,
        "POST" => Action::Create,
        "PUT" | "PATCH" => Action::Update,
        _ => Action::Delete,
    };
    // A descriptor explains the request only when every field it requires is there and reads
    // as its format says; otherwise the generic account is used.
    // Descriptors bound to this origin first, then FHIR by resource (any server), then
    // descriptors for any server, then the generic account.
    let matching = context
        .descriptors
        .matching(&target.origin, &artifact.method, &path, &body);
    let (bound, unbound): (Vec<_>, Vec<_>) = matching
        .into_iter()
        .partition(|(d, _)| !d.context.origins.is_empty());
    let mut describe =
        |(descriptor, captures): (&crate::descriptor::Descriptor, BTreeMap<String, String>)| {
            let sources = Sources {
                body: &body,
                captures: &captures,
                query: &query,
            };
            let mut words = Draft::default();
            let headline = fields::render(descriptor, &sources, &mut words, context.settings)?;
            let read: Vec<&str> = descriptor
                .display
                .fields
                .iter()
                .filter(|f| matches!(f.format, Format::AmountMinor | Format::AmountDecimal))
                .map(|f| f.path.as_str())
                .collect();
            let host = target.url.host_str().unwrap_or("");
            let others = generic::other_amounts(&body, &query, host, &read, &mut words, context);
            words.headline = match others {
                0 => headline,
                1 => format!("{headline}, and 1 more amount (see the details)"),
                n => format!("{headline}, and {n} more amounts (see the details)"),
            };
            words.action = Some(descriptor.display.action);
            if !descriptor.metadata.owner.is_empty() {
                words.detail("Service", &descriptor.metadata.owner);
            }
            Some(words)
        };
    let mut described = bound.into_iter().find_map(&mut describe);
    if described.is_none() {
        let mut words = Draft::default();
        if fhir::explain(artifact, &target, &body, &query, &mut words, context).is_some() {
            described = Some(words);
        }
    }
    if described.is_none() {
        described = unbound.into_iter().find_map(&mut describe);
    }
    let found = described.is_some();
    match described {
        Some(words) => draft = words,
        None => generic::explain(
            &artifact.method,
            &target,
            &body,
            &query,
            &mut draft,
            context,
        ),
    }
    draft.detail("Site", &target.host_display);
    draft.detail("Full address", target.url.as_str());
    draft.detail("Method", method_words(&artifact.method));
    draft.detail(
        "Credential",
        match &credential {
            Some((name, description)) if !description.is_empty() => {
                format!("{name} ({description})")
            }
            Some((name, _)) => name.clone(),
            None => "none: the request is sent without a login".to_owned(),
        },
    );
    for (name, value) in &artifact.headers {
        draft.detail(&format!("Header {name}"), value);
    }
    if !found {
        for (name, value) in &query {
            draft.detail(&format!("Asks with {name}"), value);
        }
        describe_body(artifact, &body, &mut draft);
    }

    // Generic rules: a descriptor adds words, it never removes these.
    match generic_action {
        Action::Create | Action::Update => {
            draft.writes = true;
            draft.flag(RiskCode::WritesData);
        }
        Action::Delete => {
            draft.writes = true;
            draft.deletes = true;
            draft.flag(RiskCode::DeletesData);
        }
        _ => {}
    }
    if draft.action == Some(Action::Payment) || draft.action == Some(Action::SendEmail) {
        draft.writes = true;
    }
    if let Some(why) = &target.lookalike {
        draft.risks.flag(
            RiskCode::Lookalike,
            format!("The site's name may be a disguise: {why}. Check it is the site you expect."),
        );
    }
    if let Some(place) = target.private {
        draft.risks.flag(
            RiskCode::PrivateNetwork,
            format!("This goes to {place}, not a public website."),
        );
    }
    if !found && credential.is_none() && target.private.is_none() {
        draft.flag(RiskCode::UnknownHost);
    }
    flag_sensitive(&body, &query, artifact, &mut draft);
    Ok(draft)
}

/// The query's fields for the explanation. A name given more than once is legitimate in query
/// strings (FHIR searches, Gmail label filters), but servers differ on which value counts, so the
/// explanation shows every value ("a, b") and never picks one: a descriptor that reads an amount
/// from a repeated name finds no single amount and says so.
///
/// Names and values are read as `application/x-www-form-urlencoded` (`+` is a space), but one
/// whose bytes are not UTF-8 once decoded is shown as written rather than with U+FFFD
/// (`url::Url::query_pairs` decodes lossily).
fn query_fields(url: &url::Url) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let decode = |part: &str| {
        crate::descriptor::percent_decode_utf8(&part.replace('+', " "))
            .unwrap_or_else(|| part.to_owned())
    };
    for pair in url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name), decode(value));
        fields
            .entry(name)
            .and_modify(|all| {
                all.push_str(", ");
                all.push_str(&value);
            })
            .or_insert(value);
    }
    fields
}

/// Rails, Laravel and Symfony read a `_method` field (in the query, a form or a JSON body) as
/// the request's method: a POST that is really a DELETE. Like the method-override headers, only
/// the artifact's own method may say what it does.
fn refuse_method_override(body: &Json, query: &BTreeMap<String, String>) -> Result<(), Refusal> {
    let overrides = |name: &str| {
        matches!(
            header_key(name).as_str(),
            "-method" | "x-http-method-override" | "x-http-method" | "x-method-override"
        )
    };
    let in_body = body
        .as_object()
        .and_then(|members| members.keys().find(|k| overrides(k)));
    let in_query = query.keys().find(|k| overrides(k));
    match (in_body, in_query) {
        (Some(name), _) => Err(Refusal::new(
            RefusalCode::ForbiddenHeader,
            format!("The field {name} makes many servers treat the request as another method; only the artifact's method says what it does."),
        )
        .at(format!("artifact.body.{name}"))),
        (None, Some(name)) => Err(Refusal::new(
            RefusalCode::ForbiddenHeader,
            format!("The query parameter {name} makes many servers treat the request as another method; only the artifact's method says what it does."),
        )
        .at("artifact.url")),
        (None, None) => Ok(()),
    }
}

fn method_words(method: &str) -> String {
    let words = match method {
        "GET" => "reads",
        "HEAD" | "OPTIONS" => "checks, reads nothing",
        "POST" => "sends data, usually creating something",
        "PUT" => "replaces something",
        "PATCH" => "changes part of something",
        _ => "deletes something",
    };
    format!("{method} ({words})")
}

fn check_headers(artifact: &HttpArtifact) -> Result<(), Refusal> {
    for (name, value) in &artifact.headers {
        let field = format!("artifact.headers.{name}");
        if name.contains(['\r', '\n']) || value.contains(['\r', '\n', '\0']) {
            return Err(Refusal::new(
                RefusalCode::HeaderInjection,
                format!(
                    "The header {name:?} contains a line break, which could add hidden headers."
                ),
            )
            .at(field));
        }
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(Refusal::new(
                RefusalCode::HeaderInjection,
                format!("{name:?} is not a valid header name."),
            )
            .at(field));
        }
        if header_key(name) == "content-type" && name.contains('_') {
            return Err(Refusal::new(
                RefusalCode::ForbiddenHeader,
                format!("{name} is read by some servers as Content-Type and ignored by others; write it Content-Type."),
            )
            .at(field));
        }
        if is_forbidden_header(name) {
            return Err(Refusal::new(
                RefusalCode::ForbiddenHeader,
                format!("The header {name} may only be set by Countersign (logins, cookies, method overrides and message framing are never set by agents)."),
            )
            .at(field));
        }
    }
    Ok(())
}

/// Checks the credential's kind and scope; returns its name and description.
fn check_credential(
    artifact: &HttpArtifact,
    target: &Target,
    context: &Context<'_>,
) -> Result<Option<(String, String)>, Refusal> {
    let Some(name) = &artifact.credential else {
        return Ok(None);
    };
    let field = "artifact.credential";
    let credential = context
        .registry
        .get(name)
        .ok_or_else(|| unknown(RefusalCode::UnknownCredential, "credential", name, field))?;
    let CredentialKind::Http { auth, scope } = &credential.kind else {
        return Err(Refusal::new(
            RefusalCode::CredentialScopeViolation,
            format!(
                "The credential “{name}” is a {} credential, not one for web requests.",
                credential.kind_name()
            ),
        )
        .at(field));
    };
    let violation =
        |why: String, at: &str| Refusal::new(RefusalCode::CredentialScopeViolation, why).at(at);
    let origin_allowed = scope.origins.iter().any(|allowed| {
        url::Url::parse(allowed).is_ok_and(|u| u.origin().ascii_serialization() == target.origin)
    });
    if !origin_allowed {
        return Err(violation(
            format!(
                "The credential “{name}” may only be used with {}, not {}.",
                scope.origins.join(", "),
                target.origin
            ),
            "artifact.url",
        ));
    }
    if !scope.methods.is_empty()
        && !scope
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&artifact.method))
    {
        return Err(violation(
            format!(
                "The credential “{name}” allows only {} requests.",
                scope.methods.join(", ")
            ),
            "artifact.method",
        ));
    }
    let path = target.url.path();
    if !scope.path_prefixes.is_empty()
        && !scope
            .path_prefixes
            .iter()
            .any(|p| target::path_within(path, p))
    {
        return Err(violation(
            format!(
                "The credential “{name}” may only be used under {}, not {path}.",
                scope.path_prefixes.join(", ")
            ),
            "artifact.url",
        ));
    }
    match auth {
        HttpAuth::Header(header)
            if artifact
                .headers
                .keys()
                .any(|name| header_key(name) == header_key(header)) =>
        {
            return Err(Refusal::new(
                RefusalCode::ForbiddenHeader,
                format!(
                    "The header {header} carries the credential's secret; only Countersign sets it."
                ),
            )
            .at(format!("artifact.headers.{header}")));
        }
        HttpAuth::Query(parameter)
            if target
                .url
                .query_pairs()
                .any(|(k, _)| k == parameter.as_str()) =>
        {
            return Err(Refusal::new(
                RefusalCode::ForbiddenHeader,
                format!("The query parameter {parameter} carries the credential's secret; only Countersign sets it."),
            )
            .at("artifact.url"));
        }
        _ => {}
    }
    Ok(Some((
        credential.name.clone(),
        credential.description.clone(),
    )))
}

fn check_transport(
    artifact: &HttpArtifact,
    target: &Target,
    context: &Context<'_>,
    has_credential: bool,
) -> Result<(), Refusal> {
    if target.url.scheme() == "https" {
        return Ok(());
    }
    // A credential's scope names its origins explicitly, so a plain loopback origin there was
    // allowed by the person; without a credential the person's allow-list decides.
    let allowed = target.loopback
        && (has_credential
            || context.registry.plain_loopback_origins.iter().any(|o| {
                url::Url::parse(o).is_ok_and(|u| u.origin().ascii_serialization() == target.origin)
            }));
    if allowed {
        Ok(())
    } else {
        let _ = artifact;
        Err(Refusal::new(
            RefusalCode::InsecureTransport,
            "Plain http:// is only allowed for programs on this computer that you allowed; use https://.",
        )
        .at("artifact.url"))
    }
}

fn describe_body(artifact: &HttpArtifact, body: &Json, draft: &mut Draft) {
    match body {
        Json::Null => {}
        Json::Object(_) | Json::Array(_) => {
            let mut leaves = Vec::new();
            collect_leaves(body, String::new(), &mut leaves);
            let total = leaves.len();
            for (path, value) in leaves.into_iter().take(12) {
                draft.detail(&format!("Sends {path}"), value);
            }
            if total > 12 {
                draft.detail(
                    "Sends",
                    format!("and {} more values (see the exact request)", total - 12),
                );
            }
        }
        other => {
            let text = artifact.body_text().unwrap_or_default();
            let shown: String = text.chars().take(400).collect();
            let more = if text.chars().count() > 400 {
                " …"
            } else {
                ""
            };
            let _ = other;
            draft.detail("Sends", format!("{shown}{more}"));
        }
    }
}

fn collect_leaves(json: &Json, path: String, out: &mut Vec<(String, String)>) {
    match json {
        Json::Object(members) => {
            for (key, value) in members {
                let next = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect_leaves(value, next, out);
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_leaves(item, format!("{path}[{i}]"), out);
            }
        }
        Json::String(s) | Json::Number(s) => out.push((path, s.clone())),
        Json::Bool(b) => out.push((path, if *b { "yes" } else { "no" }.to_owned())),
        Json::Null => out.push((path, "empty".to_owned())),
    }
}

fn flag_sensitive(
    body: &Json,
    query: &BTreeMap<String, String>,
    artifact: &HttpArtifact,
    draft: &mut Draft,
) {
    let mut names = Vec::new();
    let mut leaves = Vec::new();
    collect_leaves(body, String::new(), &mut leaves);
    for (path, value) in leaves
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .chain(query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        if is_sensitive_name(path) {
            names.push(path.to_owned());
        }
        if let Some(what) = sensitive_value(value) {
            draft.risks.flag(
                RiskCode::SensitiveData,
                format!("The request contains {what}."),
            );
        }
    }
    if let Some(Json::String(text)) = Some(&artifact.body)
        && let Some(what) = sensitive_value(text)
    {
        draft.risks.flag(
            RiskCode::SensitiveData,
            format!("The request contains {what}."),
        );
    }
    if let Some(first) = names.first() {
        draft.risks.flag(
            RiskCode::SensitiveData,
            format!("The request includes personal or health details ({first})."),
        );
    }
}
