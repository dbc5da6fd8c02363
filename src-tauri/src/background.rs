//! What runs beside the window: opening the desk (and the demo), the connector, the once-a-second
//! duties (expiry, auto-lock), and telling the person when a proposal arrives — an OS
//! notification, the tray's count and the window title.

use std::sync::Arc;
use std::time::Duration;

use countersign_app::{DataHome, Desk, DeskOptions};
use countersign_connector::{Connector, Limits};
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::watch;

use crate::{Launch, MAIN_WINDOW, Opened, TRAY};

/// Opens the desk in the background and starts everything that needs it.
pub(crate) fn start<R: Runtime>(app: AppHandle<R>, launch: Launch, opened: watch::Sender<Opened>) {
    tauri::async_runtime::spawn(async move {
        match open(&app, launch).await {
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

async fn open<R: Runtime>(app: &AppHandle<R>, launch: Launch) -> anyhow::Result<Arc<Desk>> {
    let data_home = DataHome::locate()?;
    let demo = if countersign_demo::wanted(&data_home, launch.demo, launch.no_demo).await? {
        Some(countersign_demo::Demo::start(&data_home).await?)
    } else {
        None
    };
    let home = demo.as_ref().map_or(data_home, |d| d.home().clone());
    let options = DeskOptions {
        plain_loopback_origins: std::env::var("COUNTERSIGN_PLAIN_LOOPBACK_ORIGINS")
            .map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        demo: demo.is_some(),
    };
    let (desk, unknown) = Desk::open(home.clone(), countersign_app::person(), options).await?;
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
        Err(_) if demo.is_some() => countersign_connector::bind("127.0.0.1:0").await?,
        Err(error) => return Err(error.into()),
    };
    let local = listener.local_addr()?;
    desk.set_connector(local.to_string());
    let connector = Connector {
        home,
        audit: Arc::clone(desk.audit()),
        lifecycle: Arc::clone(desk.lifecycle()),
        allowed_origins: Vec::new(),
        limits: Limits::default(),
    };
    tauri::async_runtime::spawn(async move {
        if let Err(error) = countersign_connector::serve(listener, connector).await {
            tracing::error!(%error, "the connector stopped");
        }
    });
    tracing::info!(%local, "listening for agents");
    if let Some(demo) = demo {
        demo.run_agent(local.to_string());
        // The sandbox lives as long as the app.
        app.manage(DemoHolder(demo));
    }
    tauri::async_runtime::spawn(duties(Arc::clone(&desk)));
    tauri::async_runtime::spawn(announce(app.clone(), Arc::clone(&desk)));
    Ok(desk)
}

/// Keeps the demo's sandbox services running.
struct DemoHolder(#[allow(dead_code)] countersign_demo::Demo);

async fn duties(desk: Arc<Desk>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(error) = desk.tick().await {
            tracing::error!(%error, "a periodic duty failed");
        }
    }
}

/// Tells the person when proposals arrive: a notification for each new one, and the count on
/// the tray and in the window title.
async fn announce<R: Runtime>(app: AppHandle<R>, desk: Arc<Desk>) {
    let mut changes = desk.lifecycle().subscribe();
    let mut known: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut first = true;
    loop {
        if let Ok(pending) = desk.lifecycle().pending().await {
            let arrived: Vec<_> = pending.iter().filter(|r| !known.contains(&r.id)).collect();
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
            known = pending.iter().map(|r| r.id.clone()).collect();
            let count = pending.len();
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
