// Generated from crates/app/src/views.rs and settings.rs by `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings`.
// Do not edit: a test fails when this file and the Rust types differ.

export type MoneyThreshold = { 
/**
 * The amount in major units, as the person typed it (`500`, `1250.50`).
 */
amount: string, 
/**
 * The ISO 4217 currency code (`USD`).
 */
currency: string, };

export type Settings = { 
/**
 * Seconds without any input before the app locks itself; 0 never locks.
 */
auto_lock_seconds: number, 
/**
 * Payments over this need the second factor; none until the person sets one.
 */
threshold: MoneyThreshold | null, };

export type DetailView = { 
/**
 * What it is ("Amount").
 */
label: string, 
/**
 * The fact ("$99.99 (USD)").
 */
value: string, };

export type RiskSeverity = "info" | "caution" | "danger";

export type RiskView = { 
/**
 * The stable code (design.md §7).
 */
code: string, 
/**
 * How serious it is.
 */
severity: RiskSeverity, 
/**
 * The sentence.
 */
message: string, };

export type Status = "pending" | "approved" | "rejected" | "withdrawn" | "expired" | "executing" | "succeeded" | "failed" | "outcome_unknown";

export type ProposalLine = { 
/**
 * Its id.
 */
id: string, 
/**
 * The agent that proposed it.
 */
agent: string, 
/**
 * When it arrived (RFC 3339).
 */
received_at: string, 
/**
 * Its status (design.md §3).
 */
status: Status, 
/**
 * The routine whose held run this is (held: outside its bounds or limits).
 */
routine_id: string | null, 
/**
 * What it does, in one line derived from the artifact.
 */
headline: string, 
/**
 * The kind of action (`payment`, `read`, `send_email`…).
 */
action: string, 
/**
 * How many `danger` risks it has.
 */
danger: number, 
/**
 * How many `caution` risks it has.
 */
caution: number, };

export type AlertView = { 
/**
 * When.
 */
at: string, 
/**
 * Which agent.
 */
agent: string, 
/**
 * Which credential it tried to use.
 */
credential: string, 
/**
 * What was refused, in words.
 */
message: string, };

export type InboxView = { 
/**
 * Waiting for a decision, newest first (at most [`crate::INBOX_PAGE`]).
 */
pending: Array<ProposalLine>, 
/**
 * How many are waiting in all.
 */
pending_total: number, 
/**
 * Decided or finished, newest first (at most 50).
 */
recent: Array<ProposalLine>, 
/**
 * Refusals of credentials used out of scope, newest first (at most 20).
 */
alerts: Array<AlertView>, 
/**
 * Routines waiting for a decision.
 */
pending_routines: number, };

export type StatusView = { 
/**
 * Changes whenever anything a screen shows may have changed.
 */
version: string, 
/**
 * Whether the app is locked.
 */
locked: boolean, 
/**
 * How many proposals wait.
 */
pending: number, 
/**
 * Whether this is the demo (labelled on every screen).
 */
demo: boolean, 
/**
 * Whether a second factor is enrolled.
 */
second_factor_enrolled: boolean, 
/**
 * The demo's authenticator code, shown in the demo banner so a newcomer needs no phone;
 * never set outside the demo.
 */
demo_code: string | null, 
/**
 * Where agents connect (`127.0.0.1:7717`), once listening.
 */
connector: string | null, 
/**
 * On a team desk, the person signed in (every decision here is theirs).
 */
signed_in: string | null, };

export type SignInView = { 
/**
 * The team's database, as this desk reaches it (never its password).
 */
team: string, 
/**
 * On a desk of the team demo only: the demo's authenticator codes now, as the one-person
 * demo shows its own ("Dr Amir Khan: 123456"). Empty anywhere else.
 */
demo_codes: Array<string>, };

export type DiagnosticsView = { 
/**
 * Plain lines: versions, paths, counts, the support log's latest warnings and errors.
 */
text: string, };

export type SigningView = { 
/**
 * The attestation the prescriber signs by entering the code.
 */
attestation: string, };

export type FactView = { 
/**
 * What it is.
 */
label: string, 
/**
 * The value as a person reads it.
 */
value: string, 
/**
 * The result paths (or column names) it releases.
 */
paths: Array<string>, 
/**
 * Why it is personal or health information; such facts start unticked.
 */
sensitive: string | null, };

export type ResultWordsView = { 
/**
 * One sentence: what happened.
 */
summary: string, 
/**
 * The facts, in reading order.
 */
facts: Array<FactView>, };

export type ArtifactKind = "http" | "sql" | "email";

export type ReleaseRule = "ask" | "always" | "never";

