//! The demo behind the run command: real sandbox services on loopback — a shop/bank API, a FHIR
//! R4 clinic server backed by SQLite, a clinic database with billing tables, and an SMTP server
//! that keeps what it receives — with credentials for them in the demo home's own keychain
//! namespace, a second factor enrolled, a $500 threshold, and a demo agent that proposes a
//! realistic set over MCP ([`script::steps`]): proposals, three routines (a monthly bill, evening
//! reminders, a morning schedule) and runs of them, one held for being over its bound.
//!
//! The demo home starts fresh on every start: its files and its keychain entries are erased, so
//! a newcomer always sees the same proposals. It never touches the person's own data home.

pub mod agent;
mod bank;
mod fhir;
pub mod script;
mod smtp;
pub mod team;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use countersign_app::{
    AUDIT_KEYCHAIN_ENTRIES, Agents, Audit, Credentials, DataHome, MoneyThreshold, Settings,
};
use countersign_audit::Actor;
use countersign_core::credential::{
    CredentialKind, CredentialMeta, HttpAuth, HttpScope, SmtpTls, SqlDialect,
};
use countersign_vault::Secret;
use sqlx::Connection as _;
use tokio::task::JoinHandle;

pub use script::{Decision, Release, Sandbox, Step};

/// The name the demo agent is registered under.
pub const AGENT: &str = "demo-agent";

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The application refused a step of the set-up.
    #[error(transparent)]
    App(#[from] countersign_app::AppError),
    /// A file or socket failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A sandbox database failed.
    #[error("the demo clinic database: {0}")]
    Database(#[from] sqlx::Error),
    /// The demo agent failed.
    #[error("the demo agent: {0}")]
    Agent(String),
}

/// A running demo: its sandbox services stop when it is dropped.
pub struct Demo {
    home: DataHome,
    /// Held while the demo runs, so a second demo never erases this one's files.
    _lock: std::fs::File,
    sandbox: Sandbox,
    agent_key: Secret,
    mailbox: PathBuf,
    /// In the team demo, the second desk and the first person's seed.
    team: Option<team::TeamParts>,
    services: Vec<JoinHandle<()>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for service in &self.services {
            service.abort();
        }
    }
}

