//! What runs beside the window: starting Countersign through the one start-up path
//! (`countersign_launch`: the desk, the demo, the connector, the duties), and telling the person
//! when a proposal arrives — an OS notification, the tray's count and the window title.

use std::sync::Arc;

use countersign_app::Desk;
use countersign_app::views::SignInView;
use countersign_launch::DemoChoice;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::watch;

use crate::{Launch, MAIN_WINDOW, Opened, TRAY};

/// Opens the desk in the background and starts everything that needs it; a team desk waits
/// for its person to sign in on the window's sign-in screen ([`sign_in`]).
pub(crate) fn start<R: Runtime>(
    app: AppHandle<R>,
    launch: Launch,
    opened: Arc<watch::Sender<Opened>>,
    waiting: Arc<std::sync::Mutex<Option<SignInView>>>,
) {
    match countersign_launch::sign_in_wanted(demo_choice(launch)) {
        Ok(Some(team)) => {
            if let Ok(mut waiting) = waiting.lock() {
                *waiting = Some(team);
            }
            tracing::info!("a team desk: waiting for a person to sign in");
            return;
        }
        Ok(None) => {}
        Err(error) => {
            let _ = opened.send(Some(Err(error.to_string())));
            return;
        }
    }
    tauri::async_runtime::spawn(async move {
        match open(&app, launch, None).await {
            Ok(desk) => {
                let _ = opened.send(Some(Ok(desk)));
            }
            Err(error) => {
                tracing::error!(%error, "the desk could not be opened");
                let _ = opened.send(Some(Err(error.to_string())));
            }
        }
    });
}

/// A team desk's person signs in with their name and code: the desk opens as theirs. A wrong
/// code leaves the sign-in screen up, to try again.
pub(crate) async fn sign_in<R: Runtime>(
    app: &AppHandle<R>,
    launch: Launch,
    opened: &watch::Sender<Opened>,
    sign_in: countersign_launch::SignIn,
) -> anyhow::Result<()> {
    let desk = open(app, launch, Some(sign_in)).await?;
    let _ = opened.send(Some(Ok(desk)));
    Ok(())
}

/// The demo in place of the person's own desk, asked for from the first-run guide: the window
/// shows the demo's desk until the app is quit; the person's desk keeps running beside it.
pub(crate) async fn start_demo<R: Runtime>(
    app: &AppHandle<R>,
    opened: &watch::Sender<Opened>,
) -> anyhow::Result<()> {
    let launch = Launch {
        demo: true,
        ..Launch::default()
    };
    let desk = open(app, launch, None).await?;
    let _ = opened.send(Some(Ok(desk)));
    Ok(())
}

fn demo_choice(launch: Launch) -> DemoChoice {
    if launch.demo {
        DemoChoice::Always
    } else if launch.demo_when_new && !launch.no_demo {
        DemoChoice::OnFirstRun
    } else {
        // A newcomer's own desk opens on the first-run guide, which offers the demo.
        DemoChoice::Never
    }
}

async fn open<R: Runtime>(
    app: &AppHandle<R>,
    launch: Launch,
    sign_in: Option<countersign_launch::SignIn>,
) -> anyhow::Result<Arc<Desk>> {
    let running = countersign_launch::start(countersign_launch::Launch {
        demo: demo_choice(launch),
        auto_lock: true,
        sign_in,
        team_demo: None,
    })
    .await?;
    if let Some(demo) = running.demo {
        // The sandbox lives as long as the app.
        app.manage(DemoHolder(demo));
    }
    tauri::async_runtime::spawn(announce(app.clone(), Arc::clone(&running.desk)));
    Ok(running.desk)
}

/// Keeps the demo's sandbox services running.
struct DemoHolder(#[allow(dead_code)] countersign_demo::Demo);

/// Tells the person when proposals arrive: a notification for each new one, and the count on
/// the tray and in the window title.
async fn announce<R: Runtime>(app: AppHandle<R>, desk: Arc<Desk>) {
    let mut changes = desk.lifecycle().store().subscribe();
    let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut first = true;
    loop {
        // The newest page and the count: the same whether 10 or 10,000 are waiting.
        let store = desk.lifecycle().store();
        if let (Ok(pending), Ok(count)) = (
            store.lines(true, countersign_app::INBOX_PAGE).await,
            store.pending_total().await,
        ) {
            let arrived: Vec<_> = pending.iter().filter(|l| !known.contains(&l.id)).collect();
            if !first && !arrived.is_empty() {
                // Who proposed, not what: a notification can show on a locked screen, and
                // proposals may hold patients' details.
                let agent = arrived[0].agent.clone();
                let body = if arrived.len() == 1 {
                    format!("{agent} proposes something for you to review.")
                } else {
                    format!(
                        "{} new proposals are waiting for your review.",
                        arrived.len()
                    )
                };
                crate::native::notify(&body);
            }
            first = false;
            known = pending.iter().map(|l| l.id.clone()).collect();
            let title = if count == 0 {
                "Countersign".to_owned()
            } else {
                format!("Countersign — {count} waiting")
            };
            if let Some(tray) = app.tray_by_id(TRAY) {
                let _ = tray.set_tooltip(Some(&title));
                let _ = tray.set_title((count > 0).then(|| count.to_string()));
            }
            if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
                let _ = window.set_title(&title);
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}
