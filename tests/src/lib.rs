//! Harness for Countersign's end-to-end tests.
//!
//! It launches the real desktop binary through `tauri-driver`, which drives the system's
//! `WebKitWebDriver`, and hands the test a WebDriver client on that window. Nothing here is a
//! mock: a missing driver, binary or display fails the test with a message naming what to install
//! (the README's test command provides all of them).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::{Mutex, MutexGuard};

/// The app is single-instance, so two sessions at once would hand over to each other.
static ONE_APP_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How long to wait for a freshly spawned process to start listening.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// How long the app may take to open its window under WebDriver before the test fails (instead
/// of hanging: a WebDriver session request otherwise waits for ever).
const SESSION_WAIT: Duration = Duration::from_secs(60);

/// How long a closed app may take to exit and release its single-instance name.
const EXIT_WAIT: Duration = Duration::from_secs(20);

/// A running desktop app under WebDriver control. Dropping it ends the session and the driver.
pub struct Desktop {
    /// The WebDriver client bound to the app's main window.
    pub client: Client,
    /// The app binary this session launched.
    pub binary: PathBuf,
    driver: Child,
    _exclusive: MutexGuard<'static, ()>,
}

impl Desktop {
    /// Launches the app binary and connects a WebDriver client to its window.
    ///
    /// # Errors
    /// Fails, naming the missing piece, when there is no display, no `tauri-driver`, no
    /// `WebKitWebDriver`, no built app, or when the app does not open a window in time.
    pub async fn launch() -> anyhow::Result<Self> {
        Self::launch_with(&[], &[]).await
    }

    /// Like [`Desktop::launch`], with environment variables for the app (set on the driver,
    /// which the app inherits) and command-line arguments.
    ///
    /// # Errors
    /// As [`Desktop::launch`].
    pub async fn launch_with(env: &[(&str, &str)], args: &[&str]) -> anyhow::Result<Self> {
        let exclusive = ONE_APP_AT_A_TIME.lock().await;
        if std::env::var_os("DISPLAY").is_none() {
            bail!(
                "DISPLAY is not set: run the end-to-end tests through the README's test command, which starts Xvfb"
            );
        }
        let binary = app_binary()?;
        let tauri_driver = find_program("tauri-driver").context(
            "tauri-driver is not installed: run `cargo install tauri-driver --locked` (the README's test command does)",
        )?;
        find_program("WebKitWebDriver")
            .context("WebKitWebDriver is not installed: apt-get install webkit2gtk-driver")?;

        // A WebDriver session that cannot even be requested (the driver's socket reset, a port
        // taken between choosing and binding it) is retried with fresh ports, up to three
        // attempts; an app that does not open its window fails all of them.
        let mut attempt = 0;
        let (client, mut desktop_driver) = loop {
            attempt += 1;
            match start_session(&tauri_driver, &binary, env, args).await {
                Ok(started) => break started,
                Err(error) if attempt < 3 => {
                    eprintln!("retrying the WebDriver session: {error:#}");
                }
                Err(error) => return Err(error),
            }
        };
        let driver = desktop_driver.0.take().context("driver process vanished")?;
        Ok(Self {
            client,
            binary,
            driver,
            _exclusive: exclusive,
        })
    }