export type ProposalView = { 
/**
 * The inbox line.
 */
line: ProposalLine, 
/**
 * The artifact's kind; none when the stored artifact no longer matches its hash.
 */
kind: ArtifactKind | null, 
/**
 * Labelled facts derived from the artifact.
 */
details: Array<DetailView>, 
/**
 * Each risk, most severe first.
 */
risks: Array<RiskView>, 
/**
 * The agent's own summary, hidden characters made visible: its claim, not the truth.
 */
agent_summary: string, 
/**
 * The agent's stated purpose, hidden characters made visible.
 */
purpose: string, 
/**
 * Whether the claim contradicts what the artifact does.
 */
mismatch: boolean, 
/**
 * The credential used, if any.
 */
credential: string | null, 
/**
 * Where it goes: an origin, a database or the recipients.
 */
destination: string, 
/**
 * The exact artifact, as pretty JSON with hidden characters shown as `⟨U+…⟩` markers.
 */
artifact_text: string, 
/**
 * Its SHA-256, which the approval is bound to.
 */
artifact_sha256: string, 
/**
 * Whether approving needs the second factor.
 */
requires_second_factor: boolean, 
/**
 * Present for a controlled-substance prescription: approving is signing.
 */
signing: SigningView | null, 
/**
 * For `danger` risks: the word to type before approving.
 */
confirmation_word: string | null, 
/**
 * When it was decided.
 */
decided_at: string | null, 
/**
 * Who decided it (on a team, possibly at another desk).
 */
decided_by: string | null, 
/**
 * On a team, the first of two people a rule asks for, once they approved: it waits for a
 * second, different person.
 */
first_approved_by: string | null, 
/**
 * Why it was rejected.
 */
reason: string | null, 
/**
 * The full result, once executed (the secret redacted).
 */
result: unknown, 
/**
 * What the agent was given, once released.
 */
released: unknown, 
/**
 * The credential's default release.
 */
release_default: ReleaseRule, 
/**
 * The result in words, once executed: what happened and the named facts to release.
 */
result_words: ResultWordsView | null, };

export type ReleaseKind = "all" | "fields" | "nothing";

export type ReleaseChoice = { 
/**
 * How much.
 */
kind: ReleaseKind, 
/**
 * For `fields`: JSON paths (`body.balance`), column names, and rows as `row:N`.
 */
fields: Array<string>, };

export type CredentialKindName = "http" | "sql" | "smtp";

export type CredentialView = { 
/**
 * Its name.
 */
name: string, 
/**
 * Its kind.
 */
kind: CredentialKindName, 
/**
 * What it is for.
 */
description: string, 
/**
 * Its scope in plain words.
 */
scope: Array<string>, 
/**
 * What its results release by default.
 */
release_default: ReleaseRule, };

export type CredentialForm = { 
/**
 * The name agents will use.
 */
name: string, 
/**
 * `http`, `sql` or `smtp`.
 */
kind: string, 
/**
 * What it is for.
 */
description: string, 
/**
 * http: `bearer`, `basic`, `header` or `query`.
 */
auth: string, 
/**
 * http: the header or query parameter name for `header`/`query`.
 */
auth_name: string, 
/**
 * http: the origins the secret may go to.
 */
origins: Array<string>, 
/**
 * http: the methods allowed (none: any).
 */
methods: Array<string>, 
/**
 * http: the path prefixes allowed (none: any).
 */
path_prefixes: Array<string>, 
/**
 * sql: `sqlite`, `postgres` or `mysql`.
 */
dialect: string, 
/**
 * sql: the URL without password.
 */
url: string, 
/**
 * sql: whether statements may change data.
 */
read_write: boolean, 
/**
 * sql: the most rows a read returns.
 */
max_rows: number, 
/**
 * smtp: the server.
 */
host: string, 
/**
 * smtp: its port.
 */
port: number, 
/**
 * smtp: `starttls`, `tls` or `plain-loopback`.
 */
tls: string, 
/**
 * smtp: the login.
 */
username: string, 
/**
 * smtp: the From address.
 */
from: string, 
/**
 * smtp: the recipient domains allowed (none: any).
 */
allowed_domains: Array<string>, 
/**
 * Whether every use needs the second factor.
 */
second_factor: boolean, 
/**
 * What its results release by default.
 */
release_default: ReleaseRule, };

export type RoutineStatus = "pending" | "active" | "paused" | "rejected" | "revoked" | "expired";

export type RunStatus = "running" | "succeeded" | "failed" | "held" | "outcome_unknown" | "missed";

export type RoutineChange = "reject" | "pause" | "resume" | "revoke";

export type RoutineLine = { 
/**
 * Its id.
 */
id: string, 
/**
 * The agent that proposed it.
 */
agent: string, 
/**
 * When it arrived.
 */
received_at: string, 
/**
 * Its status.
 */
status: RoutineStatus, 
/**
 * What it does, derived from its steps and schedule.
 */
headline: string, 
/**
 * When it stops, once approved ("31 Mar 2027").
 */
expires: string | null, 
/**
 * Whether it stops within 7 days.
 */
expires_soon: boolean, };

export type RunView = { 
/**
 * Its id.
 */
id: string, 
/**
 * Who asked: its agent, you, or its schedule, in words.
 */
requested_by: string, 
/**
 * When it started.
 */
started_at: string, 
/**
 * How it ended.
 */
status: RunStatus, 
/**
 * The proposal a held run became.
 */
proposal_id: string | null, 
/**
 * Why it was held, failed or missed.
 */
reason: string | null, };

