//! The demo in team mode (design.md §19): the same sandbox, agent and proposals, for two people
//! at two desks on one PostgreSQL database — Nora Nurse at the demo's own desk, and Dr Amir Khan,
//! a prescriber, at a second desk (`<data home>/demo-team-back`) with the same sandbox
//! credentials in his own keychain namespace. The nurse's agent drafts; only the prescriber can
//! sign the controlled-substance prescription, at his desk.
//!
//! The database must be one given to the demo: it is emptied on every start, and a database that
//! holds anyone but the demo's two people is refused, never emptied.

use std::path::PathBuf;

use countersign_app::team::{PRESCRIBER, Team};
use countersign_app::{Agents, Audit, Credentials, DataHome};
use countersign_audit::Actor;
use countersign_vault::Secret;
use sqlx::Connection as _;

use crate::{AGENT, Demo, DemoError, erase};

/// The nurse, who signs in at the demo's desk.
pub const NURSE: &str = "Nora Nurse";
/// The prescriber, at the second desk.
pub const PRESCRIBER_NAME: &str = "Dr Amir Khan";
/// His DEA number (its check digit holds) and practice address.
const DEA: &str = "AK1234563";
const ADDRESS: &str = "12 River Road, Springfield, IL 62701";

/// The file in a team demo desk's data home holding the demo people's authenticator seeds, so
/// the demo can show their codes as the one-person demo shows its own: a sandbox convenience,
/// never made outside the demo.
pub const AUTHENTICATOR_FILE: &str = "demo-authenticator.json";

/// The tables of a team database, emptied before each team demo.
const TABLES: [&str; 10] = [
    "team_role_requests",
    "team_people",
    "team_rules",
    "routine_runs",
    "routines",
    "proposals",
    "agents",
    "team_audit_entries",
    "team_audit_head",
    "team_audit_meta",
];

/// What the team demo adds to the demo.
pub struct TeamParts {
    /// The prescriber's desk.
    pub back: DataHome,
    nurse_seed: Secret,
}

/// A demo person's current code.
pub fn code_of(seed: &str) -> Option<String> {
    let bytes = countersign_app::totp::decode(seed)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(countersign_app::totp::code(&bytes, now))
}

/// The current code of `name` when `home` is a team demo desk (its authenticator file names
/// them).
pub fn demo_code(home: &DataHome, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(home.root().join(AUTHENTICATOR_FILE)).ok()?;
    let seeds: std::collections::BTreeMap<String, String> = serde_json::from_str(&text).ok()?;
    code_of(seeds.get(name)?)
}

async fn empty_database(database: &str, password: &Secret) -> Result<(), DemoError> {
    let options: sqlx::postgres::PgConnectOptions = database
        .parse::<sqlx::postgres::PgConnectOptions>()
        .map_err(|e| DemoError::Agent(format!("the team demo's database address: {e}")))?
        .password(password.expose());
    let mut connection = sqlx::PgConnection::connect_with(&options).await?;
    let people: Option<String> = sqlx::query_scalar("SELECT to_regclass('team_people')::text")
        .fetch_one(&mut connection)
        .await?;
    if people.is_some() {
        let others: i64 =
            sqlx::query_scalar("SELECT count(*) FROM team_people WHERE name NOT IN ($1, $2)")
                .bind(NURSE)
                .bind(PRESCRIBER_NAME)
                .fetch_one(&mut connection)
                .await?;
        if others > 0 {
            return Err(DemoError::Agent(
                "that database holds a real team; give the team demo its own empty database".into(),
            ));
        }
    }
    for table in TABLES {
        sqlx::Executor::execute(
            &mut connection,
            format!("DROP TABLE IF EXISTS {table} CASCADE").as_str(),
        )
        .await?;
    }
    Ok(())
}

