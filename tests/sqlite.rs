//! The integration suite (`tests/api`) on SQLite, the default backend.

#[path = "api/main.rs"]
mod api;
