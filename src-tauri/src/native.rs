//! Native pieces the web page must not do itself: the secret prompt (so a secret is typed into
//! the toolkit and goes from there to the keychain, never through the page's JavaScript), save
//! dialogs, and desktop notifications.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime};

/// Set once a notification has failed, so the warning is logged once.
static NOTIFICATIONS_FAILED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Shows a desktop notification; a system without a notification service is logged, not fatal.
pub(crate) fn notify(body: &str) {
    #[cfg(target_os = "linux")]
    {
        let body = body.to_owned();
        std::thread::spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("Countersign")
                .summary("Countersign: a proposal is waiting")
                .body(&body)
                .show();
            if let Err(error) = shown
                && !NOTIFICATIONS_FAILED.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                // Once: a desktop without a notification service would repeat it for every arrival.
                tracing::warn!(%error, "no desktop notification could be shown; the tray and window title still count proposals");
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    tracing::info!(
        body,
        "desktop notifications are not wired on this platform yet"
    );
}

/// Runs `work` on the toolkit's main thread and waits for its answer.
async fn on_main_thread<R: Runtime, T: Send + 'static>(
    app: &AppHandle<R>,
    work: impl FnOnce(&AppHandle<R>) -> T + Send + 'static,
) -> Result<T, String> {
    let (send, receive) = tokio::sync::oneshot::channel();
    let handle = app.clone();
    app.run_on_main_thread(move || {
        let _ = send.send(work(&handle));
    })
    .map_err(|e| e.to_string())?;
    receive.await.map_err(|e| e.to_string())
}

/// Asks for a credential's secret in a native password dialog. `None` when cancelled.
///
/// # Errors
/// When no dialog can be shown on this platform.
pub(crate) async fn ask_secret<R: Runtime>(
    app: &AppHandle<R>,
    name: &str,
    what: &str,
) -> Result<Option<String>, String> {
    #[cfg(target_os = "linux")]
    {
        let prompt = format!(
            "Paste or type the secret for “{name}” ({what}).\nIt goes straight to the system keychain; agents never see it."
        );
        on_main_thread(app, move |app| {
            use gtk::prelude::*;
            let parent = app
                .get_webview_window(crate::MAIN_WINDOW)
                .and_then(|w| w.gtk_window().ok());
            let dialog = gtk::Dialog::with_buttons(
                Some("Countersign — secret"),
                parent.as_ref(),
                gtk::DialogFlags::MODAL | gtk::DialogFlags::DESTROY_WITH_PARENT,
                &[
                    ("Cancel", gtk::ResponseType::Cancel),
                    ("Store in keychain", gtk::ResponseType::Accept),
                ],
            );
            dialog.set_default_response(gtk::ResponseType::Accept);
            let area = dialog.content_area();
            area.set_spacing(12);
            area.set_border_width(16);
            let label = gtk::Label::new(Some(&prompt));
            let entry = gtk::Entry::new();
            entry.set_visibility(false);
            // Enter in the field stores it, as in any password prompt.
            let answer = dialog.clone();
            entry.connect_activate(move |_| answer.response(gtk::ResponseType::Accept));
            entry.set_widget_name("countersign-secret");
            area.add(&label);
            area.add(&entry);
            dialog.show_all();
            entry.grab_focus();
            let response = dialog.run();
            let text = entry.text().to_string();
            entry.set_text("");
            dialog.close();
            (response == gtk::ResponseType::Accept && !text.is_empty()).then_some(text)
        })
        .await
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, name, what);
        Err("On this system, add credentials with `countersign credential add` for now.".into())
    }
}

/// Asks where to save a file, suggesting `suggested`. `None` when cancelled.
///
/// # Errors
/// When no dialog can be shown on this platform.
pub(crate) async fn ask_save_path<R: Runtime>(
    app: &AppHandle<R>,
    title: &str,
    suggested: &str,
) -> Result<Option<PathBuf>, String> {
    #[cfg(target_os = "linux")]
    {
        let title = title.to_owned();
        let suggested = suggested.to_owned();
        on_main_thread(app, move |app| {
            use gtk::prelude::*;
            let parent = app
                .get_webview_window(crate::MAIN_WINDOW)
                .and_then(|w| w.gtk_window().ok());
            let dialog = gtk::FileChooserDialog::with_buttons(
                Some(&title),
                parent.as_ref(),
                gtk::FileChooserAction::Save,
                &[
                    ("Cancel", gtk::ResponseType::Cancel),
                    ("Save", gtk::ResponseType::Accept),
                ],
            );
            dialog.set_do_overwrite_confirmation(true);
            dialog.set_current_name(&suggested);
            let response = dialog.run();
            let path = dialog.filename();
            dialog.close();
            if response == gtk::ResponseType::Accept {
                path
            } else {
                None
            }
        })
        .await
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, title, suggested);
        Err("On this system, export with `countersign audit export` for now.".into())
    }
}