impl Demo {
    /// The demo for a team on the PostgreSQL database at `database` (no password in it;
    /// `password` is kept in each desk's keychain): [`Demo::start`], then the team — the nurse
    /// as its first person at this desk, the prescriber (confirmed by himself, the registrant)
    /// at the second desk — the demo agent registered as the team's, and the second desk given
    /// the same sandbox credentials.
    ///
    /// # Errors
    /// As [`Demo::start`]; when the database cannot be reached or holds a real team.
    pub async fn start_team(
        data_home: &DataHome,
        database: &str,
        password: &Secret,
    ) -> Result<Demo, DemoError> {
        let mut demo = Demo::start(data_home).await?;
        empty_database(database, password).await?;
        let home = demo.home.clone();
        let nurse = Team::init(&home, database, password, NURSE).await?;
        let audit = std::sync::Arc::new(Audit::open(&home, Actor::person(NURSE)).await?);
        let team = Team::open(&home, std::sync::Arc::clone(&audit))?
            .ok_or_else(|| DemoError::Agent("the demo's team did not open".into()))?;
        let code = |seed: &Secret| {
            code_of(seed.expose())
                .ok_or_else(|| DemoError::Agent("a demo authenticator seed is not valid".into()))
        };
        let admin = team.sign_in(NURSE, &code(&nurse.secret)?).await?;
        let doctor = team
            .add_person(
                &admin,
                PRESCRIBER_NAME,
                &[PRESCRIBER.to_owned()],
                Some(DEA),
                Some(ADDRESS),
            )
            .await?;
        let registrant = team
            .sign_in(PRESCRIBER_NAME, &code(&doctor.secret)?)
            .await?;
        team.confirm_role(&registrant, PRESCRIBER_NAME, PRESCRIBER)
            .await?;
        // The agent belongs to the team now (the desk's own registration stays in its file).
        demo.agent_key = Agents::open(&home, std::sync::Arc::clone(&audit))
            .await?
            .add(AGENT)
            .await?;

        // The prescriber's desk: the same sandbox credentials, in his own keychain namespace,
        // with his signing block on the clinic's records.
        let back = DataHome::at(data_home.root().join("demo-team-back"));
        erase(&back).await?;
        back.ensure()?;
        Team::join(&back, database, password).await?;
        let front = Credentials::open(&home).await?;
        let secrets = front.secrets().await?;
        let back_audit = Audit::open(&back, Actor::person(PRESCRIBER_NAME)).await?;
        let back_credentials = Credentials::open(&back).await?;
        for mut meta in front.list().await? {
            let Some((_, secret)) = secrets.iter().find(|(name, _)| *name == meta.name) else {
                continue;
            };
            if meta.name == "clinic-fhir" {
                meta.prescriber = Some(countersign_core::credential::Prescriber {
                    name: "Dr. Amir Khan, MD".into(),
                    address: ADDRESS.into(),
                    dea_number: DEA.into(),
                });
            }
            back_credentials
                .add(&back_audit, &meta, &Secret::new(secret.expose().to_owned()))
                .await?;
        }
        let seeds = serde_json::json!({
            NURSE: nurse.secret.expose(),
            PRESCRIBER_NAME: doctor.secret.expose(),
        })
        .to_string();
        for desk in [&home, &back] {
            let path: PathBuf = desk.root().join(AUTHENTICATOR_FILE);
            std::fs::write(&path, &seeds)
                .map_err(|e| DemoError::Io(path.display().to_string(), e))?;
        }
        demo.team = Some(TeamParts {
            back,
            nurse_seed: Secret::new(nurse.secret.expose().to_owned()),
        });
        Ok(demo)
    }

    /// In the team demo: the second desk, for the prescriber.
    pub fn team_back(&self) -> Option<&DataHome> {
        self.team.as_ref().map(|t| &t.back)
    }

    /// In the team demo: who signs in at the demo's desk, and their code now.
    pub fn team_sign_in(&self) -> Option<(String, String)> {
        let team = self.team.as_ref()?;
        Some((NURSE.to_owned(), code_of(team.nurse_seed.expose())?))
    }
}
