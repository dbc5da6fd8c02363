//! Team mode (design.md §19): several people at several desks share one PostgreSQL database —
//! the people and their roles, and one audit log — while every secret stays in each person's own
//! keychain.
//!
//! A data home joins a team once (`team init` makes it, `team join` joins it): the database's
//! address is kept in `team.json` in the data home, its password in that person's keychain, and
//! from then on the data home's audit log is the team's ([`crate::Audit::open`] opens it). The
//! file log of before is kept, ending with the `team.joined` entry that names the team's log.
//!
//! People sign in by name and second factor; what a signed-in person may do is decided here from
//! their roles, and only a [`SignedIn`] — which only [`Team::sign_in`] makes — can add people,
//! disable them or confirm a role. `prescriber` needs a DEA number and an address, and takes
//! effect only when a second person confirms it, one of the two a prescriber or the registrant
//! themselves (21 CFR 1311.125).
//!
//! **API boundary**: [`Team`], [`TeamConfig`], [`SignedIn`], [`Enrolment`], [`PersonInfo`].
//! **Invariant**: a role needing two people is never in a person's roles until two different
//! people have approved it.

use std::str::FromStr as _;
use std::sync::Arc;

use countersign_audit::{Actor, Event, NewEntry};
use countersign_vault::Secret;
use serde::{Deserialize, Serialize};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::audit::Audit;
use crate::error::AppError;
use crate::home::DataHome;

/// The keychain entry that holds the team database's password on each desk.
pub const DATABASE_PASSWORD: &str = "team-database-password";

/// The role that manages people.
pub const ADMIN: &str = "admin";
/// The role that signs controlled-substance prescriptions.
pub const PRESCRIBER: &str = "prescriber";

/// The team's own tables beside the audit log's (idempotent; run under an advisory lock).
const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS team_people (
    name TEXT PRIMARY KEY,
    roles TEXT NOT NULL DEFAULT '',
    dea_number TEXT,
    address TEXT,
    totp_secret TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL,
    disabled_at TEXT
);
CREATE TABLE IF NOT EXISTS team_role_requests (
    person TEXT NOT NULL REFERENCES team_people(name),
    role TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (person, role)
);
CREATE TABLE IF NOT EXISTS team_rules (
    id BIGSERIAL PRIMARY KEY,
    -- 'decide': only people with `role` decide proposals that use `credential`;
    -- 'two_people': money over `amount` `currency` (on `credential`, or any) needs two people.
    kind TEXT NOT NULL CHECK (kind IN ('decide', 'two_people')),
    credential TEXT,
    role TEXT,
    amount TEXT,
    currency TEXT,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL
);
";

/// "CSTM": serialises schema set-up between desks.
const SCHEMA_LOCK: i64 = 0x4353_544D;

/// Where a data home's team database is: `team.json` (never its password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamConfig {
    /// `postgres://USER@HOST:PORT/DATABASE`, without a password.
    pub database: String,
}

fn team_error(what: &str, error: impl std::fmt::Display) -> AppError {
    AppError::NotAllowed(format!("the team database {what}: {error}"))
}

fn config_path(home: &DataHome) -> std::path::PathBuf {
    home.root().join("team.json")
}

impl TeamConfig {
    /// The data home's team, if it joined one.
    ///
    /// # Errors
    /// When `team.json` exists but cannot be read.
    pub fn read(home: &DataHome) -> Result<Option<Self>, AppError> {
        let path = config_path(home);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| AppError::NotAllowed(format!("{} is damaged: {e}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(AppError::file("reading", &path, error)),
        }
    }

    /// How to reach the database, with the password from this data home's keychain.
    ///
    /// # Errors
    /// When the address does not parse or the keychain has no password for it.
    pub fn connect_options(&self, home: &DataHome) -> Result<PgConnectOptions, AppError> {
        let password = home.keychain().read(DATABASE_PASSWORD)?.ok_or_else(|| {
            AppError::NotAllowed(
                "this desk has no password for its team database: run countersign team join again"
                    .into(),
            )
        })?;
        Ok(parse_address(&self.database)?.password(password.expose()))
    }
}

/// Reads a team database address, refusing one with a password in it (it belongs in the
/// keychain, not in a file or a command line).
fn parse_address(url: &str) -> Result<PgConnectOptions, AppError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| AppError::NotAllowed(format!("the team database address: {e}")))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(AppError::NotAllowed(
            "the team database address starts with postgres:// (team mode runs on PostgreSQL)"
                .into(),
        ));
    }
    if parsed.password().is_some() {
        return Err(AppError::NotAllowed(
            "leave the password out of the team database address: it is asked for and kept in your keychain".into(),
        ));
    }
    PgConnectOptions::from_str(url)
        .map_err(|e| AppError::NotAllowed(format!("the team database address: {e}")))
}

