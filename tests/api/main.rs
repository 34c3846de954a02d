//! Integration tests: the real router, in process, over a real database.
//!
//! The same tests run twice, as the `sqlite` and the `postgres` test
//! binaries: every rule must hold on both backends. Each test gets its own
//! database (see `helpers::db`), so tests run in parallel without seeing
//! each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod admin;
mod audit;
mod cli;
mod connections;
mod cookie;
mod health;
mod helpers;
mod housekeeping;
mod http;
mod limits;
mod login;
mod logout;
mod logs;
mod me;
mod memory;
mod operations;
mod properties;
mod refresh;
mod register;
mod reset;
mod schema;
mod sessions;
mod snapshots;
mod verification;