    /// Waits for the element matching `css` and returns its text.
    ///
    /// # Errors
    /// Fails when no such element appears within the WebDriver wait.
    pub async fn text_of(&self, css: &str) -> anyhow::Result<String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let element = self
                .client
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(fantoccini::Locator::Css(css))
                .await
                .with_context(|| format!("no element matches {css}"))?;
            // The element may have been redrawn between finding and reading it.
            match element.text().await {
                Ok(text) => return Ok(text),
                Err(error) if attempt < 5 && stale(&error) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Ticks what releases the result path `path`: its named fact when the result lists one for
    /// exactly that path, otherwise its box in the whole result (opened first).
    ///
    /// # Errors
    /// Fails when neither is on screen.
    pub async fn tick_result_path(&self, path: &str) -> anyhow::Result<()> {
        let fact = format!(r#"input[data-fact="{path}"]"#);
        if self
            .client
            .find(fantoccini::Locator::Css(&fact))
            .await
            .is_ok()
        {
            return self.click(&fact).await;
        }
        let open = self
            .client
            .execute(
                "const d = document.getElementById('raw-result'); return d !== null && d.open;",
                vec![],
            )
            .await?;
        if open != serde_json::Value::Bool(true) {
            self.click("#raw-result > summary").await?;
        }
        self.click(&format!(r#"input[data-path="{path}"]"#)).await
    }

    /// Waits for the element matching `css` and returns it.
    ///
    /// # Errors
    /// Fails when no such element appears within `within`.
    pub async fn find(
        &self,
        css: &str,
        within: Duration,
    ) -> anyhow::Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(within)
            .for_element(fantoccini::Locator::Css(css))
            .await
            .with_context(|| format!("no element matches {css} within {within:?}"))
    }

    /// Clicks the element matching `css` once it appears.
    ///
    /// # Errors
    /// Fails when it does not appear or cannot be clicked.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        // Screens redraw when anything changes (a proposal arrives, another is decided), so an
        // element found a moment ago may be gone: find it again, a few times.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let element = self.find(css, Duration::from_secs(20)).await?;
            match element.click().await {
                Ok(()) => return Ok(()),
                Err(error) if attempt < 5 && stale(&error) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Waits until the text of `css` contains `needle`, and returns it.
    ///
    /// # Errors
    /// Fails when it does not within `within`.
    pub async fn wait_for_text(
        &self,
        css: &str,
        needle: &str,
        within: Duration,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let text = match self.client.find(fantoccini::Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!(
                    "{css} did not come to contain {needle:?} within {within:?}; it reads {text:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Saves a PNG of the window as `NAME.png` in [`screenshot_dir`] (a build folder: tests never
    /// rewrite tracked files; `scripts/screenshots.sh` copies them to `docs/screenshots/`).
    ///
    /// # Errors
    /// Fails when the screenshot cannot be taken or written.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        self.screenshot_from(name, "body").await
    }

    /// Like [`Desktop::screenshot`], with the element matching `css` scrolled to the top.
    ///
    /// # Errors
    /// Fails when the screenshot cannot be taken or written.
    pub async fn screenshot_from(&self, name: &str, css: &str) -> anyhow::Result<()> {
        self.client
            .execute(
                "const e = document.querySelector(arguments[0]); if (e) { e.scrollIntoView({block: 'start'}); } if (arguments[0] === 'body') { window.scrollTo(0, 0); document.getElementById('main')?.scrollTo(0, 0); }",
                vec![serde_json::json!(css)],
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = self.client.screenshot().await?;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// Ends the WebDriver session, which closes the app.
    ///
    /// # Errors
    /// Fails when the driver does not answer.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.client.clone().close().await?;
        stop(&mut self.driver);
        wait_for_exit(&self.binary)
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        stop(&mut self.driver);
        // Best effort after a failure: the next test waits for the app to be gone anyway.
        let _ = wait_for_exit(&self.binary);
    }
}

/// Waits until no process runs `binary`, killing stragglers after a grace period.
fn wait_for_exit(binary: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + EXIT_WAIT;
    loop {
        let running = processes_of(binary);
        if running.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            for pid in &running {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
            std::thread::sleep(Duration::from_millis(500));
            if processes_of(binary).is_empty() {
                return Ok(());
            }
            bail!(
                "the app ({}) did not exit within {EXIT_WAIT:?}",
                binary.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Process ids whose executable is `binary` (Linux `/proc`).
fn processes_of(binary: &Path) -> Vec<u32> {
    let Ok(target) = binary.canonicalize() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            // A zombie has no exe link; a deleted-then-rebuilt binary reads "… (deleted)".
            (exe == target).then_some(pid)
        })
        .collect()
}

/// Whether a WebDriver error says the element was replaced by a redraw.
fn stale(error: &fantoccini::error::CmdError) -> bool {
    let text = error.to_string();
    // WebKitWebDriver also answers a click on an element being redrawn with an error that has
    // no message at all (seen on a loaded CI machine): it is tried again like a stale one.
    text.contains("was not found")
        || text.contains("stale element")
        || text.contains("not interactable")
        || text.contains("intercepted")
        || text.trim_end().ends_with("webdriver returned error:")
}

/// Starts `tauri-driver` and opens a WebDriver session on the app.
async fn start_session(
    tauri_driver: &Path,
    binary: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> anyhow::Result<(Client, DriverProcess)> {
    let port = free_port()?;
    let native_port = free_port()?;
    let driver = Command::new(tauri_driver)
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", tauri_driver.display()))?;
    let desktop_driver = DriverProcess(Some(driver));
    wait_for_port(port).context("tauri-driver did not start listening")?;
    // tauri-driver forwards to WebKitWebDriver, which it spawns at start but does not wait for;
    // on a loaded machine a session requested before that listens is refused ("tcp connect
    // error"), so the test waits for both.
    wait_for_port(native_port).context("WebKitWebDriver did not start listening")?;

    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": binary.to_string_lossy(), "args": args }),
    );
    // The previous test's app must be gone, or this one would hand over to it and exit.
    wait_for_exit(binary)?;
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let webdriver = format!("http://127.0.0.1:{port}");
    let connect = builder.connect(&webdriver);
    let client = tokio::time::timeout(SESSION_WAIT, connect)
        .await
        .with_context(|| format!("the app did not open its window within {SESSION_WAIT:?}"))?
        .context("tauri-driver did not open a session on the app")?;
    Ok((client, desktop_driver))
}

/// Kills the driver if launching fails half-way.
struct DriverProcess(Option<Child>);

impl Drop for DriverProcess {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            stop(child);
        }
    }
}

fn stop(child: &mut Child) {
    // The driver may already have exited; either way nothing is left running.
    let _ = child.kill();
    let _ = child.wait();
}

/// The desktop binary: `COUNTERSIGN_APP_BIN`, or `countersign-desktop` in this build's target dir.
///
/// # Errors
/// Fails when the binary has not been built.
pub fn app_binary() -> anyhow::Result<PathBuf> {
    let binary = match std::env::var_os("COUNTERSIGN_APP_BIN") {
        Some(path) => PathBuf::from(path),
        None => {
            // Test executables live in <target>/<profile>/deps; the app in <target>/<profile>.
            let exe = std::env::current_exe()?;
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .context("cannot locate the target directory")?;
            profile_dir.join("countersign-desktop")
        }
    };
    if !binary.is_file() {
        bail!(
            "the desktop app is not built at {}: run `cargo build -p countersign-desktop` after building ui/ (the README's test command does)",
            binary.display()
        );
    }
    Ok(binary)
}

fn find_program(name: &str) -> anyhow::Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{name} is not on PATH"))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + STARTUP_WAIT;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listened on 127.0.0.1:{port} within {STARTUP_WAIT:?}")
}

/// Where the end-to-end tests save screenshots: `screenshots/` in the cargo target folder.
pub fn screenshot_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("screenshots")
}
