//! No log line carries a password, hash, token or secret.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use crate::helpers::{ACCESS_SECRET, LOGOUT_ALL, PASSWORD, REFRESH_SECRET, TestApp, session};

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary from now on, at every level.
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(Arc::clone(&logs));
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

#[derive(QueryableByName)]
struct Hash {
    #[diesel(sql_type = Text)]
    password_hash: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_never_carry_secrets() {
    let logs = captured();
    let app = TestApp::spawn().await;
    let first = app.register("logs@example.com").await;
    app.login_raw("logs@example.com", "a wrong password").await;
    app.login_raw("nobody@example.com", PASSWORD).await;
    let second = app.login("logs@example.com").await;
    app.me(&first.access).await;
    let rotated = session(app.refresh(&first.refresh).await.data("refreshToken"));
    app.refresh(&first.refresh).await; // reuse
    app.logout(&second.refresh).await;
    let third = app.login("logs@example.com").await;
    app.as_bearer(&third.access, LOGOUT_ALL).await;
    app.register_raw("logs@example.com", "another password")
        .await;

    let hash: Hash = diesel::sql_query("SELECT password_hash FROM users")
        .get_result(&mut app.db.connect().await)
        .await
        .unwrap();
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    // The capture works: the flows' own events are there.
    for event in [
        "account registered",
        "login failed",
        "reuse detected",
        "logged out",
    ] {
        assert!(text.contains(event), "no {event:?} in the log");
    }
    let secrets = [
        PASSWORD,
        "a wrong password",
        "another password",
        &hash.password_hash,
        &hash.password_hash[7..], // the salt and digest without the prefix
        ACCESS_SECRET,
        REFRESH_SECRET,
        &first.access,
        &first.refresh,
        &second.refresh,
        &rotated.access,
        &rotated.refresh,
        &third.access,
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "a secret reached the log: {secret}");
    }
}
