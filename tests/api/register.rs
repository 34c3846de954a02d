//! `register`: validation, normalization, uniqueness, what is stored.

use futures_util::future::join_all;
use serde_json::json;

use super::helpers::{PASSWORD, REGISTER, TestApp, tokens};

#[tokio::test(flavor = "multi_thread")]
async fn register_creates_a_user_and_signs_it_in() {
    let app = TestApp::spawn().await;
    let resp = app.register_raw("  New.User@Example.COM ", PASSWORD).await;
    let payload = resp.data("register");

    assert_eq!(payload["tokenType"], "Bearer");
    assert_eq!(payload["expiresIn"], 900);
    assert_eq!(payload["user"]["email"], "new.user@example.com");
    assert_eq!(payload["user"]["role"], "USER");
    let id = payload["user"]["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let created = payload["user"]["createdAt"].as_str().unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(created).unwrap();
    assert_eq!(created.offset().local_minus_utc(), 0);
    assert!(
        payload["refreshToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    let access = payload["accessToken"].as_str().unwrap();
    assert_eq!(tokens::header(access)["alg"], "HS256");
    let claims = tokens::claims(access);
    assert_eq!(claims["sub"], id);
    assert_eq!(claims["email"], "new.user@example.com");
    assert_eq!(claims["role"], "USER");
    assert_eq!(claims["iss"], "authql");
    assert_eq!(claims["typ"], "access");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].is_string());
    assert!(uuid::Uuid::parse_str(claims["sid"].as_str().unwrap()).is_ok());
    assert!(
        resp.header("set-cookie").is_none(),
        "no cookie unless REFRESH_TOKEN_COOKIE=on"
    );
    assert_eq!(resp.header("cache-control"), Some("no-store"));

    // The new account can use its token at once.
    assert_eq!(app.me(access).await.data("me")["id"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn email_is_unique_whatever_its_case() {
    let app = TestApp::spawn().await;
    app.register("taken@example.com").await;
    for email in [
        "taken@example.com",
        "TAKEN@Example.com",
        "  taken@example.com\t",
    ] {
        let resp = app.register_raw(email, "another password").await;
        resp.assert_error("EMAIL_TAKEN");
        assert_eq!(resp.body["data"], serde_json::Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let app = TestApp::spawn().await;
    let attempts = (0..8).map(|_| app.register_raw("race@example.com", PASSWORD));
    let results = join_all(attempts).await;
    let created = results.iter().filter(|r| r.code().is_empty()).count();
    let taken = results.iter().filter(|r| r.code() == "EMAIL_TAKEN").count();
    assert_eq!((created, taken), (1, 7));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_emails_are_bad_user_input_on_the_email_field() {
    let app = TestApp::spawn().await;
    // 64 + 1 + (63 + 1 + 63 + 1 + 57) + 4 = 254 characters.
    let longest = format!(
        "{}@{}.{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    assert_eq!(longest.chars().count(), 254);
    for email in [
        "",
        "   ",
        "plain",
        "no-at.example.com",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        "a@b.c",
        "@b.com",
    ] {
        let resp = app.register_raw(email, PASSWORD).await;
        resp.assert_error("BAD_USER_INPUT");
        assert_eq!(
            resp.body["errors"][0]["extensions"]["field"], "email",
            "{email:?}"
        );
    }
    // 254 characters pass (after trimming), 255 do not.
    app.register_raw(&format!("  {longest}  "), PASSWORD)
        .await
        .data("register");
    let resp = app.register_raw(&format!("a{longest}"), PASSWORD).await;
    resp.assert_error("BAD_USER_INPUT");
    assert_eq!(resp.body["errors"][0]["extensions"]["field"], "email");
}

#[tokio::test(flavor = "multi_thread")]
async fn password_policy_counts_bytes_and_never_truncates() {
    let app = TestApp::spawn().await;
    let short = app.register_raw("short@example.com", "1234567").await;
    short.assert_error("BAD_USER_INPUT");
    assert_eq!(short.body["errors"][0]["extensions"]["field"], "password");

    // 24 × "€" (3 bytes each) = 72 bytes: accepted, and every byte counts.
    let max = "€".repeat(24);
    app.register_raw("max@example.com", &max)
        .await
        .data("register");
    app.login_raw("max@example.com", &max).await.data("login");
    let mut last_byte_differs = "€".repeat(23);
    last_byte_differs.push('₤');
    app.login_raw("max@example.com", &last_byte_differs)
        .await
        .assert_error("INVALID_CREDENTIALS");
    // 73 bytes sharing those 72: bcrypt alone would accept it; we do not.
    app.login_raw("max@example.com", &format!("{max}x"))
        .await
        .assert_error("INVALID_CREDENTIALS");

    // 73 bytes at registration: refused, not truncated.
    let too_long = format!("{max}x");
    let resp = app.register_raw("long@example.com", &too_long).await;
    resp.assert_error("BAD_USER_INPUT");
    assert_eq!(resp.body["errors"][0]["extensions"]["field"], "password");
    assert!(!resp.text.contains(&too_long));
    // A NUL byte would alias a shorter password in bcrypt: refused, and
    // so are 9 NUL bytes (for bcrypt, 8 of them).
    for nul in ["correct\0horse", &"\0".repeat(9), "password\0"] {
        let resp = app.register_raw("nul@example.com", nul).await;
        resp.assert_error("BAD_USER_INPUT");
        assert_eq!(resp.body["errors"][0]["extensions"]["field"], "password");
    }
    // 9 bytes in 3 characters is long enough.
    app.register_raw("three@example.com", "€€€")
        .await
        .data("register");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_bcrypt_hash_is_stored_and_nothing_echoes_the_password() {
    let app = TestApp::spawn().await;
    let resp = app
        .post(
            REGISTER,
            json!({ "input": { "email": "hash@example.com", "password": PASSWORD } }),
        )
        .await;
    assert!(!resp.text.contains(PASSWORD));
    let password_hash = app
        .db
        .text("SELECT password_hash AS value FROM users")
        .await;
    assert!(password_hash.starts_with("$2b$04$"), "{password_hash}");
    assert!(!password_hash.contains(PASSWORD));
    assert!(!resp.text.contains(&password_hash));
}

#[tokio::test(flavor = "multi_thread")]
async fn register_ignores_a_stale_authorization_header() {
    let app = TestApp::spawn().await;
    let resp = app
        .post_with(
            REGISTER,
            json!({ "input": { "email": "stale@example.com", "password": PASSWORD } }),
            &[("authorization", "Bearer expired.garbage.token")],
        )
        .await;
    resp.data("register");
}
