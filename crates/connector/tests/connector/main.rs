//! Integration tests of the connector over real TCP on 127.0.0.1: REST with a plain HTTP client,
//! and MCP with the rmcp client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mcp;
mod rest;
mod same;
