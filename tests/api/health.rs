//! A database that goes away (or, for SQLite, is locked by another
//! process) and comes back.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use super::helpers::proxy::Proxy;
use super::helpers::{Backend, ME, PASSWORD, TestApp, TestDb, backend, db};

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_is_503_and_internal_errors_then_recovery() {
    if backend() == Backend::Sqlite {
        return sqlite_outage().await;
    }
    let test_db = TestDb::new().await;
    let (address, via) = db::pg::server_address();
    let proxy = Proxy::start(address).await;
    let url = via(proxy.port, &test_db.name);
    let app = TestApp::spawn_on(test_db, Some(url), &[]).await;
    let session = app.register("outage@example.com").await;
    assert_eq!(app.send(get("/readyz")).await.status, StatusCode::OK);

    proxy.stop().await;
    let ready = app.send(get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.send(get("/healthz")).await.status, StatusCode::OK);

    let checks = [
        app.me(&session.access).await,
        app.login_raw("outage@example.com", PASSWORD).await,
        app.register_raw("new@example.com", PASSWORD).await,
        app.refresh(&session.refresh).await,
    ];
    for resp in checks {
        assert_eq!(resp.status, StatusCode::OK);
        resp.assert_error("INTERNAL_SERVER_ERROR");
        assert_eq!(resp.body["errors"][0]["message"], "internal server error");
        let text = resp.text.to_lowercase();
        for leak in [
            "postgres",
            "connection",
            "sql",
            "pool",
            "refused",
            "127.0.0.1",
            "diesel",
        ] {
            assert!(!text.contains(leak), "leaked {leak:?}: {}", resp.text);
        }
    }

    proxy.resume();
    // Broken pooled connections are replaced on their next use.
    let mut ready = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        ready = app.send(get("/readyz")).await.status;
        if ready == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready, StatusCode::OK);
    app.me(&session.access).await.data("me");
    app.post(ME, json!({}))
        .await
        .assert_error("UNAUTHENTICATED");
}

/// SQLite has no server to lose: its outage is another process holding the
/// file's write lock. Writes, and so `/readyz`, fail; reads go on (WAL).
async fn sqlite_outage() {
    let app = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "off")]).await;
    let session = app.register("outage@example.com").await;
    let held = app.db.hold_write_locks().await;
    let (ready, login) = tokio::join!(
        app.send(get("/readyz")),
        app.login_raw("outage@example.com", PASSWORD)
    );
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    login.assert_error("INTERNAL_SERVER_ERROR");
    assert_eq!(login.body["errors"][0]["message"], "internal server error");
    app.me(&session.access).await.data("me");
    drop(held);
    assert_eq!(app.send(get("/readyz")).await.status, StatusCode::OK);
    app.login("outage@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_fails_the_request_instead_of_hanging_it() {
    // No verification email: the outbox worker's own writes would queue
    // behind the held lock too (on SQLite, ahead of the rotation), and
    // this test times the request alone.
    let app = TestApp::spawn_with(&[("EMAIL_VERIFICATION", "off")]).await;
    let session = app.register("locked@example.com").await;
    // Another client holds what a rotation must write and does not let go:
    // the session's row lock on PostgreSQL, the file's write lock on SQLite.
    let holder = app.db.hold_write_locks().await;

    let started = std::time::Instant::now();
    let resp = app.refresh(&session.refresh).await;
    resp.assert_error("INTERNAL_SERVER_ERROR");
    // lock_timeout is 3 s; the overall call timeout (12 s) is the backstop.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(resp.body["errors"][0]["message"], "internal server error");

    drop(holder);
    // The token was not spent by the failed call: it still rotates.
    app.refresh(&session.refresh).await.data("refreshToken");
}
