//! The background purge keeps only rows that can still matter.

use super::helpers::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn purge_removes_what_expired_and_keeps_what_still_matters() {
    let app = TestApp::spawn().await;
    let live = app.register("live@example.com").await;
    let ended = app.register("ended@example.com").await;
    assert!(app.logged_out(&ended.refresh).await);
    let old = app.register("old@example.com").await;
    app.login_raw("nobody@example.com", "wrong password").await;
    // Age one session and its tokens past their expiry, and the counter.
    let (day_ago, second_ago) = (app.db.ago(86_400), app.db.ago(1));
    for sql in [
        format!(
            "UPDATE refresh_tokens SET expires_at = {day_ago}
             WHERE session_id IN (SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id
                                  WHERE u.email = 'old@example.com')"
        ),
        format!(
            "UPDATE sessions SET expires_at = {day_ago}
             WHERE user_id = (SELECT id FROM users WHERE email = 'old@example.com')"
        ),
        format!("UPDATE login_attempts SET window_ends_at = {second_ago}"),
    ] {
        app.db.execute(&sql).await;
    }

    let purged = authql::housekeeping::purge_once(app.state.store.as_ref(), None).await;
    assert_eq!(
        (
            purged.refresh_tokens,
            purged.sessions,
            purged.login_attempts
        ),
        (1, 1, 1),
        "{purged:?}"
    );
    // Live and merely ended sessions stay: logout must still say false.
    app.me(&live.access).await.data("me");
    assert!(!app.logged_out(&ended.refresh).await);
    app.me(&old.access).await.assert_error("UNAUTHENTICATED");
    // A second pass finds nothing.
    let again = authql::housekeeping::purge_once(app.state.store.as_ref(), None).await;
    assert_eq!(
        (again.refresh_tokens, again.sessions, again.login_attempts),
        (0, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_removes_expired_links_counters_and_old_sent_mail() {
    // Development mail: registration queues a verification email, sent to
    // the log at once.
    let app = TestApp::spawn().await;
    app.register("mail@example.com").await;
    app.post(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        serde_json::json!({ "e": "mail@example.com" }),
    )
    .await
    .data("requestPasswordReset");
    for _ in 0..100 {
        let sent = "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL";
        if app.db.count(sent).await == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (day_ago, second_ago, eight_days_ago, six_days_ago) = (
        app.db.ago(86_400),
        app.db.ago(1),
        app.db.ago(8 * 86_400),
        app.db.ago(6 * 86_400),
    );
    for sql in [
        format!("UPDATE email_tokens SET expires_at = {day_ago}"),
        format!("UPDATE email_requests SET window_ends_at = {second_ago}"),
        format!("UPDATE outbox SET sent_at = {eight_days_ago} WHERE kind = 'verify_email'"),
        format!("UPDATE outbox SET sent_at = {six_days_ago} WHERE kind = 'password_reset'"),
    ] {
        app.db.execute(&sql).await;
    }
    let purged = authql::housekeeping::purge_once(app.state.store.as_ref(), None).await;
    assert_eq!(
        (purged.email_tokens, purged.email_requests, purged.outbox),
        (2, 1, 1),
        "{purged:?}"
    );
    // The email sent six days ago keeps its (bodiless) row for now.
    assert_eq!(app.db.count("SELECT count(*) FROM outbox").await, 1);
}