export type RoutineView = { 
/**
 * The list line.
 */
line: RoutineLine, 
/**
 * When it runs.
 */
schedule: string, 
/**
 * Each parameter and its bound.
 */
bounds: Array<string>, 
/**
 * Each step by its fixed parts.
 */
steps: Array<string>, 
/**
 * Each step's headline with its values at their limits, when it could be explained.
 */
at_limits: Array<string | null>, 
/**
 * Every risk of its steps, most severe first.
 */
risks: Array<RiskView>, 
/**
 * Its limits.
 */
limits: Array<string>, 
/**
 * When it stops.
 */
expiry: string, 
/**
 * What the agent sees of each run.
 */
release: string, 
/**
 * The agent's claim, hidden characters made visible.
 */
agent_summary: string, 
/**
 * The agent's purpose, hidden characters made visible.
 */
purpose: string, 
/**
 * The exact routine as pretty JSON, hidden characters shown as markers.
 */
routine_text: string, 
/**
 * What approving signs.
 */
routine_sha256: string, 
/**
 * The word to type to approve (always asked for a routine).
 */
confirmation_word: string, 
/**
 * Its runs, newest first.
 */
runs: Array<RunView>, };

export type AgentView = { 
/**
 * Its name.
 */
name: string, 
/**
 * When it was added.
 */
added_at: string, 
/**
 * When it was revoked.
 */
revoked_at: string | null, 
/**
 * When it first asked what it may use: the sign it is connected and working.
 */
checked_in_at: string | null, };

export type ConnectedAgent = { 
/**
 * The name.
 */
name: string, 
/**
 * The agent key (shown once; stored only hashed).
 */
key: string, 
/**
 * Ready-to-paste configuration, one per client.
 */
configs: Array<AgentConfig>, };

export type AgentConfig = { 
/**
 * The client ("Claude Desktop").
 */
client: string, 
/**
 * Where it goes, in words.
 */
place: string, 
/**
 * The text to paste.
 */
text: string, };

export type AuditLine = { 
/**
 * Sequence number.
 */
seq: number, 
/**
 * When (UTC).
 */
at: string, 
/**
 * Who, in words (`person alice`, `agent claude`, `app`).
 */
actor: string, 
/**
 * The event (`decision.approved`).
 */
event: string, 
/**
 * The proposal.
 */
proposal_id: string | null, 
/**
 * The credential's name.
 */
credential: string | null, 
/**
 * The outcome.
 */
outcome: string | null, 
/**
 * The details (canonical JSON).
 */
details: string, };

export type AuditQuery = { 
/**
 * From this date or time.
 */
from: string, 
/**
 * Before this date or time.
 */
to: string, 
/**
 * By this actor.
 */
actor: string, 
/**
 * Of this event.
 */
event: string, 
/**
 * About this proposal.
 */
proposal: string, };

export type VerifyView = { 
/**
 * Whether the chain (and checkpoint) hold.
 */
intact: boolean, 
/**
 * One sentence for the person.
 */
message: string, 
/**
 * How many entries were checked.
 */
entries: number, };

export type EnrolmentView = { 
/**
 * A `data:image/svg+xml` URL of the QR code.
 */
qr_data_url: string, 
/**
 * The same seed as text, for typing into an authenticator app.
 */
manual_key: string, };

export type SettingsView = { 
/**
 * The settings.
 */
settings: Settings, 
/**
 * Whether a second factor is enrolled.
 */
second_factor_enrolled: boolean, };

export type CredentialTemplate = { 
/**
 * A stable key (`stripe`).
 */
key: string, 
/**
 * Its name on the card ("Stripe").
 */
title: string, 
/**
 * What connecting it lets an assistant propose, in plain words.
 */
words: string, 
/**
 * What the person still fills in on the form, or `None` when nothing is left.
 */
to_fill: string | null, 
/**
 * What to paste into the secret window, and where to find it.
 */
secret_words: string | null, 
/**
 * The form as the template fills it.
 */
form: CredentialForm, };

export type FirstRunView = { 
/**
 * Whether the app opens on the guide by itself: a desk of one's own (not the demo, not a
 * team's) with no credential yet, whose guide was neither finished nor skipped.
 */
opens: boolean, 
/**
 * Whether a second factor is enrolled.
 */
second_factor_enrolled: boolean, 
/**
 * The credentials added so far, by name.
 */
credentials: Array<string>, 
/**
 * The connected agents (revoked ones left out).
 */
agents: Array<AgentView>, 
/**
 * The ready-made credential starts.
 */
templates: Array<CredentialTemplate>, };

export type ErrorCode = "locked" | "not_allowed" | "not_pending" | "audit_unavailable" | "keychain_unavailable" | "execution_failed" | "unavailable";

export type DeskError = { 
/**
 * What kind of failure.
 */
code: ErrorCode, 
/**
 * The sentence a person reads.
 */
message: string, };
