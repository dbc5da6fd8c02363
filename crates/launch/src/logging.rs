//! The support log: what the app did, kept in the data home's `logs/` as one file a day, the
//! last seven kept, for a person to send when something goes wrong (with the diagnostic report).
//!
//! **Invariant**: nothing secret and no proposal content is written here. The file receives the
//! same `tracing` events as the terminal, and those never carry a secret (secrets are wrapped in
//! types that print `<redacted>`) nor an artifact, a result or an agent's words (the code logs
//! ids, codes and counts); the end-to-end tests read the file after real runs and look for the
//! secrets and the proposals' words in it.

use std::path::PathBuf;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The log folder of a data home.
pub fn log_folder(home: &countersign_app::DataHome) -> PathBuf {
    home.root().join("logs")
}

/// Keeps the log writer running; dropping it flushes what is left.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Sends `tracing` events to the data home's daily log file and, when `to_terminal`, to
/// standard error as well. The level is `COUNTERSIGN_LOG` (default `info`). A data home that
/// cannot be found or written still gets the terminal's log, and the reason is logged there.
pub fn start_logging(to_terminal: bool) -> LogGuard {
    let filter =
        || EnvFilter::try_from_env("COUNTERSIGN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = to_terminal.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let file = countersign_app::DataHome::locate()
        .map_err(|e| e.to_string())
        .and_then(|home| {
            let folder = log_folder(&home);
            std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
            tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("countersign")
                .filename_suffix("log")
                .max_log_files(7)
                .build(&folder)
                .map_err(|e| format!("{}: {e}", folder.display()))
        });
    let (file_layer, guard, trouble) = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter());
            (Some(layer), Some(guard), None)
        }
        Err(reason) => (None, None, Some(reason)),
    };
    let installed = tracing_subscriber::registry()
        .with(terminal)
        .with(file_layer)
        .try_init();
    if let Err(error) = installed {
        eprintln!("countersign: the log could not be set up: {error}");
    }
    if let Some(reason) = trouble {
        tracing::warn!(%reason, "the support log file cannot be written; logging to the terminal only");
    }
    LogGuard(guard)
}
