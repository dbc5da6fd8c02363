//! MCP tools over streamable HTTP at `/mcp` (rmcp), behind the same gate as REST: the agent is
//! the one its bearer key names. Same semantics and error codes as REST; results carry the same
//! JSON, as structured content and as text.

use std::sync::Arc;
use std::time::Duration;

use countersign_core::json::{Json, Object};
use countersign_core::{Refusal, RefusalCode};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

use crate::gate::{AgentName, State};

const INSTRUCTIONS: &str = "Countersign lets you act for a person without holding their passwords or keys. \
You never see or send a secret: you PROPOSE an exact HTTP request, SQL statement or email with the propose_* tools, \
naming a credential from list_capabilities. The person reads a plain-language explanation Countersign derives from \
your artifact (not from your summary, which is only checked against it), and approves or rejects it. Then call \
get_proposal with wait_seconds to wait for the decision; after it ran, the result holds only what the person chose \
to release to you. Never ask the person for secrets, and describe each proposal truthfully in its summary.";

/// The tools one MCP session offers.
#[derive(Clone)]
pub struct Tools {
    state: Arc<State>,
    tool_router: ToolRouter<Self>,
}

/// A propose tool's arguments: any JSON object, described to clients by `T`'s schema. rmcp
/// accepts them as they are, and Countersign's strict reader checks them, so a missing field, a
/// wrong type or an unknown field is refused with the same code and field as over REST (not
/// with an "invalid params" error of the protocol's own).
pub struct Arguments<T>(
    serde_json::Map<String, serde_json::Value>,
    std::marker::PhantomData<T>,
);

impl<'de, T> Deserialize<'de> for Arguments<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Arguments(
            serde_json::Map::deserialize(deserializer)?,
            std::marker::PhantomData,
        ))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Arguments<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

// The propose structs below only describe the tools to clients (their JSON schemas); the
// arguments themselves are read by the strict reader (see `Arguments`).

/// `propose_http_request`.
#[allow(dead_code)]
#[derive(Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeHttp {
    /// What you want done, in plain words (checked against the request; never trusted).
    pub summary: String,
    /// Why the person's task needs it.
    pub purpose: String,
    /// A credential name from list_capabilities, or null for a request without a login.
    pub credential: Option<String>,
    /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS.
    pub method: String,
    /// The full https URL (plain http only to allowed programs on this computer).
    pub url: String,
    /// Request headers; never Authorization, cookies or the credential's own header.
    #[serde(default)]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    /// The body: JSON, a string (sent as is), or null.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// `propose_sql`.
#[allow(dead_code)]
#[derive(Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeSql {
    /// What the statement does, in plain words.
    pub summary: String,
    /// Why the person's task needs it.
    pub purpose: String,
    /// A database name from list_capabilities.
    pub database: String,
    /// Exactly one SQL statement in the database's dialect. Put values in `parameters` and
    /// write `?` (SQLite) or `$1`, `$2`, … (PostgreSQL) where they go.
    pub statement: String,
    /// Values for the statement's placeholders, in order: text, numbers, true/false or null.
    #[serde(default)]
    pub parameters: Option<Vec<serde_json::Value>>,
}

/// One attachment of `propose_email`.
#[allow(dead_code)]
#[derive(Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// The file name the recipient sees.
    pub filename: String,
    /// The MIME type.
    pub content_type: String,
    /// The content, base64-encoded.
    pub content_base64: String,
}

/// `propose_email`.
#[allow(dead_code)]
#[derive(Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeEmail {
    /// What the email is, in plain words.
    pub summary: String,
    /// Why the person's task needs it.
    pub purpose: String,
    /// An email account name from list_capabilities.
    pub account: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Copied recipients.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Hidden recipients (the person is warned about them).
    #[serde(default)]
    pub bcc: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// Attached files.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// `get_proposal`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetProposal {
    /// The id a propose tool returned.
    pub id: String,
    /// Wait up to this many seconds (at most 60) for the status to change.
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}

/// `withdraw_proposal`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawProposal {
    /// The id of your pending proposal.
    pub id: String,
}

/// `propose_routine`.
#[allow(dead_code)]
#[derive(Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeRoutine {
    /// What the routine does, in plain words.
    pub summary: String,
    /// Why the person's task needs it to happen regularly.
    pub purpose: String,
    /// The routine: parameters (typed, bounded), steps (artifact templates with {"$param": name}
    /// in value positions and {{name}} in URL segments and email text), trigger, limits,
    /// expires_in_days, release, and scheduled_parameters for a schedule.
    pub routine: serde_json::Value,
}

