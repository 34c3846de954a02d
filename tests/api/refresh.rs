//! `refreshToken`: single use, atomic rotation, reuse detection.

use futures_util::future::join_all;
use jsonwebtoken::Algorithm;
use serde_json::json;

use super::helpers::{
    ACCESS_SECRET, PASSWORD, REFRESH, REFRESH_SECRET, REGISTER, TestApp, concurrent_refreshes,
    session, tokens,
};

#[tokio::test(flavor = "multi_thread")]
async fn rotation_issues_a_new_pair_in_the_same_session() {
    let app = TestApp::spawn().await;
    let first = app.register("rotate@example.com").await;
    let resp = app.refresh(&first.refresh).await;
    let payload = resp.data("refreshToken");
    assert_eq!(payload["tokenType"], "Bearer");
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["email"], "rotate@example.com");
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let second = session(payload);
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    assert_eq!(
        tokens::claims(&second.access)["sid"],
        tokens::claims(&first.access)["sid"]
    );
    assert_eq!(tokens::claims(&second.refresh)["typ"], "refresh");

    // The new pair works, and the old access token too (same live session).
    app.me(&second.access).await.data("me");
    app.me(&first.access).await.data("me");
    let third = session(app.refresh(&second.refresh).await.data("refreshToken"));
    app.me(&third.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_used_token_is_reuse_and_ends_only_its_session() {
    let app = TestApp::spawn().await;
    let victim = app.register("reuse@example.com").await;
    let other_device = app.login("reuse@example.com").await;
    let rotated = session(app.refresh(&victim.refresh).await.data("refreshToken"));

    // Presenting the spent token again: refused, and the session is over.
    app.refresh(&victim.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    app.refresh(&rotated.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    app.me(&rotated.access)
        .await
        .assert_error("UNAUTHENTICATED");
    app.me(&victim.access).await.assert_error("UNAUTHENTICATED");

    // The account's other session lives on.
    app.me(&other_device.access).await.data("me");
    app.refresh(&other_device.refresh)
        .await
        .data("refreshToken");
}

#[tokio::test(flavor = "multi_thread")]
async fn of_twenty_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let first = app.register("concurrent@example.com").await;
    let codes = concurrent_refreshes(std::slice::from_ref(&app.router), &first.refresh, 20).await;
    let succeeded = codes.iter().filter(|c| c.is_empty()).count();
    let refused = codes
        .iter()
        .filter(|c| *c == "INVALID_REFRESH_TOKEN")
        .count();
    assert_eq!((succeeded, refused), (1, 19), "{codes:?}");
    // The losers presented a spent token: reuse, so the session is ended.
    app.me(&first.access).await.assert_error("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_expired_foreign_and_access_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.register("refuse@example.com").await;
    let good = tokens::claims(&s.refresh);
    let cases = [
        ("garbage", "garbage".to_owned()),
        ("empty", String::new()),
        ("access token", s.access.clone()),
        ("alg none", tokens::unsigned(&good)),
        (
            "HS512",
            tokens::sign(&good, REFRESH_SECRET, Algorithm::HS512),
        ),
        (
            "foreign signature",
            tokens::sign(&good, "not-our-secret-0123456789abcdefgh", Algorithm::HS256),
        ),
        (
            "access secret",
            tokens::sign(&good, ACCESS_SECRET, Algorithm::HS256),
        ),
        (
            "tampered",
            tokens::tamper(&s.refresh, |c| c["sid"] = json!(uuid::Uuid::new_v4())),
        ),
        (
            "expired",
            tokens::resign(&s.refresh, REFRESH_SECRET, |c| {
                c["exp"] = json!(tokens::now() - 1)
            }),
        ),
        (
            "wrong issuer",
            tokens::resign(&s.refresh, REFRESH_SECRET, |c| {
                c["iss"] = json!("someone-else")
            }),
        ),
        // Correctly signed, but never stored: the database is the truth.
        (
            "never issued",
            tokens::resign(&s.refresh, REFRESH_SECRET, |c| {
                c["jti"] = json!(uuid::Uuid::new_v4())
            }),
        ),
    ];
    for (name, token) in cases {
        let resp = app.refresh(&token).await;
        assert_eq!(
            resp.code(),
            "INVALID_REFRESH_TOKEN",
            "{name}: {}",
            resp.text
        );
    }
    // None of that was reuse of the real token: it still rotates.
    app.refresh(&s.refresh).await.data("refreshToken");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_argument_or_cookie_it_is_invalid() {
    let app = TestApp::spawn().await;
    app.post("mutation { refreshToken { accessToken } }", json!({}))
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    // With cookie mode off, a cookie is never read.
    let s = app.register("nocookie@example.com").await;
    let cookie = format!("authql_refresh={}", s.refresh);
    app.post_with(
        "mutation { refreshToken { accessToken } }",
        json!({}),
        &[("cookie", &cookie)],
    )
    .await
    .assert_error("INVALID_REFRESH_TOKEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_ignores_a_stale_authorization_header_and_reads_the_account_afresh() {
    let app = TestApp::spawn().await;
    let s = app.register("fresh@example.com").await;
    app.db.execute("UPDATE users SET role = 'ADMIN'").await;
    let resp = app
        .post_with(
            REFRESH,
            json!({ "t": s.refresh }),
            &[("authorization", "Bearer stale.expired.token")],
        )
        .await;
    let payload = resp.data("refreshToken");
    assert_eq!(payload["user"]["role"], "ADMIN");
    assert_eq!(
        tokens::claims(payload["accessToken"].as_str().unwrap())["role"],
        "ADMIN"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_session_cannot_be_refreshed() {
    let app = TestApp::spawn().await;
    let s = app.register("expired@example.com").await;
    let past = app.db.ago(1);
    app.db
        .execute(&format!("UPDATE sessions SET expires_at = {past}"))
        .await;
    app.refresh(&s.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    app.me(&s.access).await.assert_error("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_one_database_still_rotate_exactly_once() {
    let first = TestApp::spawn().await;
    // A second server process, as it were: its own pool and state, same database.
    let second = first.sibling(&[]).await;
    let s = first.register("instances@example.com").await;
    let routers = [first.router.clone(), second.router.clone()];
    let codes = concurrent_refreshes(&routers, &s.refresh, 20).await;
    assert_eq!(
        codes.iter().filter(|c| c.is_empty()).count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "INVALID_REFRESH_TOKEN")
            .count(),
        19
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_writes_from_two_instances_never_surfaces_a_lock_error() {
    // Two instances on one database: on SQLite, two writing connections that
    // contend for the file's lock. Every call must still succeed.
    let first = TestApp::spawn().await;
    let second = first.sibling(&[]).await;
    let mut chains = Vec::new();
    for i in 0..16 {
        let s = first.register(&format!("burst{i}@example.com")).await;
        let router = [&first, &second][i % 2].router.clone();
        // A chain of rotations, each spending the token the one before got.
        chains.push(tokio::spawn(async move {
            let mut token = s.refresh;
            for _ in 0..5 {
                let resp = TestApp::send_on(router.clone(), REFRESH, json!({ "t": token })).await;
                assert_eq!(resp.code(), "", "{}", resp.text);
                token = resp.body["data"]["refreshToken"]["refreshToken"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
        }));
    }
    // Registrations on both instances at the same time.
    for i in 0..16 {
        let router = [&first, &second][i % 2].router.clone();
        chains.push(tokio::spawn(async move {
            let input = json!({ "input": { "email": format!("new{i}@example.com"), "password": PASSWORD } });
            let resp = TestApp::send_on(router, REGISTER, input).await;
            assert_eq!(resp.code(), "", "{}", resp.text);
        }));
    }
    for call in join_all(chains).await {
        call.unwrap();
    }
}