/// What a new person needs to set up their authenticator, shown once.
#[derive(Debug)]
pub struct Enrolment {
    /// Their name.
    pub name: String,
    /// The `otpauth://` address for an authenticator app (a QR code of it); it holds the secret.
    pub uri: Secret,
    /// The same secret typed by hand (base32).
    pub secret: Secret,
}

/// A person of the team, as listed (never their second factor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonInfo {
    /// Their name.
    pub name: String,
    /// Roles in effect.
    pub roles: Vec<String>,
    /// Roles waiting for a second person.
    pub pending_roles: Vec<String>,
    /// Their DEA registration, for a prescriber.
    pub dea_number: Option<String>,
    /// When they were disabled.
    pub disabled_at: Option<String>,
}

/// A person signed in with their second factor: the proof the team's changes require. Only
/// [`Team::sign_in`] makes one.
#[derive(Clone, Debug)]
pub struct SignedIn {
    name: String,
    roles: Vec<String>,
    /// Their second factor's seed, so the desk they signed in at checks their codes (not the
    /// desk's own enrolment) when they approve or unlock.
    seed: Arc<Secret>,
}

impl SignedIn {
    /// Their name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether they hold `role`.
    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The actor their entries name.
    pub fn actor(&self) -> Actor {
        Actor::person(&self.name)
    }

    /// Their second factor's seed (base32).
    pub(crate) fn seed(&self) -> &Secret {
        &self.seed
    }
}

/// A team rule (design.md §19), as an admin states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Only people with `role` decide proposals that use `credential` (several rules for one
    /// credential: any of their roles).
    Decide {
        /// The credential's name.
        credential: String,
        /// The role that decides.
        role: String,
    },
    /// Money over `over` (on `credential`, or on any) needs two different people to approve.
    TwoPeople {
        /// The amount, in major units as typed (`500`, `1250.50`).
        amount: String,
        /// Its ISO 4217 currency; another currency cannot be compared, so it counts as over.
        currency: String,
        /// Only proposals using this credential; every payment when `None`.
        credential: Option<String>,
    },
}

impl Rule {
    /// The rule in words.
    pub fn words(&self) -> String {
        match self {
            Rule::Decide { credential, role } => {
                format!("only a {role} decides what uses {credential}")
            }
            Rule::TwoPeople {
                amount,
                currency,
                credential,
            } => format!(
                "two people approve payments over {amount} {currency}{}",
                credential
                    .as_ref()
                    .map(|c| format!(" made with {c}"))
                    .unwrap_or_default()
            ),
        }
    }

    fn check(&self) -> Result<(), AppError> {
        match self {
            Rule::Decide { credential, role } => {
                check_role(role)?;
                if credential.trim().is_empty() {
                    return Err(AppError::NotAllowed("a rule names its credential".into()));
                }
            }
            Rule::TwoPeople {
                amount, currency, ..
            } => {
                crate::settings::Settings {
                    auto_lock_seconds: 0,
                    threshold: Some(crate::settings::MoneyThreshold {
                        amount: amount.clone(),
                        currency: currency.clone(),
                    }),
                }
                .check()?;
            }
        }
        Ok(())
    }
}

/// A rule and who added it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// Its number, for `team rule remove`.
    pub id: i64,
    /// The rule.
    pub rule: Rule,
    /// Who added it.
    pub added_by: String,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    kind: String,
    credential: Option<String>,
    role: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    added_by: String,
}

