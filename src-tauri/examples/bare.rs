//! The baseline of the desktop benchmark: a bare Tauri window built the same way as the app
//! (same crate, same features, same profile) showing one static page. With
//! `COUNTERSIGN_READY_FILE` set, it writes the time there once the page has loaded.

use tauri::webview::PageLoadEvent;

fn main() -> std::process::ExitCode {
    let built = tauri::Builder::default()
        .on_page_load(|_webview, payload| {
            if payload.event() == PageLoadEvent::Finished
                && let Some(path) = std::env::var_os("COUNTERSIGN_READY_FILE")
            {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let _ = std::fs::write(path, now.to_string());
            }
        })
        .run(tauri::generate_context!("examples/bare/tauri.conf.json"));
    match built {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bare window: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
