//! Starts the Countersign desktop app.

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // The terminal's log and the data home's support log (`logs/`, one file a day).
    let _log = countersign_launch::start_logging(true);
    match countersign_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line a person can act on, not a backtrace.
            eprintln!("countersign: the desktop app could not start: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
