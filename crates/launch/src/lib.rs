//! One start-up path for every screen the person reviews at: the desktop app and
//! `countersign review` start the same way, so neither can skip a step.
//!
//! [`start`] locates the data home, starts the demo when wanted (its sandbox services, its own
//! data home), opens the [`Desk`] (the one-reviewer lock, the audit log's start-up duties,
//! executions interrupted by a crash marked `outcome_unknown`), starts the connector on loopback
//! (on a free port when the demo finds the usual one taken), starts the demo agent, and runs the
//! periodic duties (expiry, and the auto-lock where the screen can unlock) once a second. On a
//! desk that is in a team, the person must sign in first, and the desk acts for them.
//!
//! *API boundary*: [`start`] and what it returns; the shells only show what is [`Running`].

mod logging;

pub use logging::{LogGuard, log_folder, start_logging};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use countersign_app::{AppError, DataHome, Desk, DeskOptions};
use countersign_connector::{Connector, ConnectorError, Limits};
use countersign_demo::{Demo, DemoError};

/// Whether the demo runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoChoice {
    /// `--demo`.
    Always,
    /// `--no-demo`, or a screen that starts it only when asked.
    Never,
    /// When the data home holds no credential yet (a newcomer's first run).
    OnFirstRun,
}

/// How a screen starts.
#[derive(Debug)]
pub struct Launch {
    /// Whether the demo runs.
    pub demo: DemoChoice,
    /// Whether the desk locks itself after inactivity (a screen that can unlock).
    pub auto_lock: bool,
    /// Who signs in, on a desk that is in a team (design.md §19); a single person's desk takes
    /// none.
    pub sign_in: Option<SignIn>,
    /// With the demo: run it as a team (two people, two desks) on this database.
    pub team_demo: Option<TeamDemo>,
}

/// The demo in team mode: the PostgreSQL database it may empty and use, and its password.
pub struct TeamDemo {
    /// `postgres://USER@HOST:PORT/DATABASE`, no password in it.
    pub database: String,
    /// The database's password.
    pub password: countersign_vault::Secret,
}

