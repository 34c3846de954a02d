//! No log line carries a password, hash, token or secret.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;

use super::helpers::{
    ACCESS_SECRET, LOGIN, LOGOUT, LOGOUT_ALL, PASSWORD, REFRESH, REFRESH_SECRET, REGISTER, TestApp,
    TestDb, session,
};

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary from now on, at every level.
fn captured() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(Arc::clone(&logs));
        tracing_subscriber::fmt()
            .with_env_filter("authql=trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
    .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_never_carry_secrets() {
    let logs = captured();
    // Mail goes to a real SMTP server, as in production (`SMTP_URL=log`,
    // the development default, writes emails to the log on purpose).
    let smtp = super::helpers::smtp::SmtpServer::start().await;
    let app = TestApp::spawn_with(&[("SMTP_URL", &smtp.url())]).await;
    let first = app.register("logs@example.com").await;
    app.login_raw("logs@example.com", "a wrong password").await;
    app.login_raw("nobody@example.com", PASSWORD).await;
    let second = app.login("logs@example.com").await;
    app.me(&first.access).await;
    let rotated = session(app.refresh(&first.refresh).await.data("refreshToken"));
    app.refresh(&first.refresh).await; // reuse
    app.logout(&second.refresh).await;
    let third = app.login("logs@example.com").await;
    app.as_bearer(&third.access, LOGOUT_ALL).await;
    app.register_raw("logs@example.com", "another password")
        .await;
    // A password reset: neither the link's token nor the address may show.
    app.post(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        serde_json::json!({ "e": "logs@example.com" }),
    )
    .await;
    let received = smtp.wait_for(2).await;
    let reset_token = received
        .iter()
        .find_map(|r| {
            let message = mail_parser::MessageParser::default().parse(r.data.as_bytes())?;
            let text = message.body_text(0)?.into_owned();
            let start = text.find("reset-password#token=")? + "reset-password#token=".len();
            Some(
                text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>(),
            )
        })
        .expect("a reset email");
    app.post(
        "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { accessToken } }",
        serde_json::json!({ "input": { "token": reset_token, "newPassword": "a reset password" } }),
    )
    .await
    .data("resetPassword");

    let password_hash = app
        .db
        .text("SELECT password_hash AS value FROM users")
        .await;
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    // The capture works: the flows' own events are there.
    for event in [
        "account registered",
        "login failed",
        "reuse detected",
        "logged out",
    ] {
        assert!(text.contains(event), "no {event:?} in the log");
    }
    let secrets = [
        PASSWORD,
        "a wrong password",
        "another password",
        &password_hash,
        &password_hash[7..], // the salt and digest without the prefix
        ACCESS_SECRET,
        REFRESH_SECRET,
        &first.access,
        &first.refresh,
        &second.refresh,
        &rotated.access,
        &rotated.refresh,
        &third.access,
        "logs@example.com",
        "nobody@example.com",
        "a reset password",
        &reset_token,
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "a secret reached the log: {secret}");
    }
}

/// The audit lines of this test's client IP.
fn audit_lines(logs: &Arc<Mutex<Vec<u8>>>, ip: &str) -> Vec<String> {
    String::from_utf8(logs.lock().unwrap().clone())
        .unwrap()
        .lines()
        .filter(|l| l.contains("authql::audit") && l.contains(&format!("client_ip={ip}")))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_security_outcome_is_an_audit_event() {
    let logs = captured();
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "1/15m")]).await;
    let ip = [192, 0, 2, 44];
    let post = |query: &'static str, variables: serde_json::Value| {
        app.post_from(ip, query, variables, &[])
    };
    let creds =
        |email: &str, password: &str| json!({ "input": { "email": email, "password": password } });

    let first = session(
        post(REGISTER, creds("audit@example.com", PASSWORD))
            .await
            .data("register"),
    );
    post(LOGIN, creds("audit@example.com", "wrong password")).await; // failed, counted
    post(LOGIN, creds("audit@example.com", PASSWORD)).await; // rate limited
    TestDb::execute(&app.db, "DELETE FROM login_attempts").await;
    let second = session(
        post(LOGIN, creds("audit@example.com", PASSWORD))
            .await
            .data("login"),
    );
    let rotated = session(
        post(REFRESH, json!({ "t": first.refresh }))
            .await
            .data("refreshToken"),
    );
    post(REFRESH, json!({ "t": first.refresh })).await; // reuse
    post(LOGOUT, json!({ "t": second.refresh })).await;
    let third = session(
        post(LOGIN, creds("audit@example.com", PASSWORD))
            .await
            .data("login"),
    );
    let bearer = format!("Bearer {}", third.access);
    app.post_from(ip, LOGOUT_ALL, json!({}), &[("authorization", &bearer)])
        .await;

    let lines = audit_lines(&logs, "192.0.2.44");
    let user = format!("user_id={}", first.user_id);
    for (event, needs) in [
        ("registered", vec![user.as_str(), "session_id="]),
        (
            "login_failed",
            vec![user.as_str(), "reason=\"wrong_password\""],
        ),
        ("rate_limited", vec!["scope=\"email\"", "retry_after="]),
        ("login_succeeded", vec![user.as_str(), "session_id="]),
        ("refreshed", vec![user.as_str(), "session_id="]),
        ("reuse_detected", vec![user.as_str(), "session_id="]),
        ("logged_out", vec![user.as_str(), "session_id="]),
        ("logged_out_everywhere", vec![user.as_str(), "sessions=1"]),
    ] {
        let tag = format!("event=\"{event}\"");
        let line = lines.iter().find(|l| l.contains(&tag));
        let line = line.unwrap_or_else(|| panic!("no {event} event in {lines:#?}"));
        for field in needs {
            assert!(line.contains(field), "{event} lacks {field}: {line}");
        }
        for secret in [
            PASSWORD,
            "wrong password",
            "audit@example.com",
            &first.refresh,
            &rotated.refresh,
        ] {
            assert!(!line.contains(secret), "{event} carries a secret: {line}");
        }
    }
}