impl RuleRow {
    fn info(self) -> Option<RuleInfo> {
        let rule = match self.kind.as_str() {
            "decide" => Rule::Decide {
                credential: self.credential?,
                role: self.role?,
            },
            "two_people" => Rule::TwoPeople {
                amount: self.amount?,
                currency: self.currency?,
                credential: self.credential,
            },
            _ => return None,
        };
        Some(RuleInfo {
            id: self.id,
            rule,
            added_by: self.added_by,
        })
    }
}

/// A role's name: lowercase letters, digits and dashes.
fn check_role(role: &str) -> Result<(), AppError> {
    if role.is_empty()
        || role.len() > 40
        || !role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(AppError::NotAllowed(format!(
            "a role is lowercase letters, digits and dashes (admin, prescriber, nurse…), not {role:?}"
        )));
    }
    Ok(())
}

/// A person's name: letters, digits, dots, dashes, underscores, spaces; 1 to 80.
fn check_name(name: &str) -> Result<(), AppError> {
    if name.trim() != name
        || name.is_empty()
        || name.chars().count() > 80
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
    {
        return Err(AppError::NotAllowed(format!(
            "a person's name is letters, digits, spaces, dots, dashes and underscores, not {name:?}"
        )));
    }
    Ok(())
}

/// A DEA registration number: two letters and seven digits whose last is the check digit (the
/// sum of the 1st, 3rd and 5th digits plus twice the sum of the 2nd, 4th and 6th, modulo 10).
pub fn dea_number_valid(number: &str) -> bool {
    let bytes = number.as_bytes();
    if bytes.len() != 9
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let d: Vec<u32> = bytes[2..].iter().map(|b| u32::from(b - b'0')).collect();
    (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]
}