/// `get_routine`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetRoutine {
    /// The id propose_routine returned.
    pub id: String,
}

/// `run_routine`.
#[allow(dead_code)]
#[derive(Debug, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRoutine {
    /// The id of your approved routine.
    pub id: String,
    /// A value for each of the routine's parameters.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

/// `list_capabilities` takes nothing.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// The `_meta` key under which `countersign mcp` forwards the JSON-RPC message exactly as the
/// agent wrote it, so the stdio bridge's own re-encoding loses nothing (number text, duplicate
/// keys).
pub const EXACT_MESSAGE_META: &str = "countersign.exact_message";

/// The arguments of each `tools/call` in one HTTP request, read from the request's exact bytes
/// by the strict reader: by JSON-RPC id, the arguments as written, or the refusal (a duplicate key
/// anywhere in the message). rmcp's own parsing keeps the last of two keys and turns numbers into
/// doubles; the tools use these instead, so MCP answers exactly as REST does.
#[derive(Clone, Debug, Default)]
pub struct ExactCalls(std::collections::HashMap<String, Result<Json, Refusal>>);

/// Reads the `tools/call` messages of a request body.
pub fn exact_calls(body: &[u8]) -> ExactCalls {
    let mut calls = std::collections::HashMap::new();
    let Ok(text) = std::str::from_utf8(body) else {
        return ExactCalls(calls);
    };
    // Lenient parsing only finds the calls and their ids; the content comes from the strict one.
    let Ok(lenient) = serde_json::from_str::<serde_json::Value>(text) else {
        return ExactCalls(calls);
    };
    let strict = Json::parse(text);
    let messages: Vec<(Option<usize>, &serde_json::Value)> = match &lenient {
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, m)| (Some(i), m))
            .collect(),
        other => vec![(None, other)],
    };
    for (index, message) in messages {
        if message.get("method").and_then(serde_json::Value::as_str) != Some("tools/call") {
            continue;
        }
        let Ok(id) = serde_json::to_string(message.get("id").unwrap_or(&serde_json::Value::Null))
        else {
            continue;
        };
        let forwarded = message
            .pointer(&format!(
                "/params/_meta/{}",
                EXACT_MESSAGE_META.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(serde_json::Value::as_str);
        let exact = match forwarded {
            Some(raw) => Json::parse(raw).and_then(|m| arguments_of(&m)),
            None => strict.clone().and_then(|whole| match (index, whole) {
                (Some(i), Json::Array(items)) => items
                    .get(i)
                    .ok_or_else(|| Refusal::new(RefusalCode::InvalidJson, "message not found"))
                    .and_then(arguments_of),
                (_, whole) => arguments_of(&whole),
            }),
        };
        calls.insert(id, exact.map_err(in_arguments));
    }
    ExactCalls(calls)
}

fn arguments_of(message: &Json) -> Result<Json, Refusal> {
    Ok(message
        .at("params")
        .and_then(|p| p.as_object())
        .and_then(|p| p.get("arguments"))
        .cloned()
        .unwrap_or(Json::Object(Object::new())))
}

/// A refusal's field as REST names it: `params.arguments.body.x` is `artifact.body.x`.
fn in_arguments(mut refusal: Refusal) -> Refusal {
    if let Some(field) = refusal.field.take() {
        let inner = field
            .split_once("params.arguments.")
            .map_or(field.as_str(), |(_, rest)| rest);
        let first = inner.split(['.', '[']).next().unwrap_or_default();
        refusal.field = Some(if matches!(first, "summary" | "purpose") {
            inner.to_owned()
        } else {
            format!("artifact.{inner}")
        });
    }
    refusal
}

/// A call's arguments: exactly as the agent wrote them when the gate read them (always over
/// HTTP), rmcp's parse otherwise.
fn call_arguments(
    context: &RequestContext<RoleServer>,
    parsed: serde_json::Map<String, serde_json::Value>,
) -> Result<Json, Refusal> {
    exact_arguments(context)
        .unwrap_or_else(|| Json::parse(&serde_json::Value::Object(parsed).to_string()))
}

/// The exact arguments of this call, if the gate read them.
fn exact_arguments(context: &RequestContext<RoleServer>) -> Option<Result<Json, Refusal>> {
    let parts = context.extensions.get::<axum::http::request::Parts>()?;
    let calls = parts.extensions.get::<ExactCalls>()?;
    let id = serde_json::to_string(&context.id).ok()?;
    calls.0.get(&id).cloned()
}

/// A proposal from a propose tool's arguments: `summary` and `purpose` beside the artifact's own
/// fields, with `kind` added; a null `headers` means none.
fn proposal_text(kind: &str, arguments: &Json) -> Result<String, Refusal> {
    let Json::Object(members) = arguments else {
        return Err(Refusal::new(
            RefusalCode::InvalidJson,
            "The arguments must be an object.",
        ));
    };
    let mut artifact = Object::from([("kind".to_owned(), Json::String(kind.to_owned()))]);
    let mut proposal = Object::new();
    for (key, value) in members {
        match key.as_str() {
            "summary" | "purpose" => {
                proposal.insert(key.clone(), value.clone());
            }
            "headers" if *value == Json::Null => {}
            // The tool says the kind; an argument may not turn an HTTP request into SQL.
            "kind" => {
                return Err(Refusal::new(
                    RefusalCode::UnknownField,
                    "The field \"kind\" is not an argument of this tool: the tool names the kind.",
                )
                .at("kind"));
            }
            _ => {
                artifact.insert(key.clone(), value.clone());
            }
        }
    }
    proposal.insert("artifact".to_owned(), Json::Object(artifact));
    Ok(Json::Object(proposal).canonical())
}

fn agent(context: &RequestContext<RoleServer>) -> Result<String, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<AgentName>())
        .map(|AgentName(name)| name.clone())
        .ok_or_else(|| ErrorData::invalid_request("no agent key on this session", None))
}

