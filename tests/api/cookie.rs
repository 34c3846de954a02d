//! `REFRESH_TOKEN_COOKIE=on`: the refresh token travels only as an httpOnly
//! cookie.

use serde_json::{Value, json};

use super::helpers::{LOGOUT_ALL, PASSWORD, Resp, TestApp};

const ATTRIBUTES: &str = "HttpOnly; Secure; SameSite=Strict; Path=/graphql";

async fn cookie_app() -> TestApp {
    TestApp::spawn_with(&[("REFRESH_TOKEN_COOKIE", "on")]).await
}

/// The token in `Set-Cookie: authql_refresh=<token>; ...`, checking attributes.
fn set_cookie_token(resp: &Resp) -> String {
    let cookie = resp.header("set-cookie").expect("a Set-Cookie header");
    let (pair, attributes) = cookie.split_once("; ").unwrap();
    assert_eq!(attributes, format!("{ATTRIBUTES}; Max-Age=2592000"));
    let token = pair.strip_prefix("authql_refresh=").unwrap();
    assert!(!token.is_empty());
    token.to_owned()
}

fn assert_cleared(resp: &Resp) {
    assert_eq!(
        resp.header("set-cookie"),
        Some(format!("authql_refresh=; {ATTRIBUTES}; Max-Age=0").as_str()),
        "{}",
        resp.text
    );
}

async fn with_cookie(app: &TestApp, query: &str, token: &str) -> Resp {
    let cookie = format!("theme=dark; authql_refresh={token}");
    app.post_with(query, json!({}), &[("cookie", &cookie)])
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ins_set_the_cookie_and_leave_the_body_without_a_token() {
    let app = cookie_app().await;
    let resp = app.register_raw("cookie@example.com", PASSWORD).await;
    assert_eq!(resp.data("register")["refreshToken"], Value::Null);
    set_cookie_token(&resp);
    let resp = app.login_raw("cookie@example.com", PASSWORD).await;
    assert_eq!(resp.data("login")["refreshToken"], Value::Null);
    set_cookie_token(&resp);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_and_logout_read_the_cookie() {
    let app = cookie_app().await;
    let first = set_cookie_token(&app.register_raw("c2@example.com", PASSWORD).await);

    let resp = with_cookie(
        &app,
        "mutation { refreshToken { accessToken refreshToken } }",
        &first,
    )
    .await;
    assert_eq!(resp.data("refreshToken")["refreshToken"], Value::Null);
    let second = set_cookie_token(&resp);
    assert_ne!(first, second);

    // The argument wins over the cookie: with a session of its own in the
    // cookie, the argument's token is the one rotated, and the cookie's
    // token stays unspent.
    let other = set_cookie_token(&app.login_raw("c2@example.com", PASSWORD).await);
    let cookie = format!("authql_refresh={other}");
    let resp = app
        .post_with(
            super::helpers::REFRESH,
            json!({ "t": second }),
            &[("cookie", &cookie)],
        )
        .await;
    let third = set_cookie_token(&resp);
    with_cookie(&app, "mutation { refreshToken { accessToken } }", &other)
        .await
        .data("refreshToken");

    let resp = with_cookie(&app, "mutation { logout }", &third).await;
    assert_eq!(*resp.data("logout"), json!(true));
    assert_cleared(&resp);
    let resp = with_cookie(&app, "mutation { logout }", &third).await;
    assert_eq!(*resp.data("logout"), json!(false));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_cookie_is_refused_and_cleared() {
    let app = cookie_app().await;
    let first = set_cookie_token(&app.register_raw("c3@example.com", PASSWORD).await);
    with_cookie(&app, "mutation { refreshToken { accessToken } }", &first)
        .await
        .data("refreshToken");
    let resp = with_cookie(&app, "mutation { refreshToken { accessToken } }", &first).await;
    resp.assert_error("INVALID_REFRESH_TOKEN");
    assert_cleared(&resp);
    let resp = with_cookie(&app, "mutation { logout }", "garbage").await;
    resp.assert_error("INVALID_REFRESH_TOKEN");
    assert_cleared(&resp);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_argument_and_no_cookie_is_invalid() {
    let app = cookie_app().await;
    app.post("mutation { refreshToken { accessToken } }", json!({}))
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    app.post("mutation { logout }", json!({}))
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_all_clears_the_cookie() {
    let app = cookie_app().await;
    let resp = app.register_raw("c4@example.com", PASSWORD).await;
    let access = resp.data("register")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app.as_bearer(&access, LOGOUT_ALL).await;
    assert_eq!(*resp.data("logoutAll"), json!(1));
    assert_cleared(&resp);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_setting_off_no_response_sets_a_cookie() {
    let app = TestApp::spawn().await;
    let register = app.register_raw("plain@example.com", PASSWORD).await;
    let login = app.login_raw("plain@example.com", PASSWORD).await;
    let token = login.data("login")["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = app.refresh(&token).await;
    let next = refresh.data("refreshToken")["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let logout = app.logout(&next).await;
    for resp in [register, login, refresh, logout] {
        assert!(resp.header("set-cookie").is_none(), "{:?}", resp.headers);
    }
}