impl std::fmt::Debug for TeamDemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamDemo")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// A person signing in to a team desk: their name and their authenticator's current code.
pub struct SignIn {
    /// Their name in the team.
    pub name: String,
    /// The code their authenticator shows now.
    pub code: countersign_vault::Secret,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why Countersign could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The data home, the desk or a store.
    #[error(transparent)]
    App(#[from] AppError),
    /// The demo's set-up.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// The connector's address.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The listener.
    #[error("the connector could not start: {0}")]
    Listener(#[from] std::io::Error),
}

/// What runs once started.
pub struct Running {
    /// The person's side.
    pub desk: Arc<Desk>,
    /// Where agents reach the connector.
    pub connector: SocketAddr,
    /// Proposals that were executing when Countersign last stopped: their outcome is unknown.
    pub unknown: Vec<String>,
    /// The demo, while it runs (its sandbox lives as long as this value).
    pub demo: Option<Demo>,
}

fn plain_loopback_origins() -> Vec<String> {
    std::env::var("COUNTERSIGN_PLAIN_LOOPBACK_ORIGINS")
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Starts Countersign for a screen; call inside a Tokio runtime, which runs the connector and
/// the duties.
///
/// # Errors
/// When the data home, the desk, the demo or the connector cannot start.
pub async fn start(launch: Launch) -> Result<Running, LaunchError> {
    let data_home = DataHome::locate()?;
    let wanted = match launch.demo {
        DemoChoice::Always => true,
        DemoChoice::Never => false,
        // A desk that joined a team is never replaced by the demo, however empty it is.
        DemoChoice::OnFirstRun => {
            countersign_app::team::TeamConfig::read(&data_home)?.is_none()
                && countersign_demo::wanted(&data_home, false, false).await?
        }
    };
    let demo = match (wanted, &launch.team_demo) {
        (true, Some(team)) => {
            Some(Demo::start_team(&data_home, &team.database, &team.password).await?)
        }
        (true, None) => Some(Demo::start(&data_home).await?),
        (false, _) => None,
    };
    let data_home_for_logs = data_home.clone();
    let home = demo.as_ref().map_or(data_home, |d| d.home().clone());
    // The team demo signs its first person in at its own desk.
    let demo_sign_in = demo
        .as_ref()
        .and_then(Demo::team_sign_in)
        .map(|(name, code)| SignIn {
            name,
            code: countersign_vault::Secret::new(code),
        });
    let signed_in = who(&home, launch.sign_in.as_ref().or(demo_sign_in.as_ref())).await?;
    let options = DeskOptions {
        plain_loopback_origins: plain_loopback_origins(),
        // The team demo's second desk is the demo too: labelled, its person's code shown.
        demo: demo.is_some()
            || home
                .root()
                .join(countersign_demo::team::AUTHENTICATOR_FILE)
                .exists(),
        auto_lock: launch.auto_lock,
        signed_in,
        log_folder: Some(log_folder(&data_home_for_logs)),
    };
    let (desk, unknown) = Desk::open(home, countersign_app::person(), options).await?;
    if !unknown.is_empty() {
        tracing::warn!(
            ?unknown,
            "executions interrupted by a crash are marked outcome_unknown"
        );
    }
    let desk = Arc::new(desk);
    let address = std::env::var("COUNTERSIGN_CONNECTOR_ADDR")
        .unwrap_or_else(|_| countersign_connector::DEFAULT_ADDR.to_owned());
    let listener = match countersign_connector::bind(&address).await {
        Ok(listener) => listener,
        // The demo must start even when another Countersign holds the usual port.
        Err(_) if demo.is_some() => countersign_connector::bind("127.0.0.1:0").await?,
        Err(error) => return Err(error.into()),
    };
    let local = listener.local_addr()?;
    desk.set_connector(local.to_string());
    let connector = Connector {
        lifecycle: Arc::clone(desk.lifecycle()),
        allowed_origins: Vec::new(),
        limits: Limits::default(),
    };
    tokio::spawn(async move {
        if let Err(error) = countersign_connector::serve(listener, connector).await {
            tracing::error!(%error, "the connector stopped");
        }
    });
    tracing::info!(%local, "listening for agents");
    if let Some(demo) = &demo {
        demo.run_agent(local.to_string());
    }
    tokio::spawn(duties(Arc::clone(&desk)));
    Ok(Running {
        desk,
        connector: local,
        unknown,
        demo,
    })
}

/// Whether starting needs a person to sign in first: the data home joined a team (and the demo
/// was not asked for). Returns the team's database as the sign-in screen names it.
///
/// # Errors
/// When the data home cannot be found or its `team.json` cannot be read.
pub fn sign_in_wanted(
    demo: DemoChoice,
) -> Result<Option<countersign_app::views::SignInView>, LaunchError> {
    if matches!(demo, DemoChoice::Always) {
        return Ok(None);
    }
    let home = DataHome::locate()?;
    Ok(
        countersign_app::team::TeamConfig::read(&home)?.map(|config| {
            countersign_app::views::SignInView {
                team: config.database,
                // A desk of the team demo shows its people's demo codes, as the demo does.
                demo_codes: [
                    countersign_demo::team::NURSE,
                    countersign_demo::team::PRESCRIBER_NAME,
                ]
                .iter()
                .filter_map(|name| {
                    countersign_demo::team::demo_code(&home, name)
                        .map(|code| format!("{name}: {code}"))
                })
                .collect(),
            }
        }),
    )
}

/// Who the desk acts for: on a team desk, the person who signs in with their second factor
/// (nobody else may start it); on a single person's desk (`None`), this computer's account.
async fn who(
    home: &DataHome,
    sign_in: Option<&SignIn>,
) -> Result<Option<countersign_app::team::SignedIn>, LaunchError> {
    let in_team = countersign_app::team::TeamConfig::read(home)?.is_some();
    match (in_team, sign_in) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err(AppError::NotAllowed(
            "this data home is not in a team, so there is no one to sign in as".into(),
        )
        .into()),
        (true, None) => Err(AppError::NotAllowed(
            "this desk is in a team: sign in with your name and code (countersign review --as NAME)"
                .into(),
        )
        .into()),
        (true, Some(sign_in)) => {
            let audit = Arc::new(
                countersign_app::Audit::open(home, countersign_audit::Actor::person(&sign_in.name))
                    .await?,
            );
            let team = countersign_app::team::Team::open(home, audit)?.ok_or_else(|| {
                AppError::NotAllowed("this desk's team could not be opened".into())
            })?;
            Ok(Some(
                team.sign_in(&sign_in.name, sign_in.code.expose()).await?,
            ))
        }
    }
}

/// Once a second: expire proposals whose time ran out, and lock after inactivity.
async fn duties(desk: Arc<Desk>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(error) = desk.tick().await {
            tracing::error!(%error, "a periodic duty failed");
        }
    }
}