fn reply(ok: bool, json: serde_json::Value) -> CallToolResult {
    if ok {
        CallToolResult::structured(json)
    } else {
        CallToolResult::structured_error(json)
    }
}

/// A tool result for one of the agent side's answers.
fn answer(result: Result<Json, countersign_app::AgentError>) -> CallToolResult {
    match result {
        Ok(json) => reply_exact(true, &json),
        Err(error) => reply_exact(false, &error.to_wire()),
    }
}

/// A reply whose text is the exact JSON (number text as the server wrote it); the structured
/// copy is what `serde_json` makes of it.
fn reply_exact(ok: bool, json: &Json) -> CallToolResult {
    let text = json.canonical();
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let mut result = reply(ok, value);
    result.content = vec![rmcp::model::ContentBlock::text(text)];
    result
}

#[tool_router]
impl Tools {
    /// The tools for one session.
    pub fn new(state: Arc<State>) -> Self {
        Tools {
            state,
            tool_router: Self::tool_router(),
        }
    }

    async fn propose(
        &self,
        agent: &str,
        kind: &str,
        context: &RequestContext<RoleServer>,
        parsed: serde_json::Map<String, serde_json::Value>,
    ) -> CallToolResult {
        let arguments = call_arguments(context, parsed);
        let text = match arguments.and_then(|arguments| proposal_text(kind, &arguments)) {
            Ok(text) => text,
            Err(refusal) => {
                return reply(
                    false,
                    serde_json::to_value(refusal.to_wire()).unwrap_or_default(),
                );
            }
        };
        match self.state.agents.submit(agent, &text).await {
            Ok(json) => reply(true, json),
            Err(error) => reply_exact(false, &error.to_wire()),
        }
    }

