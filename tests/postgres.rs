//! The integration suite (`tests/api`) on PostgreSQL. Without a reachable
//! server it stops at its first database test, successfully, unless
//! `AUTHQL_TEST_POSTGRES=required` (as in CI) makes that a failure.

#[path = "api/main.rs"]
mod api;