fn split_roles(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The team, as one desk reaches it.
pub struct Team {
    options: PgConnectOptions,
    audit: Arc<Audit>,
}

async fn make_schema(connection: &mut PgConnection) -> Result<(), AppError> {
    let mut tx = connection
        .begin()
        .await
        .map_err(|e| team_error("cannot be changed", e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SCHEMA_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(|e| team_error("cannot be changed", e))?;
    sqlx::Executor::execute(&mut *tx, SCHEMA)
        .await
        .map_err(|e| team_error("cannot be changed", e))?;
    tx.commit()
        .await
        .map_err(|e| team_error("cannot be changed", e))
}

impl Team {
    /// Makes a team on the database at `address` (its password `password`), with `founder` as
    /// its first person and admin; this data home joins it. Returns the founder's enrolment.
    ///
    /// # Errors
    /// When the address has a password or does not parse, the database cannot be reached, it
    /// already holds a team, or the keychain or the files fail.
    pub async fn init(
        home: &DataHome,
        address: &str,
        password: &Secret,
        founder: &str,
    ) -> Result<Enrolment, AppError> {
        check_name(founder)?;
        let options = parse_address(address)?.password(password.expose());
        let mut connection = PgConnection::connect_with(&options)
            .await
            .map_err(|e| team_error("cannot be reached", e))?;
        make_schema(&mut connection).await?;
        let people: i64 = sqlx::query_scalar("SELECT count(*) FROM team_people")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| team_error("cannot be read", e))?;
        if people > 0 {
            return Err(AppError::NotAllowed(
                "that database already holds a team: join it with countersign team join".into(),
            ));
        }
        let (enrolment, secret) = enrolment_for(founder)?;
        sqlx::query("INSERT INTO team_people (name, roles, totp_secret, added_at, added_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(founder)
            .bind(ADMIN)
            .bind(&secret)
            .bind(now_text())
            .bind(founder)
            .execute(&mut connection)
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        let team = Self::join_with(home, address, password, Actor::person(founder)).await?;
        team.audit
            .record(
                NewEntry::new(Actor::person(founder), Event::PersonAdded).details(
                    serde_json::json!({ "person": founder, "roles": [ADMIN], "founder": true }),
                ),
            )
            .await?;
        Ok(enrolment)
    }

    /// Joins this data home to the team on the database at `address`.
    ///
    /// # Errors
    /// When the address has a password or does not parse, the database cannot be reached or
    /// holds no team, or the keychain or the files fail.
    pub async fn join(home: &DataHome, address: &str, password: &Secret) -> Result<Team, AppError> {
        let options = parse_address(address)?.password(password.expose());
        let mut connection = PgConnection::connect_with(&options)
            .await
            .map_err(|e| team_error("cannot be reached", e))?;
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('team_people')::text")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| team_error("cannot be read", e))?;
        if exists.is_none() {
            return Err(AppError::NotAllowed(
                "that database holds no team yet: make one with countersign team init".into(),
            ));
        }
        // A desk of a newer version adds what its version needs (every statement may run again).
        make_schema(&mut connection).await?;
        Self::join_with(home, address, password, Actor::app()).await
    }

    /// Records the join in the data home's own log, keeps the password and the address, and
    /// opens the team's log.
    async fn join_with(
        home: &DataHome,
        address: &str,
        password: &Secret,
        actor: Actor,
    ) -> Result<Team, AppError> {
        let options = parse_address(address)?.password(password.expose());
        if TeamConfig::read(home)?.is_some() {
            return Err(AppError::NotAllowed(
                "this data home is already in a team".into(),
            ));
        }
        // The file log records that it ends here and where the team's log is.
        let local = Audit::open(home, actor.clone()).await?;
        let team_log = countersign_audit::AuditLog::open_team(options.clone()).await?;
        let details = serde_json::json!({
            "database": address,
            "team_log_id": team_log.log_id(),
            "desk": home.root().display().to_string(),
        });
        local
            .record(NewEntry::new(actor.clone(), Event::TeamJoined).details(details.clone()))
            .await?;
        drop(team_log);
        home.keychain().store(DATABASE_PASSWORD, password)?;
        let config = TeamConfig {
            database: address.to_owned(),
        };
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| AppError::NotAllowed(e.to_string()))?;
        crate::audit::write_durably(&config_path(home), &text)?;
        let audit = Arc::new(Audit::open(home, actor.clone()).await?);
        audit
            .record(NewEntry::new(actor, Event::TeamJoined).details(details))
            .await?;
        Ok(Team { options, audit })
    }

    /// The data home's team, if it joined one, recording in `audit` (the team's log).
    ///
    /// # Errors
    /// When `team.json` or the keychain cannot be read.
    pub fn open(home: &DataHome, audit: Arc<Audit>) -> Result<Option<Team>, AppError> {
        let Some(config) = TeamConfig::read(home)? else {
            return Ok(None);
        };
        Ok(Some(Team {
            options: config.connect_options(home)?,
            audit,
        }))
    }

    async fn connection(&self) -> Result<PgConnection, AppError> {
        PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| team_error("cannot be reached, so nothing is changed", e))
    }

    /// Signs `name` in with the code their authenticator shows now; every attempt is audited.
    ///
    /// # Errors
    /// When the person is unknown or disabled or the code is wrong (all the same words, so a
    /// guess learns nothing), or the database cannot be reached.
    pub async fn sign_in(&self, name: &str, code: &str) -> Result<SignedIn, AppError> {
        let mut connection = self.connection().await?;
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT roles, totp_secret, disabled_at FROM team_people WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut connection)
        .await
        .map_err(|e| team_error("cannot be read", e))?;
        let right = row.as_ref().is_some_and(|(_, secret, disabled)| {
            disabled.is_none()
                && crate::totp::decode(secret)
                    .is_some_and(|seed| crate::totp::verify(&seed, code.trim(), now_seconds()))
        });
        let actor = Actor::person(name);
        match row {
            Some((roles, seed, _)) if right => {
                self.audit
                    .record(
                        NewEntry::new(actor, Event::PersonSignedIn)
                            .details(serde_json::json!({ "method": "totp" })),
                    )
                    .await?;
                Ok(SignedIn {
                    name: name.to_owned(),
                    roles: split_roles(&roles),
                    seed: Arc::new(Secret::new(seed)),
                })
            }
            _ => {
                self.audit
                    .record(
                        NewEntry::new(actor, Event::PersonSignInFailed)
                            .outcome("refused")
                            .details(serde_json::json!({ "method": "totp" })),
                    )
                    .await?;
                Err(AppError::NotAllowed(
                    "that name and code do not sign anyone in".into(),
                ))
            }
        }
    }

    /// Adds a person with `roles` (an admin does this). A role needing two people —
    /// `prescriber`, which also needs `dea_number` and `address` — waits for a second person's
    /// [`Team::confirm_role`]. Returns their enrolment, shown once.
    ///
    /// # Errors
    /// When `by` is not an admin, a name, role or DEA number is not valid, the person exists,
    /// or the database cannot be reached.
    pub async fn add_person(
        &self,
        by: &SignedIn,
        name: &str,
        roles: &[String],
        dea_number: Option<&str>,
        address: Option<&str>,
    ) -> Result<Enrolment, AppError> {
        if !by.has(ADMIN) {
            return Err(AppError::NotAllowed(format!(
                "{} is not an admin of the team, so cannot add people",
                by.name
            )));
        }
        check_name(name)?;
        for role in roles {
            check_role(role)?;
        }
        let prescriber = roles.iter().any(|r| r == PRESCRIBER);
        if prescriber {
            match (dea_number, address) {
                (Some(number), Some(address)) if !address.trim().is_empty() => {
                    if !dea_number_valid(number) {
                        return Err(AppError::NotAllowed(format!(
                            "{number:?} is not a DEA registration number (two letters and seven digits, the last a check digit)"
                        )));
                    }
                }
                _ => {
                    return Err(AppError::NotAllowed(
                        "a prescriber needs their DEA number and practice address".into(),
                    ));
                }
            }
        }
        let now_roles: Vec<&String> = roles.iter().filter(|r| *r != PRESCRIBER).collect();
        let (enrolment, secret) = enrolment_for(name)?;
        let mut connection = self.connection().await?;
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        let inserted = sqlx::query("INSERT INTO team_people (name, roles, dea_number, address, totp_secret, added_at, added_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","))
            .bind(dea_number)
            .bind(address)
            .bind(&secret)
            .bind(now_text())
            .bind(&by.name)
            .execute(&mut *tx)
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        if inserted.rows_affected() == 0 {
            return Err(AppError::NotAllowed(format!(
                "the team already has a person named {name:?}"
            )));
        }
        if prescriber {
            sqlx::query("INSERT INTO team_role_requests (person, role, requested_by, requested_at) VALUES ($1, $2, $3, $4)")
                .bind(name)
                .bind(PRESCRIBER)
                .bind(&by.name)
                .bind(now_text())
                .execute(&mut *tx)
                .await
                .map_err(|e| team_error("cannot be written", e))?;
        }
        // Audited before it is committed: a change the log cannot record does not happen.
        self.audit
            .record(
                NewEntry::new(by.actor(), Event::PersonAdded).details(serde_json::json!({
                    "person": name, "roles": now_roles, "dea_number": dea_number,
                })),
            )
            .await?;
        if prescriber {
            self.audit
                .record(
                    NewEntry::new(by.actor(), Event::RoleRequested).details(serde_json::json!({
                        "person": name, "role": PRESCRIBER, "needs": "a second person, a prescriber or the registrant",
                    })),
                )
                .await?;
        }
        tx.commit()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        Ok(enrolment)
    }

    /// Confirms the role `role` asked for `person`: `by` must be a different person from the one
    /// who asked, and a prescriber or `person` themselves (the registrant).
    ///
    /// # Errors
    /// When nothing waits, `by` may not confirm it, or the database cannot be reached.
    pub async fn confirm_role(
        &self,
        by: &SignedIn,
        person: &str,
        role: &str,
    ) -> Result<(), AppError> {
        let mut connection = self.connection().await?;
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        let requested_by: Option<String> = sqlx::query_scalar(
            "SELECT requested_by FROM team_role_requests WHERE person = $1 AND role = $2 FOR UPDATE",
        )
        .bind(person)
        .bind(role)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| team_error("cannot be read", e))?;
        let Some(requested_by) = requested_by else {
            return Err(AppError::NotAllowed(format!(
                "no {role} role waits for {person}"
            )));
        };
        if requested_by == by.name {
            return Err(AppError::NotAllowed(format!(
                "{} asked for this role; a second person must confirm it",
                by.name
            )));
        }
        if role == PRESCRIBER && !(by.has(PRESCRIBER) || by.name == person) {
            return Err(AppError::NotAllowed(
                "granting prescriber needs a prescriber, or the registrant themselves, as the second person".into(),
            ));
        }
        sqlx::query("DELETE FROM team_role_requests WHERE person = $1 AND role = $2")
            .bind(person)
            .bind(role)
            .execute(&mut *tx)
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        sqlx::query("UPDATE team_people SET roles = CASE WHEN roles = '' THEN $2 ELSE roles || ',' || $2 END WHERE name = $1")
            .bind(person)
            .bind(role)
            .execute(&mut *tx)
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        self.audit
            .record(
                NewEntry::new(by.actor(), Event::RoleGranted).details(serde_json::json!({
                    "person": person, "role": role, "requested_by": requested_by, "confirmed_by": by.name,
                })),
            )
            .await?;
        tx.commit()
            .await
            .map_err(|e| team_error("cannot be written", e))
    }

    /// Disables `name` at once: they can no longer sign in.
    ///
    /// # Errors
    /// When `by` is not an admin or is `name`, the person is unknown, or the database cannot be
    /// reached.
    pub async fn disable(&self, by: &SignedIn, name: &str) -> Result<(), AppError> {
        if !by.has(ADMIN) {
            return Err(AppError::NotAllowed(format!(
                "{} is not an admin of the team, so cannot disable people",
                by.name
            )));
        }
        if by.name == name {
            return Err(AppError::NotAllowed(
                "another admin must disable you".into(),
            ));
        }
        let mut connection = self.connection().await?;
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        let changed = sqlx::query(
            "UPDATE team_people SET disabled_at = $2 WHERE name = $1 AND disabled_at IS NULL",
        )
        .bind(name)
        .bind(now_text())
        .execute(&mut *tx)
        .await
        .map_err(|e| team_error("cannot be written", e))?;
        if changed.rows_affected() == 0 {
            return Err(AppError::NotAllowed(format!(
                "the team has no active person named {name:?}"
            )));
        }
        self.audit
            .record(
                NewEntry::new(by.actor(), Event::PersonDisabled)
                    .details(serde_json::json!({ "person": name })),
            )
            .await?;
        tx.commit()
            .await
            .map_err(|e| team_error("cannot be written", e))
    }

    /// Where `person` stands now: their roles, or `None` once disabled. A desk asks before each
    /// decision, so a role taken away or a person disabled counts at once, not at next sign-in.
    ///
    /// # Errors
    /// When the database cannot be reached (nothing is decided then).
    pub async fn standing(&self, person: &SignedIn) -> Result<Option<Vec<String>>, AppError> {
        let mut connection = self.connection().await?;
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT roles, disabled_at FROM team_people WHERE name = $1")
                .bind(&person.name)
                .fetch_optional(&mut connection)
                .await
                .map_err(|e| team_error("cannot be read, so nothing is decided", e))?;
        Ok(row.and_then(|(roles, disabled)| disabled.is_none().then(|| split_roles(&roles))))
    }

    /// The team's rules, oldest first.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn rules(&self) -> Result<Vec<RuleInfo>, AppError> {
        let mut connection = self.connection().await?;
        let rows: Vec<RuleRow> = sqlx::query_as(
            "SELECT id, kind, credential, role, amount, currency, added_by FROM team_rules ORDER BY id",
        )
        .fetch_all(&mut connection)
        .await
        .map_err(|e| team_error("cannot be read, so nothing is decided", e))?;
        Ok(rows.into_iter().filter_map(RuleRow::info).collect())
    }

    /// Adds a rule (an admin does this); recorded as `rule.added`. Returns its number.
    ///
    /// # Errors
    /// When `by` is not an admin, the rule is not valid, or the database cannot be reached.
    pub async fn add_rule(&self, by: &SignedIn, rule: &Rule) -> Result<i64, AppError> {
        if !by.has(ADMIN) {
            return Err(AppError::NotAllowed(format!(
                "{} is not an admin of the team, so cannot change its rules",
                by.name
            )));
        }
        rule.check()?;
        let (kind, credential, role, amount, currency) = match rule {
            Rule::Decide { credential, role } => (
                "decide",
                Some(credential.clone()),
                Some(role.clone()),
                None,
                None,
            ),
            Rule::TwoPeople {
                amount,
                currency,
                credential,
            } => (
                "two_people",
                credential.clone(),
                None,
                Some(amount.trim().to_owned()),
                Some(currency.trim().to_owned()),
            ),
        };
        let mut connection = self.connection().await?;
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        let id: i64 = sqlx::query_scalar("INSERT INTO team_rules (kind, credential, role, amount, currency, added_by, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(kind)
            .bind(credential)
            .bind(role)
            .bind(amount)
            .bind(currency)
            .bind(&by.name)
            .bind(now_text())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        self.audit
            .record(
                NewEntry::new(by.actor(), Event::RuleAdded).details(
                    serde_json::json!({ "rule": id, "what": rule, "words": rule.words() }),
                ),
            )
            .await?;
        tx.commit()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        Ok(id)
    }

    /// Removes rule `id` (an admin does this); recorded as `rule.removed`.
    ///
    /// # Errors
    /// When `by` is not an admin, there is no such rule, or the database cannot be reached.
    pub async fn remove_rule(&self, by: &SignedIn, id: i64) -> Result<(), AppError> {
        if !by.has(ADMIN) {
            return Err(AppError::NotAllowed(format!(
                "{} is not an admin of the team, so cannot change its rules",
                by.name
            )));
        }
        let Some(info) = self.rules().await?.into_iter().find(|r| r.id == id) else {
            return Err(AppError::NotAllowed(format!("the team has no rule {id}")));
        };
        let mut connection = self.connection().await?;
        let mut tx = connection
            .begin()
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        let removed = sqlx::query("DELETE FROM team_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| team_error("cannot be written", e))?;
        if removed.rows_affected() == 0 {
            return Err(AppError::NotAllowed(format!("the team has no rule {id}")));
        }
        self.audit
            .record(NewEntry::new(by.actor(), Event::RuleRemoved).details(
                serde_json::json!({ "rule": id, "what": info.rule, "words": info.rule.words() }),
            ))
            .await?;
        tx.commit()
            .await
            .map_err(|e| team_error("cannot be written", e))
    }

    /// Everyone in the team, by name.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn people(&self) -> Result<Vec<PersonInfo>, AppError> {
        let mut connection = self.connection().await?;
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT name, roles, dea_number, disabled_at FROM team_people ORDER BY name",
        )
        .fetch_all(&mut connection)
        .await
        .map_err(|e| team_error("cannot be read", e))?;
        let pending: Vec<(String, String)> =
            sqlx::query_as("SELECT person, role FROM team_role_requests ORDER BY role")
                .fetch_all(&mut connection)
                .await
                .map_err(|e| team_error("cannot be read", e))?;
        Ok(rows
            .into_iter()
            .map(|(name, roles, dea_number, disabled_at)| PersonInfo {
                pending_roles: pending
                    .iter()
                    .filter(|(p, _)| *p == name)
                    .map(|(_, r)| r.clone())
                    .collect(),
                name,
                roles: split_roles(&roles),
                dea_number,
                disabled_at,
            })
            .collect())
    }
}