    #[tool(
        description = "List the credentials, databases and email accounts you may name in proposals, with their scopes. You never receive their secrets."
    )]
    async fn list_capabilities(
        &self,
        Parameters(_): Parameters<NoArguments>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        Ok(match self.state.agents.capabilities(&agent).await {
            Ok(json) => reply(true, json),
            Err(error) => reply_exact(false, &error.to_wire()),
        })
    }

    #[tool(
        description = "Propose one exact HTTP request for the person to approve. Countersign adds the credential's secret itself, only inside its scope, once, after approval. Returns the proposal id and the explanation the person sees; then call get_proposal with wait_seconds."
    )]
    async fn propose_http_request(
        &self,
        Parameters(Arguments(arguments, _)): Parameters<Arguments<ProposeHttp>>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        Ok(self.propose(&agent, "http", &context, arguments).await)
    }

    #[tool(
        description = "Propose exactly one SQL statement against a database from list_capabilities. Reads return at most the database's row limit; read-only databases refuse writes."
    )]
    async fn propose_sql(
        &self,
        Parameters(Arguments(arguments, _)): Parameters<Arguments<ProposeSql>>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        Ok(self.propose(&agent, "sql", &context, arguments).await)
    }

    #[tool(
        description = "Propose an email from an account in list_capabilities. The From address is the account's; the person sees every recipient, hidden ones included."
    )]
    async fn propose_email(
        &self,
        Parameters(Arguments(arguments, _)): Parameters<Arguments<ProposeEmail>>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        Ok(self.propose(&agent, "email", &context, arguments).await)
    }

    #[tool(
        description = "Read a proposal's status: pending, approved, rejected, withdrawn, expired, executing, succeeded, failed or outcome_unknown. With wait_seconds (up to 60) it waits for a change. After execution, result holds only what the person released to you."
    )]
    async fn get_proposal(
        &self,
        Parameters(p): Parameters<GetProposal>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        let wait = Duration::from_secs(p.wait_seconds.unwrap_or(0).min(60));
        Ok(answer(self.state.agents.read(&agent, &p.id, wait).await))
    }

    #[tool(
        description = "Propose a routine: work that must happen regularly, vetted once by the person (with their second factor) and then run by Countersign within the bounds you declare. Placeholders only stand for values; the credential, method, origin, path and SQL text are fixed. Returns its id and the words the person reads."
    )]
    async fn propose_routine(
        &self,
        Parameters(Arguments(parsed, _)): Parameters<Arguments<ProposeRoutine>>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        let arguments = call_arguments(&context, parsed);
        let text = match arguments {
            Ok(arguments) => arguments.canonical(),
            Err(refusal) => {
                return Ok(reply(
                    false,
                    serde_json::to_value(refusal.to_wire()).unwrap_or_default(),
                ));
            }
        };
        Ok(
            match self.state.agents.propose_routine(&agent, &text).await {
                Ok(json) => reply(true, json),
                Err(error) => reply_exact(false, &error.to_wire()),
            },
        )
    }

    #[tool(
        description = "Read your routine: pending, active, paused, rejected, revoked or expired, with its runs (each succeeded, failed, held for the person, outcome_unknown or missed, and what it released to you)."
    )]
    async fn get_routine(
        &self,
        Parameters(p): Parameters<GetRoutine>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        Ok(answer(self.state.agents.routine(&agent, &p.id).await))
    }

    #[tool(
        description = "Ask for a run of your approved routine with a value for each parameter. Inside its bounds it runs at once with no prompt and returns what its release rule lets you see; outside them it is held as a proposal for the person (proposal_id)."
    )]
    async fn run_routine(
        &self,
        Parameters(Arguments(parsed, _)): Parameters<Arguments<RunRoutine>>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        let arguments = call_arguments(&context, parsed);
        let (id, body) = match arguments {
            Ok(Json::Object(mut members)) => {
                let id = members
                    .remove("id")
                    .and_then(|v| v.as_str().map(str::to_owned));
                (id, Json::Object(members).canonical())
            }
            Ok(_) => (None, String::new()),
            Err(refusal) => {
                return Ok(reply(
                    false,
                    serde_json::to_value(refusal.to_wire()).unwrap_or_default(),
                ));
            }
        };
        let Some(id) = id else {
            let refusal = Refusal::new(RefusalCode::InvalidJson, "Name the routine: id.").at("id");
            return Ok(reply(
                false,
                serde_json::to_value(refusal.to_wire()).unwrap_or_default(),
            ));
        };
        Ok(answer(
            self.state.agents.run_routine(&agent, &id, &body).await,
        ))
    }

    #[tool(description = "Withdraw your proposal while it is still pending.")]
    async fn withdraw_proposal(
        &self,
        Parameters(p): Parameters<WithdrawProposal>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let agent = agent(&context)?;
        Ok(answer(self.state.agents.withdraw(&agent, &p.id).await))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions(INSTRUCTIONS)
    }
}

/// The streamable-HTTP MCP service. Host and Origin are checked by the connector's gate (and by
/// rmcp's own host allow-list); every request carries its agent key.
pub fn service(
    state: Arc<State>,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    Tools,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let port = state.local.port();
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]);
    StreamableHttpService::new(
        move || Ok(Tools::new(Arc::clone(&state))),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}
