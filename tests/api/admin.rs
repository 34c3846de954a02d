//! Administration: the ADMIN guard on the stored role and status, the
//! users list, and the changes of role and status that take effect at once.

use authql::auth::Password;
use authql::domain::Role;
use serde_json::{Value, json};

use super::helpers::{ACCESS_SECRET, PASSWORD, Session, TestApp, tokens};

const USERS: &str = "query($first: Int, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) {
    totalCount edges { cursor node { id email role disabled } }
    pageInfo { hasNextPage endCursor } } }";
const USER: &str =
    "query($id: ID!) { user(id: $id) { id email disabled sessions { id current } } }";
const SET_ROLE: &str =
    "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { id role } }";
const DISABLE: &str = "mutation($id: ID!) { disableUser(id: $id) { id disabled } }";
const ENABLE: &str = "mutation($id: ID!) { enableUser(id: $id) { id disabled } }";
const DELETE: &str = "mutation($id: ID!) { deleteUser(id: $id) }";
const REVOKE: &str = "mutation($id: ID!) { revokeUserSessions(id: $id) }";

/// An ADMIN account made as an operator would (the command line's flow),
/// signed in.
pub async fn admin(app: &TestApp, email: &str) -> Session {
    app.state
        .auth
        .create_account(email, Password::new(PASSWORD.to_owned()), Role::Admin)
        .await
        .unwrap();
    app.login(email).await
}

