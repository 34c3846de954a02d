//! Property tests over the input boundary: arbitrary text where the API
//! takes emails, passwords, tokens and `Authorization` headers never panics,
//! never yields a code outside the contract, and never echoes a password.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::json;

use super::helpers::{LOGIN, LOGOUT, ME, REFRESH, REGISTER, Resp, TestApp};

/// Every `extensions.code` the contract allows, plus the two standard
/// pre-execution codes.
const CONTRACT_CODES: [&str; 13] = [
    "BAD_USER_INPUT",
    "INVALID_TOKEN",
    "EMAIL_NOT_VERIFIED",
    "FEATURE_DISABLED",
    "EMAIL_TAKEN",
    "INVALID_CREDENTIALS",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "INVALID_REFRESH_TOKEN",
    "RATE_LIMITED",
    "INTERNAL_SERVER_ERROR",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The codes of every error in the response, checked against the contract.
fn codes(resp: &Resp) -> Vec<String> {
    let errors = resp.body["errors"].as_array().cloned().unwrap_or_default();
    errors
        .iter()
        .map(|e| {
            e["extensions"]["code"]
                .as_str()
                .unwrap_or("(none)")
                .to_owned()
        })
        .inspect(|code| {
            assert!(
                CONTRACT_CODES.contains(&code.as_str()),
                "{code}: {}",
                resp.text
            )
        })
        .collect()
}

/// Text of arbitrary Unicode, weighted towards the shapes that matter.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9._%+-]{0,20}@[a-zA-Z0-9.-]{0,20}\\.[a-zA-Z]{0,5}",
        "\\PC{0,80}",
        "[ \t\n€😀a-z]{0,100}",
    ]
}

/// Strings shaped like JWTs: three base64url parts of arbitrary bytes.
fn jwt_shaped() -> impl Strategy<Value = String> {
    (any::<Vec<u8>>(), any::<Vec<u8>>(), any::<Vec<u8>>()).prop_map(|(h, p, s)| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(p),
            URL_SAFE_NO_PAD.encode(s)
        )
    })
}

#[test]
fn register_and_login_take_any_text() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn_with(&[("RATE_LIMIT_LOGIN", "0")]));
    proptest!(config(), |(email in text(), password in text())| {
        let input = json!({ "input": { "email": email, "password": password } });
        let register = rt.block_on(app.post(REGISTER, input.clone()));
        let login = rt.block_on(app.post(LOGIN, input));
        prop_assert_eq!(register.status, 200);
        prop_assert_eq!(login.status, 200);
        for code in codes(&register) {
            prop_assert!(["BAD_USER_INPUT", "EMAIL_TAKEN"].contains(&code.as_str()), "{}", register.text);
        }
        for code in codes(&login) {
            prop_assert_eq!(code.as_str(), "INVALID_CREDENTIALS", "{}", &login.text);
        }
        if password.chars().count() >= 6 {
            prop_assert!(!register.text.contains(&password));
            prop_assert!(!login.text.contains(&password));
        }
    });
}

#[test]
fn refresh_and_logout_refuse_any_token_they_never_issued() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    proptest!(config(), |(token in prop_oneof![text(), jwt_shaped()])| {
        for query in [REFRESH, LOGOUT] {
            let resp = rt.block_on(app.post(query, json!({ "t": token })));
            prop_assert_eq!(resp.status, 200);
            prop_assert_eq!(codes(&resp), vec!["INVALID_REFRESH_TOKEN".to_owned()], "{}", &resp.text);
        }
    });
}

#[test]
fn any_authorization_header_is_unauthenticated_on_guarded_fields_only() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let header_text = prop_oneof![
        "[ -~]{0,120}",
        jwt_shaped().prop_map(|t| format!("Bearer {t}")),
        text().prop_map(|t| format!(
            "Bearer {}",
            t.replace(|c: char| !(' '..='~').contains(&c), "")
        )),
    ];
    proptest!(config(), |(header in header_text)| {
        let me = rt.block_on(app.post_with(ME, json!({}), &[("authorization", &header)]));
        prop_assert_eq!(codes(&me), vec!["UNAUTHENTICATED".to_owned()], "{}", &me.text);
        // A public field ignores the header entirely.
        let public = rt.block_on(app.post_with(LOGOUT, json!({ "t": "x" }), &[("authorization", &header)]));
        prop_assert_eq!(codes(&public), vec!["INVALID_REFRESH_TOKEN".to_owned()]);
    });
}

#[test]
fn emailed_link_fields_take_any_text() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn_with(&[("RATE_LIMIT_EMAIL", "0")]));
    proptest!(config(), |(token in prop_oneof![text(), jwt_shaped()], email in text(), password in text())| {
        let reset = rt.block_on(app.post(
            "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { accessToken } }",
            json!({ "i": { "token": token, "newPassword": password } }),
        ));
        for code in codes(&reset) {
            prop_assert!(["INVALID_TOKEN", "BAD_USER_INPUT"].contains(&code.as_str()), "{}", reset.text);
        }
        let verify = rt.block_on(app.post(
            "mutation($t: String!) { verifyEmail(token: $t) { id } }",
            json!({ "t": token }),
        ));
        prop_assert_eq!(codes(&verify), vec!["INVALID_TOKEN".to_owned()], "{}", &verify.text);
        for field in ["requestPasswordReset", "requestEmailVerification"] {
            let query = format!("mutation($e: String!) {{ {field}(email: $e) }}");
            let resp = rt.block_on(app.post(&query, json!({ "e": email })));
            for code in codes(&resp) {
                prop_assert_eq!(code.as_str(), "BAD_USER_INPUT", "{}", &resp.text);
            }
            if email.chars().count() >= 6 {
                prop_assert!(!resp.text.contains(&email), "echoed: {}", resp.text);
            }
        }
        if password.chars().count() >= 6 {
            prop_assert!(!reset.text.contains(&password));
        }
    });
}

#[test]
fn the_account_fields_take_any_text() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn_with(&[
        ("RATE_LIMIT_LOGIN", "0"),
        ("RATE_LIMIT_EMAIL", "0"),
    ]));
    let signed_in = rt.block_on(app.register("props@example.com"));
    proptest!(config(), |(a in text(), b in text())| {
        for (query, variables) in [
            ("mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
             json!({ "i": { "currentPassword": a, "newPassword": b } })),
            ("mutation($i: EmailChangeInput!) { requestEmailChange(input: $i) }",
             json!({ "i": { "newEmail": a, "password": b } })),
            ("mutation($id: ID!) { revokeSession(id: $id) }", json!({ "id": a })),
        ] {
            let resp = rt.block_on(app.as_bearer_with(&signed_in.access, query, variables));
            for code in codes(&resp) {
                prop_assert!(
                    ["BAD_USER_INPUT", "INVALID_CREDENTIALS", "EMAIL_TAKEN"].contains(&code.as_str()),
                    "{}", resp.text
                );
            }
            for secret in [&a, &b] {
                if secret.chars().count() >= 6 && resp.body["data"].is_null() {
                    prop_assert!(!resp.text.contains(secret.as_str()), "echoed: {}", resp.text);
                }
            }
        }
    });
}
