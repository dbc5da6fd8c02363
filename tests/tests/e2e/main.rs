//! End-to-end tests: the real desktop app in the real webview, and the headless loop with the
//! terminal reviewer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod demo_desktop;
mod demo_review;
mod desktop;
mod first_run;
mod review;
mod smoke;
