//! PostgreSQL: one database per test, copied from a migrated template.
//!
//! `CREATE DATABASE ... TEMPLATE` copies files instead of replaying the
//! migrations, which keeps each test's setup to a few milliseconds. The
//! template's name carries a hash of the migrations, so editing one builds a
//! new template; it is published by rename, so a crashed run never leaves a
//! half-migrated template behind.

use std::sync::OnceLock;

use diesel::QueryableByName;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// The server the tests use: `TEST_DATABASE_URL` (without a database name),
/// by default the local PostgreSQL of the README.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// `host:port` of the test server, and its URL with that part swapped for
/// `127.0.0.1:<port>` (to go through a proxy).
pub fn server_address() -> (String, impl Fn(u16, &str) -> String) {
    let url = server_url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, address) = match rest.rsplit_once('@') {
        Some((user, address)) => (format!("{user}@"), address.to_owned()),
        None => (String::new(), rest.to_owned()),
    };
    let scheme = scheme.to_owned();
    (address, move |port, name| {
        format!("{scheme}://{userinfo}127.0.0.1:{port}/{name}")
    })
}

fn migrations_fingerprint() -> String {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT
        .get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
            let mut names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            let mut hasher = Sha256::new();
            for path in names {
                hasher.update(path.file_name().unwrap().to_string_lossy().as_bytes());
                for file in ["up.sql", "down.sql"] {
                    hasher.update(std::fs::read(path.join(file)).unwrap_or_default());
                }
            }
            hasher.finalize()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .clone()
}

/// Set once any connection to the server succeeded: from then on a failed
/// connection is a failure, never a reason to skip.
static CONNECTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn admin() -> AsyncPgConnection {
    use std::sync::atomic::Ordering;
    match AsyncPgConnection::establish(&format!("{}/postgres", server_url())).await {
        Ok(conn) => {
            CONNECTED.store(true, Ordering::Relaxed);
            conn
        }
        Err(error) => {
            // Only a server that is not there skips the run (nothing listens
            // at its address); wrong credentials, a missing database or too
            // many clients fail it, and so does any failure once connected.
            let (address, _) = server_address();
            let listening = tokio::time::timeout(
                std::time::Duration::from_secs(3),
                tokio::net::TcpStream::connect(&address),
            )
            .await
            .is_ok_and(|connected| connected.is_ok());
            // (`AtomicBool::load` by name: diesel-async's `RunQueryDsl::load` is in scope.)
            if !listening && !std::sync::atomic::AtomicBool::load(&CONNECTED, Ordering::Relaxed) {
                super::postgres_unreachable(&server_url());
            }
            panic!(
                "PostgreSQL at {}: {error}",
                authql::db::pg::redact_url(&server_url())
            );
        }
    }
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}') AS exists"
    ))
    .get_result::<Exists>(conn)
    .await
    .unwrap()
    .exists
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Templates of older migrations are of no further use: drop them (and any
/// staging copy a crashed run left behind).
async fn drop_stale_templates(conn: &mut AsyncPgConnection, current: &str) {
    let stale: Vec<Name> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'authql\\_test\\_template\\_%'",
    )
    .load(conn)
    .await
    .unwrap_or_default();
    // Names starting with the current one are its staging copies: maybe another
    // test process is migrating one right now.
    for Name { datname } in stale
        .into_iter()
        .filter(|n| !n.datname.starts_with(current))
    {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)"))
            .execute(conn)
            .await;
    }
}

/// The migrated template, made once per migrations version.
async fn template() -> String {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("authql_test_template_{}", migrations_fingerprint());
            let mut conn = admin().await;
            if database_exists(&mut conn, &name).await {
                return name;
            }
            drop_stale_templates(&mut conn, &name).await;
            let staging = format!("{name}_{}", uuid::Uuid::new_v4().simple());
            diesel::sql_query(format!("CREATE DATABASE {staging}"))
                .execute(&mut conn)
                .await
                .unwrap();
            authql::db::migrations::postgres(&format!("{}/{staging}", server_url()))
                .await
                .unwrap();
            let published = diesel::sql_query(format!("ALTER DATABASE {staging} RENAME TO {name}"))
                .execute(&mut conn)
                .await;
            if published.is_err() {
                // Another test process published it first.
                diesel::sql_query(format!("DROP DATABASE {staging}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            name
        })
        .await
        .clone()
}

/// A new database, copied from the template; returns its name.
pub async fn create() -> String {
    let template = template().await;
    let name = format!("authql_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin().await;
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .execute(&mut conn)
        .await
        .unwrap();
    name
}

/// A name no database has yet (on a server that answers).
pub async fn unused_name() -> String {
    drop(admin().await);
    format!("authql_test_{}", uuid::Uuid::new_v4().simple())
}

pub fn url(name: &str) -> String {
    format!("{}/{name}", server_url())
}

/// A direct connection, for arranging or inspecting rows.
pub async fn connect(name: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(&url(name)).await.unwrap()
}

pub async fn execute(name: &str, sql: &str) -> usize {
    diesel::sql_query(sql)
        .execute(&mut connect(name).await)
        .await
        .unwrap()
}

pub async fn text(name: &str, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<super::TextValue>(&mut connect(name).await)
        .await
        .unwrap()
        .value
}

/// Holds row locks on every session until dropped (or released).
pub async fn lock_sessions(name: &str) -> AsyncPgConnection {
    let mut holder = connect(name).await;
    diesel::sql_query("BEGIN")
        .execute(&mut holder)
        .await
        .unwrap();
    diesel::sql_query("SELECT id FROM sessions FOR UPDATE")
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// Drops the database, from a thread of its own: `Drop` runs inside the
/// test's runtime, which cannot block on its own futures.
pub fn drop_database(name: String) {
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = admin().await;
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        });
    })
    .join();
}
