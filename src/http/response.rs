//! Turning GraphQL results and refusals into HTTP responses.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::MediaType;
use crate::graphql::{PARSE_FAILED, VALIDATION_FAILED};

/// Every `/graphql` answer may carry tokens or account data: no cache,
/// shared or private, may keep it.
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

fn set_common_headers(response: &mut Response, media: MediaType) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
}

fn json_response(status: StatusCode, media: MediaType, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    set_common_headers(&mut response, media);
    response
}

/// The code of a refusal before any GraphQL work. The contract's codes are
/// its own plus the two standard pre-execution ones; a request that could
/// not even be read as a GraphQL request (wrong method, media type or size,
/// malformed JSON) is closest to a parse failure, and its HTTP status says
/// exactly what went wrong.
const REFUSED: &str = PARSE_FAILED;

/// A refusal before any GraphQL work: a GraphQL-shaped error body and the
/// HTTP status the GraphQL-over-HTTP spec asks for.
pub fn refusal(status: StatusCode, media: MediaType, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": REFUSED } }] });
    json_response(status, media, body.to_string().into_bytes())
}

/// The answer to an executed (or refused-before-execution) GraphQL request.
///
/// A request error (the document did not parse or validate, so nothing ran)
/// has no `data` entry and, for `application/graphql-response+json`, status
/// 400; with `application/json` it is 200, as legacy clients expect.
pub fn graphql(media: MediaType, mut result: async_graphql::Response, executed: bool) -> Response {
    // Every error carries a code. Before execution, anything async-graphql
    // raised on its own is a validation failure. During execution every
    // expected failure is an `AppError` with its code, so an error without
    // one is unexpected: its text is not ours to show (it could come from
    // any `Display`), so it becomes a plain internal error.
    for error in &mut result.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_some() {
            continue;
        }
        if executed {
            tracing::error!(path = ?error.path, "a field failed without an error code");
            error.message = "internal server error".to_owned();
            extensions.set("code", "INTERNAL_SERVER_ERROR");
        } else {
            extensions.set("code", VALIDATION_FAILED);
        }
    }

    if executed {
        // async-graphql answers `data: null` when every root field was
        // skipped (`@include(if: false)`). Without an error, only null
        // propagation could null `data`, and it did not run: the selection
        // is empty, so `data` is an empty object.
        if result.errors.is_empty() && result.data == async_graphql::Value::Null {
            result.data = async_graphql::Value::Object(Default::default());
        }
        // Status 200 and `data` as null propagation left it, even for field
        // errors: that is how Apollo Client sees `extensions.code`.
        let mut response = async_graphql_axum::GraphQLResponse::from(result).into_response();
        set_common_headers(&mut response, media);
        return response;
    }
    let status = match media {
        MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    };
    let body = json!({ "errors": result.errors }).to_string().into_bytes();
    json_response(status, media, body)
}
