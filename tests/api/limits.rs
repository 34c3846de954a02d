//! Rate limits: per email in the database, per client IP in memory.

use serde_json::json;

use super::helpers::{LOGIN, PASSWORD, REGISTER, Resp, TestApp};

fn login_vars(email: &str, password: &str) -> serde_json::Value {
    json!({ "input": { "email": email, "password": password } })
}

/// Asserts `RATE_LIMITED` with a whole-second `retryAfter` within `max`.
#[track_caller]
fn assert_limited(resp: &Resp, max: u64) {
    resp.assert_error("RATE_LIMITED");
    let retry_after = resp.body["errors"][0]["extensions"]["retryAfter"].as_u64();
    assert!(
        retry_after.is_some_and(|s| (1..=max).contains(&s)),
        "{}",
        resp.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_is_limited_after_its_failed_logins_even_with_the_right_password() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "3/15m")]).await;
    app.register("victim@example.com").await;
    for _ in 0..3 {
        app.login_raw("victim@example.com", "wrong password")
            .await
            .assert_error("INVALID_CREDENTIALS");
    }
    let hasher = app.state.auth.hasher();
    let before = hasher.verifications();
    // Limited: no oracle, the right password is refused too, without bcrypt.
    assert_limited(&app.login_raw("Victim@Example.com", PASSWORD).await, 900);
    assert_eq!(hasher.verifications(), before);
    // Other emails are not affected.
    app.register("bystander@example.com").await;
    app.login("bystander@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_emails_are_limited_alike() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "2/15m")]).await;
    for email in ["nobody@example.com", "not an email"] {
        for _ in 0..2 {
            app.login_raw(email, PASSWORD)
                .await
                .assert_error("INVALID_CREDENTIALS");
        }
        assert_limited(&app.login_raw(email, PASSWORD).await, 900);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_login_clears_the_count() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "2/15m")]).await;
    app.register("clears@example.com").await;
    for _ in 0..2 {
        app.login_raw("clears@example.com", "wrong password").await;
    }
    // The third attempt is over the limit...
    assert_limited(&app.login_raw("clears@example.com", PASSWORD).await, 900);
    // ...but on a fresh window a success resets the count.
    let past = app.db.ago(1);
    app.db
        .execute(&format!(
            "UPDATE login_attempts SET window_ends_at = {past}"
        ))
        .await;
    app.login("clears@example.com").await;
    for _ in 0..2 {
        app.login_raw("clears@example.com", "wrong password")
            .await
            .assert_error("INVALID_CREDENTIALS");
    }
    assert_limited(&app.login_raw("clears@example.com", PASSWORD).await, 900);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_email_limit_holds_across_instances() {
    let first = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "4/15m")]).await;
    let second = first.sibling(&[("RATE_LIMIT_LOGIN", "4/15m")]).await;
    first.register("spread@example.com").await;
    for app in [&first, &second, &first, &second] {
        app.login_raw("spread@example.com", "wrong password")
            .await
            .assert_error("INVALID_CREDENTIALS");
    }
    assert_limited(&second.login_raw("spread@example.com", PASSWORD).await, 900);
    assert_limited(&first.login_raw("spread@example.com", PASSWORD).await, 900);
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_turns_the_limits_off() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "0"), ("RATE_LIMIT_IP", "0")]).await;
    for _ in 0..15 {
        app.post_from(
            [10, 0, 0, 9],
            LOGIN,
            login_vars("x@example.com", "wrong password"),
            &[],
        )
        .await
        .assert_error("INVALID_CREDENTIALS");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ip_is_limited_on_sign_in_calls_only() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_IP", "3/5m")]).await;
    let ip = [10, 0, 0, 1];
    let resp = app
        .post_from(ip, REGISTER, login_vars("ip@example.com", PASSWORD), &[])
        .await;
    let token = resp.data("register")["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let access = resp.data("register")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_from(ip, LOGIN, login_vars("ip@example.com", PASSWORD), &[])
        .await
        .data("login");
    app.post_from(ip, super::helpers::REFRESH, json!({ "t": token }), &[])
        .await
        .data("refreshToken");
    assert_limited(
        &app.post_from(ip, LOGIN, login_vars("ip@example.com", PASSWORD), &[])
            .await,
        300,
    );
    // `me` is not a sign-in call; another IP has its own budget.
    let bearer = format!("Bearer {access}");
    app.post_from(
        ip,
        super::helpers::ME,
        json!({}),
        &[("authorization", &bearer)],
    )
    .await
    .data("me");
    app.post_from(
        [10, 0, 0, 2],
        LOGIN,
        login_vars("ip@example.com", PASSWORD),
        &[],
    )
    .await
    .data("login");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spoofed_forwarded_for_does_not_escape_the_limit() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_IP", "2/5m")]).await;
    for i in 0..2 {
        let spoof = format!("203.0.113.{i}");
        app.post_from(
            [10, 0, 0, 3],
            LOGIN,
            login_vars("s@example.com", "x"),
            &[("x-forwarded-for", &spoof)],
        )
        .await
        .assert_error("INVALID_CREDENTIALS");
    }
    let resp = app
        .post_from(
            [10, 0, 0, 3],
            LOGIN,
            login_vars("s@example.com", "x"),
            &[("x-forwarded-for", "203.0.113.99")],
        )
        .await;
    assert_limited(&resp, 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_the_last_forwarded_hop_is_the_client() {
    let app =
        TestApp::spawn_with(&[("RATE_LIMIT_IP", "2/5m"), ("TRUST_PROXY_HEADERS", "true")]).await;
    let proxy = [10, 0, 0, 254];
    // The client prepends whatever it likes; our proxy appends what it saw.
    for spoof in ["1.1.1.1", "2.2.2.2"] {
        let header = format!("{spoof}, 198.51.100.7");
        app.post_from(
            proxy,
            LOGIN,
            login_vars("p@example.com", "x"),
            &[("x-forwarded-for", &header)],
        )
        .await
        .assert_error("INVALID_CREDENTIALS");
    }
    let header = "3.3.3.3, 198.51.100.7";
    assert_limited(
        &app.post_from(
            proxy,
            LOGIN,
            login_vars("p@example.com", "x"),
            &[("x-forwarded-for", header)],
        )
        .await,
        300,
    );
    // Another client behind the same proxy is not limited.
    app.post_from(
        proxy,
        LOGIN,
        login_vars("p@example.com", "x"),
        &[("x-forwarded-for", "198.51.100.8")],
    )
    .await
    .assert_error("INVALID_CREDENTIALS");
}
