//! The audit log: every security event in the database, written with its
//! change (and never for a change that did not happen), with the request's
//! IP and user agent, readable by the account itself and by ADMINs.

use serde_json::{Value, json};

use super::admin::admin;
use super::helpers::{LOGIN, PASSWORD, REGISTER, TestApp};

const MINE: &str = "{ me { auditEvents(first: 100) { edges { node {
  id type at userId actorId sessionId ip userAgent reason } } } } }";
const ALL: &str = "query($types: [AuditEventType!], $userId: ID, $first: Int, $after: String) {
  auditEvents(types: $types, userId: $userId, first: $first, after: $after) {
    edges { cursor node { type userId actorId sessionId ip userAgent reason } }
    pageInfo { hasNextPage endCursor } } }";

fn nodes(list: &Value) -> Vec<Value> {
    list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn credentials(email: &str, password: &str) -> Value {
    json!({ "input": { "email": email, "password": password } })
}

#[tokio::test(flavor = "multi_thread")]
async fn each_outcome_is_stored_with_its_ip_and_user_agent() {
    let app = TestApp::spawn().await;
    let ip = [198, 51, 100, 7];
    let ua = [("user-agent", "AuditTest/1.0")];
    let email = "events@example.com";
    let with_id = [ua[0], ("x-request-id", "req-42.a_b:c")];
    let first = app
        .post_from(ip, REGISTER, credentials(email, PASSWORD), &with_id)
        .await;
    let first = super::helpers::session(first.data("register"));
    let odd_id = [ua[0], ("x-request-id", "has spaces <script>")];
    app.post_from(ip, LOGIN, credentials(email, "wrong password"), &odd_id)
        .await
        .assert_error("INVALID_CREDENTIALS");
    // A plausible X-Request-Id is kept for finding the request's log lines;
    // anything else is dropped.
    let ids = "SELECT count(*) FROM audit_events WHERE request_id = 'req-42.a_b:c' AND type = 'REGISTERED'";
    assert_eq!(app.db.count(ids).await, 1);
    let none = "SELECT count(*) FROM audit_events WHERE request_id IS NOT NULL";
    assert_eq!(app.db.count(none).await, 1);
    let second = app
        .post_from(ip, LOGIN, credentials(email, PASSWORD), &ua)
        .await;
    let second = super::helpers::session(second.data("login"));
    app.logout(&second.refresh).await.data("logout");
    // Refreshes are no events; a reuse is.
    let rotated = app.refresh(&first.refresh).await;
    rotated.data("refreshToken");
    app.refresh(&first.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    let third = app.login(email).await;

    let events = nodes(&app.as_bearer(&third.access, MINE).await.data("me")["auditEvents"]);
    assert_eq!(
        types(&events),
        [
            "LOGIN_SUCCEEDED",
            "REUSE_DETECTED",
            "LOGGED_OUT",
            "LOGIN_SUCCEEDED",
            "LOGIN_FAILED",
            "REGISTERED"
        ],
        "{events:#?}"
    );
    let registered = &events[5];
    assert_eq!(registered["userId"], first.user_id.as_str());
    assert_eq!(registered["ip"], "198.51.100.7");
    assert_eq!(registered["userAgent"], "AuditTest/1.0");
    assert_eq!(registered["actorId"], Value::Null);
    assert_eq!(registered["reason"], Value::Null);
    let failed = &events[4];
    assert_eq!(failed["reason"], "wrong_password");
    assert_eq!(failed["sessionId"], Value::Null);
    let sid = |token: &str| super::helpers::tokens::claims(token)["sid"].clone();
    assert_eq!(events[3]["sessionId"], sid(&second.access));
    assert_eq!(events[2]["sessionId"], sid(&second.access));
    assert_eq!(events[1]["sessionId"], sid(&first.access));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_that_fails_records_nothing_but_its_refusal() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    // The last admin's deletion is refused: no ACCOUNT_DELETED.
    app.as_bearer_with(
        &boss.access,
        "mutation($p: String!) { deleteAccount(password: $p) }",
        json!({ "p": PASSWORD }),
    )
    .await
    .assert_error("FORBIDDEN");
    // A wrong current password: a failed login, no PASSWORD_CHANGED.
    app.as_bearer_with(
        &boss.access,
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
        json!({ "i": { "currentPassword": "wrong one!", "newPassword": "another long one" } }),
    )
    .await
    .assert_error("INVALID_CREDENTIALS");
    // A demotion of the last admin: no ROLE_CHANGED.
    app.as_bearer_with(
        &boss.access,
        "mutation($id: ID!) { setUserRole(id: $id, role: USER) { id } }",
        json!({ "id": boss.user_id }),
    )
    .await
    .assert_error("FORBIDDEN");
    let events = nodes(&app.as_bearer(&boss.access, MINE).await.data("me")["auditEvents"]);
    assert_eq!(
        types(&events),
        ["LOGIN_FAILED", "LOGIN_SUCCEEDED", "REGISTERED"],
        "{events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_actions_name_their_actor_and_filters_work() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    let user = app.register("target@example.com").await;
    let id = json!({ "id": user.user_id });
    for query in [
        "mutation($id: ID!) { disableUser(id: $id) { id } }",
        "mutation($id: ID!) { enableUser(id: $id) { id } }",
        "mutation($id: ID!) { setUserRole(id: $id, role: ADMIN) { id } }",
        "mutation($id: ID!) { revokeUserSessions(id: $id) }",
        "mutation($id: ID!) { deleteUser(id: $id) }",
    ] {
        assert!(
            app.as_bearer_with(&boss.access, query, id.clone())
                .await
                .body["errors"]
                .is_null()
        );
    }
    let admin_kinds = json!([
        "USER_DISABLED",
        "USER_ENABLED",
        "ROLE_CHANGED",
        "USER_SESSIONS_REVOKED",
        "USER_DELETED"
    ]);
    let resp = app
        .as_bearer_with(&boss.access, ALL, json!({ "types": admin_kinds }))
        .await;
    let events = nodes(resp.data("auditEvents"));
    assert_eq!(
        types(&events),
        [
            "USER_DELETED",
            "USER_SESSIONS_REVOKED",
            "ROLE_CHANGED",
            "USER_ENABLED",
            "USER_DISABLED"
        ]
    );
    for event in &events {
        // Kept after the account is gone, with who did it.
        assert_eq!(event["userId"], user.user_id.as_str());
        assert_eq!(event["actorId"], boss.user_id.as_str());
    }
    // One account's events, in pages.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = app
            .as_bearer_with(
                &boss.access,
                ALL,
                json!({ "userId": user.user_id, "first": 2, "after": after }),
            )
            .await;
        let list = resp.data("auditEvents");
        seen.extend(types(&nodes(list)).into_iter().map(str::to_owned));
        if list["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = list["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("REGISTERED"));
    // An id that names no account has no events.
    let none = app
        .as_bearer_with(&boss.access, ALL, json!({ "userId": "nobody" }))
        .await;
    assert_eq!(nodes(none.data("auditEvents")).len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_rate_limited_event_per_window_and_no_secret_anywhere() {
    let app = TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "2/15m")]).await;
    let boss = admin(&app, "boss@example.com").await;
    let victim = app.register("victim@example.com").await;
    for _ in 0..6 {
        app.login_raw("victim@example.com", "guessing wrong").await;
    }
    for _ in 0..3 {
        app.login_raw("nobody-here@example.com", "guessing wrong")
            .await;
    }
    let resp = app
        .as_bearer_with(
            &boss.access,
            ALL,
            json!({ "types": ["RATE_LIMITED", "LOGIN_FAILED"] }),
        )
        .await;
    let events = nodes(resp.data("auditEvents"));
    let of = |user: Value, kind: &str| {
        events
            .iter()
            .filter(|e| e["userId"] == user && e["type"] == kind)
            .count()
    };
    let victim_id = json!(victim.user_id);
    assert_eq!(of(victim_id.clone(), "LOGIN_FAILED"), 2);
    assert_eq!(of(victim_id.clone(), "RATE_LIMITED"), 1);
    // The unknown address: its events name no account.
    assert_eq!(of(Value::Null, "LOGIN_FAILED"), 2);
    assert_eq!(of(Value::Null, "RATE_LIMITED"), 1);
    let limited: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "RATE_LIMITED")
        .collect();
    assert!(limited.iter().all(|e| e["reason"] == "login"));
    let unknown = events
        .iter()
        .find(|e| e["type"] == "LOGIN_FAILED" && e["userId"].is_null())
        .unwrap();
    assert_eq!(unknown["reason"], "unknown_email");

    // Nothing typed or secret is stored in any column of any event.
    let rows = app.db.count("SELECT count(*) FROM audit_events").await;
    assert!(rows >= 8);
    for secret in [
        "guessing wrong",
        PASSWORD,
        "nobody-here",
        "victim@",
        "boss@",
    ] {
        let hits = app
            .db
            .count(&format!(
                "SELECT count(*) FROM audit_events WHERE \
                 COALESCE(type, '') || COALESCE(ip, '') || COALESCE(user_agent, '') || \
                 COALESCE(reason, '') || COALESCE(request_id, '') LIKE '%{secret}%'"
            ))
            .await;
        assert_eq!(hits, 0, "{secret} stored in an event");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_past_the_retention_are_purged() {
    let app = TestApp::spawn().await;
    let user = app.register("old@example.com").await;
    let old = app.db.ago(100 * 24 * 3600);
    app.db
        .execute(&format!("UPDATE audit_events SET at = {old}"))
        .await;
    app.login("old@example.com").await;
    let keep = Some(std::time::Duration::from_secs(90 * 24 * 3600));
    let purged = authql::housekeeping::purge_once(app.state.store.as_ref(), keep).await;
    assert_eq!(purged.audit_events, 1);
    let events = nodes(&app.as_bearer(&user.access, MINE).await.data("me")["auditEvents"]);
    assert_eq!(types(&events), ["LOGIN_SUCCEEDED"]);
    // `0` keeps everything.
    app.db
        .execute(&format!("UPDATE audit_events SET at = {old}"))
        .await;
    let purged = authql::housekeeping::purge_once(app.state.store.as_ref(), None).await;
    assert_eq!(purged.audit_events, 0);
}