/// A new second factor for `name`: the enrolment to show, and the secret to store.
fn enrolment_for(name: &str) -> Result<(Enrolment, String), AppError> {
    let secret = crate::totp::new_secret()?;
    Ok((
        Enrolment {
            name: name.to_owned(),
            uri: Secret::new(crate::totp::uri(&secret, name)),
            secret: Secret::new(secret.clone()),
        },
        secret,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dea_numbers_are_checked_by_their_check_digit() {
        // 1+3+5 = 9; 2*(2+4+6) = 24; 33 → check digit 3.
        assert!(dea_number_valid("AB1234563"));
        assert!(!dea_number_valid("AB1234564"));
        assert!(!dea_number_valid("ab1234563"));
        assert!(!dea_number_valid("AB123456"));
        assert!(!dea_number_valid("A11234563"));
    }

    #[test]
    fn an_address_with_a_password_is_refused() {
        assert!(parse_address("postgres://clinic:hunter2@db.example/team").is_err());
        assert!(parse_address("mysql://clinic@db.example/team").is_err());
        assert!(parse_address("postgres://clinic@db.example:5432/team").is_ok());
    }

    #[test]
    fn names_and_roles_are_plain() {
        assert!(check_name("Dr. Amir Khan").is_ok());
        assert!(check_name(" padded").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_role("front-desk").is_ok());
        assert!(check_role("Admin").is_err());
    }
}
