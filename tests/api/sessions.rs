//! `User.sessions`, `revokeSession` and `logoutOthers`: a person sees each
//! device signed in to the account and can end any of them.

use serde_json::{Value, json};

use super::helpers::{LOGIN, PASSWORD, REGISTER, Session, TestApp, session, tokens};

const SESSIONS: &str =
    "{ me { sessions { id createdAt lastActiveAt expiresAt userAgent ip current } } }";
const REVOKE: &str = "mutation($id: ID!) { revokeSession(id: $id) }";
const LOGOUT_OTHERS: &str = "mutation { logoutOthers }";

fn credentials(email: &str) -> Value {
    json!({ "input": { "email": email, "password": PASSWORD } })
}

/// Signs in with `query` (register or login) from `ip` with `user_agent`.
async fn sign_in_from(
    app: &TestApp,
    query: &str,
    field: &str,
    email: &str,
    ip: [u8; 4],
    user_agent: &str,
) -> Session {
    let resp = app
        .post_from(ip, query, credentials(email), &[("user-agent", user_agent)])
        .await;
    session(resp.data(field))
}

async fn sessions_of(app: &TestApp, token: &str) -> Vec<Value> {
    let resp = app.as_bearer(token, SESSIONS).await;
    resp.data("me")["sessions"].as_array().unwrap().clone()
}

