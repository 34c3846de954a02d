//! A database of each test's own, on the backend this test binary covers.
//!
//! The suite is compiled twice from the same sources (see `Cargo.toml`): the
//! `sqlite` binary runs every test on SQLite, the `postgres` binary on
//! PostgreSQL. Tests speak to [`TestDb`] and never name a backend, except
//! where they check something only one backend has.

pub mod pg;
pub mod sqlite;

use std::io::Write;

/// The database backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend of this test binary, from its name.
pub fn backend() -> Backend {
    match env!("CARGO_CRATE_NAME") {
        "postgres" => Backend::Postgres,
        "sqlite" => Backend::Sqlite,
        other => panic!("no database backend is named after the test binary `{other}`"),
    }
}

/// The PostgreSQL run cannot reach its server, at its first attempt. On a
/// developer's machine without PostgreSQL that is fine: the SQLite run
/// covers every test, so this run ends here, successfully, saying why. No
/// PostgreSQL test has run yet (each needs the server first), and the tests
/// that need no database also run, and count, in the SQLite binary. CI sets
/// `AUTHQL_TEST_POSTGRES=required`, and then it is a failure.
pub fn postgres_unreachable(server: &str) -> ! {
    let server = authql::db::pg::redact_url(server);
    if std::env::var("AUTHQL_TEST_POSTGRES").as_deref() == Ok("required") {
        panic!("PostgreSQL is not reachable at {server}, and AUTHQL_TEST_POSTGRES=required");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!`.
    let _ = writeln!(
        std::io::stderr(),
        "\nPostgreSQL is not reachable at {server}: skipping the PostgreSQL run \
         (the SQLite run covers every test). Set AUTHQL_TEST_POSTGRES=required \
         to make this an error.\n"
    );
    std::process::exit(0);
}

/// A one-column row: `SELECT ... AS value`.
#[derive(diesel::QueryableByName)]
struct TextValue {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// A database of one's own, removed with the value.
pub struct TestDb {
    /// The PostgreSQL database name, or the SQLite file's path.
    pub name: String,
    /// False for a second handle on another test's database: only the
    /// owner removes it.
    owned: bool,
}

/// A lock on the database held by another client's connection; released
/// when dropped, which closes the connection.
pub struct HeldLock(#[allow(dead_code)] Box<dyn Send>);

impl TestDb {
    /// A new, migrated (PostgreSQL) or not yet created (SQLite) database.
    pub async fn new() -> Self {
        let name = match backend() {
            Backend::Postgres => pg::create().await,
            Backend::Sqlite => sqlite::unused_path(),
        };
        Self { name, owned: true }
    }

    /// A handle on a database that does not exist yet.
    pub async fn missing() -> Self {
        let name = match backend() {
            Backend::Postgres => pg::unused_name().await,
            Backend::Sqlite => sqlite::unused_path(),
        };
        Self { name, owned: true }
    }

    /// Another handle on this database, which leaves removing it to `self`.
    pub fn share(&self) -> Self {
        Self {
            name: self.name.clone(),
            owned: false,
        }
    }

    /// Its `DATABASE_URL`.
    pub fn url(&self) -> String {
        match backend() {
            Backend::Postgres => pg::url(&self.name),
            Backend::Sqlite => sqlite::url(&self.name),
        }
    }

    /// Runs one SQL statement directly; returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> usize {
        match backend() {
            Backend::Postgres => pg::execute(&self.name, sql).await,
            Backend::Sqlite => sqlite::execute(&self.name, sql).await,
        }
    }

    /// The text column `value` of the one row `sql` returns.
    pub async fn text(&self, sql: &str) -> String {
        match backend() {
            Backend::Postgres => pg::text(&self.name, sql).await,
            Backend::Sqlite => sqlite::text(&self.name, sql).await,
        }
    }

    /// The number the one-value query `sql` (such as `SELECT count(*) ...`)
    /// returns.
    pub async fn count(&self, sql: &str) -> i64 {
        let value = self
            .text(&format!("SELECT CAST(({sql}) AS TEXT) AS value"))
            .await;
        value.parse().unwrap()
    }

    /// An SQL expression for the time `seconds` ago, in this backend's
    /// column type (`timestamptz`, or milliseconds on SQLite).
    pub fn ago(&self, seconds: i64) -> String {
        match backend() {
            Backend::Postgres => format!("(now() - interval '{seconds} seconds')"),
            Backend::Sqlite => {
                format!("(CAST(unixepoch('subsec') * 1000 AS INTEGER) - {seconds} * 1000)")
            }
        }
    }

    /// An SQL literal for these bytes.
    pub fn bytes(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match backend() {
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
            Backend::Sqlite => format!("X'{hex}'"),
        }
    }

    /// Takes what a rotation needs to write, from another client, and holds
    /// it: the sessions' row locks on PostgreSQL, the write lock on SQLite.
    pub async fn hold_write_locks(&self) -> HeldLock {
        match backend() {
            Backend::Postgres => HeldLock(Box::new(pg::lock_sessions(&self.name).await)),
            Backend::Sqlite => HeldLock(Box::new(sqlite::lock_writes(&self.name).await)),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        match backend() {
            Backend::Postgres => pg::drop_database(self.name.clone()),
            Backend::Sqlite => sqlite::remove(&self.name),
        }
    }
}
