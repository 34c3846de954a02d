//! `changePassword` and `deleteAccount`: changes that need the account's
//! password, checked as a login would check it.

use serde_json::{Value, json};

use super::helpers::{PASSWORD, TestApp};

const CHANGE: &str = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) }";
const DELETE: &str = "mutation($p: String!) { deleteAccount(password: $p) }";
const NEW_PASSWORD: &str = "a brand new passphrase";

fn change(current: &str, new: &str) -> Value {
    json!({ "input": { "currentPassword": current, "newPassword": new } })
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_the_other_sessions_only() {
    let app = TestApp::spawn().await;
    let caller = app.register("changer@example.com").await;
    let other = app.login("changer@example.com").await;
    let bystander = app.register("bystander@example.com").await;

    let resp = app
        .as_bearer_with(&caller.access, CHANGE, change(PASSWORD, NEW_PASSWORD))
        .await;
    assert_eq!(resp.data("changePassword"), true);
    app.me(&other.access).await.assert_error("UNAUTHENTICATED");
    app.refresh(&other.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    // The caller's session lives on, refresh token included.
    app.me(&caller.access).await.data("me");
    app.refresh(&caller.refresh).await.data("refreshToken");
    app.me(&bystander.access).await.data("me");

    app.login_raw("changer@example.com", PASSWORD)
        .await
        .assert_error("INVALID_CREDENTIALS");
    app.login_raw("changer@example.com", NEW_PASSWORD)
        .await
        .data("login");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_current_password_or_a_bad_new_one_changes_nothing() {
    let app = TestApp::spawn().await;
    let s = app.register("careful@example.com").await;
    let other = app.login("careful@example.com").await;

    app.as_bearer_with(&s.access, CHANGE, change("not the password", NEW_PASSWORD))
        .await
        .assert_error("INVALID_CREDENTIALS");
    for bad in ["short", "x".repeat(73).as_str(), "has a \0 NUL byte"] {
        let resp = app
            .as_bearer_with(&s.access, CHANGE, change(PASSWORD, bad))
            .await;
        resp.assert_error("BAD_USER_INPUT");
        assert_eq!(
            resp.body["errors"][0]["extensions"]["field"], "newPassword",
            "{}",
            resp.text
        );
        assert!(!resp.text.contains(bad), "echoed: {}", resp.text);
    }
    app.me(&other.access).await.data("me");
    app.login("careful@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_count_toward_the_login_limit() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "2/15m")]).await;
    let s = app.register("guessed@example.com").await;
    for _ in 0..2 {
        app.as_bearer_with(&s.access, CHANGE, change("guess", NEW_PASSWORD))
            .await
            .assert_error("INVALID_CREDENTIALS");
    }
    // Limited now, even with the right password, on every path that checks it.
    app.as_bearer_with(&s.access, CHANGE, change(PASSWORD, NEW_PASSWORD))
        .await
        .assert_error("RATE_LIMITED");
    app.as_bearer_with(&s.access, DELETE, json!({ "p": PASSWORD }))
        .await
        .assert_error("RATE_LIMITED");
    app.login_raw("guessed@example.com", PASSWORD)
        .await
        .assert_error("RATE_LIMITED");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_account_needs_its_password_and_takes_everything() {
    let app = TestApp::spawn().await;
    let s = app.register("leaving@example.com").await;
    let other = app.login("leaving@example.com").await;

    app.as_bearer_with(&s.access, DELETE, json!({ "p": "wrong password" }))
        .await
        .assert_error("INVALID_CREDENTIALS");
    app.me(&s.access).await.data("me");

    let resp = app
        .as_bearer_with(&s.access, DELETE, json!({ "p": PASSWORD }))
        .await;
    assert_eq!(resp.data("deleteAccount"), true);
    for gone in [&s, &other] {
        app.me(&gone.access).await.assert_error("UNAUTHENTICATED");
        app.refresh(&gone.refresh)
            .await
            .assert_error("INVALID_REFRESH_TOKEN");
    }
    app.login_raw("leaving@example.com", PASSWORD)
        .await
        .assert_error("INVALID_CREDENTIALS");
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
    // The address is free again.
    app.register("leaving@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_admin_cannot_delete_itself() {
    let app = TestApp::spawn().await;
    let admin = app.register("admin@example.com").await;
    app.db
        .execute("UPDATE users SET role = 'ADMIN' WHERE email = 'admin@example.com'")
        .await;
    app.as_bearer_with(&admin.access, DELETE, json!({ "p": PASSWORD }))
        .await
        .assert_error("FORBIDDEN");
    app.me(&admin.access).await.data("me");

    // With a second admin, either may go, but not both.
    let second = app.register("second@example.com").await;
    app.db
        .execute("UPDATE users SET role = 'ADMIN' WHERE email = 'second@example.com'")
        .await;
    let (a, b) = tokio::join!(
        app.as_bearer_with(&admin.access, DELETE, json!({ "p": PASSWORD })),
        app.as_bearer_with(&second.access, DELETE, json!({ "p": PASSWORD })),
    );
    let mut codes = [a.code().to_owned(), b.code().to_owned()];
    codes.sort();
    assert_eq!(
        codes,
        ["".to_owned(), "FORBIDDEN".to_owned()],
        "{} / {}",
        a.text,
        b.text
    );
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM users WHERE role = 'ADMIN'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_operation_checks_one_password() {
    let app = TestApp::spawn().await;
    let s = app.register("twice@example.com").await;
    let resp = app
        .as_bearer_with(
            &s.access,
            "mutation($p: String!) { a: deleteAccount(password: $p) b: deleteAccount(password: $p) }",
            json!({ "p": PASSWORD }),
        )
        .await;
    assert_eq!(resp.code(), "GRAPHQL_VALIDATION_FAILED", "{}", resp.text);
    app.me(&s.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_account_gets_no_more_mail() {
    // A mail server that is down: the verification email stays queued.
    let port = super::helpers::smtp::SmtpServer::unused_port().await;
    let url = super::helpers::smtp::SmtpServer::url_for(port);
    let app = TestApp::spawn_with(&[("SMTP_URL", url.as_str())]).await;
    let s = app.register("queued@example.com").await;
    app.register("stays@example.com").await;
    let pending = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL";
    assert_eq!(app.db.count(pending).await, 2);
    app.as_bearer_with(&s.access, DELETE, json!({ "p": PASSWORD }))
        .await
        .data("deleteAccount");
    // Only the other account's email is left to send.
    assert_eq!(app.db.count(pending).await, 1);
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM outbox WHERE recipient = 'stays@example.com'")
            .await,
        1
    );
}
