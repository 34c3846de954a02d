//! The exact shape of the responses clients code against, as snapshots
//! (tokens, ids and timestamps redacted). A change to any of them shows up
//! as a diff in review: the contract is "add, don't rename".

use axum::body::Body;
use axum::http::{Request, header};
use insta::assert_json_snapshot;
use serde_json::json;

use super::helpers::{LOGIN, ME, PASSWORD, REFRESH, TestApp};

/// One set of snapshot files for both backends' runs: without this, insta
/// names each file after the test binary too.
fn shared_snapshots() -> insta::internals::SettingsBindDropGuard {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind_to_scope()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_payloads() {
    let _snapshots = shared_snapshots();
    let app = TestApp::spawn().await;
    let register = app.register_raw("snap@example.com", PASSWORD).await;
    assert_json_snapshot!("register", register.body, {
        ".data.register.accessToken" => "[access token]",
        ".data.register.refreshToken" => "[refresh token]",
        ".data.register.user.id" => "[uuid]",
        ".data.register.user.createdAt" => "[timestamp]",
    });
    let token = register.body["data"]["register"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refreshed = app.refresh(&token).await;
    assert_json_snapshot!("refresh", refreshed.body, {
        ".data.refreshToken.accessToken" => "[access token]",
        ".data.refreshToken.refreshToken" => "[refresh token]",
        ".data.refreshToken.user.id" => "[uuid]",
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn error_shapes() {
    let _snapshots = shared_snapshots();
    let app = TestApp::spawn().await;
    app.register("taken@example.com").await;
    let cases = [
        (
            "bad_user_input",
            app.register_raw("not an email", PASSWORD).await,
        ),
        (
            "email_taken",
            app.register_raw("taken@example.com", PASSWORD).await,
        ),
        (
            "invalid_credentials",
            app.login_raw("taken@example.com", "wrong password").await,
        ),
        ("unauthenticated", app.post(ME, json!({})).await),
        (
            "invalid_refresh_token",
            app.post(REFRESH, json!({ "t": "garbage" })).await,
        ),
        ("validation_failed", app.post("{ nope }", json!({})).await),
        ("parse_failed", app.post("{ me { id ", json!({})).await),
    ];
    for (name, resp) in cases {
        assert_json_snapshot!(name, resp.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_shape() {
    let _snapshots = shared_snapshots();
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "1/15m")]).await;
    let vars = json!({ "input": { "email": "limit@example.com", "password": "wrong password" } });
    app.post(LOGIN, vars.clone()).await;
    let resp = app.post(LOGIN, vars).await;
    assert_json_snapshot!("rate_limited", resp.body, {
        ".errors[0].extensions.retryAfter" => "[seconds]",
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn refusal_shape() {
    let _snapshots = shared_snapshots();
    let app = TestApp::spawn().await;
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let resp = app.send(request).await;
    assert_eq!(resp.status, 415);
    assert_json_snapshot!("unsupported_media_type", resp.body);
}
