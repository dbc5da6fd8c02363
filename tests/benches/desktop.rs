//! Desktop benchmark: the release build of Countersign against a bare Tauri window built the same
//! way (`src-tauri/examples/bare.rs`), measured in the same run and printed as ratios:
//! - start-up: from launching the process to the inbox on screen (the app's UI reports it) and
//!   to the bare page loaded;
//! - idle memory: the proportional set size (PSS) of every process of the app — the shell and
//!   WebKit's web and network processes — three seconds after it is ready.
//!
//! Needs the release builds (`cargo build --release -p countersign-desktop --bin
//! countersign-desktop --example bare`), a display, a session bus and a keychain: run it through
//! the README's test command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The parent pid is the second field after the ")" closing the command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let next = children_of(all[i]);
        all.extend(next);
        i += 1;
    }
    all
}

/// PSS in KiB of every process in `pid`'s tree.
fn pss_kib(pid: u32) -> u64 {
    tree(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .map(|text| {
            text.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

struct Sample {
    start: Duration,
    pss_kib: u64,
    processes: usize,
}

fn stop(mut child: Child) {
    let pids = tree(child.id());
    let _ = Command::new("kill")
        .arg("-TERM")
        .args(pids.iter().map(u32::to_string))
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
}

fn measure(binary: &Path, args: &[&str], work: &Path) -> Sample {
    let ready = work.join("ready");
    let _ = std::fs::remove_file(&ready);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let launched = Instant::now();
    let child = Command::new(binary)
        .args(args)
        .env("COUNTERSIGN_READY_FILE", &ready)
        .env("COUNTERSIGN_HOME", work.join("home"))
        .env("COUNTERSIGN_CONNECTOR_ADDR", format!("127.0.0.1:{port}"))
        .env("COUNTERSIGN_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    while !ready.exists() {
        assert!(
            launched.elapsed() < Duration::from_secs(60),
            "{} did not get ready within a minute",
            binary.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = launched.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let pid = child.id();
    let sample = Sample {
        start,
        pss_kib: pss_kib(pid),
        processes: tree(pid).len(),
    };
    stop(child);
    sample
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "DISPLAY is not set: run through scripts/test.sh (it starts Xvfb)"
    );
    let release = target_dir().join("release");
    let app = release.join("countersign-desktop");
    let bare = release.join("examples").join("bare");
    for binary in [&app, &bare] {
        assert!(
            binary.is_file(),
            "{} is not built: cargo build --release -p countersign-desktop --bin countersign-desktop --example bare",
            binary.display()
        );
    }
    let work = tempfile::tempdir().unwrap();
    let mut app_samples = Vec::new();
    let mut bare_samples = Vec::new();
    for round in 0..ROUNDS {
        // Alternate, so drift of the machine affects both alike; a fresh data home each time.
        let _ = std::fs::remove_dir_all(work.path().join("home"));
        bare_samples.push(measure(&bare, &[], work.path()));
        let _ = std::fs::remove_dir_all(work.path().join("home"));
        app_samples.push(measure(&app, &["--no-demo"], work.path()));
        println!(
            "round {}: countersign {:.0} ms, {} KiB in {} processes; bare window {:.0} ms, {} KiB in {} processes",
            round + 1,
            app_samples[round].start.as_secs_f64() * 1000.0,
            app_samples[round].pss_kib,
            app_samples[round].processes,
            bare_samples[round].start.as_secs_f64() * 1000.0,
            bare_samples[round].pss_kib,
            bare_samples[round].processes,
        );
    }
    let start = |s: &[Sample]| median(s.iter().map(|x| x.start.as_secs_f64() * 1000.0).collect());
    let memory = |s: &[Sample]| median(s.iter().map(|x| x.pss_kib as f64 / 1024.0).collect());
    let (app_start, bare_start) = (start(&app_samples), start(&bare_samples));
    let (app_memory, bare_memory) = (memory(&app_samples), memory(&bare_samples));
    println!(
        "desktop/start-up to inbox visible: countersign {app_start:.0} ms vs bare window {bare_start:.0} ms (median of {ROUNDS}); ratio {:.2}",
        app_start / bare_start
    );
    println!(
        "desktop/idle memory (PSS, all processes): countersign {app_memory:.1} MiB vs bare window {bare_memory:.1} MiB; ratio {:.2}",
        app_memory / bare_memory
    );
}