async fn call(app: &TestApp, token: &str, query: &str, variables: Value) -> super::helpers::Resp {
    app.as_bearer_with(token, query, variables).await
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_stored_admin_passes_the_guard() {
    let app = TestApp::spawn().await;
    let user = app.register("plain@example.com").await;
    let id = json!({ "id": user.user_id });
    for (query, variables) in [
        (USERS, json!({})),
        (USER, id.clone()),
        ("{ auditEvents { edges { cursor } } }", json!({})),
        (DISABLE, id.clone()),
        (ENABLE, id.clone()),
        (DELETE, id.clone()),
        (REVOKE, id.clone()),
        (SET_ROLE, json!({ "id": user.user_id, "role": "ADMIN" })),
    ] {
        call(&app, &user.access, query, variables.clone())
            .await
            .assert_error("FORBIDDEN");
        app.post(query, variables)
            .await
            .assert_error("UNAUTHENTICATED");
    }
    // A token whose role claim says ADMIN, signed with the real key, for a
    // USER account: the guard reads the stored role, not the claim.
    let forged = tokens::resign(&user.access, ACCESS_SECRET, |claims| {
        claims["role"] = json!("ADMIN");
    });
    call(&app, &forged, USERS, json!({}))
        .await
        .assert_error("FORBIDDEN");
    // A stored ADMIN passes, and sees both accounts.
    let boss = admin(&app, "boss@example.com").await;
    let listed = call(&app, &boss.access, USERS, json!({})).await;
    assert_eq!(listed.data("users")["totalCount"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_demotion_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    let colleague = app.register("colleague@example.com").await;
    let promoted = call(
        &app,
        &boss.access,
        SET_ROLE,
        json!({ "id": colleague.user_id, "role": "ADMIN" }),
    )
    .await;
    assert_eq!(promoted.data("setUserRole")["role"], "ADMIN");
    // The role change ended the colleague's sessions: no token carries the
    // old role.
    app.me(&colleague.access)
        .await
        .assert_error("UNAUTHENTICATED");
    app.refresh(&colleague.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    let colleague = app.login("colleague@example.com").await;
    assert_eq!(tokens::claims(&colleague.access)["role"], "ADMIN");
    call(&app, &colleague.access, USERS, json!({}))
        .await
        .data("users");

    // Demoted: the token issued before (its claim still says ADMIN) no
    // longer passes, and a new sign-in is a USER.
    call(
        &app,
        &boss.access,
        SET_ROLE,
        json!({ "id": colleague.user_id, "role": "USER" }),
    )
    .await
    .data("setUserRole");
    call(&app, &colleague.access, USERS, json!({}))
        .await
        .assert_error("UNAUTHENTICATED");
    let again = app.login("colleague@example.com").await;
    call(&app, &again.access, USERS, json!({}))
        .await
        .assert_error("FORBIDDEN");

    // The same role again changes nothing and ends nothing.
    let same = call(
        &app,
        &boss.access,
        SET_ROLE,
        json!({ "id": again.user_id, "role": "USER" }),
    )
    .await;
    assert_eq!(same.data("setUserRole")["role"], "USER");
    app.me(&again.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_account_is_out_at_once_and_back_when_enabled() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    let user = app.register("banned@example.com").await;
    let other_device = app.login("banned@example.com").await;
    let id = json!({ "id": user.user_id });

    let disabled = call(&app, &boss.access, DISABLE, id.clone()).await;
    assert_eq!(disabled.data("disableUser")["disabled"], true);
    for session in [&user, &other_device] {
        app.me(&session.access)
            .await
            .assert_error("UNAUTHENTICATED");
        app.refresh(&session.refresh)
            .await
            .assert_error("INVALID_REFRESH_TOKEN");
    }
    // The right password learns it is disabled; a wrong one learns nothing.
    app.login_raw("banned@example.com", PASSWORD)
        .await
        .assert_error("ACCOUNT_DISABLED");
    app.login_raw("banned@example.com", "not the password")
        .await
        .assert_error("INVALID_CREDENTIALS");
    let seen = call(&app, &boss.access, USER, id.clone()).await;
    assert_eq!(seen.data("user")["disabled"], true);
    assert_eq!(seen.data("user")["sessions"], json!([]));

    let enabled = call(&app, &boss.access, ENABLE, id.clone()).await;
    assert_eq!(enabled.data("enableUser")["disabled"], false);
    let back = app.login("banned@example.com").await;
    app.me(&back.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_enabled_admin_cannot_be_removed_by_any_path() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    let id = json!({ "id": boss.user_id });
    for (query, variables) in [
        (SET_ROLE, json!({ "id": boss.user_id, "role": "USER" })),
        (DISABLE, id.clone()),
        (DELETE, id.clone()),
    ] {
        call(&app, &boss.access, query, variables)
            .await
            .assert_error("FORBIDDEN");
    }
    call(
        &app,
        &boss.access,
        "mutation($p: String!) { deleteAccount(password: $p) }",
        json!({ "p": PASSWORD }),
    )
    .await
    .assert_error("FORBIDDEN");
    // Nothing changed: still an enabled ADMIN with a live session.
    let me = app
        .as_bearer(&boss.access, "{ me { role disabled } }")
        .await;
    assert_eq!(
        me.data("me"),
        &json!({ "role": "ADMIN", "disabled": false })
    );

    // A disabled second admin does not count as one.
    let second = admin(&app, "second@example.com").await;
    call(&app, &boss.access, DISABLE, json!({ "id": second.user_id }))
        .await
        .data("disableUser");
    call(&app, &boss.access, DELETE, id.clone())
        .await
        .assert_error("FORBIDDEN");
    // Enabled, it does: now the first may step down.
    call(&app, &boss.access, ENABLE, json!({ "id": second.user_id }))
        .await
        .data("enableUser");
    let second = app.login("second@example.com").await;
    call(
        &app,
        &second.access,
        SET_ROLE,
        json!({ "id": boss.user_id, "role": "USER" }),
    )
    .await
    .data("setUserRole");
    call(
        &app,
        &second.access,
        DISABLE,
        json!({ "id": second.user_id }),
    )
    .await
    .assert_error("FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_ids_are_not_found_and_user_is_null() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    for id in [
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
        String::new(),
    ] {
        let id = json!({ "id": id });
        for query in [DISABLE, ENABLE, DELETE, REVOKE] {
            call(&app, &boss.access, query, id.clone())
                .await
                .assert_error("NOT_FOUND");
        }
        let found = call(&app, &boss.access, USER, id).await;
        assert_eq!(found.data("user"), &Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_user_and_revoke_sessions() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    let user = app.register("gone@example.com").await;
    app.login("gone@example.com").await;
    let id = json!({ "id": user.user_id });
    let ended = call(&app, &boss.access, REVOKE, id.clone()).await;
    assert_eq!(ended.data("revokeUserSessions"), 2);
    app.me(&user.access).await.assert_error("UNAUTHENTICATED");
    let again = call(&app, &boss.access, REVOKE, id.clone()).await;
    assert_eq!(again.data("revokeUserSessions"), 0);

    let deleted = call(&app, &boss.access, DELETE, id.clone()).await;
    assert_eq!(deleted.data("deleteUser"), true);
    assert_eq!(
        call(&app, &boss.access, USER, id.clone())
            .await
            .data("user"),
        &Value::Null
    );
    app.login_raw("gone@example.com", PASSWORD)
        .await
        .assert_error("INVALID_CREDENTIALS");
    call(&app, &boss.access, DELETE, id)
        .await
        .assert_error("NOT_FOUND");
}

fn emails(resp: &super::helpers::Resp) -> Vec<String> {
    resp.data("users")["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_have_no_repeats_or_gaps_while_accounts_arrive() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    for i in 0..7 {
        app.register(&format!("page{i}@example.com")).await;
    }
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut arrivals = 0;
    loop {
        let resp = call(
            &app,
            &boss.access,
            USERS,
            json!({ "first": 3, "after": after, "search": "page" }),
        )
        .await;
        seen.extend(emails(&resp));
        // A newer account arrives between pages: it sorts before the
        // cursor, so later pages neither repeat nor skip anything.
        app.register(&format!("page-new{arrivals}@example.com"))
            .await;
        arrivals += 1;
        let info = &resp.data("users")["pageInfo"];
        if info["hasNextPage"] == false {
            break;
        }
        after = info["endCursor"].clone();
    }
    let expected: Vec<String> = (0..7)
        .rev()
        .map(|i| format!("page{i}@example.com"))
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_is_a_literal_substring_in_any_case() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    for email in [
        "a_b@example.com",
        "axb@example.com",
        "100%@example.com",
        "1000@example.com",
    ] {
        app.register(email).await;
    }
    for (search, expected) in [
        ("A_B", vec!["a_b@example.com"]),
        ("_", vec!["a_b@example.com"]),
        ("%", vec!["100%@example.com"]),
        ("0%@", vec!["100%@example.com"]),
        ("\\", vec![]),
        ("'; drop table users; --", vec![]),
        ("\u{0}", vec![]),
    ] {
        let resp = call(&app, &boss.access, USERS, json!({ "search": search })).await;
        assert_eq!(emails(&resp), expected, "{search:?}");
        assert_eq!(
            resp.data("users")["totalCount"],
            expected.len(),
            "{search:?}"
        );
    }
    // Past the last page: no edges, and still the count of every match.
    let past = json!({ "search": "a_b", "after": "0".repeat(48) });
    let resp = call(&app, &boss.access, USERS, past).await;
    assert_eq!(emails(&resp), Vec::<String>::new());
    assert_eq!(resp.data("users")["totalCount"], 1);
    let all = call(&app, &boss.access, USERS, json!({ "first": 2 })).await;
    assert_eq!(all.data("users")["totalCount"], 5);
    assert_eq!(all.data("users")["pageInfo"]["hasNextPage"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn page_arguments_are_checked() {
    let app = TestApp::spawn().await;
    let boss = admin(&app, "boss@example.com").await;
    for query in [
        USERS,
        "query($first: Int, $after: String) { auditEvents(first: $first, after: $after) { edges { cursor } } }",
    ] {
        for first in [0, -1, 101] {
            let resp = call(&app, &boss.access, query, json!({ "first": first })).await;
            resp.assert_error("BAD_USER_INPUT");
            assert_eq!(resp.body["errors"][0]["extensions"]["field"], "first");
        }
        for after in ["nope", "00", "' OR 1=1 --", &"f".repeat(48)[..47]] {
            let resp = call(&app, &boss.access, query, json!({ "after": after })).await;
            resp.assert_error("BAD_USER_INPUT");
            assert_eq!(resp.body["errors"][0]["extensions"]["field"], "after");
        }
        // A well-formed cursor can only name a position: past every row.
        let resp = call(
            &app,
            &boss.access,
            query,
            json!({ "after": "0".repeat(48) }),
        )
        .await;
        assert!(resp.body["errors"].is_null(), "{}", resp.text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_account_gets_no_reset_email_and_its_links_die() {
    let app = TestApp::spawn_with(&[("SMTP_URL", "log")]).await;
    let boss = admin(&app, "boss@example.com").await;
    let user = app.register("quiet@example.com").await;
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let resets = "SELECT count(*) FROM outbox WHERE recipient = 'quiet@example.com' AND kind = 'password_reset'";
    app.post(reset, json!({ "e": "quiet@example.com" }))
        .await
        .data("requestPasswordReset");
    for _ in 0..100 {
        if app.db.count(resets).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.db.count(resets).await, 1);
    let live = "SELECT count(*) FROM email_tokens WHERE ended_at IS NULL";
    assert_eq!(
        app.db.count(live).await,
        2,
        "the verification and reset links"
    );

    call(&app, &boss.access, DISABLE, json!({ "id": user.user_id }))
        .await
        .data("disableUser");
    assert_eq!(
        app.db.count(live).await,
        0,
        "disabling ends every emailed link"
    );
    // Asked again: the same answer, and no email.
    let answer = app.post(reset, json!({ "e": "quiet@example.com" })).await;
    assert_eq!(answer.data("requestPasswordReset"), true);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.db.count(resets).await, 1);
}