fn random_secret(prefix: &str) -> Result<Secret, DemoError> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| {
        DemoError::Io(
            "the system's random number source".into(),
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(Secret::new(format!(
        "{prefix}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )))
}

/// Whether the app should run the demo: always with `--demo`, never with `--no-demo`, and
/// otherwise when the data home has no credential yet (a newcomer's first run).
///
/// # Errors
/// When the data home's credentials cannot be read.
pub async fn wanted(data_home: &DataHome, demo: bool, no_demo: bool) -> Result<bool, DemoError> {
    if demo || no_demo {
        return Ok(demo);
    }
    if !data_home.root().join("vault.db").exists() {
        return Ok(true);
    }
    Ok(Credentials::open(data_home).await?.list().await?.is_empty())
}

/// The demo home inside a data home.
pub fn home_for(data_home: &DataHome) -> DataHome {
    DataHome::at(data_home.root().join("demo"))
}

/// Erases a demo home: its credentials' secrets and the other keychain entries of its
/// namespace, then its files.
///
/// # Errors
/// When the keychain or the files cannot be removed.
pub async fn erase(home: &DataHome) -> Result<(), DemoError> {
    if home.root().join("vault.db").exists() {
        let credentials = Credentials::open(home).await?;
        for meta in credentials.list().await? {
            credentials
                .store()
                .remove(&meta.name)
                .await
                .map_err(countersign_app::AppError::from)?;
        }
    }
    let keychain = home.keychain();
    for entry in AUDIT_KEYCHAIN_ENTRIES.iter().chain([
        &countersign_app::totp::KEYCHAIN_ENTRY,
        &countersign_app::team::DATABASE_PASSWORD,
    ]) {
        keychain
            .remove(entry)
            .map_err(countersign_app::AppError::from)?;
    }
    match std::fs::remove_dir_all(home.root()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(DemoError::Io(home.root().display().to_string(), error)),
    }
}

async fn listen() -> Result<tokio::net::TcpListener, DemoError> {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Io("127.0.0.1".into(), e))
}

fn origin(listener: &tokio::net::TcpListener) -> Result<String, DemoError> {
    let address = listener
        .local_addr()
        .map_err(|e| DemoError::Io("127.0.0.1".into(), e))?;
    Ok(format!("http://{address}"))
}

async fn clinic_database(file: &Path) -> Result<(), DemoError> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str("sqlite://")?
        .filename(file)
        .create_if_missing(true);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await?;
    // Appointments today and tomorrow on this computer's calendar, for the routines to read.
    let today = script::local_day(0);
    let tomorrow = script::local_day(1);
    let upcoming = format!(
        "INSERT INTO appointments (patient_id, day, time, practitioner) VALUES ('pat-456', '{today}', '09:00', 'Dr. Amir Khan'), ('pat-789', '{today}', '11:30', 'Dr. Lena Ortiz'), ('pat-123', '{tomorrow}', '08:30', 'Dr. Amir Khan'), ('pat-456', '{tomorrow}', '15:00', 'Dr. Lena Ortiz')"
    );
    for statement in [
        "CREATE TABLE patients (id TEXT PRIMARY KEY, name TEXT NOT NULL, first_name TEXT NOT NULL, birth_date TEXT, phone TEXT, email TEXT)",
        "CREATE TABLE appointments (id INTEGER PRIMARY KEY, patient_id TEXT REFERENCES patients(id), day TEXT, time TEXT, practitioner TEXT)",
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, patient_id TEXT REFERENCES patients(id), amount_cents INTEGER NOT NULL, status TEXT NOT NULL, issued_on TEXT)",
        "INSERT INTO patients VALUES ('pat-123', 'Jane Doe', 'Jane', '1980-02-29', '555-0142', 'jane.doe@mail.example'), ('pat-456', 'Sam Rivera', 'Sam', '1975-07-14', '555-0199', 'sam.rivera@mail.example'), ('pat-789', 'Mei Chen', 'Mei', '1991-11-02', '555-0117', 'mei.chen@mail.example')",
        "INSERT INTO appointments (patient_id, day, time, practitioner) VALUES ('pat-123', '2026-11-20', '08:00', 'Dr. Amir Khan'), ('pat-789', '2026-11-24', '14:30', 'Dr. Lena Ortiz')",
        "INSERT INTO invoices VALUES (1040, 'pat-123', 12000, 'paid', '2026-10-02'), (1041, 'pat-456', 45000, 'unpaid', '2026-11-03'), (1042, 'pat-123', 8500, 'unpaid', '2026-11-20'), (1043, 'pat-789', 15000, 'unpaid', '2026-11-24')",
        upcoming.as_str(),
    ] {
        sqlx::query(statement).execute(&mut connection).await?;
    }
    Ok(())
}

impl Demo {
    /// Erases and prepares the demo home inside `data_home`, and starts the sandbox services.
    ///
    /// # Errors
    /// When another demo runs for this data home, a service cannot listen, or the keychain,
    /// the files or the log fail.
    pub async fn start(data_home: &DataHome) -> Result<Demo, DemoError> {
        data_home.ensure()?;
        let lock_path = data_home.root().join("demo.lock");
        let lock = std::fs::File::create(&lock_path)
            .map_err(|e| DemoError::Io(lock_path.display().to_string(), e))?;
        if lock.try_lock().is_err() {
            return Err(DemoError::Agent(format!(
                "a demo is already running for {}; close it first",
                data_home.root().display()
            )));
        }
        let home = &home_for(data_home);
        erase(home).await?;
        home.ensure()?;
        let bank_token = random_secret("demo_bank_")?;
        let fhir_token = random_secret("demo_fhir_")?;
        let db_secret = random_secret("demo_db_")?;
        let smtp_password = random_secret("demo_mail_")?;

        let bank_listener = listen().await?;
        let bank_origin = origin(&bank_listener)?;
        let fhir_listener = listen().await?;
        let fhir_origin = origin(&fhir_listener)?;
        let smtp_listener = listen().await?;
        let smtp_port = smtp_listener
            .local_addr()
            .map_err(|e| DemoError::Io("127.0.0.1".into(), e))?
            .port();

        let mut services = Vec::new();
        let bank = bank::router(bank_token.expose());
        services.push(tokio::spawn(async move {
            let _ = axum::serve(bank_listener, bank).await;
        }));
        let fhir = fhir::router(&home.root().join("fhir.db"), fhir_token.expose()).await?;
        services.push(tokio::spawn(async move {
            let _ = axum::serve(fhir_listener, fhir).await;
        }));
        let mailbox = home.root().join("mailbox");
        services.push(tokio::spawn(smtp::serve(
            smtp_listener,
            mailbox.clone(),
            "frontdesk".into(),
            smtp_password.expose().to_owned(),
        )));
        let clinic_db = home.root().join("clinic.db");
        clinic_database(&clinic_db).await?;

        let audit = Audit::open(home, Actor::app()).await?;
        let credentials = Credentials::open(home).await?;
        let http = |name: &str, description: &str, origin: &str, prefix: &str, methods: &[&str]| {
            CredentialMeta {
                name: name.into(),
                description: description.into(),
                kind: CredentialKind::Http {
                    auth: HttpAuth::Bearer,
                    scope: HttpScope {
                        origins: vec![origin.to_owned()],
                        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
                        path_prefixes: vec![prefix.to_owned()],
                    },
                },
                requires_second_factor: false,
                prescriber: None,
            }
        };
        credentials
            .add(
                &audit,
                &http(
                    "demo-bank",
                    "Demo bank and shop account (sandbox)",
                    &bank_origin,
                    "/v1",
                    &["GET", "POST"],
                ),
                &bank_token,
            )
            .await?;
        credentials
            .add(
                &audit,
                &http(
                    "clinic-fhir",
                    "Riverside Clinic records, FHIR R4 (sandbox)",
                    &fhir_origin,
                    "/fhir/r4",
                    &[],
                ),
                &fhir_token,
            )
            .await?;
        let database = CredentialMeta {
            name: "clinic-db".into(),
            description: "Riverside Clinic billing database (sandbox)".into(),
            kind: CredentialKind::Sql {
                dialect: SqlDialect::Sqlite,
                url: format!("sqlite://{}", clinic_db.display()),
                read_only: false,
                max_rows: 200,
            },
            requires_second_factor: false,
            prescriber: None,
        };
        credentials.add(&audit, &database, &db_secret).await?;
        let mail = CredentialMeta {
            name: "front-desk".into(),
            description: "Riverside Clinic front desk mailbox (sandbox)".into(),
            kind: CredentialKind::Smtp {
                host: "127.0.0.1".into(),
                port: smtp_port,
                tls: SmtpTls::PlainLoopback,
                username: "frontdesk".into(),
                from: "frontdesk@riverside-clinic.example".into(),
                allowed_domains: Vec::new(),
            },
            requires_second_factor: false,
            prescriber: None,
        };
        credentials.add(&audit, &mail, &smtp_password).await?;

        let settings = Settings {
            threshold: Some(MoneyThreshold {
                amount: "500".into(),
                currency: "USD".into(),
            }),
            ..Settings::default()
        };
        settings.save(home, &audit).await?;
        home.keychain()
            .store(
                countersign_app::totp::KEYCHAIN_ENTRY,
                &Secret::new(countersign_app::totp::new_secret()?),
            )
            .map_err(countersign_app::AppError::from)?;
        let agent_key = Agents::open(home, std::sync::Arc::new(audit))
            .await?
            .add(AGENT)
            .await?;
        tracing::info!(bank = %bank_origin, fhir = %fhir_origin, smtp_port, "demo sandbox started");
        Ok(Demo {
            home: home.clone(),
            _lock: lock,
            sandbox: Sandbox {
                bank: bank_origin,
                fhir: format!("{fhir_origin}/fhir/r4"),
            },
            agent_key,
            mailbox,
            team: None,
            services,
        })
    }

    /// The demo home (inside the person's data home).
    pub fn home(&self) -> &DataHome {
        &self.home
    }

    /// The sandbox's addresses.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The demo's proposals for this run.
    pub fn steps(&self) -> Vec<Step> {
        script::steps(&self.sandbox)
    }

    /// Where the demo SMTP server keeps what it receives.
    pub fn mailbox(&self) -> &Path {
        &self.mailbox
    }

    /// Where the demo agent keeps its report.
    pub fn report(&self) -> PathBuf {
        self.home.root().join("demo-agent.json")
    }

    /// Starts the demo agent against the connector at `address` (`127.0.0.1:PORT`).
    pub fn run_agent(&self, address: String) -> JoinHandle<()> {
        let key = self.agent_key.expose().to_owned();
        let steps = self.steps();
        let report = self.report();
        tokio::spawn(async move {
            if let Err(error) = agent::run(address, key, steps, report).await {
                tracing::error!(%error, "the demo agent stopped");
            }
        })
    }
}
