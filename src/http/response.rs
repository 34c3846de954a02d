//! Turning GraphQL results and refusals into HTTP responses.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::MediaType;
use crate::graphql::VALIDATION_FAILED;

/// Every `/graphql` answer may carry tokens or account data: no cache,
/// shared or private, may keep it.
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

fn json_response(status: StatusCode, media: MediaType, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// A refusal before any GraphQL work: a GraphQL-shaped error body with a
/// code, and the HTTP status the spec asks for.
pub fn refusal(status: StatusCode, media: MediaType, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    json_response(status, media, body.to_string().into_bytes())
}

/// The answer to an executed (or refused-before-execution) GraphQL request.
///
/// A request error (the document did not parse or validate, so nothing ran)
/// has no `data` entry and, for `application/graphql-response+json`, status
/// 400; with `application/json` it is 200, as legacy clients expect. Field
/// errors always come with status 200 and `data` as null propagation left it.
pub fn graphql(media: MediaType, mut result: async_graphql::Response, executed: bool) -> Response {
    // Every error carries a code; anything async-graphql raised on its own
    // before execution is a validation failure.
    for error in &mut result.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", VALIDATION_FAILED);
        }
    }
    let (status, body) = if executed {
        (StatusCode::OK, serde_json::to_vec(&result))
    } else {
        let status = match media {
            MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            MediaType::Json => StatusCode::OK,
        };
        (
            status,
            serde_json::to_vec(&json!({ "errors": result.errors })),
        )
    };
    let Ok(body) = body else {
        tracing::error!("could not serialize a GraphQL response");
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            media,
            "INTERNAL_SERVER_ERROR",
            "internal server error",
        );
    };
    let mut response = json_response(status, media, body);
    // Set-Cookie headers the resolvers added (refresh-token cookie mode).
    for (name, value) in result.http_headers.iter() {
        response.headers_mut().append(name, value.clone());
    }
    response
}
