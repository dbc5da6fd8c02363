//! From a proposal to the explanation a person reads, or to a refusal.
//!
//! The order is fixed: shape (already checked by [`Proposal::parse`]), the artifact kind's own
//! checks and the credential's scope, secrets, then the explanation, generic risks, descriptor
//! words, hidden characters, and last the comparison of the agent's claim with what was found.

mod email;
mod fhir;
mod fields;
mod generic;
mod http;
mod sensitive;
mod sql;
mod summary;

use crate::artifact::{Artifact, ArtifactSha256, Proposal};
use crate::credential::Registry;
use crate::descriptor::Descriptors;
use crate::explanation::{Action, Detail, Explanation, RiskCode, Risks};
use crate::money::Decimal;
use crate::refusal::{Refusal, RefusalCode};
use crate::text;

pub(crate) use fhir::{concept as fhir_concept, text as fhir_text, when as fhir_when};
pub(crate) use fields::render_result;
pub use generic::{MINOR_UNIT_HOSTS, counts_minor_units};
pub use sensitive::{is_health_name, is_sensitive_name, sensitive_value};

/// A secret value to look for in artifacts, with the name of its credential. The caller reads it
/// from the keychain for the duration of the check and keeps it nowhere.
#[derive(Clone, Copy)]
pub struct SecretProbe<'a> {
    /// The credential the secret belongs to (this name, never the value, goes in a refusal).
    pub credential: &'a str,
    /// The secret value.
    pub value: &'a str,
}

impl std::fmt::Debug for SecretProbe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretProbe({}, <redacted>)", self.credential)
    }
}

/// A money threshold over which approval needs the second factor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// The amount, in major units.
    pub amount: Decimal,
    /// The currency code.
    pub currency: String,
}

/// The person's settings that change explanations.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Amounts above this need the second factor (none until the person sets one).
    pub threshold: Option<Threshold>,
    /// Addresses this person has approved email to before (lower-case ASCII form).
    pub known_recipients: Vec<String>,
}

/// Everything an explanation may use besides the proposal. All of it is handed in: core does no
/// I/O.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// Credential metadata.
    pub registry: &'a Registry,
    /// Secret values to refuse if they appear in an artifact.
    pub secrets: &'a [SecretProbe<'a>],
    /// Descriptors in force.
    pub descriptors: &'a Descriptors,
    /// The person's settings.
    pub settings: &'a Settings,
}

/// A proposal that passed every check, with its hash and explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    /// The hash approval will be bound to.
    pub artifact_sha256: ArtifactSha256,
    /// What the person reads.
    pub explanation: Explanation,
    /// The money the artifact moves, amount and ISO currency, as read from the artifact (for
    /// rules that count amounts, such as a team's two-person rule).
    pub amounts: Vec<(Decimal, String)>,
}

/// What explaining one artifact found, before the agent's claim is compared with it.
#[derive(Debug, Default)]
struct Draft {
    headline: String,
    action: Option<Action>,
    details: Vec<Detail>,
    risks: Risks,
    second_factor: bool,
    /// Amounts the artifact moves, with currency.
    amounts: Vec<(Decimal, String)>,
    /// Who receives money, a message or a record change (addresses, names, ids).
    counterparties: Vec<String>,
    /// Whether the artifact changes anything.
    writes: bool,
    /// Whether the artifact removes data.
    deletes: bool,
    /// Whether a write applies to every row.
    unfiltered: bool,
}

impl Draft {
    fn detail(&mut self, label: &str, value: impl AsRef<str>) {
        // Labels can carry the agent's words too (a body key, a header name): revealed alike.
        self.details.push(Detail {
            label: text::reveal(label),
            value: text::reveal(value.as_ref()),
        });
    }

    fn flag(&mut self, code: RiskCode) {
        self.risks.flag(code, risk_message(code));
    }

    fn money(&mut self, amount: Decimal, currency: &str, settings: &Settings) {
        self.amounts.push((amount, currency.to_ascii_uppercase()));
        self.flag(RiskCode::MoneyMovement);
        if let Some(threshold) = &settings.threshold {
            let over = if threshold.currency.eq_ignore_ascii_case(currency) {
                amount
                    .compare(threshold.amount)
                    .is_none_or(|o| o == std::cmp::Ordering::Greater)
            } else {
                // Another currency cannot be compared without rates: ask for the second factor.
                true
            };
            if over {
                self.risks.flag(
                    RiskCode::LargeAmount,
                    format!(
                        "This amount is over your limit of {}; approving it needs your second factor.",
                        crate::money::format_money(threshold.amount, &threshold.currency)
                    ),
                );
                self.second_factor = true;
            }
        }
    }
}

