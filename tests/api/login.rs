//! `login`: one answer for every bad pair, a new session for every success.

use serde_json::json;

use super::helpers::{LOGIN, PASSWORD, TestApp};

#[tokio::test(flavor = "multi_thread")]
async fn login_normalizes_the_email_and_starts_a_new_session() {
    let app = TestApp::spawn().await;
    let registered = app.register("login@example.com").await;
    let resp = app.login_raw("  LOGIN@Example.com ", PASSWORD).await;
    let payload = resp.data("login");
    assert_eq!(payload["user"]["id"], registered.user_id.as_str());
    assert_eq!(payload["user"]["email"], "login@example.com");
    assert_eq!(payload["tokenType"], "Bearer");
    assert_eq!(payload["expiresIn"], 900);

    // Two sign-ins, two independent sessions: each refresh token rotates.
    let second = app.login("login@example.com").await;
    assert_ne!(second.refresh, registered.refresh);
    app.refresh(&registered.refresh).await.data("refreshToken");
    app.refresh(&second.refresh).await.data("refreshToken");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_pair_is_the_same_invalid_credentials() {
    let app = TestApp::spawn().await;
    app.register("real@example.com").await;
    let cases = [
        ("real@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not-an-email", PASSWORD),
        ("", ""),
        ("real@example.com", ""),
        ("real@example.com", "short"),
        ("real@example.com", &"x".repeat(200)),
        (&"a".repeat(400), PASSWORD),
    ];
    let mut messages = Vec::new();
    for (email, password) in cases {
        let resp = app.login_raw(email, password).await;
        resp.assert_error("INVALID_CREDENTIALS");
        assert_eq!(resp.body["data"], serde_json::Value::Null);
        assert!(resp.body["errors"][0]["extensions"].get("field").is_none());
        messages.push(resp.body["errors"][0]["message"].clone());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "one message for every failure: {messages:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_ignores_a_stale_authorization_header() {
    let app = TestApp::spawn().await;
    let session = app.register("stale-login@example.com").await;
    app.post(super::helpers::LOGOUT, json!({ "t": session.refresh }))
        .await;
    let resp = app
        .post_with(
            LOGIN,
            json!({ "input": { "email": "stale-login@example.com", "password": PASSWORD } }),
            &[("authorization", &format!("Bearer {}", session.access))],
        )
        .await;
    resp.data("login");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_login_pays_for_exactly_one_bcrypt_verification() {
    let app = TestApp::spawn().await;
    app.register("timing@example.com").await;
    let hasher = app.state.auth.hasher();
    let cases = [
        ("timing@example.com", PASSWORD),         // success
        ("timing@example.com", "wrong password"), // wrong password
        ("unknown@example.com", PASSWORD),        // unknown account
        ("not an email", PASSWORD),               // malformed email
        ("timing@example.com", &"x".repeat(100)), // too long for bcrypt
        ("timing@example.com", "correct\0horse"), // a NUL byte
    ];
    for (email, password) in cases {
        let before = hasher.verifications();
        app.login_raw(email, password).await;
        assert_eq!(hasher.verifications(), before + 1, "{email:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_with_a_nul_byte_never_matches() {
    let app = TestApp::spawn().await;
    // bcrypt's key is the password and a NUL, repeated to 72 bytes: for
    // bcrypt, "P\0P" and "P\0P\0P" are "P".
    let password = "nul-alias";
    app.register_raw("nul@example.com", password)
        .await
        .data("register");
    for alias in [
        format!("{password}\0{password}"),
        format!("{password}\0{password}\0{password}"),
        format!("{password}\0"),
    ] {
        let resp = app.login_raw("nul@example.com", &alias).await;
        resp.assert_error("INVALID_CREDENTIALS");
        assert_eq!(
            resp.body["errors"][0]["message"],
            "invalid email or password"
        );
    }
    // The password itself still works: existing hashes stay valid.
    app.login_raw("nul@example.com", password)
        .await
        .data("login");
}
