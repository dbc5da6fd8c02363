//! The explanation a person reads (design.md §7): a headline, labelled details, risks.

use serde::{Deserialize, Serialize};

/// The plain-language account of an artifact, derived from the artifact alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// One line: what will happen ("Pay $99.99 to Amazon").
    pub headline: String,
    /// The kind of action.
    pub action: Action,
    /// Labelled facts, in reading order.
    pub details: Vec<Detail>,
    /// What deserves care, most severe first.
    pub risks: Vec<Risk>,
    /// The agent's own words, shown as its claim (hidden characters made visible).
    pub agent_summary: String,
    /// Whether approving needs the second factor.
    pub requires_second_factor: bool,
}

/// The kind of action, for icons and grouping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Looks at data without changing it.
    Read,
    /// Adds something new.
    Create,
    /// Changes something that exists.
    Update,
    /// Removes something.
    Delete,
    /// Moves money.
    Payment,
    /// Sends an email.
    SendEmail,
    /// Prescribes medication.
    Prescribe,
    /// Changes the structure of a database.
    SchemaChange,
    /// Anything else.
    Other,
}

/// One labelled fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detail {
    /// What the fact is ("Amount").
    pub label: String,
    /// The fact ("$99.99 (USD)").
    pub value: String,
}

/// How much care a risk asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Read carefully.
    Caution,
    /// Stop and check: approving needs a typed confirmation.
    Danger,
}

/// A flagged risk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    /// The stable code.
    pub code: RiskCode,
    /// How much care it asks for.
    pub severity: Severity,
    /// One sentence a non-programmer understands.
    pub message: String,
}

/// The stable risk codes of design.md §7 (add new ones; never rename).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCode {
    /// Money leaves or moves.
    MoneyMovement,
    /// The amount is over the person's threshold.
    LargeAmount,
    /// It cannot be undone.
    Irreversible,
    /// It changes stored data.
    WritesData,
    /// It removes stored data.
    DeletesData,
    /// UPDATE or DELETE without WHERE: every row.
    NoFilter,
    /// It changes a database's structure.
    SchemaChange,
    /// It reads or sends a lot of data at once.
    BulkData,
    /// It involves PHI or PII (SSN, MRN, date of birth, card numbers, diagnoses).
    SensitiveData,
    /// It reads or changes a health record.
    HealthRecord,
    /// A controlled substance (DEA schedule II–V).
    ControlledSubstance,
    /// A recipient outside the sender's organisation.
    ExternalRecipient,
    /// A recipient not written to before.
    NewRecipient,
    /// A hidden (BCC) recipient.
    HiddenRecipient,
    /// The email carries a file.
    Attachment,
    /// The file can run code or hides its type.
    RiskyAttachment,
    /// Invisible or reordering characters.
    HiddenCharacters,
    /// A name made to look like another.
    Lookalike,
    /// A site Countersign has no description of.
    UnknownHost,
    /// An address inside a private network or this machine.
    PrivateNetwork,
    /// The agent's claim contradicts the artifact.
    SummaryMismatch,
    /// Effects beyond the obvious (locks, sequences, sleeps).
    SideEffects,
    /// A run of a routine the person approved was held instead of run (outside its bounds or
    /// limits, a new danger, or a changed credential); the reasons are in the message.
    RoutineRunHeld,
}

impl RiskCode {
    /// Every code, for tests that must cover them all.
    pub const ALL: [RiskCode; 23] = [
        RiskCode::MoneyMovement,
        RiskCode::LargeAmount,
        RiskCode::Irreversible,
        RiskCode::WritesData,
        RiskCode::DeletesData,
        RiskCode::NoFilter,
        RiskCode::SchemaChange,
        RiskCode::BulkData,
        RiskCode::SensitiveData,
        RiskCode::HealthRecord,
        RiskCode::ControlledSubstance,
        RiskCode::ExternalRecipient,
        RiskCode::NewRecipient,
        RiskCode::HiddenRecipient,
        RiskCode::Attachment,
        RiskCode::RiskyAttachment,
        RiskCode::HiddenCharacters,
        RiskCode::Lookalike,
        RiskCode::UnknownHost,
        RiskCode::PrivateNetwork,
        RiskCode::SummaryMismatch,
        RiskCode::SideEffects,
        RiskCode::RoutineRunHeld,
    ];

    /// The wire spelling, e.g. `summary_mismatch`.
    pub fn as_str(self) -> &'static str {
        use RiskCode::*;
        match self {
            MoneyMovement => "money_movement",
            LargeAmount => "large_amount",
            Irreversible => "irreversible",
            WritesData => "writes_data",
            DeletesData => "deletes_data",
            NoFilter => "no_filter",
            SchemaChange => "schema_change",
            BulkData => "bulk_data",
            SensitiveData => "sensitive_data",
            HealthRecord => "health_record",
            ControlledSubstance => "controlled_substance",
            ExternalRecipient => "external_recipient",
            NewRecipient => "new_recipient",
            HiddenRecipient => "hidden_recipient",
            Attachment => "attachment",
            RiskyAttachment => "risky_attachment",
            HiddenCharacters => "hidden_characters",
            Lookalike => "lookalike",
            UnknownHost => "unknown_host",
            PrivateNetwork => "private_network",
            SummaryMismatch => "summary_mismatch",
            SideEffects => "side_effects",
            RoutineRunHeld => "routine_run_held",
        }
    }

    /// The severity this code always has.
    pub fn severity(self) -> Severity {
        use RiskCode::*;
        match self {
            NoFilter | Lookalike | HiddenCharacters | SummaryMismatch | ControlledSubstance
            | RiskyAttachment | RoutineRunHeld => Severity::Danger,
            MoneyMovement | LargeAmount | Irreversible | DeletesData | SchemaChange | BulkData
            | SensitiveData | HealthRecord | ExternalRecipient | HiddenRecipient
            | PrivateNetwork | SideEffects | UnknownHost => Severity::Caution,
            WritesData | NewRecipient | Attachment => Severity::Info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_spelling_matches_as_str() {
        for code in RiskCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(code.as_str())
            );
        }
    }
}

/// Collects risks: one per code (the first message wins), sorted most severe first.
#[derive(Debug, Default)]
pub struct Risks(Vec<Risk>);

impl Risks {
    /// Flags `code` with a one-sentence message.
    pub fn flag(&mut self, code: RiskCode, message: impl Into<String>) {
        if !self.has(code) {
            self.0.push(Risk {
                code,
                severity: code.severity(),
                message: message.into(),
            });
        }
    }

    /// Whether `code` is flagged.
    pub fn has(&self, code: RiskCode) -> bool {
        self.0.iter().any(|r| r.code == code)
    }

    /// The risks, most severe first, then in the order they were found.
    pub fn into_sorted(mut self) -> Vec<Risk> {
        self.0.sort_by_key(|risk| std::cmp::Reverse(risk.severity));
        self.0
    }
}