/// Explains a proposal, or says why it is refused.
///
/// # Errors
/// A [`Refusal`] with the code of design.md §6.
pub fn explain(proposal: &Proposal, context: &Context<'_>) -> Result<Explained, Refusal> {
    // A secret in the artifact is an attack whatever else is wrong with it: checked first.
    refuse_secrets(&proposal.artifact, context.secrets)?;
    let mut draft = match &proposal.artifact {
        Artifact::Http(artifact) => http::explain(artifact, context)?,
        Artifact::Sql(artifact) => sql::explain(artifact, context)?,
        Artifact::Email(artifact) => email::explain(artifact, context)?,
    };
    if let Some(name) = proposal.artifact.credential_name()
        && context
            .registry
            .get(name)
            .is_some_and(|c| c.requires_second_factor)
    {
        draft.second_factor = true;
    }
    flag_hidden_characters(proposal, &mut draft);
    summary::compare(&proposal.summary, &mut draft);
    let amounts = draft.amounts.clone();
    let explanation = Explanation {
        headline: text::reveal(&draft.headline),
        action: draft.action.unwrap_or(Action::Other),
        details: draft.details,
        requires_second_factor: draft.second_factor,
        risks: draft
            .risks
            .into_sorted()
            .into_iter()
            .map(|mut risk| {
                risk.message = text::reveal(&risk.message);
                risk
            })
            .collect(),
        agent_summary: text::reveal(&proposal.summary),
    };
    Ok(Explained {
        artifact_sha256: proposal.artifact.sha256(),
        explanation,
        amounts,
    })
}

fn flag_hidden_characters(proposal: &Proposal, draft: &mut Draft) {
    let mut found = false;
    proposal
        .artifact
        .to_json()
        .visit_strings(&mut |s| found |= text::has_hidden(s));
    if found {
        draft.risks.flag(
            RiskCode::HiddenCharacters,
            "The request contains invisible or text-reversing characters (shown as ⟨U+…⟩); they can make it read differently from what it does.",
        );
    } else if text::has_hidden(&proposal.summary) || text::has_hidden(&proposal.purpose) {
        draft.risks.flag(
            RiskCode::HiddenCharacters,
            "The agent's description contains invisible or text-reversing characters (shown as ⟨U+…⟩).",
        );
    }
}

/// Refuses an artifact that carries a stored secret in any encoding (see [`crate::secret`]).
fn refuse_secrets(artifact: &Artifact, secrets: &[SecretProbe<'_>]) -> Result<(), Refusal> {
    // Very short secrets would match by chance; they are still never sent, only not searched.
    const MIN_SECRET_CHARS: usize = 6;
    // The canonical text holds every string raw except `"`, `\` and control characters, whose
    // escapes the finder reads through: one haystack covers every field.
    let haystacks: [String; 1] = [artifact.canonical()];
    let searched: Vec<&SecretProbe<'_>> = secrets
        .iter()
        .filter(|p| p.value.chars().count() >= MIN_SECRET_CHARS)
        .collect();
    // One search for all of them; only a hit is searched again to name the credential.
    let all = crate::secret::SecretFinder::new(searched.iter().map(|p| p.value));
    if !haystacks.iter().any(|h| all.found_in(h.as_bytes())) {
        return Ok(());
    }
    let credential = searched
        .iter()
        .find(|probe| {
            let one = crate::secret::SecretFinder::new([probe.value]);
            haystacks.iter().any(|h| one.found_in(h.as_bytes()))
        })
        .map_or("a stored credential", |p| p.credential);
    Err(Refusal::new(
        RefusalCode::SecretInArtifact,
        format!(
            "The artifact contains the secret of the credential “{credential}”. Agents never handle secrets; Countersign adds them itself."
        ),
    )
    .at("artifact"))
}

/// The default one-sentence message for a risk.
pub fn risk_message(code: RiskCode) -> &'static str {
    match code {
        RiskCode::MoneyMovement => "Money will move if you approve.",
        RiskCode::LargeAmount => "This is a large amount.",
        RiskCode::Irreversible => "This cannot be undone once it runs.",
        RiskCode::WritesData => "This changes stored information.",
        RiskCode::DeletesData => "This removes stored information.",
        RiskCode::NoFilter => "This applies to every row of the table, not just some.",
        RiskCode::SchemaChange => "This changes how the database is built, not just what is in it.",
        RiskCode::BulkData => "This handles a lot of records at once.",
        RiskCode::SensitiveData => {
            "This involves personal or health details such as dates of birth, ID or card numbers."
        }
        RiskCode::HealthRecord => "This reads or changes a patient's health record.",
        RiskCode::ControlledSubstance => {
            "This is a controlled substance; signing needs your second factor."
        }
        RiskCode::ExternalRecipient => "Someone outside your organisation will receive this.",
        RiskCode::NewRecipient => "You have not sent email to this address before.",
        RiskCode::HiddenRecipient => {
            "Someone receives a hidden copy (Bcc) that other recipients cannot see."
        }
        RiskCode::Attachment => "A file is attached.",
        RiskCode::RiskyAttachment => "An attached file can run programs or hides its real type.",
        RiskCode::HiddenCharacters => {
            "Invisible characters could make this read differently from what it does."
        }
        RiskCode::Lookalike => "A name here is made to look like a different, familiar one.",
        RiskCode::UnknownHost => {
            "Countersign does not know this site, so it can only describe the request in general terms."
        }
        RiskCode::PrivateNetwork => {
            "This goes to a computer inside a private network or this computer itself."
        }
        RiskCode::RoutineRunHeld => {
            "This run of a routine you approved was held for you instead of run."
        }
        RiskCode::SummaryMismatch => {
            "The agent's description does not match what this would really do."
        }
        RiskCode::SideEffects => "This has effects beyond what it seems to do.",
    }
}

fn unknown(code: RefusalCode, what: &str, name: &str, field: &str) -> Refusal {
    Refusal::new(
        code,
        format!("There is no {what} named “{name}”. Ask for the list with list_capabilities."),
    )
    .at(field)
}
