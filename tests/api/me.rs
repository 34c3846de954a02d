//! `me` and the access-token rules: every forged or misplaced token is
//! `UNAUTHENTICATED`.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::helpers::{ACCESS_SECRET, ME, REFRESH_SECRET, TestApp, tokens};

#[tokio::test(flavor = "multi_thread")]
async fn me_returns_the_account_of_the_token() {
    let app = TestApp::spawn().await;
    let session = app.register("me@example.com").await;
    let me = app.me(&session.access).await;
    let me = me.data("me");
    assert_eq!(me["id"], session.user_id.as_str());
    assert_eq!(me["email"], "me@example.com");
    assert_eq!(me["role"], "USER");

    // The role comes from the account now, not from the token.
    app.db.execute("UPDATE users SET role = 'ADMIN'").await;
    assert_eq!(app.me(&session.access).await.data("me")["role"], "ADMIN");
}

#[tokio::test(flavor = "multi_thread")]
async fn me_without_a_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let resp = app.post(ME, json!({})).await;
    resp.assert_error("UNAUTHENTICATED");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["data"], Value::Null);
    assert_eq!(resp.body["errors"][0]["path"], json!(["me"]));
    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Token abc",
        "bearer not.a.jwt",
    ] {
        app.post_with(ME, json!({}), &[("authorization", header)])
            .await
            .assert_error("UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestApp::spawn().await;
    let session = app.register("case@example.com").await;
    let header = format!("bearer {}", session.access);
    app.post_with(ME, json!({}), &[("authorization", &header)])
        .await
        .data("me");
}

/// Valid claims for the session, to be broken one way at a time.
fn claims_of(token: &str) -> Value {
    tokens::claims(token)
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_misplaced_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.register("forge@example.com").await;
    let good = claims_of(&session.access);
    // Sanity: a token we sign ourselves with the right secret works, so each
    // refusal below is due to the one thing it changes.
    let resigned = tokens::sign(&good, ACCESS_SECRET, Algorithm::HS256);
    app.me(&resigned).await.data("me");

    let mut forged: Vec<(&str, String)> = vec![
        ("alg none", tokens::unsigned(&good)),
        (
            "HS384",
            tokens::sign(&good, ACCESS_SECRET, Algorithm::HS384),
        ),
        (
            "HS512",
            tokens::sign(&good, ACCESS_SECRET, Algorithm::HS512),
        ),
        (
            "wrong secret",
            tokens::sign(
                &good,
                "some-other-secret-0123456789abcdef",
                Algorithm::HS256,
            ),
        ),
        (
            "refresh secret",
            tokens::sign(&good, REFRESH_SECRET, Algorithm::HS256),
        ),
        (
            "tampered role",
            tokens::tamper(&session.access, |c| c["role"] = json!("ADMIN")),
        ),
        (
            "tampered sub",
            tokens::tamper(&session.access, |c| c["sub"] = json!(uuid::Uuid::new_v4())),
        ),
        ("refresh token", session.refresh.clone()),
        ("garbage", "not-a-jwt".into()),
        (
            "truncated",
            session.access[..session.access.len() - 4].into(),
        ),
    ];
    let mut edited = |name: &'static str, edit: &dyn Fn(&mut Value)| {
        forged.push((name, tokens::resign(&session.access, ACCESS_SECRET, edit)));
    };
    edited("wrong issuer", &|c| c["iss"] = json!("someone-else"));
    edited("no issuer", &|c| {
        drop(c.as_object_mut().unwrap().remove("iss"))
    });
    edited("no exp", &|c| {
        drop(c.as_object_mut().unwrap().remove("exp"))
    });
    edited("expired", &|c| c["exp"] = json!(tokens::now() - 1));
    edited("not yet valid", &|c| c["nbf"] = json!(tokens::now() + 3600));
    edited("no type", &|c| {
        drop(c.as_object_mut().unwrap().remove("typ"))
    });
    edited("refresh type", &|c| c["typ"] = json!("refresh"));
    edited("unknown session", &|c| {
        c["sid"] = json!(uuid::Uuid::new_v4())
    });
    edited("other account", &|c| c["sub"] = json!(uuid::Uuid::new_v4()));

    for (name, token) in forged {
        let resp = app.me(&token).await;
        assert_eq!(resp.code(), "UNAUTHENTICATED", "{name}: {}", resp.text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_dies_with_its_account() {
    let app = TestApp::spawn().await;
    let session = app.register("deleted@example.com").await;
    app.me(&session.access).await.data("me");
    app.db.execute("DELETE FROM users").await;
    app.me(&session.access)
        .await
        .assert_error("UNAUTHENTICATED");
    app.refresh(&session.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
}
