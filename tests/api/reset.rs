//! `requestPasswordReset` and `resetPassword`, with the email received over
//! SMTP by the test server, parsed, and its link followed as a person would.

use std::time::Duration;

use serde_json::json;

use super::helpers::smtp::{Behaviour, Received, SmtpServer};
use super::helpers::{PASSWORD, TestApp, session};

const REQUEST: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str = "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { accessToken refreshToken user { id email emailVerified } } }";
const NEW_PASSWORD: &str = "a fresh start passphrase";

/// An app that mails to `smtp_url`.
async fn mail_app(smtp_url: &str, extra: &[(&str, &str)]) -> TestApp {
    // Registrations here send no verification email, so each test receives
    // only the emails it is about.
    let mut vars = vec![
        ("SMTP_URL", smtp_url),
        ("MAIL_FROM", "Acme <no-reply@acme.example>"),
        ("APP_NAME", "Acme"),
        (
            "PASSWORD_RESET_URL",
            "https://app.acme.example/reset#token={token}",
        ),
        ("EMAIL_VERIFICATION", "off"),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// A received email, read as a mail client reads it.
struct Mail {
    to: String,
    subject: String,
    text: String,
    html: String,
}

fn read(received: &Received) -> Mail {
    let message = mail_parser::MessageParser::default()
        .parse(received.data.as_bytes())
        .expect("a parsable message");
    Mail {
        to: received.to.join(","),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).unwrap_or_default().into_owned(),
        html: message.body_html(0).unwrap_or_default().into_owned(),
    }
}

/// The token of the link in an email's text.
fn token_in(mail: &Mail) -> String {
    let start = mail.text.find("#token=").expect("a link with a token") + "#token=".len();
    mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

async fn request(app: &TestApp, email: &str) -> super::helpers::Resp {
    app.post(REQUEST, json!({ "e": email })).await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> super::helpers::Resp {
    app.post(
        RESET,
        json!({ "input": { "token": token, "newPassword": password } }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_arrives_by_smtp_and_signs_in_with_the_new_password() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[]).await;
    let before = app.register("forgetful@example.com").await;
    let other = app.login("forgetful@example.com").await;

    assert_eq!(
        request(&app, " Forgetful@Example.com ")
            .await
            .data("requestPasswordReset"),
        true
    );
    let received = smtp.wait_for(1).await;
    let mail = read(&received[0]);
    assert_eq!(mail.to, "forgetful@example.com");
    assert_eq!(received[0].from, "no-reply@acme.example");
    assert!(
        received[0].data.contains("@acme.example>\r\n"),
        "no Message-ID in the sender's domain"
    );
    assert_eq!(mail.subject, "Reset your Acme password");
    assert!(
        mail.text
            .contains("https://app.acme.example/reset#token=aqe_"),
        "{}",
        mail.text
    );
    assert!(
        mail.html
            .contains("href=\"https://app.acme.example/reset#token=aqe_"),
        "{}",
        mail.html
    );
    assert!(mail.text.contains("1 hour"), "{}", mail.text);
    let token = token_in(&mail);
    // The database keeps only the token's hash, and no body once sent.
    assert_eq!(app.db.count("SELECT count(*) FROM email_tokens").await, 1);
    // (The worker records the send just after the server accepted it.)
    let sent_without_body = "SELECT count(*) FROM outbox \
         WHERE sent_at IS NOT NULL AND text_body IS NULL AND html_body IS NULL AND subject IS NULL";
    assert_eq!(eventually(&app, sent_without_body, 1).await, 1);

    let resp = reset(&app, &token, NEW_PASSWORD).await;
    let payload = resp.data("resetPassword").clone();
    assert_eq!(payload["user"]["email"], "forgetful@example.com");
    assert_eq!(payload["user"]["emailVerified"], true);
    let signed_in = session(&payload);
    app.me(&signed_in.access).await.data("me");
    // Every earlier session ended.
    for ended in [&before, &other] {
        app.me(&ended.access).await.assert_error("UNAUTHENTICATED");
    }
    // The link works once.
    reset(&app, &token, "yet another passphrase")
        .await
        .assert_error("INVALID_TOKEN");
    app.login_raw("forgetful@example.com", PASSWORD)
        .await
        .assert_error("INVALID_CREDENTIALS");
    app.login_raw("forgetful@example.com", NEW_PASSWORD)
        .await
        .data("login");

    // And the account hears about it.
    let received = smtp.wait_for(2).await;
    let notice = read(&received[1]);
    assert_eq!(notice.to, "forgetful@example.com");
    assert_eq!(notice.subject, "Your Acme password was reset");
    assert!(!notice.text.contains("aqe_"), "{}", notice.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_addresses_get_the_same_answer_and_no_email() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[]).await;
    assert_eq!(
        request(&app, "nobody@example.com")
            .await
            .data("requestPasswordReset"),
        true
    );
    let resp = request(&app, "not an address").await;
    resp.assert_error("BAD_USER_INPUT");
    assert_eq!(resp.body["errors"][0]["extensions"]["field"], "email");
    assert!(!resp.text.contains("not an address"), "{}", resp.text);
    // What depends on the account runs after the answer: give it time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.db.count("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(app.db.count("SELECT count(*) FROM email_tokens").await, 0);
    assert!(smtp.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_link_supersedes_and_a_password_change_ends_them_all() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[]).await;
    let s = app.register("twice@example.com").await;
    // One at a time: the worker sends what is due concurrently, so two
    // emails queued together may arrive in either order.
    request(&app, "twice@example.com")
        .await
        .data("requestPasswordReset");
    smtp.wait_for(1).await;
    request(&app, "twice@example.com")
        .await
        .data("requestPasswordReset");
    let received = smtp.wait_for(2).await;
    let (first, second) = (token_in(&read(&received[0])), token_in(&read(&received[1])));
    assert_ne!(first, second);
    reset(&app, &first, NEW_PASSWORD)
        .await
        .assert_error("INVALID_TOKEN");

    // A password change ends the live one too.
    app.as_bearer_with(
        &s.access,
        "mutation($input: ChangePasswordInput!) { changePassword(input: $input) }",
        json!({ "input": { "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD } }),
    )
    .await
    .data("changePassword");
    reset(&app, &second, "another new passphrase")
        .await
        .assert_error("INVALID_TOKEN");
    let received = smtp.wait_for(3).await;
    assert_eq!(read(&received[2]).subject, "Your Acme password was changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_new_password_leaves_the_link_usable() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[]).await;
    app.register("picky@example.com").await;
    request(&app, "picky@example.com")
        .await
        .data("requestPasswordReset");
    let token = token_in(&read(&smtp.wait_for(1).await[0]));
    for bad in ["short", "has a \0 NUL byte"] {
        let resp = reset(&app, &token, bad).await;
        resp.assert_error("BAD_USER_INPUT");
        assert_eq!(resp.body["errors"][0]["extensions"]["field"], "newPassword");
    }
    reset(&app, &token, NEW_PASSWORD)
        .await
        .data("resetPassword");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_foreign_and_malformed_tokens_are_one_invalid_token() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[]).await;
    let s = app.register("expired@example.com").await;
    request(&app, "expired@example.com")
        .await
        .data("requestPasswordReset");
    let token = token_in(&read(&smtp.wait_for(1).await[0]));
    let past = app.db.ago(1);
    app.db
        .execute(&format!("UPDATE email_tokens SET expires_at = {past}"))
        .await;
    let mut messages = Vec::new();
    for bad in [
        token.clone(),
        String::new(),
        "garbage".into(),
        s.refresh.clone(),
        s.access.clone(),
        format!("{token}0"),
        "aqe_".to_owned() + &"0".repeat(64),
        "\u{0}\u{ffff}".into(),
    ] {
        let resp = reset(&app, &bad, NEW_PASSWORD).await;
        resp.assert_error("INVALID_TOKEN");
        messages.push(resp.body["errors"][0]["message"].clone());
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
    app.login("expired@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_limited_per_address_known_or_not() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[("RATE_LIMIT_EMAIL", "2/15m")]).await;
    app.register("limited@example.com").await;
    for email in ["limited@example.com", "unknown@example.com"] {
        for _ in 0..2 {
            request(&app, email).await.data("requestPasswordReset");
        }
        let resp = request(&app, email).await;
        resp.assert_error("RATE_LIMITED");
        let retry_after = resp.body["errors"][0]["extensions"]["retryAfter"].as_u64();
        assert!(
            retry_after.is_some_and(|s| (1..=900).contains(&s)),
            "{}",
            resp.text
        );
    }
    // Only the known address's two emails were sent.
    assert_eq!(smtp.wait_for(2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_mail_the_reset_fields_are_switched_off() {
    let app = TestApp::spawn_with(&super::helpers::PRODUCTION).await;
    request(&app, "anyone@example.com")
        .await
        .assert_error("FEATURE_DISABLED");
}

/// Polls the count `sql` returns until it is `want` (at most 10 s); returns
/// the last count.
async fn eventually(app: &TestApp, sql: &str, want: i64) -> i64 {
    let mut count = app.db.count(sql).await;
    for _ in 0..100 {
        if count == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        count = app.db.count(sql).await;
    }
    count
}

/// Makes every queued email due now, as if its retry delay had passed.
async fn due_now(app: &TestApp) {
    let now = app.db.ago(0);
    app.db
        .execute(&format!(
            "UPDATE outbox SET next_attempt_at = {now} WHERE sent_at IS NULL"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_waits_out_a_mail_server_that_is_down_and_a_restart() {
    let port = SmtpServer::unused_port().await;
    let app = mail_app(&SmtpServer::url_for(port), &[]).await;
    app.register("patient@example.com").await;
    // Answered at once: nothing on the request path waits for mail.
    request(&app, "patient@example.com")
        .await
        .data("requestPasswordReset");
    // The worker tries, fails, and schedules a retry.
    eventually(&app, "SELECT coalesce(max(attempts), 0) FROM outbox", 1).await;
    assert_eq!(
        app.db
            .count("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND attempts = 1")
            .await,
        1
    );
    // This instance stops; the mail server comes back; another instance,
    // started later on the same database, delivers the email.
    app.state.stop_background();
    let smtp = SmtpServer::start_on(port).await;
    let again = app
        .sibling(&[
            ("SMTP_URL", &smtp.url()),
            ("MAIL_FROM", "Acme <no-reply@acme.example>"),
            (
                "PASSWORD_RESET_URL",
                "https://app.acme.example/reset#token={token}",
            ),
            ("EMAIL_VERIFICATION", "off"),
        ])
        .await;
    due_now(&again).await;
    let received = smtp.wait_for(1).await;
    let token = token_in(&read(&received[0]));
    reset(&again, &token, NEW_PASSWORD)
        .await
        .data("resetPassword");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_recipient_or_a_dropped_connection_is_retried() {
    for behaviour in [Behaviour::RefuseRecipients, Behaviour::DropMidMessage] {
        let smtp = SmtpServer::start().await;
        smtp.behave(behaviour);
        let app = mail_app(&smtp.url(), &[]).await;
        app.register("retried@example.com").await;
        request(&app, "retried@example.com")
            .await
            .data("requestPasswordReset");
        eventually(&app, "SELECT coalesce(max(attempts), 0) FROM outbox", 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(smtp.received().is_empty(), "{behaviour:?}");
        assert_eq!(
            app.db
                .count("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                .await,
            1,
            "{behaviour:?}"
        );
        smtp.behave(Behaviour::Accept);
        due_now(&app).await;
        assert_eq!(smtp.wait_for(1).await.len(), 1, "{behaviour:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_mail_server_holds_up_no_request() {
    let smtp = SmtpServer::start().await;
    smtp.behave(Behaviour::Slow(Duration::from_secs(3)));
    let app = mail_app(&smtp.url(), &[]).await;
    let s = app.register("slow@example.com").await;
    request(&app, "slow@example.com")
        .await
        .data("requestPasswordReset");
    // The server is still sitting on the first email while these answer.
    app.me(&s.access).await.data("me");
    request(&app, "slow@example.com")
        .await
        .data("requestPasswordReset");
    assert!(smtp.received().is_empty());
    assert_eq!(smtp.wait_for(2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_send_each_email_once() {
    let smtp = SmtpServer::start().await;
    let first = mail_app(&smtp.url(), &[("RATE_LIMIT_IP", "0")]).await;
    let second = first
        .sibling(&[
            ("SMTP_URL", &smtp.url()),
            (
                "PASSWORD_RESET_URL",
                "https://app.acme.example/reset#token={token}",
            ),
            ("EMAIL_VERIFICATION", "off"),
            ("RATE_LIMIT_IP", "0"),
        ])
        .await;
    let mut addresses = Vec::new();
    for i in 0..12 {
        let email = format!("once-{i}@example.com");
        first.register(&email).await;
        let app = if i % 2 == 0 { &first } else { &second };
        request(app, &email).await.data("requestPasswordReset");
        addresses.push(email);
    }
    let received = smtp.wait_for(12).await;
    // Let both workers poll again: nothing more may arrive.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut recipients: Vec<String> = smtp.received().iter().map(|r| r.to.join(",")).collect();
    recipients.sort();
    addresses.sort();
    assert_eq!(received.len(), 12);
    assert_eq!(recipients, addresses);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_used_twice_at_once_works_once() {
    let smtp = SmtpServer::start().await;
    let app = mail_app(&smtp.url(), &[]).await;
    app.register("racer@example.com").await;
    request(&app, "racer@example.com")
        .await
        .data("requestPasswordReset");
    let token = token_in(&read(&smtp.wait_for(1).await[0]));
    let (a, b) = tokio::join!(
        reset(&app, &token, "first new passphrase"),
        reset(&app, &token, "second new passphrase"),
    );
    let mut codes = [a.code().to_owned(), b.code().to_owned()];
    codes.sort();
    assert_eq!(
        codes,
        ["".to_owned(), "INVALID_TOKEN".to_owned()],
        "{} / {}",
        a.text,
        b.text
    );
    // One session came of it.
    let live = "SELECT count(*) FROM sessions WHERE ended_at IS NULL";
    assert_eq!(app.db.count(live).await, 1);
}
