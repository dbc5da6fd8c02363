//! The Countersign desktop shell.
//!
//! This crate is the only one in the workspace that depends on `tauri`. It opens the window, owns
//! the tray icon, notifications and the single-instance lock, starts the connector (and the demo
//! when asked), and forwards each IPC command to [`countersign_app::Desk`]. It holds no business
//! logic: every decision about a proposal is made below it (design.md §1, invariant 7).

mod background;
mod commands;
mod native;

use std::sync::Arc;

use countersign_app::Desk;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::watch;

/// The label of the one main window, as named in `tauri.conf.json` and the capabilities.
const MAIN_WINDOW: &str = "main";

/// The tray icon's id.
const TRAY: &str = "countersign";

/// The opened desk, or why it could not be opened (shown on screen in words).
pub(crate) type Opened = Option<Result<Arc<Desk>, String>>;

/// What the commands share: the desk once it is open; on a team desk, until someone signs in,
/// the team waiting for them.
pub(crate) struct Shared {
    desk: watch::Receiver<Opened>,
    opened: Arc<watch::Sender<Opened>>,
    launch: Launch,
    waiting: Arc<std::sync::Mutex<Option<countersign_app::views::SignInView>>>,
    /// One change of the window's desk at a time: a second press of "Sign in" or "Try the
    /// demo first" waits for the first.
    opening: tokio::sync::Mutex<()>,
}

/// How the app was launched.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Launch {
    /// `--demo`: always the demo.
    demo: bool,
    /// `--no-demo`: never the demo, even with no credentials yet (also the default).
    no_demo: bool,
    /// `--demo-when-new`: the demo while the data home has no credential (`scripts/run.sh`);
    /// without it a new data home opens on the first-run guide.
    demo_when_new: bool,
}

/// Builds and runs the desktop app until the person quits it.
///
/// # Errors
/// Fails when the webview or the tray cannot be created, e.g. with no display.
pub fn run() -> tauri::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let launch = Launch {
        demo: args.iter().any(|a| a == "--demo"),
        no_demo: args.iter().any(|a| a == "--no-demo"),
        demo_when_new: args.iter().any(|a| a == "--demo-when-new"),
    };
    let (opened, desk) = watch::channel::<Opened>(None);
    let opened = Arc::new(opened);
    let waiting = Arc::new(std::sync::Mutex::new(None));
    tauri::Builder::default()
        // Registered first: a second launch must hand over to the running app before the second
        // copy opens a window or touches the data home.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("a second launch asked for the window; focusing the running app");
            show_main_window(app);
        }))
        .manage(Shared {
            desk,
            opened: Arc::clone(&opened),
            launch,
            waiting: Arc::clone(&waiting),
            opening: tokio::sync::Mutex::new(()),
        })
        .invoke_handler(commands::handler())
        .setup(move |app| {
            install_tray(app.handle())?;
            background::start(app.handle().clone(), launch, opened, waiting);
            Ok(())
        })
        .run(tauri::generate_context!())
}

/// The tray icon stays when the window is closed, so an arriving proposal can still be noticed.
fn install_tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Countersign", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Countersign", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
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

pub(crate) fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
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