fn sid(token: &str) -> String {
    tokens::claims(token)["sid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_sign_in_is_a_session_with_its_device_and_address() {
    let app = TestApp::spawn().await;
    let email = "devices@example.com";
    let laptop = sign_in_from(
        &app,
        REGISTER,
        "register",
        email,
        [10, 0, 0, 1],
        "Laptop/1.0",
    )
    .await;
    let phone = sign_in_from(&app, LOGIN, "login", email, [10, 0, 0, 2], "Phone/2.0").await;

    let listed = sessions_of(&app, &laptop.access).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    // The most recently active first: the phone signed in last.
    assert_eq!(listed[0]["id"], sid(&phone.access).as_str());
    assert_eq!(listed[0]["userAgent"], "Phone/2.0");
    assert_eq!(listed[0]["ip"], "10.0.0.2");
    assert_eq!(listed[0]["current"], false);
    assert_eq!(listed[1]["id"], sid(&laptop.access).as_str());
    assert_eq!(listed[1]["userAgent"], "Laptop/1.0");
    assert_eq!(listed[1]["ip"], "10.0.0.1");
    assert_eq!(listed[1]["current"], true);
    // Never rotated: last active when created.
    assert_eq!(listed[1]["lastActiveAt"], listed[1]["createdAt"]);
    let expires = tokens::claims(&laptop.refresh)["exp"].as_i64().unwrap();
    let shown = chrono::DateTime::parse_from_rfc3339(listed[1]["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((shown - expires).abs() <= 1, "{shown} vs {expires}");

    // From the phone, the phone is current.
    let from_phone = sessions_of(&app, &phone.access).await;
    assert_eq!(from_phone[0]["current"], true);
    assert_eq!(from_phone[1]["current"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_records_when_and_from_where_the_session_was_used() {
    let app = TestApp::spawn().await;
    let email = "rotates@example.com";
    let first = sign_in_from(&app, REGISTER, "register", email, [10, 0, 0, 1], "A").await;
    let second = sign_in_from(&app, LOGIN, "login", email, [10, 0, 0, 2], "B").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let resp = app
        .post_from(
            [192, 168, 7, 9],
            super::helpers::REFRESH,
            json!({ "t": first.refresh }),
            &[("user-agent", "Changed/9")],
        )
        .await;
    let rotated = session(resp.data("refreshToken"));
    let listed = sessions_of(&app, &second.access).await;
    // The rotated session is now the most recently active, at its new
    // address; its user agent stays the sign-in's.
    assert_eq!(listed[0]["id"], sid(&rotated.access).as_str());
    assert_eq!(listed[0]["ip"], "192.168.7.9");
    assert_eq!(listed[0]["userAgent"], "A");
    assert_ne!(listed[0]["lastActiveAt"], listed[0]["createdAt"]);
    assert_eq!(listed[1]["id"], sid(&second.access).as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_user_agent_is_cut_to_256_characters_and_may_be_absent() {
    let app = TestApp::spawn().await;
    let long = "é".repeat(300);
    let s = sign_in_from(
        &app,
        REGISTER,
        "register",
        "ua@example.com",
        [10, 0, 0, 1],
        &long,
    )
    .await;
    let listed = sessions_of(&app, &s.access).await;
    assert_eq!(listed[0]["userAgent"], "é".repeat(256).as_str());

    let plain = app.login("ua@example.com").await;
    let listed = sessions_of(&app, &plain.access).await;
    assert_eq!(listed[0]["current"], true);
    assert_eq!(listed[0]["userAgent"], Value::Null);
    // In-process requests have no socket peer: no address to show.
    assert_eq!(listed[0]["ip"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_payload_shows_its_new_session_as_current() {
    let app = TestApp::spawn().await;
    app.register("payload@example.com").await;
    let resp = app
        .post(
            "mutation($input: LoginInput!) { login(input: $input) { accessToken user { sessions { id current } } } }",
            credentials("payload@example.com"),
        )
        .await;
    let login = resp.data("login");
    let new_sid = sid(login["accessToken"].as_str().unwrap());
    let listed = login["user"]["sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], new_sid.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_another_session_ends_it_at_once() {
    let app = TestApp::spawn().await;
    let mine = app.register("revoker@example.com").await;
    let other = app.login("revoker@example.com").await;
    let revoke = |token: String, id: String| {
        let app = &app;
        async move {
            app.as_bearer_with(&token, REVOKE, json!({ "id": id }))
                .await
                .data("revokeSession")
                .clone()
        }
    };
    assert_eq!(revoke(mine.access.clone(), sid(&other.access)).await, true);
    app.me(&other.access).await.assert_error("UNAUTHENTICATED");
    app.refresh(&other.refresh)
        .await
        .assert_error("INVALID_REFRESH_TOKEN");
    // Already ended: false, and the caller lives on.
    assert_eq!(revoke(mine.access.clone(), sid(&other.access)).await, false);
    assert_eq!(sessions_of(&app, &mine.access).await.len(), 1);

    // Another account's session, a made-up id and garbage: false, and the
    // other account's session lives on.
    let stranger = app.register("stranger@example.com").await;
    assert_eq!(
        revoke(mine.access.clone(), sid(&stranger.access)).await,
        false
    );
    app.me(&stranger.access).await.data("me");
    assert_eq!(
        revoke(mine.access.clone(), uuid::Uuid::new_v4().to_string()).await,
        false
    );
    assert_eq!(
        revoke(mine.access.clone(), "not-a-uuid".into()).await,
        false
    );
    app.me(&mine.access).await.data("me");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_the_callers_own_session_is_a_logout() {
    let app = TestApp::spawn().await;
    let s = app.register("self-revoke@example.com").await;
    let resp = app
        .as_bearer_with(
            &s.access,
            "mutation($id: ID!) { revokeSession(id: $id) logoutOthers }",
            json!({ "id": sid(&s.access) }),
        )
        .await;
    assert_eq!(resp.body["data"]["revokeSession"], true, "{}", resp.text);
    // Later fields of the same request are refused: the session is over.
    assert_eq!(resp.code(), "UNAUTHENTICATED", "{}", resp.text);
    app.me(&s.access).await.assert_error("UNAUTHENTICATED");
    assert!(!app.logged_out(&s.refresh).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_others_ends_every_session_but_the_callers() {
    let app = TestApp::spawn().await;
    let keep = app.register("others@example.com").await;
    let a = app.login("others@example.com").await;
    let b = app.login("others@example.com").await;
    let bystander = app.register("bystander@example.com").await;

    let resp = app.as_bearer(&keep.access, LOGOUT_OTHERS).await;
    assert_eq!(resp.data("logoutOthers"), 2);
    for ended in [&a, &b] {
        app.me(&ended.access).await.assert_error("UNAUTHENTICATED");
    }
    app.me(&keep.access).await.data("me");
    app.me(&bystander.access).await.data("me");
    let next = session(app.refresh(&keep.refresh).await.data("refreshToken"));
    assert_eq!(
        app.as_bearer(&next.access, LOGOUT_OTHERS)
            .await
            .data("logoutOthers"),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_fields_need_an_access_token() {
    let app = TestApp::spawn().await;
    let s = app.register("guarded@example.com").await;
    for (query, variables) in [
        (SESSIONS, json!({})),
        (REVOKE, json!({ "id": uuid::Uuid::new_v4().to_string() })),
        (LOGOUT_OTHERS, json!({})),
    ] {
        app.post(query, variables.clone())
            .await
            .assert_error("UNAUTHENTICATED");
        // A refresh token is not an access token.
        app.as_bearer_with(&s.refresh, query, variables)
            .await
            .assert_error("UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_show_verification_and_last_sign_in() {
    let app = TestApp::spawn().await;
    let s = app.register("fields@example.com").await;
    let query = "{ me { emailVerified lastLoginAt createdAt } }";
    let me = app.as_bearer(&s.access, query).await.data("me").clone();
    assert_eq!(me["emailVerified"], false);
    // Registering signs in: that is the first sign-in.
    assert!(me["lastLoginAt"].is_string(), "{me}");
    assert_eq!(tokens::claims(&s.access)["email_verified"], false);

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again = app.login("fields@example.com").await;
    let after = app.as_bearer(&again.access, query).await.data("me").clone();
    assert!(
        after["lastLoginAt"].as_str().unwrap() > me["lastLoginAt"].as_str().unwrap(),
        "{me} then {after}"
    );
    // A failed login is not a sign-in.
    app.login_raw("fields@example.com", "wrong password")
        .await
        .assert_error("INVALID_CREDENTIALS");
    let failed = app.as_bearer(&again.access, query).await.data("me").clone();
    assert_eq!(failed["lastLoginAt"], after["lastLoginAt"]);
}
