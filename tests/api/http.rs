//! GraphQL over HTTP: methods, media types, refusals, limits, CORS.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::helpers::{ME, PRODUCTION, REGISTER, TestApp, urlencode};

fn post(body: impl Into<Body>, accept: Option<&str>, content_type: &str) -> Request<Body> {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, content_type);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT, accept);
    }
    request.body(body.into()).unwrap()
}

fn get(uri: &str, accept: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap()
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// A JSON POST asking for `application/graphql-response+json`.
fn post_graphql_response(body: &Value) -> Request<Body> {
    post(body.to_string(), Some(GRAPHQL_RESPONSE), "application/json")
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_follow_the_accept_header() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ __typename }" }).to_string();
    for (accept, expected) in [
        (None, "application/json; charset=utf-8"),
        (Some("application/json"), "application/json; charset=utf-8"),
        (Some("*/*"), "application/json; charset=utf-8"),
        (
            Some(GRAPHQL_RESPONSE),
            "application/graphql-response+json; charset=utf-8",
        ),
        (
            Some("application/graphql-response+json,application/json;q=0.9"),
            "application/graphql-response+json; charset=utf-8",
        ),
    ] {
        let resp = app
            .send(post(query.clone(), accept, "application/json"))
            .await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.header("content-type"), Some(expected), "{accept:?}");
        assert_eq!(resp.body, json!({ "data": { "__typename": "Query" } }));
    }
    let resp = app
        .send(post(query, Some("text/plain"), "application/json"))
        .await;
    assert_eq!(resp.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_errors_have_no_data_and_a_standard_code() {
    let app = TestApp::spawn().await;
    let cases = [
        ("{ me { id ", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "query($x: Int!) { __typename }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query A { __typename } query B { __typename }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ];
    for (query, code) in cases {
        let body = json!({ "query": query }).to_string();
        // application/json: 200, as legacy clients expect.
        let resp = app
            .send(post(
                body.clone(),
                Some("application/json"),
                "application/json",
            ))
            .await;
        assert_eq!(resp.status, StatusCode::OK, "{query}");
        assert_eq!(resp.code(), code, "{query}: {}", resp.text);
        assert!(resp.body.get("data").is_none(), "{query}: {}", resp.text);
        // application/graphql-response+json: 400.
        let resp = app
            .send(post(body, Some(GRAPHQL_RESPONSE), "application/json"))
            .await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(resp.code(), code, "{query}");
        assert!(resp.body.get("data").is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_variables_are_request_errors_and_nothing_runs() {
    let app = TestApp::spawn().await;
    let cases = [
        json!({ "query": REGISTER }),
        json!({ "query": REGISTER, "variables": {} }),
        json!({ "query": REGISTER, "variables": { "input": null } }),
        json!({ "query": REGISTER, "variables": { "input": 5 } }),
        json!({ "query": REGISTER, "variables": { "input": "a@b.co" } }),
        json!({ "query": REGISTER, "variables": { "input": { "email": "a@b.co" } } }),
    ];
    for body in cases {
        let resp = app.send(post_graphql_response(&body)).await;
        assert_eq!(
            resp.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            resp.text
        );
        assert_eq!(resp.code(), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(resp.body.get("data").is_none(), "{body}: {}", resp.text);
    }
    // A variable with a default, or of a nullable type, may be left out.
    let body = json!({ "query": "mutation($t: String) { logout(refreshToken: $t) }" });
    let resp = app.send(post_graphql_response(&body)).await;
    resp.assert_error("INVALID_REFRESH_TOKEN");
    // Only the selected operation's variables count.
    let body = json!({
        "query": "query A { __typename } mutation B($i: RegisterInput!) { register(input: $i) { accessToken } }",
        "operationName": "A",
    });
    let resp = app.send(post_graphql_response(&body)).await;
    assert_eq!(resp.body, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn field_errors_are_200_with_data_in_both_media_types() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": ME }).to_string();
    for accept in ["application/json", GRAPHQL_RESPONSE] {
        let resp = app
            .send(post(body.clone(), Some(accept), "application/json"))
            .await;
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.code(), "UNAUTHENTICATED");
        assert_eq!(resp.body["data"], Value::Null);
        assert!(resp.body.as_object().unwrap().contains_key("data"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_are_400() {
    let app = TestApp::spawn().await;
    for body in [
        "{not json",
        "\"just a string\"",
        "{}",
        r#"{"query": 42}"#,
        r#"{"query": null}"#,
        r#"{"query": "{ __typename }", "variables": [1]}"#,
        r#"{"query": "{ __typename }", "variables": "x"}"#,
        r#"[{"query": "{ __typename }"}]"#,
        r#"{"query": "{ __typename }", "extensions": "x"}"#,
        r#"{"query": "{ __typename }", "extensions": [1]}"#,
    ] {
        let resp = app
            .send(post(body, Some("application/json"), "application/json"))
            .await;
        assert_eq!(
            resp.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            resp.text
        );
        assert!(!resp.code().is_empty(), "{body}");
        assert!(resp.body.get("data").is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_json_bodies_are_accepted() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "{ __typename }" }).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let resp = app.send(post(body.clone(), None, content_type)).await;
        assert_eq!(
            resp.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    let resp = app
        .send(post(body, None, "application/json; charset=utf-8"))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::spawn().await;
    let padding = " ".repeat(authql::http::BODY_LIMIT);
    let body = format!(r#"{{"query": "{{ __typename }}{padding}"}}"#);
    let resp = app.send(post(body, None, "application/json")).await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_runs_queries_and_refuses_mutations() {
    let app = TestApp::spawn().await;
    let resp = app
        .send(get("/graphql?query=%7B__typename%7D", "application/json"))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.body, json!({ "data": { "__typename": "Query" } }));

    let register = "mutation{register(input:{email:\"get@example.com\",password:\"long enough\"}){accessToken}}";
    let uri = format!("/graphql?query={}", urlencode(register));
    let resp = app.send(get(&uri, "application/json")).await;
    assert_eq!(resp.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.header("allow"), Some("POST"));
    // It did not run: the same registration over POST succeeds.
    app.post(
        REGISTER,
        json!({ "input": { "email": "get@example.com", "password": "long enough" } }),
    )
    .await
    .data("register");

    // A document with both: the selected operation decides.
    let doc = "query Q { __typename } mutation M { logoutAll }";
    let q = app
        .send(get(
            &format!("/graphql?query={}&operationName=Q", urlencode(doc)),
            "application/json",
        ))
        .await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text);
    let m = app
        .send(get(
            &format!("/graphql?query={}&operationName=M", urlencode(doc)),
            "application/json",
        ))
        .await;
    assert_eq!(m.status, StatusCode::METHOD_NOT_ALLOWED);

    let vars = format!(
        "/graphql?query={}&variables={}",
        urlencode("query($a: Boolean!) { ... @include(if: $a) { __typename } }"),
        urlencode(r#"{"a": true}"#)
    );
    let resp = app.send(get(&vars, "application/json")).await;
    assert_eq!(resp.body, json!({ "data": { "__typename": "Query" } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fully_skipped_selection_is_empty_data_not_null() {
    let app = TestApp::spawn().await;
    for (query, variables) in [
        (
            "query($x: Boolean!) { me @include(if: $x) { id } }",
            json!({ "x": false }),
        ),
        ("{ me @skip(if: true) { id } }", json!({})),
        (
            "mutation($x: Boolean!) { logoutAll @include(if: $x) }",
            json!({ "x": false }),
        ),
    ] {
        let resp = app.post(query, variables).await;
        assert_eq!(resp.body, json!({ "data": {} }), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_get_graphiql() {
    let app = TestApp::spawn().await;
    let resp = app
        .send(get("/graphql", "text/html,application/xhtml+xml,*/*;q=0.8"))
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text.contains("graphiql"), "{}", &resp.text[..200]);
    // Everything the page loads comes from this server, no CDN.
    assert!(!resp.text.contains("://"), "{}", resp.text);
    for file in [
        "graphiql-3.9.0.min.js",
        "graphiql-3.9.0.min.css",
        "react-18.3.1.production.min.js",
        "react-dom-18.3.1.production.min.js",
        "authql-graphiql.js",
    ] {
        let path = format!("/graphiql/{file}");
        assert!(resp.text.contains(&path), "{path} not on the page");
        let asset = app.send(get(&path, "*/*")).await;
        assert_eq!(asset.status, StatusCode::OK, "{path}");
        assert!(asset.text.len() > 40, "{path}");
    }
    let script = app.send(get("/graphiql/authql-graphiql.js", "*/*")).await;
    assert!(script.text.contains("\"/graphql\""));
    assert!(script.text.contains("Authorization"));
    for missing in [
        "/graphiql/LICENSE.graphiql",
        "/graphiql/index.html",
        "/graphiql/..%2FCargo.toml",
    ] {
        assert_eq!(
            app.send(get(missing, "*/*")).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}

/// The query GraphiQL sends on load (graphql-js `getIntrospectionQuery`).
const INTROSPECTION: &str = include_str!("introspection.graphql");

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_introspection_fits_the_limits_but_deeper_documents_do_not() {
    let app = TestApp::spawn().await;
    let resp = app.post(INTROSPECTION, json!({})).await;
    let schema = resp.data("__schema");
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["mutationType"]["name"], "Mutation");

    let mut deep = String::from("{ __schema { types { fields { type { ");
    for _ in 0..20 {
        deep.push_str("ofType { ");
    }
    deep.push_str("name ");
    deep.push_str(&"} ".repeat(25));
    let resp = app.post(&deep, json!({})).await;
    resp.assert_error("GRAPHQL_VALIDATION_FAILED");
    assert!(resp.body.get("data").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let resp = app.send(get("/healthz", "*/*")).await;
    assert_eq!(resp.status, StatusCode::OK);
    let resp = app.send(get("/readyz", "*/*")).await;
    assert_eq!(resp.status, StatusCode::OK);
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri("/graphql")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,authorization",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_any_origin_in_development() {
    let app = TestApp::spawn().await;
    let resp = app.send(preflight("http://localhost:5173")).await;
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    assert!(resp.header("access-control-allow-credentials").is_none());
    let allowed = resp
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_listed_origins_with_credentials() {
    let app = TestApp::spawn_with(&[("CORS_ORIGINS", "https://app.example.com")]).await;
    let resp = app.send(preflight("https://app.example.com")).await;
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    let resp = app.send(preflight("https://evil.example.com")).await;
    assert!(resp.header("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn production_sends_no_cors_headers_unless_configured() {
    let secret = "a-production-secret-of-32-bytes-or-more";
    let app = TestApp::spawn_with(&[
        ("APP_ENV", "production"),
        ("JWT_ACCESS_SECRET", secret),
        (
            "JWT_REFRESH_SECRET",
            "another-production-secret-of-32-bytes",
        ),
    ])
    .await;
    let resp = app.send(preflight("https://app.example.com")).await;
    assert!(resp.header("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn parse_errors_do_not_echo_the_document() {
    let app = TestApp::spawn().await;
    let secret = "hunter2hunter2";
    let query = format!(
        r#"mutation {{ login(input: {{email: "a@b.co", password: "{secret}"}}) {{ accessToken "#
    );
    let resp = app.post(&query, json!({})).await;
    resp.assert_error("GRAPHQL_PARSE_FAILED");
    assert!(!resp.text.contains(secret), "{}", resp.text);
    assert!(resp.body["errors"][0]["locations"].is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_operation_may_hold_only_one_sign_in_field() {
    let app = TestApp::spawn().await;
    app.register("alias@example.com").await;
    let before = app.state.auth.hasher().verifications();
    let guesses: String = (0..3)
        .map(|i| {
            format!(r#"g{i}: login(input: {{email: "alias@example.com", password: "guess-{i}-guess"}}) {{ accessToken }} "#)
        })
        .collect();
    let resp = app
        .post(&format!("mutation {{ {guesses} }}"), json!({}))
        .await;
    resp.assert_error("GRAPHQL_VALIDATION_FAILED");
    assert!(resp.body.get("data").is_none());
    assert_eq!(
        app.state.auth.hasher().verifications(),
        before,
        "no guess may run"
    );
    // One sign-in field with other fields still fits.
    let resp = app
        .post(
            r#"mutation { login(input: {email: "alias@example.com", password: "correct horse battery"}) { accessToken refreshToken tokenType expiresIn user { id email role createdAt } } }"#,
            json!({}),
        )
        .await;
    resp.data("login");
}

#[tokio::test(flavor = "multi_thread")]
async fn production_hides_the_schema_unless_switched_on() {
    let app = TestApp::spawn_with(&PRODUCTION).await;
    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"User\") { name } }",
        "{ ...F } fragment F on Query { __schema { types { name } } }",
    ] {
        let resp = app.post(query, json!({})).await;
        resp.assert_error("GRAPHQL_VALIDATION_FAILED");
        assert!(resp.body.get("data").is_none(), "{}", resp.text);
    }
    app.post("{ __typename }", json!({}))
        .await
        .data("__typename");
    // No "did you mean" hints either.
    let resp = app.post("{ me { emaill } }", json!({})).await;
    resp.assert_error("GRAPHQL_VALIDATION_FAILED");
    assert!(!resp.text.contains("Did you mean"), "{}", resp.text);
    // No GraphiQL: a browser gets a 406 like any client asking for HTML only,
    // and its files are not there either.
    let resp = app.send(get("/graphql", "text/html")).await;
    assert_eq!(resp.status, StatusCode::NOT_ACCEPTABLE);
    let asset = app.send(get("/graphiql/authql-graphiql.js", "*/*")).await;
    assert_eq!(asset.status, StatusCode::NOT_FOUND);

    let mut on = PRODUCTION.to_vec();
    on.extend([("GRAPHQL_INTROSPECTION", "on"), ("GRAPHIQL", "on")]);
    let app = TestApp::spawn_with(&on).await;
    let resp = app
        .post("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(resp.data("__schema")["queryType"]["name"], "Query");
    let resp = app.send(get("/graphql", "text/html")).await;
    assert_eq!(resp.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn development_suggests_field_names() {
    let app = TestApp::spawn().await;
    let resp = app.post("{ me { emaill } }", json!({})).await;
    assert!(resp.text.contains("Did you mean"), "{}", resp.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_may_hold_several_sign_in_operations_and_run_one() {
    let app = TestApp::spawn().await;
    let document = r#"
        mutation Register { register(input: {email: "tab@example.com", password: "correct horse battery"}) { tokenType } }
        mutation Login { login(input: {email: "tab@example.com", password: "correct horse battery"}) { tokenType } }
    "#;
    for operation in ["Register", "Login"] {
        let body = json!({ "query": document, "operationName": operation });
        let resp = app
            .send(post(body.to_string(), None, "application/json"))
            .await;
        assert!(
            resp.body.get("errors").is_none(),
            "{operation}: {}",
            resp.text
        );
    }
}
