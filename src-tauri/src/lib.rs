//! The Countersign desktop shell.
//!
//! This crate is the only one in the workspace that depends on `tauri`. It opens the window, owns
//! the tray icon and the single-instance lock, and forwards what the UI asks for to the library
//! crates. It holds no business logic: every decision about a proposal is made below it
//! (design.md §1, invariant 7).

use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

/// The label of the one main window, as named in `tauri.conf.json` and the capabilities.
const MAIN_WINDOW: &str = "main";

/// Builds and runs the desktop app until the person quits it.
///
/// # Errors
/// Fails when the webview or the tray cannot be created, e.g. with no display.
pub fn run() -> tauri::Result<()> {
    tauri::Builder::default()
        // Registered first: a second launch must hand over to the running app before the second
        // copy opens a window or touches the data home.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("a second launch asked for the window; focusing the running app");
            show_main_window(app);
        }))
        .setup(|app| {
            install_tray(app.handle())?;
            Ok(())
        })
        .run(tauri::generate_context!())
}

/// The tray icon stays when the window is closed, so an arriving proposal can still be noticed.
fn install_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Countersign", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Countersign", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id("countersign")
        .tooltip("Countersign")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window(MAIN_WINDOW) else {
        tracing::warn!("the main window is gone; nothing to focus");
        return;
    };
    // Each step is best effort: a window manager may refuse focus, and the app must not stop.
    for (step, result) in [
        ("show", window.show()),
        ("unminimize", window.unminimize()),
        ("focus", window.set_focus()),
    ] {
        if let Err(error) = result {
            tracing::warn!(step, %error, "could not bring the window forward");
        }
    }
}
