//! `logout` and `logoutAll`: ending sessions, idempotently, at once.

use jsonwebtoken::Algorithm;
use serde_json::json;

use super::helpers::{ACCESS_SECRET, LOGOUT, LOGOUT_ALL, REFRESH_SECRET, TestApp, session, tokens};

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_once_then_answers_false() {
    let app = TestApp::spawn().await;
    let s = app.register("logout@example.com").await;
    assert!(app.logged_out(&s.refresh).await);
    assert!(!app.logged_out(&s.refresh).await);
    app.refresh(&s.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    // The access token dies with its session, before it expires.
    app.me(&s.access).await.assert_error("UNAUTHENTICATED");
    app.as_bearer(&s.access, LOGOUT_ALL)
        .await
        .assert_error("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_away_token_still_logs_its_live_session_out() {
    let app = TestApp::spawn().await;
    let s = app.register("rotated-logout@example.com").await;
    let next = session(app.refresh(&s.refresh).await.data("refreshToken"));
    assert!(app.logged_out(&s.refresh).await);
    app.refresh(&next.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    app.me(&next.access).await.assert_error("UNAUTHENTICATED");
    assert!(!app.logged_out(&next.refresh).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_ended_by_reuse_or_expiry_log_out_as_false() {
    let app = TestApp::spawn().await;
    let reused = app.register("ended@example.com").await;
    app.refresh(&reused.refresh).await.data("refreshToken");
    app.refresh(&reused.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    assert!(!app.logged_out(&reused.refresh).await);

    let expired = app.login("ended@example.com").await;
    let past = app.db.ago(1);
    app.db
        .execute(&format!(
            "UPDATE sessions SET expires_at = {past} WHERE ended_at IS NULL"
        ))
        .await;
    assert!(!app.logged_out(&expired.refresh).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_of_a_live_session_still_logs_it_out() {
    let app = TestApp::spawn().await;
    let s = app.register("old-token@example.com").await;
    // The refresh token's own `exp` has passed, but the session slid on.
    let expired = tokens::resign(&s.refresh, REFRESH_SECRET, |c| {
        c["exp"] = json!(tokens::now() - 60)
    });
    let hash = app.db.bytes(authql::db::TokenHash::of(&expired).as_bytes());
    let (minute_ago, now) = (app.db.ago(60), app.db.ago(0));
    app.db
        .execute(&format!(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at)
             SELECT {hash}, id, {minute_ago}, {minute_ago}, {now} FROM sessions"
        ))
        .await;
    app.refresh(&expired)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    assert!(app.logged_out(&expired).await);
    app.me(&s.access).await.assert_error("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_this_server_never_issued_are_invalid() {
    let app = TestApp::spawn().await;
    let s = app.register("foreign@example.com").await;
    let claims = tokens::claims(&s.refresh);
    for (name, token) in [
        ("garbage", "garbage".to_owned()),
        ("access token", s.access.clone()),
        (
            "foreign signature",
            tokens::sign(
                &claims,
                "not-our-secret-0123456789abcdefgh",
                Algorithm::HS256,
            ),
        ),
        (
            "access secret",
            tokens::sign(&claims, ACCESS_SECRET, Algorithm::HS256),
        ),
        ("alg none", tokens::unsigned(&claims)),
        (
            "tampered",
            tokens::tamper(&s.refresh, |c| c["sub"] = json!(uuid::Uuid::new_v4())),
        ),
        // Signed with our key but never stored: the database is the truth.
        (
            "never stored",
            tokens::resign(&s.refresh, REFRESH_SECRET, |c| {
                c["jti"] = json!(uuid::Uuid::new_v4())
            }),
        ),
    ] {
        let resp = app.logout(&token).await;
        assert_eq!(
            resp.code(),
            "INVALID_REFRESH_TOKEN",
            "{name}: {}",
            resp.text
        );
    }
    app.post("mutation { logout }", json!({}))
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    // And the real session is untouched.
    app.me(&s.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ignores_a_stale_authorization_header() {
    let app = TestApp::spawn().await;
    let s = app.register("stale-logout@example.com").await;
    let resp = app
        .post_with(
            LOGOUT,
            json!({ "t": s.refresh }),
            &[("authorization", "Bearer x.y.z")],
        )
        .await;
    assert_eq!(*resp.data("logout"), json!(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_all_ends_every_live_session_of_the_account_only() {
    let app = TestApp::spawn().await;
    let a = app.register("all@example.com").await;
    let b = app.login("all@example.com").await;
    let c = app.login("all@example.com").await;
    assert!(app.logged_out(&c.refresh).await);
    let bystander = app.register("bystander@example.com").await;

    let resp = app.as_bearer(&a.access, LOGOUT_ALL).await;
    assert_eq!(*resp.data("logoutAll"), json!(2), "c had already ended");
    for s in [&a, &b] {
        app.me(&s.access).await.assert_error("UNAUTHENTICATED");
        app.refresh(&s.refresh)
            .await
            .assert_error("INVALID_REFRESH_TOKEN");
        assert!(!app.logged_out(&s.refresh).await);
    }
    app.as_bearer(&a.access, LOGOUT_ALL)
        .await
        .assert_error("UNAUTHENTICATED");
    app.me(&bystander.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_all_needs_an_access_token() {
    let app = TestApp::spawn().await;
    let s = app.register("needs-access@example.com").await;
    let resp = app.post(LOGOUT_ALL, json!({})).await;
    resp.assert_error("UNAUTHENTICATED");
    assert_eq!(resp.body["data"], serde_json::Value::Null);
    app.as_bearer(&s.refresh, LOGOUT_ALL)
        .await
        .assert_error("UNAUTHENTICATED");
    app.me(&s.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_of_a_deleted_account_log_out_as_false() {
    let app = TestApp::spawn().await;
    let s = app.register("gone@example.com").await;
    app.db.execute("DELETE FROM users").await;
    assert!(!app.logged_out(&s.refresh).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_logout_all_the_rest_of_the_request_is_signed_out() {
    let app = TestApp::spawn().await;
    let s = app.register("twice@example.com").await;
    let resp = app
        .as_bearer(&s.access, "mutation { a: logoutAll b: logoutAll }")
        .await;
    assert_eq!(resp.body["data"]["a"], json!(1), "{}", resp.text);
    assert_eq!(resp.code(), "UNAUTHENTICATED", "{}", resp.text);
    assert_eq!(resp.body["errors"][0]["path"], json!(["b"]));
    app.me(&s.access).await.assert_error("UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_purged_token_still_logs_its_live_session_out() {
    let app = TestApp::spawn().await;
    let s = app.register("purged@example.com").await;
    // A token of this session, long expired, whose row the background purge
    // has removed: signed by us, not in the database.
    let purged = tokens::resign(&s.refresh, REFRESH_SECRET, |c| {
        c["exp"] = json!(tokens::now() - 3600);
        c["jti"] = json!(uuid::Uuid::new_v4());
    });
    assert!(app.logged_out(&purged).await);
    app.me(&s.access).await.assert_error("UNAUTHENTICATED");
    app.refresh(&s.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    assert!(!app.logged_out(&purged).await);
}
