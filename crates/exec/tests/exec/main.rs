//! Integration tests of grants and the HTTP executor against real servers on 127.0.0.1 over TCP,
//! plain and TLS (with a test CA).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod email;
mod grants;
mod http;
mod servers;
mod sql;
