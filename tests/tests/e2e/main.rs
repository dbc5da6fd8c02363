//! End-to-end tests of the real desktop app in the real webview.

mod smoke;
