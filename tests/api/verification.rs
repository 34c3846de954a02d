//! Email verification (the three `EMAIL_VERIFICATION` modes,
//! `requestEmailVerification`, `verifyEmail`) and email change
//! (`requestEmailChange`), with every email received over SMTP.

use serde_json::json;

use super::helpers::smtp::{Received, SmtpServer};
use super::helpers::{PASSWORD, Resp, TestApp, session, tokens};

const REQUEST: &str = "mutation($e: String!) { requestEmailVerification(email: $e) }";
const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) { id email emailVerified } }";
const CHANGE: &str = "mutation($input: EmailChangeInput!) { requestEmailChange(input: $input) }";
const RESET: &str =
    "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { accessToken } }";

async fn mail_app(smtp: &SmtpServer, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![
        ("SMTP_URL", url.as_str()),
        ("MAIL_FROM", "Acme <no-reply@acme.example>"),
        ("APP_NAME", "Acme"),
        (
            "EMAIL_VERIFY_URL",
            "https://app.acme.example/verify#token={token}",
        ),
        (
            "PASSWORD_RESET_URL",
            "https://app.acme.example/reset#token={token}",
        ),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// `(recipient, subject, text)` of a received email, decoded.
fn read(received: &Received) -> (String, String, String) {
    let message = mail_parser::MessageParser::default()
        .parse(received.data.as_bytes())
        .unwrap();
    (
        received.to.join(","),
        message.subject().unwrap_or_default().to_owned(),
        message.body_text(0).unwrap_or_default().into_owned(),
    )
}

fn token_in(text: &str) -> String {
    let start = text.find("#token=").expect("a link") + "#token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

async fn verify(app: &TestApp, token: &str) -> Resp {
    app.post(VERIFY, json!({ "t": token })).await
}

#[tokio::test(flavor = "multi_thread")]
async fn optional_verification_signs_in_and_sends_a_link_that_verifies() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp, &[]).await;
    let s = app.register("new@example.com").await;
    app.me(&s.access).await.data("me");
    let (to, subject, text) = read(&smtp.wait_for(1).await[0]);
    assert_eq!(to, "new@example.com");
    assert_eq!(subject, "Confirm your address for Acme");
    assert!(
        text.contains("https://app.acme.example/verify#token=aqe_"),
        "{text}"
    );
    let token = token_in(&text);

    let verified = verify(&app, &token).await.data("verifyEmail").clone();
    assert_eq!(verified["email"], "new@example.com");
    assert_eq!(verified["emailVerified"], true);
    verify(&app, &token).await.assert_error("INVALID_TOKEN");
    // The session lives on, and its next access token says so.
    let next = session(app.refresh(&s.refresh).await.data("refreshToken"));
    assert_eq!(tokens::claims(&next.access)["email_verified"], true);
    // A verified address gets no further links; an unknown one none at all.
    for email in ["new@example.com", "nobody@example.com"] {
        assert_eq!(
            app.post(REQUEST, json!({ "e": email }))
                .await
                .data("requestEmailVerification"),
            true
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_verification_off_registering_sends_nothing_but_a_request_does() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp, &[("EMAIL_VERIFICATION", "off")]).await;
    app.register("quiet@example.com").await;
    assert_eq!(app.db.count("SELECT count(*) FROM outbox").await, 0);
    app.post(REQUEST, json!({ "e": "Quiet@Example.com" }))
        .await
        .data("requestEmailVerification");
    let (to, _, text) = read(&smtp.wait_for(1).await[0]);
    assert_eq!(to, "quiet@example.com");
    verify(&app, &token_in(&text)).await.data("verifyEmail");
}

#[tokio::test(flavor = "multi_thread")]
async fn required_verification_starts_no_session_until_the_link_is_used() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp, &[("EMAIL_VERIFICATION", "required")]).await;
    app.register_raw("strict@example.com", PASSWORD)
        .await
        .assert_error("EMAIL_NOT_VERIFIED");
    assert_eq!(app.db.count("SELECT count(*) FROM sessions").await, 0);
    // The account exists: a wrong password is still wrong, the right one
    // is refused for the address.
    app.login_raw("strict@example.com", "wrong password")
        .await
        .assert_error("INVALID_CREDENTIALS");
    app.login_raw("strict@example.com", PASSWORD)
        .await
        .assert_error("EMAIL_NOT_VERIFIED");
    app.register_raw("strict@example.com", PASSWORD)
        .await
        .assert_error("EMAIL_TAKEN");
    let (_, _, text) = read(&smtp.wait_for(1).await[0]);
    verify(&app, &token_in(&text)).await.data("verifyEmail");
    app.login("strict@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_signs_in_an_unverified_account_and_verifies_it() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp, &[("EMAIL_VERIFICATION", "required")]).await;
    app.register_raw("lost@example.com", PASSWORD).await;
    let verification = token_in(&read(&smtp.wait_for(1).await[0]).2);
    app.post(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": "lost@example.com" }),
    )
    .await
    .data("requestPasswordReset");
    let reset = token_in(&read(&smtp.wait_for(2).await[1]).2);
    // Each token works for its own field only.
    verify(&app, &reset).await.assert_error("INVALID_TOKEN");
    app.post(
        RESET,
        json!({ "input": { "token": verification, "newPassword": "a new passphrase" } }),
    )
    .await
    .assert_error("INVALID_TOKEN");
    app.post(
        RESET,
        json!({ "input": { "token": reset, "newPassword": "a new passphrase" } }),
    )
    .await
    .data("resetPassword");
    app.login_raw("lost@example.com", "a new passphrase")
        .await
        .data("login");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_change_is_confirmed_at_the_new_address() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp, &[("EMAIL_VERIFICATION", "off")]).await;
    let s = app.register("old@example.com").await;
    app.register("taken@example.com").await;
    let change = |email: &str, password: &str| json!({ "input": { "newEmail": email, "password": password } });
    app.as_bearer_with(
        &s.access,
        CHANGE,
        change("new@example.com", "wrong password"),
    )
    .await
    .assert_error("INVALID_CREDENTIALS");
    let same = app
        .as_bearer_with(&s.access, CHANGE, change(" OLD@example.com", PASSWORD))
        .await;
    same.assert_error("BAD_USER_INPUT");
    assert_eq!(same.body["errors"][0]["extensions"]["field"], "newEmail");
    app.as_bearer_with(&s.access, CHANGE, change("Taken@Example.com", PASSWORD))
        .await
        .assert_error("EMAIL_TAKEN");
    app.post(CHANGE, change("new@example.com", PASSWORD))
        .await
        .assert_error("UNAUTHENTICATED");

    let resp = app
        .as_bearer_with(&s.access, CHANGE, change("New@Example.com", PASSWORD))
        .await;
    assert_eq!(resp.data("requestEmailChange"), true);
    let received = smtp.wait_for(2).await;
    let mut mails: Vec<_> = received.iter().map(read).collect();
    mails.sort();
    let (confirm, notice) = (&mails[0], &mails[1]);
    assert_eq!(confirm.0, "new@example.com");
    assert_eq!(confirm.1, "Confirm your new address for Acme");
    assert_eq!(notice.0, "old@example.com");
    assert!(
        notice.2.contains("new@example.com") && !notice.2.contains("aqe_"),
        "{}",
        notice.2
    );
    // Nothing changes until the link is used.
    app.login("old@example.com").await;

    let changed = verify(&app, &token_in(&confirm.2))
        .await
        .data("verifyEmail")
        .clone();
    assert_eq!(changed["email"], "new@example.com");
    assert_eq!(changed["emailVerified"], true);
    // Sessions live on; the new address signs in, the old one no longer.
    app.me(&s.access).await.data("me");
    app.login("new@example.com").await;
    app.login_raw("old@example.com", PASSWORD)
        .await
        .assert_error("INVALID_CREDENTIALS");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_taken_before_the_link_is_used_is_email_taken() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp, &[("EMAIL_VERIFICATION", "off")]).await;
    let s = app.register("mover@example.com").await;
    app.as_bearer_with(
        &s.access,
        CHANGE,
        json!({ "input": { "newEmail": "wanted@example.com", "password": PASSWORD } }),
    )
    .await
    .data("requestEmailChange");
    let received = smtp.wait_for(2).await;
    let confirm = received
        .iter()
        .map(read)
        .find(|m| m.0 == "wanted@example.com")
        .unwrap();
    app.register("wanted@example.com").await;
    verify(&app, &token_in(&confirm.2))
        .await
        .assert_error("EMAIL_TAKEN");
    app.login("mover@example.com").await;
}
