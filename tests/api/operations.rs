//! The rules about "the operation a request runs", in every spelling: an
//! anonymous operation, a single named one without `operationName`, a named
//! one picked by `operationName` among several, aliases, fragments and
//! inline fragments, over POST and over GET. Each rule must see exactly
//! the operation the executor runs.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::helpers::{PASSWORD, PRODUCTION, Resp, TestApp, urlencode};

/// POSTs `query` with `operationName` when given.
async fn post(app: &TestApp, query: &str, operation: Option<&str>) -> Resp {
    let mut body = json!({ "query": query });
    if let Some(name) = operation {
        body["operationName"] = Value::from(name);
    }
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

/// GETs `query` with `operationName` when given.
async fn get(app: &TestApp, query: &str, operation: Option<&str>) -> Resp {
    let mut uri = format!("/graphql?query={}", urlencode(query));
    if let Some(name) = operation {
        uri.push_str(&format!("&operationName={}", urlencode(name)));
    }
    let request = Request::get(uri)
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

/// A refusal before execution: the code, and no `data` at all.
#[track_caller]
fn assert_refused(resp: &Resp, what: &str) {
    assert_eq!(
        resp.code(),
        "GRAPHQL_VALIDATION_FAILED",
        "{what}: {}",
        resp.text
    );
    assert!(resp.body.get("data").is_none(), "{what}: {}", resp.text);
}

fn register_field(alias: &str, email: &str) -> String {
    format!(
        r#"{alias}register(input: {{email: "{email}", password: "{PASSWORD}"}}) {{ accessToken }}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mutation_over_get_is_405_in_every_spelling_and_never_runs() {
    let app = TestApp::spawn().await;
    let email = "get-spelling@example.com";
    let field = register_field("", email);
    for (document, operation) in [
        (format!("mutation {{ {field} }}"), None),
        (format!("mutation M {{ {field} }}"), None),
        (format!("mutation M {{ {field} }}"), Some("M")),
        (
            format!("query Q {{ __typename }} mutation M {{ {field} }}"),
            Some("M"),
        ),
        (
            format!("mutation M {{ ...F }} fragment F on Mutation {{ {field} }}"),
            None,
        ),
        (
            format!("mutation M($x: Boolean = true) {{ ... @include(if: $x) {{ {field} }} }}"),
            None,
        ),
    ] {
        let resp = get(&app, &document, operation).await;
        let what = format!("{document} / {operation:?}");
        assert_eq!(
            resp.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{what}: {}",
            resp.text
        );
        assert_eq!(resp.header("allow"), Some("POST"), "{what}");
    }
    // None of them ran: the address is still free.
    assert_eq!(app.accounts_with(email).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_runs_a_named_query_and_leaves_unrunnable_documents_to_the_executor() {
    let app = TestApp::spawn().await;
    for (document, operation) in [
        ("query Q { __typename }", None),
        ("query Q { __typename }", Some("Q")),
        ("query Q { __typename } mutation M { logoutAll }", Some("Q")),
    ] {
        let resp = get(&app, document, operation).await;
        assert_eq!(resp.status, StatusCode::OK, "{document}: {}", resp.text);
        assert_eq!(resp.body, json!({ "data": { "__typename": "Query" } }));
    }
    // The executor refuses these (an anonymous operation has no name; two
    // operations need one): nothing runs, and it is no 405 either.
    let field = register_field("", "never-runs@example.com");
    for (document, operation) in [
        (format!("mutation {{ {field} }}"), Some("M")),
        (
            format!("mutation A {{ {field} }} mutation B {{ {field} }}"),
            None,
        ),
        (format!("mutation M {{ {field} }}"), Some("Other")),
    ] {
        let resp = get(&app, &document, operation).await;
        assert!(resp.body.get("data").is_none(), "{document}: {}", resp.text);
        assert!(resp.body["errors"].is_array(), "{document}: {}", resp.text);
    }
    assert_eq!(app.accounts_with("never-runs@example.com").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_guess_fields_are_refused_in_every_spelling() {
    let app = TestApp::spawn().await;
    app.register("guesses@example.com").await;
    let login = |alias: &str| {
        format!(
            r#"{alias}login(input: {{email: "guesses@example.com", password: "wrong-{alias}guess"}}) {{ accessToken }}"#
        )
    };
    let (a, b) = (login("a: "), login("b: "));
    let refresh = r#"r: refreshToken(refreshToken: "x") { accessToken }"#;
    let before = app.state.auth.hasher().verifications();
    for (document, operation) in [
        (format!("mutation {{ {a} {b} }}"), None),
        (format!("mutation M {{ {a} {b} }}"), None),
        (format!("mutation M {{ {a} {b} }}"), Some("M")),
        (
            format!("query Q {{ __typename }} mutation M {{ {a} {b} }}"),
            Some("M"),
        ),
        (format!("mutation M {{ {a} {refresh} }}"), None),
        (
            format!("mutation M {{ {a} ...F }} fragment F on Mutation {{ {b} }}"),
            None,
        ),
        (
            format!("mutation M {{ ... {{ {a} }} ... on Mutation {{ {b} }} }}"),
            None,
        ),
        (
            format!(
                "mutation {{ ...F ...G }} fragment F on Mutation {{ {a} }} fragment G on Mutation {{ {b} }}"
            ),
            None,
        ),
    ] {
        let resp = post(&app, &document, operation).await;
        assert_refused(&resp, &format!("{document} / {operation:?}"));
    }
    assert_eq!(
        app.state.auth.hasher().verifications(),
        before,
        "no guess may run"
    );
    // One guess field per operation still runs, whatever the spelling.
    for (document, operation) in [
        (format!("mutation M {{ {a} }}"), None),
        (
            format!("mutation M {{ {a} }} mutation N {{ {b} }}"),
            Some("N"),
        ),
    ] {
        let resp = post(&app, &document, operation).await;
        resp.assert_error("INVALID_CREDENTIALS");
    }
    assert_eq!(app.state.auth.hasher().verifications(), before + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_introspection_the_schema_is_refused_in_every_spelling() {
    let app = TestApp::spawn_with(&PRODUCTION).await;
    for (document, operation) in [
        ("{ __schema { types { name } } }", None),
        ("query { __schema { types { name } } }", None),
        ("query Q { __schema { types { name } } }", None),
        ("query Q { __schema { types { name } } }", Some("Q")),
        ("query Q { s: __schema { types { name } } }", None),
        ("query Q { __type(name: \"User\") { name } }", None),
        (
            "query Q { __typename } query R { __schema { types { name } } }",
            Some("R"),
        ),
        (
            "query Q { ...F } fragment F on Query { __schema { types { name } } }",
            None,
        ),
        (
            "query Q { ... on Query { ... { t: __type(name: \"Role\") { name } } } }",
            None,
        ),
    ] {
        let what = format!("{document} / {operation:?}");
        assert_refused(&post(&app, document, operation).await, &what);
        assert_refused(
            &get(&app, document, operation).await,
            &format!("GET {what}"),
        );
    }
    // `__typename` is not introspection of the schema.
    let resp = post(&app, "query Q { __typename }", None).await;
    assert_eq!(resp.body, json!({ "data": { "__typename": "Query" } }));
}

impl TestApp {
    /// 0 when `email` has no account (a login with the right password is
    /// refused), 1 when it has one.
    async fn accounts_with(&self, email: &str) -> usize {
        match self.login_raw(email, PASSWORD).await.code() {
            "INVALID_CREDENTIALS" => 0,
            "" => 1,
            other => panic!("unexpected {other}"),
        }
    }
}
