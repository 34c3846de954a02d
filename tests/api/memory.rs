//! `DATABASE_URL=sqlite::memory:`: one connection does everything (reads
//! go through the write queue), and every rule still holds.

use super::helpers::{TestApp, concurrent_refreshes};

#[tokio::test(flavor = "multi_thread")]
async fn an_in_memory_database_keeps_every_rule() {
    let app = TestApp::spawn_with(&[("DATABASE_URL", "sqlite::memory:")]).await;
    let first = app.register("memory@example.com").await;
    app.me(&first.access).await.data("me");
    let second = app.login("memory@example.com").await;
    // Of concurrent refreshes with one token exactly one succeeds...
    let codes = concurrent_refreshes(std::slice::from_ref(&app.router), &first.refresh, 10).await;
    assert_eq!(
        codes.iter().filter(|c| c.is_empty()).count(),
        1,
        "{codes:?}"
    );
    // ...and the rest were reuse, which ended that session only.
    app.me(&first.access).await.assert_error("UNAUTHENTICATED");
    app.me(&second.access).await.data("me");
    assert!(app.logged_out(&second.refresh).await);
    app.me(&second.access).await.assert_error("UNAUTHENTICATED");
    assert_eq!(
        app.send(
            axum::http::Request::get("/readyz")
                .body(axum::body::Body::empty())
                .unwrap()
        )
        .await
        .status,
        axum::http::StatusCode::OK
    );
}
