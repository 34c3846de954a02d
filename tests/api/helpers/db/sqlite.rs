//! SQLite: one database file per test, in the system's temporary directory.
//! The app migrates it when it opens it, as `authql` does on first start.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

/// A path no database file has yet.
pub fn unused_path() -> String {
    let dir: PathBuf = std::env::temp_dir().join("authql-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()))
        .to_string_lossy()
        .into_owned()
}

pub fn url(path: &str) -> String {
    format!("sqlite://{path}")
}

/// A direct connection that waits for the app's write lock like the app
/// waits for others'.
pub fn connect(path: &str) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(path).unwrap();
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
        .unwrap();
    conn
}

pub async fn execute(path: &str, sql: &str) -> usize {
    let (path, sql) = (path.to_owned(), sql.to_owned());
    tokio::task::spawn_blocking(move || {
        diesel::sql_query(sql).execute(&mut connect(&path)).unwrap()
    })
    .await
    .unwrap()
}

pub async fn text(path: &str, sql: &str) -> String {
    let (path, sql) = (path.to_owned(), sql.to_owned());
    tokio::task::spawn_blocking(move || {
        diesel::sql_query(sql)
            .get_result::<super::TextValue>(&mut connect(&path))
            .unwrap()
            .value
    })
    .await
    .unwrap()
}

/// Takes the database's write lock and holds it until dropped: what another
/// process writing to the same file would do.
pub async fn lock_writes(path: &str) -> SqliteConnection {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = connect(&path);
        conn.batch_execute("BEGIN IMMEDIATE").unwrap();
        conn
    })
    .await
    .unwrap()
}

/// Removes the file and its WAL companions.
pub fn remove(path: &str) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}
